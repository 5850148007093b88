"""Signature throughput and accuracy: newsdedup's hot path beside the named baselines.

    python benchmarks/hashing.py [--docs 5000] [--quick] [--seed 0] [--data ../shared/data]

Every pipeline runs in this one process, on one core, on the same documents:
news-like texts of about 630 words built from real ECB+ articles (joined and
cut to length), word 3-shingles, 128 permutations. Throughput is the best of
three runs for the fast pipelines (the slow baselines run once on a sample);
ratios compare pipelines measured in the same run, because absolute times on
a shared machine drift.

Pipelines:
- datasketch MinHash.update(shingle.encode()) per shingle: its documented usage (SHA-1).
- datasketch update_batch with xxhash.
- rensa RMinHash fed Python shingle strings; rensa's digest matrix fed our
  vectorised shingle hashes (optional: `pip install -e '.[bench]'`).
- gaoya tokenize_and_minhash (optional, Rust).
- numpy k-permutation affine32 MinHash over our shingle hashes (newsdedup's previous path).
- newsdedup near tier: normalise, tokenise, shingle, hash, one-permutation MinHash, batched.
- newsdedup both tiers: the near tier plus the story signature (a one-permutation
  MinHash of each article's story terms: its words rare in the language and
  in the store).
- newsdedup service analysis: everything ingest computes per batch before
  judging an article: chrome stripping, both signatures, content hashes, the
  counted terms and the salient terms the story clusters are scored by.
- floors: vectorised tokenise + shingle hashing alone; re.findall(r"\\w+", text.lower()) alone.

Accuracy: the mean absolute error of estimated against exact Jaccard over
pairs of real shingle sets with Jaccard spread over 0.1..0.95, for
newsdedup's signatures and for classic 128-permutation MinHash (datasketch's
affine32, bit for bit), beside the binomial expectation
sqrt(2/pi) * sqrt(J(1-J)/k); once for whole articles and once for short texts
(2 to 40 shingles, where most bins get no shingle of their own).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# One core: keep any native thread pools (rayon in the Rust baselines) to one thread.
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import numpy as np
import xxhash
from datasketch import MinHash
from newsdedup import hashing, stories, text
from newsdedup.config import Settings
from newsdedup.signatures import Fingerprinter, OnePermutationHasher, article_text, estimate_jaccard

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
NUM_PERM = 128
SHINGLE_SIZE = 3
DOCUMENT_WORDS = 630
BATCH = 256
WORD = re.compile(r"\w+")


def build_documents(data: Path, count: int, seed: int) -> list[str]:
    """News-like documents of about DOCUMENT_WORDS words, each joined from random real ECB+ articles."""
    source = data / "ecbplus" / "ecbplus_docs.jsonl"
    if not source.is_file():
        sys.exit(f"data not found: {source} (pass --data)")
    with open(source, encoding="utf-8") as lines:
        articles = [json.loads(line)["text"] for line in lines]
    rng = random.Random(seed)
    documents = []
    for _ in range(count):
        words: list[str] = []
        while len(words) < DOCUMENT_WORDS:
            words += rng.choice(articles).split(" ")
        documents.append(" ".join(words[:DOCUMENT_WORDS]))
    return documents


def python_shingles(document: str) -> list[str]:
    tokens = WORD.findall(document.lower())
    return [" ".join(tokens[i : i + SHINGLE_SIZE]) for i in range(max(len(tokens) - SHINGLE_SIZE + 1, 1))]


def batches(documents: Sequence[str]) -> list[Sequence[str]]:
    return [documents[i : i + BATCH] for i in range(0, len(documents), BATCH)]


# --- the pipelines: each signs (or, for floors, tokenises) every document it is given


def datasketch_default(documents: Sequence[str]) -> None:
    for document in documents:
        minhash = MinHash(num_perm=NUM_PERM)
        for shingle in python_shingles(document):
            minhash.update(shingle.encode())


def datasketch_xxhash_batch(documents: Sequence[str]) -> None:
    for document in documents:
        minhash = MinHash(num_perm=NUM_PERM, hashfunc=xxhash.xxh32_intdigest)
        minhash.update_batch([shingle.encode() for shingle in python_shingles(document)])


def rensa_strings(documents: Sequence[str]) -> None:
    import rensa

    for document in documents:
        minhash = rensa.RMinHash(num_perm=NUM_PERM, seed=1)
        minhash.update(python_shingles(document))


def rensa_our_hashes(documents: Sequence[str]) -> None:
    import rensa

    for batch in batches(documents):
        tokens = text.tokenize_batch(batch)
        shingles, offsets = hashing.shingle_hashes(tokens.hashes, tokens.offsets, SHINGLE_SIZE)
        rensa.RMinHash.digest_matrix_from_flat_token_hashes(shingles, offsets.astype(np.uint64), NUM_PERM, 1)


def gaoya_minhash(documents: Sequence[str]) -> None:
    import gaoya.minhash

    index = gaoya.minhash.m.MinHash32StringIntIndexHashSet(0.5, 32, 4, None, "word", True, (3, 3))
    for document in documents:
        index.tokenize_and_minhash(document)


class AffinePermutations:
    """Classic k-permutation MinHash, datasketch's affine32 scheme (as newsdedup computed it before)."""

    def __init__(self, num_perm: int = NUM_PERM, seed: int = 1) -> None:
        a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self.a = np.asarray(a, dtype=np.uint32)[:, None]
        self.b = np.asarray(b, dtype=np.uint32)[:, None]

    def sign(self, hashes32: np.ndarray) -> np.ndarray:
        h = hashes32.astype(np.uint32)
        for shift, multiplier in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):  # MurmurHash3's fmix32, as datasketch
            h = (h ^ (h >> np.uint32(shift))) * np.uint32(multiplier)
        h ^= h >> np.uint32(16)
        return (self.a * h[None, :] + self.b).min(axis=1)


