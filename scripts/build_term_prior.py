"""Build the word-frequency prior for the story tier's document frequencies.

    pip install wordfreq==3.1.1 && python scripts/build_term_prior.py

A fresh service has seen no articles, so its document frequencies cannot tell
a function word from a story's key term: with two articles, "the" and
"coalition" both occur in both. The prior fixes the cold start without a stop
list: for every word common enough to matter, in each of wordfreq's languages
(its data covers 40 languages, from several sources), it records the share of
news-length documents expected to contain the word, 1 - exp(-L * frequency)
with L = 400 tokens. The engine counts each share as that many of
`term_prior_weight` imaginary articles, so real articles outweigh the prior
as they arrive.

Writes service/newsdedup/data/term_prior.npz: `term_ids` (uint64, our term
hashes, sorted) and `document_share` (float16), plus the build parameters.
wordfreq's data is CC BY-SA 4.0 (Robyn Speer, Luminoso); see the README.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import wordfreq
from newsdedup import text

OUTPUT = Path(__file__).resolve().parents[1] / "service" / "newsdedup" / "data" / "term_prior.npz"
ARTICLE_TOKENS = 400
# Shares below this add under 3 of the 300 imaginary articles (the default weight): too few to matter.
MIN_SHARE = 0.01
WORDS_PER_LANGUAGE = 30_000


def main() -> int:
    shares: dict[int, float] = {}
    languages = sorted(wordfreq.available_languages())
    for language in languages:
        frequencies = wordfreq.get_frequency_dict(language)
        common = sorted(frequencies.items(), key=lambda item: -item[1])[:WORDS_PER_LANGUAGE]
        for word, frequency in common:
            share = 1.0 - math.exp(-ARTICLE_TOKENS * frequency)
            if share < MIN_SHARE:
                break
            for term in text.terms(text.tokenize(text.normalize(word))).ids.tolist():
                shares[term] = max(shares.get(term, 0.0), share)
    term_ids = np.array(sorted(shares), dtype=np.uint64)
    document_share = np.array([shares[t] for t in term_ids.tolist()], dtype=np.float16)
    build = {
        "source": f"wordfreq {wordfreq.__version__ if hasattr(wordfreq, '__version__') else '3.1.1'}",
        "languages": languages,
        "article_tokens": ARTICLE_TOKENS,
        "min_share": MIN_SHARE,
        "words_per_language": WORDS_PER_LANGUAGE,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUTPUT, term_ids=term_ids, document_share=document_share, build=np.array(json.dumps(build)))
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes): {len(term_ids)} terms from {len(languages)} languages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
