"""Quality on real data: story clustering on ECB+, the seed story, and the near-duplicate set.

    python benchmarks/quality.py [--orders 5] [--seed 0] [--data ../shared/data] [--set NAME=VALUE ...]
    python benchmarks/quality.py --curves      # adds the scores against each threshold

Story clustering. Each of `--orders` seeded random orders (order k uses seed
`--seed` + k) streams all 982 ECB+ articles through a fresh in-memory engine,
one `ingest` per article, as a live service receives them: no re-clustering
pass. The final clusters are scored against `subtopic` (one real-world event
each; every topic holds two look-alike events, so this is the hard score) and
against `topic` (the easy control), with two measures:

- B-cubed (Bagga and Baldwin 1998): per article, precision is the share of its
  cluster that has its label, recall the share of its label's articles that
  are in its cluster; both averaged over articles.
- Pairwise: precision is the share of the pairs of articles put in one cluster
  that have one label, recall the share of the pairs with one label that were
  put in one cluster. Large clusters weigh more here than in B-cubed.

Each is reported as the mean over the orders and the worst order, with the
number of clusters, the largest cluster's size and how many topics it spans
(a giant cluster swallowing a topic shows there). Reference on this data:
word-unigram Jaccard with single link at 0.2 gives subtopic B-cubed P 0.622,
R 0.822, F1 0.708.

The seeds. The five seed articles (one story from five outlets) must form one
cluster holding nothing from ECB+, whatever the ingestion order. In each order
they are ingested twice over: after all of ECB+ (in the same engine as the
scores above), and, in a second engine, shuffled and inserted at seeded random
positions of the same ECB+ order. Both checks report per order whether the
seeds formed one cluster alone.

Near duplicates. `near_duplicates.py`'s set (ECB+ articles and syndicated
copies of them), scored against exact Jaccard at the configured
`near_threshold`: confusion counts, precision, recall and F1.

Curves (`--curves`). Subtopic B-cubed P, R and F1 (mean over the orders) against
`story_threshold` at the configured `story_merge_threshold` (raised to the story
threshold where it would fall below it), and against `story_merge_threshold`
at the configured `story_threshold`; near-duplicate P, R and F1 against
`near_threshold` on the same set and truth. The story points skip the
interleaved seeds run but report the after-ECB+ seeds check.

`--set NAME=VALUE` (repeatable) overrides any setting for every part. Prints
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import near_duplicates
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.models import ArticleInput

# Issue 4's targets for story clustering (the near-duplicate ones live in near_duplicates.py).
TARGET_SUBTOPIC_F1_MEAN, TARGET_SUBTOPIC_F1_WORST, TARGET_TOPIC_F1_MEAN = 0.85, 0.82, 0.95
REFERENCE_SINGLE_LINK = {"precision": 0.622, "recall": 0.822, "f1": 0.708}
# The settings reported with the story scores; the near-duplicate report names its own.
STORY_SETTINGS = (
    "story_threshold",
    "story_merge_threshold",
    "story_window_days",
    "story_term_share",
    "salient_terms",
    "story_lsh_threshold",
    "story_num_perm",
    "term_prior_weight",
    "min_content_words",
)
STORY_THRESHOLDS = [round(0.12 + 0.02 * k, 2) for k in range(11)]  # 0.12 .. 0.32
STORY_MERGE_THRESHOLDS = [round(0.2 + 0.025 * k, 3) for k in range(11)]  # 0.2 .. 0.45
NEAR_THRESHOLDS = [round(0.3 + 0.05 * k, 2) for k in range(13)]  # 0.3 .. 0.9

Article = tuple[str, str]  # (id, body)


# --- the measures


def precision_recall_f1(precision: float, recall: float) -> dict[str, float]:
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def bcubed(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> dict[str, float]:
    """B-cubed precision, recall and F1 (Bagga and Baldwin 1998) of a clustering against gold labels.

    Per item: precision is the share of its cluster that has its gold label,
    recall the share of its gold class that is in its cluster; both averaged
    over items.
    """
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} gold labels")
    clusters: dict[Hashable, list[int]] = defaultdict(list)
    classes: dict[Hashable, list[int]] = defaultdict(list)
    for item, (cluster, label) in enumerate(zip(predicted, gold, strict=True)):
        clusters[cluster].append(item)
        classes[label].append(item)
    overlap: Counter[tuple[Hashable, Hashable]] = Counter(zip(predicted, gold, strict=True))
    precision = sum(overlap[(p, g)] / len(clusters[p]) for p, g in zip(predicted, gold, strict=True)) / len(gold)
    recall = sum(overlap[(p, g)] / len(classes[g]) for p, g in zip(predicted, gold, strict=True)) / len(gold)
    return precision_recall_f1(precision, recall)


def pairwise(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of a clustering against gold labels.

    Precision is the share of the pairs put in one cluster that have one gold
    label, recall the share of the pairs with one gold label that were put in
    one cluster. With no pair on a side, its score is 1.
    """
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} gold labels")

    def pairs(groups: Counter) -> int:
        return sum(size * (size - 1) // 2 for size in groups.values())

    together = pairs(Counter(predicted))
    same_label = pairs(Counter(gold))
    both = pairs(Counter(zip(predicted, gold, strict=True)))
    return precision_recall_f1(both / together if together else 1.0, both / same_label if same_label else 1.0)


def scores(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> dict[str, dict[str, float]]:
    return {"bcubed": bcubed(predicted, gold), "pairwise": pairwise(predicted, gold)}


# --- the streams


def load_seeds(data: Path) -> list[Article]:
    seed_dir = data / "seeds"
    if not seed_dir.is_dir():
        sys.exit(f"data not found: expected {seed_dir} (pass --data)")
    return [(path.stem, path.read_text(encoding="utf-8")) for path in sorted(seed_dir.glob("*.txt"))]


def stream(articles: Sequence[Article], settings: Settings) -> tuple[dict[str, str], float]:
    """Ingest the articles one by one into a fresh in-memory engine: each one's final cluster, and the seconds taken."""
    engine = Engine(settings)
    try:
        started = time.perf_counter()
        for article_id, body in articles:
            engine.ingest(ArticleInput(id=article_id, body=body))
        seconds = time.perf_counter() - started
        return {article_id: engine.get_article(article_id).cluster_id for article_id, _ in articles}, seconds
    finally:
        engine.close()


def interleave(articles: Sequence[Article], inserts: Sequence[Article], positions: Sequence[int]) -> list[Article]:
    """`articles` with `inserts[k]` at index `positions[k]` of the result (positions ascending)."""
    mixed = list(articles)
    for position, article in zip(positions, inserts, strict=True):
        mixed.insert(position, article)
    return mixed


def seeds_check(clusters: dict[str, str], seed_ids: Sequence[str]) -> dict[str, object]:
    """Whether the seeds form one cluster that holds nothing else.

    Also how many clusters they span (and, if several, which seeds are
    together) and how many other articles those clusters hold.
    """
    together: dict[str, list[str]] = defaultdict(list)
    for seed_id in seed_ids:
        together[clusters[seed_id]].append(seed_id)
    others = sum(cluster in together for article_id, cluster in clusters.items() if article_id not in seed_ids)
    check: dict[str, object] = {
        "alone": len(together) == 1 and others == 0,
        "clusters": len(together),
        "others": others,
    }
    if len(together) > 1:
        check["groups"] = sorted(together.values())
    return check


@dataclass(frozen=True)
class Order:
    """One ingestion order's story scores, and its seeds checks."""

    clustering: dict[str, object]
    seeds: dict[str, object]


def run_order(
    documents: Sequence[dict], seeds: Sequence[Article], order_seed: int, settings: Settings, *, interleaved: bool
) -> Order:
    """Stream one seeded order of ECB+ then the seeds, score it; with `interleaved`, also the seeds inside the order."""
    rng = random.Random(order_seed)
    order = list(range(len(documents)))
    rng.shuffle(order)
    ecbplus = [(documents[i]["doc_id"], documents[i]["text"]) for i in order]
    seed_ids = [seed_id for seed_id, _ in seeds]
    clusters, seconds = stream(ecbplus + list(seeds), settings)
    predicted = [clusters[document["doc_id"]] for document in documents]
    sizes = Counter(predicted)
    largest, largest_size = sizes.most_common(1)[0]
    largest_topics = {document["topic"] for document, c in zip(documents, predicted, strict=True) if c == largest}
    clustering = {
        "order_seed": order_seed,
        "subtopic": scores(predicted, [document["subtopic"] for document in documents]),
        "topic": scores(predicted, [document["topic"] for document in documents]),
        "clusters": len(sizes),
        "largest_cluster": {"size": largest_size, "topics": len(largest_topics)},
        "ingest_articles_per_second": round(len(clusters) / seconds, 1),
    }
    seeds_result: dict[str, object] = {"order_seed": order_seed, "after_ecbplus": seeds_check(clusters, seed_ids)}
    if interleaved:
        positions = sorted(rng.sample(range(len(ecbplus) + len(seeds)), len(seeds)))
        shuffled = rng.sample(list(seeds), len(seeds))
        mixed_clusters, _ = stream(interleave(ecbplus, shuffled, positions), settings)
        seeds_result["interleaved"] = seeds_check(mixed_clusters, seed_ids) | {
            "positions": {seed_id: position for (seed_id, _), position in zip(shuffled, positions, strict=True)}
        }
    return Order(clustering, seeds_result)


# --- the summaries


def summarise(runs: Sequence[dict], label: str, measure: str) -> dict[str, dict[str, float]]:
    """The mean over the orders of one measure against one label, and the worst order by F1."""
    results = [run[label][measure] for run in runs]
    worst = min(range(len(runs)), key=lambda k: results[k]["f1"])
    return {
        "mean": {key: round(statistics.fmean(result[key] for result in results), 4) for key in results[0]},
        "worst": {"order_seed": runs[worst]["order_seed"], **results[worst]},
    }


def evaluate_clustering(
    documents: Sequence[dict],
    seeds: Sequence[Article],
    settings: Settings,
    orders: int,
    first_seed: int,
    *,
    interleaved: bool,
) -> tuple[dict[str, object], dict[str, object]]:
    """The story-clustering report and the seeds report over `orders` seeded orders."""
    results = [run_order(documents, seeds, first_seed + k, settings, interleaved=interleaved) for k in range(orders)]
    runs = [result.clustering for result in results]
    clustering = {
        label: {measure: summarise(runs, label, measure) for measure in ("bcubed", "pairwise")}
        for label in ("subtopic", "topic")
    }
    subtopic, topic = clustering["subtopic"]["bcubed"], clustering["topic"]["bcubed"]
    report: dict[str, object] = {
        **clustering,
        "targets": {
            "subtopic_bcubed_f1_mean_min": TARGET_SUBTOPIC_F1_MEAN,
            "subtopic_bcubed_f1_worst_min": TARGET_SUBTOPIC_F1_WORST,
            "topic_bcubed_f1_mean_min": TARGET_TOPIC_F1_MEAN,
            "met": subtopic["mean"]["f1"] >= TARGET_SUBTOPIC_F1_MEAN
            and subtopic["worst"]["f1"] >= TARGET_SUBTOPIC_F1_WORST
            and topic["mean"]["f1"] >= TARGET_TOPIC_F1_MEAN,
        },
        "clusters_mean": round(statistics.fmean(run["clusters"] for run in runs), 1),
        "largest_cluster": {
            "size_max": max(run["largest_cluster"]["size"] for run in runs),
            "topics_max": max(run["largest_cluster"]["topics"] for run in runs),
        },
        "runs": runs,
    }
    checks = [result.seeds for result in results]
    seeds_report: dict[str, object] = {
        "articles": len(seeds),
        "alone_after_ecbplus_in_every_order": all(check["after_ecbplus"]["alone"] for check in checks),
    }
    if interleaved:
        seeds_report["alone_interleaved_in_every_order"] = all(check["interleaved"]["alone"] for check in checks)
    seeds_report["orders"] = checks
    return report, seeds_report


def clustering_curve(
    documents: Sequence[dict],
    seeds: Sequence[Article],
    points: Sequence[Settings],
    orders: int,
    first_seed: int,
    known: dict[Settings, tuple[dict, dict]],
) -> list[dict[str, object]]:
    """Subtopic B-cubed (mean and worst F1), topic and pairwise F1, and the seeds, at each settings point."""
    curve = []
    for settings in points:
        if settings not in known:
            known[settings] = evaluate_clustering(documents, seeds, settings, orders, first_seed, interleaved=False)
        clustering, seeds_report = known[settings]
        subtopic = clustering["subtopic"]
        curve.append(
            {
                "story_threshold": settings.story_threshold,
                "story_merge_threshold": settings.story_merge_threshold,
                **subtopic["bcubed"]["mean"],
                "f1_worst": subtopic["bcubed"]["worst"]["f1"],
                "pairwise_f1": subtopic["pairwise"]["mean"]["f1"],
                "topic_f1": clustering["topic"]["bcubed"]["mean"]["f1"],
                "largest_cluster": clustering["largest_cluster"]["size_max"],
                "seeds_alone": seeds_report["alone_after_ecbplus_in_every_order"],
            }
        )
    return curve


# --- the program


def parse_overrides(parser: argparse.ArgumentParser, assignments: Sequence[str]) -> Settings:
    """In-memory settings with every NAME=VALUE applied at once (so related thresholds may move together)."""
    kinds = {name: kind for name, kind, _, _ in Settings.describe()}
    changes = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        if not equals or name not in kinds:
            parser.error(f"--set {assignment!r}: expected NAME=VALUE with NAME one of {', '.join(kinds)}")
        try:
            changes[name] = kinds[name](value)
        except ValueError:
            parser.error(f"--set {assignment!r}: {value!r} is not a {kinds[name].__name__}")
    try:
        return Settings(data_dir="").replace(**changes)
    except ValueError as error:
        parser.error(f"--set: {error}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5, help="number of random ingestion orders (default 5)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first order (order k uses seed + k) and of the near set"
    )
    parser.add_argument("--data", type=Path, default=near_duplicates.DEFAULT_DATA, help="the shared data folder")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="override any setting (repeatable)"
    )
    parser.add_argument("--curves", action="store_true", help="add the scores against each threshold")
    near_duplicates.add_set_arguments(parser)
    options = parser.parse_args(argv)
    if options.orders < 1:
        parser.error(f"--orders must be at least 1, got {options.orders}")
    settings = parse_overrides(parser, options.set)
    data = options.data.resolve()
    documents, seeds = near_duplicates.load(data), load_seeds(data)

    started = time.perf_counter()
    clustering, seeds_report = evaluate_clustering(
        documents, seeds, settings, options.orders, options.seed, interleaved=True
    )
    clustered = time.perf_counter()
    near = near_duplicates.run(
        documents,
        **near_duplicates.set_size(options, documents),
        seed=options.seed,
        settings=settings,
        thresholds=NEAR_THRESHOLDS if options.curves else (),
    )
    near_curve = near.pop("curve", None)
    report: dict[str, object] = {
        "benchmark": "quality",
        "settings": {name: getattr(settings, name) for name in STORY_SETTINGS} | {"overrides": options.set},
        "ecbplus": {
            "documents": len(documents),
            "events": len({document["subtopic"] for document in documents}),
            "topics": len({document["topic"] for document in documents}),
            "orders": options.orders,
            "reference_single_link_unigram_jaccard_0_2": {"subtopic": {"bcubed": REFERENCE_SINGLE_LINK}},
            **clustering,
        },
        "seeds": seeds_report,
        "near_duplicates": near,
    }
    seconds = {"ecbplus_and_seeds": round(clustered - started, 1), "near_duplicates": near["seconds"]["total"]}
    if options.curves:
        curves_started = time.perf_counter()
        known = {settings: (clustering, seeds_report)}
        merge = settings.story_merge_threshold
        by_threshold = [
            settings.replace(story_threshold=t, story_merge_threshold=max(t, merge)) for t in STORY_THRESHOLDS
        ]
        by_merge = [
            settings.replace(story_merge_threshold=m) for m in STORY_MERGE_THRESHOLDS if m >= settings.story_threshold
        ]
        report["curves"] = {
            "orders": options.orders,
            "story_threshold": clustering_curve(documents, seeds, by_threshold, options.orders, options.seed, known),
            "story_merge_threshold": clustering_curve(documents, seeds, by_merge, options.orders, options.seed, known),
            "near_threshold": near_curve,
        }
        seconds["story_curves"] = round(time.perf_counter() - curves_started, 1)
    seconds["total"] = round(time.perf_counter() - started, 1)
    report["seconds"] = seconds
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