AFFINE = AffinePermutations()


def fold32(values: np.ndarray) -> np.ndarray:
    return ((values >> np.uint64(32)) ^ values).astype(np.uint32)


def numpy_affine(documents: Sequence[str]) -> None:
    for batch in batches(documents):
        tokens = text.tokenize_batch(batch)
        shingles, offsets = hashing.shingle_hashes(tokens.hashes, tokens.offsets, SHINGLE_SIZE)
        for start, stop in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
            AFFINE.sign(fold32(shingles[start:stop]))


HASHER = OnePermutationHasher(NUM_PERM, 1)
STORY_HASHER = OnePermutationHasher(Settings().story_num_perm, 1)
STATISTICS = stories.TermStatistics(Settings().term_prior_weight, Settings().story_term_share)
FINGERPRINTER = Fingerprinter(NUM_PERM, 1, SHINGLE_SIZE)


def near_tier(documents: Sequence[str]) -> None:
    for batch in batches(documents):
        tokens = text.tokenize_batch(batch)
        shingles, offsets = hashing.shingle_hashes(tokens.hashes, tokens.offsets, SHINGLE_SIZE)
        HASHER.sign_batch(shingles, offsets)


SETTINGS = Settings()


def story_signatures(term_ids: np.ndarray, offsets: np.ndarray) -> None:
    STORY_HASHER.sign_batch(*stories.story_set(term_ids, offsets, STATISTICS))


def both_tiers(documents: Sequence[str]) -> None:
    for batch in batches(documents):
        tokens = text.tokenize_batch(batch)
        shingles, offsets = hashing.shingle_hashes(tokens.hashes, tokens.offsets, SHINGLE_SIZE)
        HASHER.sign_batch(shingles, offsets)
        story_signatures(*text.term_occurrences(tokens))


