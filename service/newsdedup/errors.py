"""The errors the core raises, one class per way a request can fail.

    NewsdedupError                  base class; carries a machine-readable reason
     ├── InvalidArgument            the request itself is wrong       -> INVALID_ARGUMENT
     ├── NotFound                   an id that names nothing stored   -> NOT_FOUND
     ├── Conflict                   the id is taken by other content  -> ALREADY_EXISTS
     ├── StorageUnavailable         the store cannot be written now   -> UNAVAILABLE
     ├── IncompatibleData           the data dir was written with other
     │                              signature parameters (startup only)
     └── Unauthenticated            no bearer token, or not the server's -> UNAUTHENTICATED

Each error carries a `reason` (an UPPER_SNAKE_CASE constant, reported as the
google.rpc.ErrorInfo reason) and optional `metadata` naming the values
involved. The gRPC edge maps classes to status codes in one table
(`newsdedup.api.errors`); nothing here knows about gRPC.
"""

from __future__ import annotations


class NewsdedupError(Exception):
    """Base class of every error the core raises on purpose."""

    default_reason = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})


class InvalidArgument(NewsdedupError):
    """The request is malformed: a missing id, no usable text, a text over the size limit, a bad page token."""

    default_reason = "INVALID_ARGUMENT"


class NotFound(NewsdedupError):
    """An article or cluster id that names nothing stored."""

    default_reason = "NOT_FOUND"


class Conflict(NewsdedupError):
    """An article id that is already stored with different text."""

    default_reason = "ARTICLE_ID_CONFLICT"


class StorageUnavailable(NewsdedupError):
    """The durable store refused a write (disk full, I/O error); nothing was changed."""

    default_reason = "STORAGE_UNAVAILABLE"


class CapacityExhausted(NewsdedupError):
    """The store holds max_articles and is set to refuse new ones; reads keep working."""

    default_reason = "STORE_FULL"


class DeadlineExceeded(NewsdedupError):
    """The caller's deadline passed before the write could be committed; nothing was stored."""

    default_reason = "DEADLINE_EXCEEDED"


class DataCorrupted(NewsdedupError):
    """Stored data failed a check (a checksum, SQLite's own): the file is damaged, and no retry will help."""

    default_reason = "STORE_CORRUPTED"


class IncompatibleData(NewsdedupError):
    """The data directory was written with signature parameters other than the configured ones."""

    default_reason = "INCOMPATIBLE_DATA"


class Unauthenticated(NewsdedupError):
    """The call carries no bearer token (reason MISSING_TOKEN) or not the server's (INVALID_TOKEN)."""

    default_reason = "INVALID_TOKEN"
