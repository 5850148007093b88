"""Opaque, tamper-evident page tokens (newsdedup.pagination)."""

from __future__ import annotations

import base64
import json
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from newsdedup.errors import InvalidArgument
from newsdedup.models import ClusterOrder
from newsdedup.pagination import PagePosition, PageTokens

from .strategies import page_positions

TOKENS = PageTokens(b"0123456789abcdef0123456789abcdef")
ALPHABET = string.ascii_letters + string.digits + "-_"
# after values whose payloads have every length modulo 3, so the last base64 character varies in unused bits.
POSITIONS = [
    PagePosition(ClusterOrder.LARGEST, 2, (5, 17)),
    PagePosition(ClusterOrder.LARGEST, 2, (5, 170)),
    PagePosition(ClusterOrder.RECENTLY_UPDATED, 0, (1_771_700_000_000, 1)),
]


def rejected(token: str, order: ClusterOrder, min_size: int) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as raised:
        TOKENS.verify(token, order, min_size)
    assert raised.value.reason == "INVALID_PAGE_TOKEN"
    assert "page_token" in raised.value.message
    return raised.value


@given(page_positions)
def test_issued_tokens_verify_to_their_position(position: PagePosition) -> None:
    """A token the server issued verifies, with the same filters, to exactly the position it encodes."""
    token = TOKENS.issue(position)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token), "tokens must be URL-safe, without padding"
    assert TOKENS.verify(token, position.order, position.min_size) == position


def test_tokens_survive_a_restart_with_the_same_key() -> None:
    """A new PageTokens with the stored key accepts tokens issued before (the key lives in the store)."""
    token = TOKENS.issue(POSITIONS[0])
    assert PageTokens(b"0123456789abcdef0123456789abcdef").verify(token, ClusterOrder.LARGEST, 2) == POSITIONS[0]


@pytest.mark.parametrize("position", POSITIONS, ids=["len-mod-0", "len-mod-1", "len-mod-2"])
def test_every_single_character_edit_is_rejected(position: PagePosition) -> None:
    """Changing any one character of a token, including unused bits of the last one, makes it invalid."""
    token = TOKENS.issue(position)
    for index, original in enumerate(token):
        for replacement in ALPHABET:
            if replacement != original:
                rejected(token[:index] + replacement + token[index + 1 :], position.order, position.min_size)


@pytest.mark.parametrize("position", POSITIONS, ids=["len-mod-0", "len-mod-1", "len-mod-2"])
def test_truncated_or_extended_tokens_are_rejected(position: PagePosition) -> None:
    """Every prefix of a token is rejected, and so is a token with anything added."""
    token = TOKENS.issue(position)
    for end in range(len(token)):
        rejected(token[:end], position.order, position.min_size)
    for extended in (token + "=", token + "A", token + "\n", " " + token, token[:4] + "." + token[4:]):
        rejected(extended, position.order, position.min_size)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a",
        "abc",
        "====",
        "!!!!!!!!",
        "null",
        "eyJhZnRlciI6WzEsMl19",
        "😀😀😀😀",
        "A" * 10_000,
        base64.urlsafe_b64encode(bytes(16) + json.dumps([1, 2, 5, 17]).encode()).decode().rstrip("="),
    ],
    ids=["empty", "one-char", "three-chars", "padding", "not-base64", "null", "json", "emoji", "huge", "forged"],
)
def test_garbage_tokens_are_rejected(token: str) -> None:
    """Anything the server did not issue, including a well-formed token with a made-up MAC, is rejected."""
    rejected(token, ClusterOrder.LARGEST, 2)


@given(st.text(max_size=80))
def test_arbitrary_strings_are_rejected_not_crashed_on(token: str) -> None:
    """Any string is either a token we issued or an InvalidArgument, never another exception."""
    rejected(token, ClusterOrder.LARGEST, 2)


def test_token_from_another_key_is_rejected() -> None:
    """A token made with another server's key (another data directory) is rejected."""
    token = PageTokens(b"another key").issue(POSITIONS[0])
    rejected(token, ClusterOrder.LARGEST, 2)


@pytest.mark.parametrize(
    ("order", "min_size"),
    [(ClusterOrder.RECENTLY_UPDATED, 2), (ClusterOrder.LARGEST, 3), (ClusterOrder.LARGEST, 0)],
    ids=["other-order", "larger-min-size", "smaller-min-size"],
)
def test_token_used_with_other_filters_is_rejected(order: ClusterOrder, min_size: int) -> None:
    """A token carries its request's filters: using it with another order or min_size fails, naming both."""
    error = rejected(TOKENS.issue(POSITIONS[0]), order, min_size)
    assert "order_by=LARGEST" in error.message and "min_size=2" in error.message
