"""Builders of test articles: made-up stories with chosen vocabularies, and syndication-style edits."""

from __future__ import annotations

import random


def invented_words(seed: int, count: int) -> list[str]:
    """Distinct made-up words, so that test stories share exactly the terms we choose."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(4)))
    return sorted(words)


def story_text(words: list[str], seed: int, length: int = 120) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(words) for _ in range(length))


def edited_copy(body: str) -> tuple[str, str]:
    """What syndication does: a new headline, a byline, the last paragraph dropped, words changed, chrome added."""
    paragraphs = body.split("\n")
    kept = paragraphs[:-1] if len(paragraphs) > 3 else paragraphs
    text = "\n".join(kept).replace("security", "safety", 1).replace("Ukraine", "Kyiv", 1)
    return (
        "Allies weigh post-war force for Ukraine",
        "By Staff Reporter\n" + text + "\nLeave a Comment\nShare this article",
    )
