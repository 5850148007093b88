"""Opaque, tamper-evident page tokens for ListClusters.

A token carries the position after the last cluster of a page (the sort
value and the cluster seq: keyset pagination, so pages stay correct while
clusters are added) and the request's filters, which the next request must
repeat (Google AIP-158). It is signed with an HMAC whose key is kept in the
store, so a token survives restarts, and one that was edited or made up is
rejected with INVALID_ARGUMENT instead of being trusted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from newsdedup.errors import InvalidArgument
from newsdedup.models import ClusterOrder

_MAC_BYTES = 16


@dataclass(frozen=True)
class PagePosition:
    """Where the next page starts and the filters the token was issued for."""

    order: ClusterOrder
    min_size: int
    after: tuple[int, int]


class PageTokens:
    """Issues and verifies page tokens with one secret key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, position: PagePosition) -> str:
        payload = json.dumps([int(position.order), position.min_size, *position.after], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._mac(payload) + payload).decode().rstrip("=")

    def verify(self, token: str, order: ClusterOrder, min_size: int) -> PagePosition:
        """The position a token encodes, after checking it is ours and matches the request's filters."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            raw = b""
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
            # Base64 decoding skips stray characters and ignores the unused low bits of the
            # last character, so several strings decode alike; only the one issued is accepted.
            raw = b""
        mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidArgument(
                "page_token is not a token this server issued (edited, truncated or from another server); "
                "start again without a page_token",
                reason="INVALID_PAGE_TOKEN",
            )
        token_order, token_min_size, value, seq = json.loads(payload)
        if token_order != int(order) or token_min_size != min_size:
            raise InvalidArgument(
                f"page_token was issued for order_by={ClusterOrder(token_order).name} and min_size={token_min_size}; "
                f"repeat those with the token, or start again without it",
                reason="INVALID_PAGE_TOKEN",
            )
        return PagePosition(order=order, min_size=min_size, after=(value, seq))