def service_analysis(documents: Sequence[str]) -> None:
    """What ingest computes per batch: the analyses, then salient terms and story signatures."""
    for batch in batches(documents):
        analyses = FINGERPRINTER.analyze_batch([article_text("", document) for document in batch])
        terms = text.concatenate_terms([a.terms for a in analyses if a is not None])
        stories.select_salient(terms, STATISTICS, SETTINGS.salient_terms)
        story_signatures(terms.ids, terms.offsets)


def floor_vectorised(documents: Sequence[str]) -> None:
    for batch in batches(documents):
        tokens = text.tokenize_batch(batch)
        hashing.shingle_hashes(tokens.hashes, tokens.offsets, SHINGLE_SIZE)


def floor_regex(documents: Sequence[str]) -> None:
    for document in documents:
        WORD.findall(document.lower())


@dataclass(frozen=True)
class Pipeline:
    key: str
    name: str
    run: Callable[[Sequence[str]], None]
    slow: bool = False
    needs: str = ""


PIPELINES = [
    Pipeline(
        "datasketch_default",
        "datasketch MinHash.update(shingle.encode()) per shingle (SHA-1)",
        datasketch_default,
        slow=True,
    ),
    Pipeline("datasketch_xxhash_batch", "datasketch update_batch with xxhash", datasketch_xxhash_batch, True),
    Pipeline("rensa_strings", "rensa RMinHash fed Python shingle strings", rensa_strings, True, "rensa"),
    Pipeline(
        "rensa_our_hashes", "rensa digest matrix fed our shingle hashes, batched", rensa_our_hashes, needs="rensa"
    ),
    Pipeline("gaoya", "gaoya tokenize_and_minhash (Rust)", gaoya_minhash, True, "gaoya"),
    Pipeline("numpy_affine", "numpy k-permutation affine32 over newsdedup's shingle hashes", numpy_affine, True),
    Pipeline("near_tier", "newsdedup near tier: one-permutation MinHash, batched", near_tier),
    Pipeline("both_tiers", "newsdedup near + story tiers", both_tiers),
    Pipeline("service_analysis", "newsdedup service analysis (chrome, content hash, terms, story)", service_analysis),
    Pipeline("floor_vectorised", "floor: newsdedup tokenise + shingle hashing only", floor_vectorised),
    Pipeline("floor_regex", 'floor: re.findall(r"\\w+", text.lower()) alone', floor_regex),
]  # fmt: skip


def measure(pipeline: Pipeline, documents: Sequence[str], sample: int) -> dict:
    """Docs/s and MB/s of one pipeline (best of three, or one run over a sample for the slow baselines)."""
    if pipeline.needs:
        try:
            __import__(pipeline.needs)
        except ImportError:
            return {"name": pipeline.name, "skipped": f"{pipeline.needs} is not installed (pip install -e '.[bench]')"}
    subset = documents[:sample] if pipeline.slow else documents
    pipeline.run(subset[:8])  # warm caches and lazily built tables
    runs = 1 if pipeline.slow else 3
    best = math.inf
    for _ in range(runs):
        started = time.perf_counter()
        pipeline.run(subset)
        best = min(best, time.perf_counter() - started)
    megabytes = sum(len(d.encode()) for d in subset) / 1e6
    return {
        "name": pipeline.name,
        "documents": len(subset),
        "docs_per_second": round(len(subset) / best, 1),
        "mb_per_second": round(megabytes / best, 2),
    }


