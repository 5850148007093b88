"""Near-duplicate precision and recall on syndicated copies of real articles, against exact Jaccard.

    python benchmarks/near_duplicates.py [--sources 300] [--variants 4] [--seed 0] [--data ../shared/data]
    python benchmarks/near_duplicates.py --thresholds 0.3,0.4,0.5,0.6,0.7,0.8

`benchmarks/quality.py` runs this evaluation as one part of the quality
benchmark (and its `--curves` the threshold curve); this program runs it alone.

The set. Every ECB+ article goes in unedited (982 by default, `--articles`);
they include ECB+'s own syndicated near-copies (44 document pairs) and, in
every topic, independent reports of the same events: hard negatives. For
`--sources` of them, `--variants` copies are made with the edits that
syndication really makes, each copy a seeded random combination of: the
headline rewritten (an agency tag, a site suffix, a shortened headline, or
the lede as headline), one or two paragraphs dropped, two paragraphs
swapped, a byline or a dateline added, 1 to 3% of the words replaced, and site
chrome appended (cookie banner, share and comment prompts, newsletter sign-up,
"Prev Article"/"Next Article" links). A `--heavy-share` of the copies is also
cut to 30 to 70% of its paragraphs or reworded (6 to 20% of the words), as
wire copies cut for length or rewritten by a desk are: their Jaccard with the
source falls around and below the threshold, so the set holds negatives near
it, not only easy cases. An article's first line is its title.

The truth. A pair is a near duplicate when the exact Jaccard similarity of
its word shingles is at least `near_threshold`, computed the way
`Engine.compare` computes `exact_similarity` (`article_text`, then
`Fingerprinter.shingle_set`), by brute force over every unordered pair of the
set: each text's sorted shingle hashes are probed against those of every
later text.

The prediction. The set is streamed, in a seeded random order, through a
real in-memory engine, one `ingest` per article. A pair is predicted a near
duplicate when the later article's ingest result lists the earlier one as an
exact or near duplicate. That is what a user of the service gets: each
article is judged on arrival against everything stored before it, so each
unordered pair is judged exactly once, by the ingest of its later article,
and no re-reading is needed to see the answer. As a check, every article is
then searched by id (`search_similar`, as SearchSimilarArticles does) and the
exact and near matches found that way are compared with the streamed ones:
`search_disagreements` counts the pairs on which the two differ (the ingest
result reports at most `max_matches` matches; `results_at_match_cap` counts
the results that filled it). The search is most of the run's time, so the
points of a threshold curve skip it.

An article the service finds too thin to judge (LOW_CONTENT: fewer than
`min_content_words` words once chrome is stripped) is deliberately matched
with nothing, so its true pairs count as misses; `confusion_without_low_content`
scores the set without them, to tell that policy apart from MinHash error.

Prints one JSON object: the settings, the set's size, the confusion counts,
precision, recall and F1 at the configured threshold, the errors by exact
Jaccard band with the most surprising examples (each with its estimated
similarity and shingle counts), and with `--thresholds` the same at each
threshold (each a fresh engine with that `near_threshold` and a
`near_lsh_threshold` no higher; the truth is computed once and thresholded
again). Targets (issue 4): recall at least 0.95 and precision at least 0.99
at the configured threshold.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from newsdedup import hashing, text
from newsdedup.config import Settings
from newsdedup.engine import MAX_SEARCH_RESULTS, Engine
from newsdedup.models import ArticleInput, ArticleResult, Match, Relation
from newsdedup.signatures import Fingerprinter, article_text

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TARGET_RECALL, TARGET_PRECISION = 0.95, 0.99
DUPLICATE_RELATIONS = (Relation.EXACT_DUPLICATE, Relation.NEAR_DUPLICATE)
BAND_WIDTH = 0.1
EXAMPLES_PER_KIND = 5

HEADLINE_TAGS = ("UPDATE 1-", "UPDATE 2-", "EXCLUSIVE-", "WRAPUP 1-", "CORRECTED-")
HEADLINE_SUFFIXES = (" - Reuters", " | Daily Mail Online", " - The Guardian", " | Fox News", " - BBC News")
REPORTERS = ("Jane Doe", "John Smith", "Maria Garcia", "David Chen", "Sarah Johnson", "Ahmed Khan")
AGENCIES = ("Reuters", "AP", "AFP", "Bloomberg", "PA Media")
CITIES = ("LONDON", "NEW YORK", "WASHINGTON", "LOS ANGELES", "PARIS", "NEW DELHI", "SYDNEY", "CHICAGO")
# Words a copy desk swaps; any other word is replaced by a random word of the corpus.
SYNONYMS = {
    "said": "stated", "says": "states", "told": "informed", "killed": "slain", "died": "perished",
    "people": "persons", "police": "officers", "officials": "authorities", "announced": "revealed",
    "arrested": "detained", "reported": "said", "according": "pursuant", "after": "following",
    "about": "around", "more": "over", "also": "additionally", "home": "house", "car": "vehicle",
    "big": "large", "shot": "gunned", "fire": "blaze", "new": "fresh", "started": "began",
}  # fmt: skip
# One line each, of the kinds real pages append; "Prev/Next Article" links get a real headline below them.
CHROME_LINES = (
    "We use cookies to ensure that we give you the best experience on our website.",
    "Accept all cookies",
    "Share this article",
    "Tweet | Email | Print",
    "Sign up to our free daily newsletter for the latest headlines.",
    "Leave a Comment",
    "This site uses Akismet to reduce spam. Learn how your comment data is processed.",
    "Follow us on Twitter and Facebook",
    "You may also like",
)
NAVIGATION_LINKS = ("Prev Article", "Next Article")

Lines = list[str]
Pair = tuple[int, int]  # indexes into the set, i < j


# --- the edits: each takes the body's lines (paragraphs) and returns new ones, never changing its input


def rewrite_headline(title: str, lines: Lines, rng: random.Random) -> str:
    """A new headline as a syndicating site writes it: tagged, suffixed, shortened, or the lede's opening."""
    words = title.split()
    style = rng.randrange(4)
    if style == 0:
        return rng.choice(HEADLINE_TAGS) + title
    if style == 1:
        return title + rng.choice(HEADLINE_SUFFIXES)
    if style == 2 and len(words) > 4:
        return " ".join(words[: max(3, len(words) * 2 // 3)]) + rng.choice(HEADLINE_SUFFIXES)
    lede = (lines[0] if lines else title).split()
    return " ".join(lede[: rng.randint(6, 12)])


def drop_paragraphs(lines: Lines, rng: random.Random) -> Lines:
    """The body without one or two of its paragraphs (never all but one)."""
    count = rng.randint(1, min(2, len(lines) - 2))
    dropped = set(rng.sample(range(len(lines)), count))
    return [line for i, line in enumerate(lines) if i not in dropped]


def swap_paragraphs(lines: Lines, rng: random.Random) -> Lines:
    """The body with two of its paragraphs swapped."""
    i, j = rng.sample(range(len(lines)), 2)
    swapped = list(lines)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    return swapped


def add_byline(lines: Lines, rng: random.Random) -> Lines:
    """A byline line, "By Jane Doe, Reuters", above the body."""
    return [f"By {rng.choice(REPORTERS)}, {rng.choice(AGENCIES)}", *lines]


def add_dateline(lines: Lines, rng: random.Random) -> Lines:
    """A dateline, "LONDON (Reuters) - ", opening the first paragraph."""
    return [f"{rng.choice(CITIES)} ({rng.choice(AGENCIES)}) - {lines[0]}", *lines[1:]]


def substitute_words(lines: Lines, rng: random.Random, rate: float, vocabulary: Sequence[str]) -> Lines:
    """The body with a `rate` share of its words (at least one) replaced by a synonym or another word."""
    split = [line.split(" ") for line in lines]
    positions = [(i, j) for i, words in enumerate(split) for j, word in enumerate(words) if word.isalpha()]
    if not positions:
        return list(lines)
    for i, j in rng.sample(positions, max(1, min(len(positions), round(rate * len(positions))))):
        word = split[i][j]
        replacement = SYNONYMS.get(word.lower())
        while replacement is None or replacement.lower() == word.lower():
            replacement = rng.choice(vocabulary)
        split[i][j] = replacement
    return [" ".join(words) for words in split]


def append_chrome(lines: Lines, rng: random.Random, headlines: Sequence[str]) -> Lines:
    """The body with two to five lines of site chrome after it; a Prev/Next link is followed by a headline."""
    chrome: Lines = []
    for line in rng.sample(CHROME_LINES + NAVIGATION_LINKS, rng.randint(2, 5)):
        chrome.append(line)
        if line in NAVIGATION_LINKS:
            chrome.append(rng.choice(headlines))
    return [*lines, *chrome]


def cut_for_length(lines: Lines, rng: random.Random) -> Lines:
    """The first 30 to 70% of the paragraphs (at least one), as a wire copy cut to fit."""
    return lines[: max(1, math.ceil(rng.uniform(0.3, 0.7) * len(lines)))]


# --- the set


@dataclass(frozen=True)
class Item:
    """One article of the set: an ECB+ article unedited (no edits) or a copy of `source` with `edits`."""

    id: str
    title: str
    body: str
    source: str
    edits: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The text the service judges the article by."""
        return article_text(self.title, self.body)


def split_article(document_text: str) -> tuple[str, Lines]:
    """An ECB+ text as (title, paragraphs): its first line is the headline when there is more than one line."""
    lines = [line for line in document_text.split("\n") if line.strip()]
    if len(lines) < 2:
        return "", lines
    return lines[0], lines[1:]


def make_variant(
    document: dict,
    number: int,
    rng: random.Random,
    heavy: bool,
    vocabulary: Sequence[str],
    headlines: Sequence[str],
) -> Item:
    """One syndicated copy of `document`: each light edit with probability 1/2 (at least one), plus a heavy one."""
    title, lines = split_article(document["text"])
    light: dict[str, Callable[[Lines], Lines]] = {
        "drop_paragraphs": lambda ls: drop_paragraphs(ls, rng),
        "swap_paragraphs": lambda ls: swap_paragraphs(ls, rng),
        "substitute_words": lambda ls: substitute_words(ls, rng, rng.uniform(0.01, 0.03), vocabulary),
        "add_dateline": lambda ls: add_dateline(ls, rng),
        "add_byline": lambda ls: add_byline(ls, rng),
        "append_chrome": lambda ls: append_chrome(ls, rng, headlines),
    }
    edits: list[str] = []
    if heavy:
        if len(lines) >= 3 and rng.random() < 0.5:
            lines = cut_for_length(lines, rng)
            edits.append("cut_for_length")
        else:
            lines = substitute_words(lines, rng, rng.uniform(0.06, 0.2), vocabulary)
            edits.append("reword_heavily")
    needs_lines = {"drop_paragraphs": 4, "swap_paragraphs": 2}  # dropping leaves at least two paragraphs
    applicable = ["rewrite_headline"] if title else []
    applicable += [name for name in light if len(lines) >= needs_lines.get(name, 1)]
    chosen = [name for name in applicable if rng.random() < 0.5] or [rng.choice(applicable)]
    # Structure first, then wording, then what is added around the text, as a copy desk works.
    for name in light:
        if name in chosen:
            lines = light[name](lines)
            edits.append(name)
    if "rewrite_headline" in chosen:
        title = rewrite_headline(title, lines, rng)
        edits.append("rewrite_headline")
    return Item(f"{document['doc_id']}~v{number}", title, "\n".join(lines), document["doc_id"], tuple(sorted(edits)))


def build_set(
    documents: Sequence[dict], articles: int, sources: int, variants: int, heavy_share: float, seed: int
) -> list[Item]:
    """`articles` ECB+ articles unedited, and `variants` syndicated copies of `sources` of them."""
    if not 0 < sources <= articles <= len(documents):
        raise ValueError(f"need 0 < sources ({sources}) <= articles ({articles}) <= {len(documents)} documents")
    rng = random.Random(seed)
    chosen = rng.sample(list(documents), articles)
    vocabulary = sorted({word for doc in documents for word in doc["text"].split() if word.isalpha()})
    headlines = [title for title, _ in map(split_article, (doc["text"] for doc in documents)) if title]
    items = []
    for document in chosen:
        title, lines = split_article(document["text"])
        items.append(Item(document["doc_id"], title, "\n".join(lines), document["doc_id"]))
    for document in chosen[:sources]:
        for number in range(1, variants + 1):
            heavy = rng.random() < heavy_share
            items.append(make_variant(document, number, rng, heavy, vocabulary, headlines))
    return items


# --- the truth


def exact_jaccard_matrix(items: Sequence[Item], settings: Settings) -> np.ndarray:
    """Exact shingle Jaccard of every pair of items, as a symmetric n x n matrix (1 on the diagonal).

    The shingle sets are the engine's own (`Fingerprinter.shingle_set` of
    `article_text`), so this is `Engine.compare`'s `exact_similarity` for every
    pair. Each set is probed against all later sets at once: one searchsorted
    of the concatenated later sets into it, then per-text counts from a
    cumulative sum, which also handles an empty set.
    """
    fingerprinter = Fingerprinter(settings.num_perm, settings.seed, settings.shingle_size)
    tokens = text.tokenize_batch([item.text for item in items])
    sets = [fingerprinter.shingle_set(tokens.text(i)) for i in range(len(items))]
    sizes = np.array([len(shingles) for shingles in sets], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    everything = np.concatenate(sets)
    n = len(items)
    jaccard = np.zeros((n, n), dtype=np.float64)
    for i in range(n - 1):
        later = everything[offsets[i + 1] :]
        shared_so_far = np.concatenate(([0], np.cumsum(hashing.contains(sets[i], later))))
        bounds = offsets[i + 1 :] - offsets[i + 1]
        shared = shared_so_far[bounds[1:]] - shared_so_far[bounds[:-1]]
        union = sizes[i] + sizes[i + 1 :] - shared
        # Two empty sets are identical (exact_jaccard's convention); texts without words cannot be ingested anyway.
        jaccard[i, i + 1 :] = np.divide(shared, union, out=np.ones(len(union)), where=union > 0)
    jaccard += jaccard.T
    np.fill_diagonal(jaccard, 1.0)
    return jaccard


def positive_pairs(jaccard: np.ndarray, threshold: float) -> list[Pair]:
    """The unordered pairs (i < j) whose exact Jaccard is at least `threshold`: the true near duplicates."""
    rows, columns = np.nonzero(np.triu(jaccard >= threshold, k=1))
    return list(zip(rows.tolist(), columns.tolist(), strict=True))


# --- the prediction


@dataclass(frozen=True)
class Prediction:
    """The pairs the service called duplicates while streaming, and the check against searching afterwards."""

    pairs: set[Pair]
    searched_pairs: set[Pair] | None  # None when the search was skipped
    results_at_match_cap: int
    verdicts: list[str]  # the verdict each item's ingest result gave, by name, in the set's order

    @property
    def low_content(self) -> frozenset[int]:
        """The items the service judged too thin to compare (by name: the verdict is newer than some trees)."""
        return frozenset(i for i, verdict in enumerate(self.verdicts) if verdict == "LOW_CONTENT")

    @property
    def search_disagreements(self) -> int | None:
        """The pairs that streaming and searching judged differently; None when the search was skipped."""
        return None if self.searched_pairs is None else len(self.pairs ^ self.searched_pairs)


def duplicate_matches(matches: Sequence[Match]) -> list[Match]:
    return [match for match in matches if match.relation in DUPLICATE_RELATIONS]


def predict(items: Sequence[Item], settings: Settings, order_seed: int, *, search: bool = True) -> Prediction:
    """Stream the items through a fresh in-memory engine in a seeded order; collect the duplicate pairs.

    With `search`, every item is then searched by id as well, to check the streamed answers.
    """
    position = {item.id: i for i, item in enumerate(items)}
    order = list(range(len(items)))
    random.Random(order_seed).shuffle(order)
    engine = Engine(settings)
    try:
        pairs: set[Pair] = set()
        at_cap = 0
        verdicts = [""] * len(items)
        for i in order:
            item = items[i]
            result: ArticleResult = engine.ingest(ArticleInput(id=item.id, title=item.title, body=item.body))
            verdicts[i] = result.verdict.name
            found = duplicate_matches(result.matches)
            at_cap += len(found) >= settings.max_matches
            for match in found:
                j = position[match.article_id]
                pairs.add((min(i, j), max(i, j)))
        searched: set[Pair] | None = None
        if search:
            searched = set()
            for i, item in enumerate(items):
                matches = engine.search_similar(article_id=item.id, max_results=MAX_SEARCH_RESULTS)
                for match in duplicate_matches(matches):
                    j = position[match.article_id]
                    searched.add((min(i, j), max(i, j)))
    finally:
        engine.close()
    return Prediction(pairs, searched, at_cap, verdicts)


# --- the score


def band_of(similarity: float) -> str:
    low = min(math.floor(similarity / BAND_WIDTH), round(1 / BAND_WIDTH) - 1) * BAND_WIDTH
    high = low + BAND_WIDTH
    return f"[{low:.1f},{high:.1f}{']' if high >= 1 else ')'}"


def score(jaccard: np.ndarray, predicted: set[Pair], threshold: float, excluded: frozenset[int] = frozenset()) -> dict:
    """Confusion counts, precision, recall and F1 of the predicted pairs against exact Jaccard >= threshold.

    Pairs with an `excluded` item are left out of every count.
    """

    def judged(pair: Pair) -> bool:
        return pair[0] not in excluded and pair[1] not in excluded

    items = len(jaccard) - len(excluded)
    positives = sum(map(judged, positive_pairs(jaccard, threshold)))
    predicted = set(filter(judged, predicted))
    rows = np.fromiter((i for i, _ in predicted), dtype=np.int64, count=len(predicted))
    columns = np.fromiter((j for _, j in predicted), dtype=np.int64, count=len(predicted))
    true_positives = int(np.count_nonzero(jaccard[rows, columns] >= threshold))
    false_positives = len(predicted) - true_positives
    false_negatives = positives - true_positives
    pairs = items * (items - 1) // 2
    precision = true_positives / len(predicted) if predicted else 1.0
    recall = true_positives / positives if positives else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "near_threshold": threshold,
        "positives": positives,
        "true_positives": true_positives,
        "false_positives": false_positives,
        "false_negatives": false_negatives,
        "true_negatives": pairs - positives - false_positives,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def errors(jaccard: np.ndarray, predicted: set[Pair], threshold: float) -> tuple[list[Pair], list[Pair]]:
    """The false negatives and false positives, each sorted by exact Jaccard."""
    false_negatives = [pair for pair in positive_pairs(jaccard, threshold) if pair not in predicted]
    false_positives = [pair for pair in predicted if jaccard[pair] < threshold]
    return sorted(false_negatives, key=lambda p: jaccard[p]), sorted(false_positives, key=lambda p: jaccard[p])


def error_report(
    items: Sequence[Item], jaccard: np.ndarray, prediction: Prediction, settings: Settings
) -> dict[str, object]:
    """Errors and all pairs by exact-Jaccard band, and a few examples of each kind of error."""
    false_negatives, false_positives = errors(jaccard, prediction.pairs, settings.near_threshold)
    n = len(jaccard)
    values = jaccard[np.triu_indices(n, k=1)]
    edges = np.arange(0, 1 + BAND_WIDTH, BAND_WIDTH)
    counts, _ = np.histogram(values, bins=edges)  # the last bin is closed: 1.0 falls in [0.9,1.0]
    bands = {
        band_of(low): {"pairs": int(count), "false_negatives": 0, "false_positives": 0}
        for low, count in zip(edges[:-1].tolist(), counts.tolist(), strict=True)
    }
    for kind, pairs in (("false_negatives", false_negatives), ("false_positives", false_positives)):
        for pair in pairs:
            bands[band_of(float(jaccard[pair]))][kind] += 1
    engine = Engine(settings)  # only to compare the example pairs, as CompareArticles does
    try:

        def example(pair: Pair) -> dict[str, object]:
            first, second = (items[k] for k in pair)
            comparison = engine.compare(
                ArticleInput(id="", title=first.title, body=first.body),
                ArticleInput(id="", title=second.title, body=second.body),
            )
            return {
                "ids": [first.id, second.id],
                "exact_jaccard": round(float(jaccard[pair]), 4),
                "estimated": round(comparison.similarity, 4),
                "shingles": [comparison.first_shingle_count, comparison.second_shingle_count],
                "edits": [list(first.edits), list(second.edits)],
                "low_content": [k in prediction.low_content for k in pair],
            }

        # The most surprising of each: the misses with the highest Jaccard, the false alarms with the lowest.
        examples = {
            "false_negatives": [example(pair) for pair in false_negatives[-EXAMPLES_PER_KIND:]],
            "false_positives": [example(pair) for pair in false_positives[:EXAMPLES_PER_KIND]],
        }
    finally:
        engine.close()
    return {"by_exact_jaccard_band": bands, "examples": examples}


def settings_at(settings: Settings, threshold: float) -> Settings:
    """The settings with another near_threshold; the LSH threshold lowered with it when it would exceed it."""
    return settings.replace(near_threshold=threshold, near_lsh_threshold=min(settings.near_lsh_threshold, threshold))


def curve(
    items: Sequence[Item],
    jaccard: np.ndarray,
    settings: Settings,
    seed: int,
    thresholds: Sequence[float],
    prediction: Prediction,
) -> list[dict]:
    """The score at each near_threshold: the same set and truth, a fresh engine per threshold.

    `prediction` was made with `settings` and is reused at its own threshold; the
    other points skip the search check.
    """
    points = []
    for at in (settings_at(settings, t) for t in thresholds):
        predicted = prediction if at == settings else predict(items, at, seed, search=False)
        points.append(
            score(jaccard, predicted.pairs, at.near_threshold) | {"near_lsh_threshold": at.near_lsh_threshold}
        )
    return points


# --- the program


def load(data: Path) -> list[dict]:
    ecbplus_file = data / "ecbplus" / "ecbplus_docs.jsonl"
    if not ecbplus_file.is_file():
        sys.exit(f"data not found: expected {ecbplus_file} (pass --data)")
    with open(ecbplus_file, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def parse_thresholds(value: str) -> list[float]:
    try:
        thresholds = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {value!r}") from None
    if not thresholds or not all(0 < t < 1 for t in thresholds):
        raise argparse.ArgumentTypeError(f"thresholds must be strictly between 0 and 1, got {value!r}")
    return thresholds


def run(
    documents: Sequence[dict],
    *,
    articles: int,
    sources: int,
    variants: int,
    heavy_share: float,
    seed: int,
    settings: Settings,
    thresholds: Sequence[float] = (),
) -> dict:
    """Build the set, compute the truth, stream it through the engine, and score; the benchmark's JSON."""
    started = time.perf_counter()
    items = build_set(documents, articles, sources, variants, heavy_share, seed)
    built = time.perf_counter()
    jaccard = exact_jaccard_matrix(items, settings)
    truth = time.perf_counter()
    prediction = predict(items, settings, seed)
    streamed = time.perf_counter()
    n = len(items)
    edits = Counter(edit for item in items for edit in item.edits)
    threshold = settings.near_threshold
    originals = [i for i, item in enumerate(items) if not item.edits]
    index_of = {items[i].id: i for i in originals}
    to_source = [jaccard[index_of[item.source], i] for i, item in enumerate(items) if item.edits]
    natural = jaccard[np.ix_(originals, originals)]
    confusion = score(jaccard, prediction.pairs, threshold)
    met = confusion["recall"] >= TARGET_RECALL and confusion["precision"] >= TARGET_PRECISION
    report: dict[str, object] = {
        "benchmark": "near_duplicates",
        "settings": {
            "near_threshold": threshold,
            "near_lsh_threshold": settings.near_lsh_threshold,
            "num_perm": settings.num_perm,
            "shingle_size": settings.shingle_size,
            "seed": settings.seed,
            "max_matches": settings.max_matches,
        },
        "set": {
            "seed": seed,
            "texts": n,
            "articles": len(originals),
            "sources": sources,
            "variants": n - len(originals),
            "heavy_share": heavy_share,
            "pairs": n * (n - 1) // 2,
            "positives": len(positive_pairs(jaccard, threshold)),
            "natural_near_copy_pairs": int(np.count_nonzero(np.triu(natural >= threshold, k=1))),
            "variants_below_threshold_with_source": int(sum(value < threshold for value in to_source)),
            "edits": dict(sorted(edits.items())),
        },
        "confusion": confusion,
        "targets": {"recall_min": TARGET_RECALL, "precision_min": TARGET_PRECISION, "met": met},
        "verdicts": dict(sorted(Counter(prediction.verdicts).items())),
        # Target 4 has the service refuse to match articles of under min_content_words words; their
        # pairs still count above, and here is the score without them.
        "confusion_without_low_content": score(jaccard, prediction.pairs, threshold, prediction.low_content),
        "search_disagreements": prediction.search_disagreements,
        "results_at_match_cap": prediction.results_at_match_cap,
        "errors": error_report(items, jaccard, prediction, settings),
    }
    if thresholds:
        report["curve"] = curve(items, jaccard, settings, seed, thresholds, prediction)
    report["seconds"] = {
        "build": round(built - started, 2),
        "ground_truth": round(truth - built, 2),
        "stream_and_search": round(streamed - truth, 2),
        "total": round(time.perf_counter() - started, 2),
    }
    return report


def add_set_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that size the set: --articles, --sources, --variants, --heavy-share."""
    parser.add_argument("--articles", type=int, default=None, help="unedited ECB+ articles in the set (default all)")
    parser.add_argument("--sources", type=int, default=300, help="articles that get syndicated copies (default 300)")
    parser.add_argument("--variants", type=int, default=4, help="syndicated copies per source (default 4)")
    parser.add_argument(
        "--heavy-share", type=float, default=0.25, help="share of copies also cut or reworded heavily (default 0.25)"
    )


def set_size(options: argparse.Namespace, documents: Sequence[dict]) -> dict[str, int | float]:
    """The keyword arguments of `run` that size the set, from the flags of `add_set_arguments`."""
    return {
        "articles": len(documents) if options.articles is None else options.articles,
        "sources": options.sources,
        "variants": options.variants,
        "heavy_share": options.heavy_share,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_set_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the set and of the ingestion order")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument(
        "--thresholds",
        type=parse_thresholds,
        default=[],
        metavar="T1,T2,...",
        help="also score these near_threshold values (a curve), each with a fresh engine",
    )
    options = parser.parse_args(argv)
    documents = load(options.data.resolve())
    report = run(
        documents,
        **set_size(options, documents),
        seed=options.seed,
        settings=Settings(data_dir=""),
        thresholds=options.thresholds,
    )
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
