"""benchmarks/quality.py: its clustering measures on hand-made clusterings, and how it places the seeds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .programs import load_benchmark

quality = load_benchmark("quality")

# (predicted clusters, gold labels, B-cubed P/R/F1, pairwise P/R/F1), each worked out by hand.
KNOWN = [
    pytest.param(
        "aaabb",
        "xxyyy",
        (11 / 15, 11 / 15, 11 / 15),
        # pairs together: 3 + 1; with one label: 1 + 3; both: (a, x) 1, (b, y) 1
        (2 / 4, 2 / 4, 2 / 4),
        id="one-misplaced",
    ),
    pytest.param("aaaa", "xxyy", (1 / 2, 1, 2 / 3), (2 / 6, 1, 1 / 2), id="one-giant-cluster"),
    pytest.param("abcd", "xxyy", (1, 1 / 2, 2 / 3), (1, 0, 0), id="all-singletons"),
    pytest.param("abab", "xxyy", (1 / 2, 1 / 2, 1 / 2), (0, 0, 0), id="crossed"),
]


def as_dict(values: tuple[float, float, float]) -> dict[str, float]:
    return dict(zip(("precision", "recall", "f1"), (round(value, 4) for value in values), strict=True))


@pytest.mark.parametrize(("predicted", "gold", "bcubed", "pairwise"), KNOWN)
def test_measures_match_hand_computed_values(predicted, gold, bcubed, pairwise) -> None:
    """B-cubed and pairwise precision, recall and F1 are the numbers worked out by hand."""
    assert quality.bcubed(list(predicted), list(gold)) == as_dict(bcubed)
    assert quality.pairwise(list(predicted), list(gold)) == as_dict(pairwise)


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_gold_clustering_under_other_names_scores_one(labels: list[int]) -> None:
    """A clustering equal to the gold one, whatever its cluster names, scores 1 on every measure."""
    predicted = [f"cluster-{label}" for label in labels]
    perfect = {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert quality.bcubed(predicted, labels) == perfect
    assert quality.pairwise(predicted, labels) == perfect


@pytest.mark.parametrize("measure", ["bcubed", "pairwise"])
def test_measures_refuse_lists_of_different_lengths(measure: str) -> None:
    """One prediction per gold label, or a ValueError that gives both counts."""
    with pytest.raises(ValueError, match="2 predictions for 3 gold labels"):
        getattr(quality, measure)(["a", "b"], ["x", "y", "z"])


def test_interleave_puts_each_insert_at_its_position() -> None:
    """Inserts land at the given indexes of the result; the stream keeps its order around them."""
    stream = [(f"s{k}", "") for k in range(5)]
    inserts = [("i0", ""), ("i1", ""), ("i2", "")]
    mixed = quality.interleave(stream, inserts, [0, 3, 7])
    assert [mixed[k] for k in (0, 3, 7)] == inserts
    assert [article for article in mixed if article not in inserts] == stream


def test_seeds_check_tells_alone_from_joined_and_split() -> None:
    """The seeds are alone only in one cluster of their own; others in it are counted, a split is shown."""
    seed_ids = ["s1", "s2"]
    assert quality.seeds_check({"s1": "c", "s2": "c", "e1": "d"}, seed_ids) == {
        "alone": True,
        "clusters": 1,
        "others": 0,
    }
    joined = quality.seeds_check({"s1": "c", "s2": "c", "e1": "c"}, seed_ids)
    assert joined == {"alone": False, "clusters": 1, "others": 1}
    split = quality.seeds_check({"s1": "c", "s2": "d", "e1": "d"}, seed_ids)
    assert split == {"alone": False, "clusters": 2, "others": 1, "groups": [["s1"], ["s2"]]}