def accuracy(documents: Sequence[str], pairs: int, seed: int, short: bool = False) -> dict:
    """Mean absolute error of Jaccard estimates on real shingle-set pairs with Jaccard in 0.1..0.95.

    `short`: the first set keeps 2 to 40 of its shingles, a headline or a brief,
    where most of the 128 bins get no shingle of their own.
    """
    rng = np.random.default_rng(seed)
    tokens = text.tokenize_batch(documents[: pairs * 2])
    shingles, offsets = hashing.shingle_hashes(tokens.hashes, tokens.offsets, SHINGLE_SIZE)
    rows = []
    for i in range(pairs):
        first = np.unique(shingles[offsets[2 * i] : offsets[2 * i + 1]])
        filler = np.unique(shingles[offsets[2 * i + 1] : offsets[2 * i + 2]])
        if short:
            first = rng.permutation(first)[: rng.integers(2, 41)]
        filler = np.setdiff1d(filler, first)
        target = rng.uniform(0.1, 0.95)
        size = len(first)
        shared = min(round(2 * size * target / (1 + target)), size)
        second = np.concatenate((first[:shared], filler[: size - shared]))
        exact = shared / (len(first) + len(second) - shared)
        ours = float(estimate_jaccard(HASHER.sign(first), HASHER.sign(second)[None, :])[0])
        classic = float(np.mean(AFFINE.sign(fold32(first)) == AFFINE.sign(fold32(second))))
        rows.append((exact, ours, classic))
    table = np.array(rows)
    exact, ours, classic = table[:, 0], table[:, 1], table[:, 2]
    binomial = np.sqrt(2 / np.pi) * np.sqrt(exact * (1 - exact) / NUM_PERM)
    return {
        "pairs": pairs,
        "shingles_per_set": "2 to 40" if short else "all (about 650)",
        "jaccard_range": [round(float(exact.min()), 3), round(float(exact.max()), 3)],
        "mae_newsdedup": round(float(np.abs(ours - exact).mean()), 4),
        "mae_classic_128_permutation_minhash": round(float(np.abs(classic - exact).mean()), 4),
        "mae_binomial_expectation": round(float(binomial.mean()), 4),
        "bias_newsdedup": round(float((ours - exact).mean()), 4),
        "bias_classic": round(float((classic - exact).mean()), 4),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=5000, help="documents for the fast pipelines (default 5000)")
    parser.add_argument("--sample", type=int, default=200, help="documents for the slow baselines (default 200)")
    parser.add_argument("--pairs", type=int, default=600, help="set pairs for the accuracy line (default 600)")
    parser.add_argument("--quick", action="store_true", help="1000 documents, 40-document samples, 200 pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    options = parser.parse_args(argv)
    if options.quick:
        options.docs, options.sample, options.pairs = 1000, 40, 200
    documents = build_documents(options.data.resolve(), max(options.docs, options.pairs * 2), options.seed)
    results = {p.key: measure(p, documents[: options.docs], options.sample) for p in PIPELINES}
    speed = {key: r.get("docs_per_second") for key, r in results.items()}
    baseline = speed["datasketch_default"]
    for r in results.values():
        if "docs_per_second" in r and baseline:
            r["vs_datasketch_default"] = round(r["docs_per_second"] / baseline, 1)
    near = speed["near_tier"]

    def ratio(key: str) -> float | None:
        return round(near / speed[key], 2) if speed.get(key) else None

    targets = {
        "near_tier_docs_per_second": {"value": near, "target": ">= 10000"},
        "vs_datasketch_default": {"value": ratio("datasketch_default"), "target": ">= 120"},
        "vs_gaoya": {"value": ratio("gaoya"), "target": ">= 2"},
        "vs_vectorised_floor": {"value": ratio("floor_vectorised"), "target": ">= 0.8"},
        "both_tiers_cost_vs_near_tier": {
            "value": round(near / speed["both_tiers"], 2) if speed.get("both_tiers") else None,
            "target": "<= 1.3",
        },
    }
    report = {
        "benchmark": "hashing",
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "processor": platform.processor()},
        "documents": options.docs,
        "average_words": round(sum(len(d.split()) for d in documents[: options.docs]) / options.docs, 1),
        "average_bytes": round(sum(len(d.encode()) for d in documents[: options.docs]) / options.docs, 1),
        "num_perm": NUM_PERM,
        "shingle_size": SHINGLE_SIZE,
        "pipelines": results,
        "targets": targets,
        "accuracy": accuracy(documents, options.pairs, options.seed),
        "accuracy_short_texts": accuracy(documents, options.pairs, options.seed, short=True),
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
