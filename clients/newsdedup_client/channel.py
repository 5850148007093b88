"""How the client connects: the one place a gRPC channel to newsdedup is made.

Every client (today the synchronous `DedupClient`; later an asyncio one) gets
its channel from `open_channel`, so connection concerns are added here once:
TLS and bearer tokens become channel credentials, retries on UNAVAILABLE
become a service config in `channel_options`.

A channel connects lazily, on the first call, and reconnects by itself; making
one never fails because the server is down. A call to a server that cannot be
reached fails fast with UNAVAILABLE (gRPC's default "fail fast" behaviour),
which is what a command-line tool wants.
"""

from __future__ import annotations

import grpc

DEFAULT_TARGET = "localhost:50051"
"""Where `newsdedup serve` listens by default."""

DEFAULT_TIMEOUT = 30.0
"""Seconds a call may take before it fails with DEADLINE_EXCEEDED."""

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Largest message sent or received; matches the server's default max_message_bytes.

gRPC's own default for received messages is 4 MiB, which a large batch of
results or a long cluster listing can exceed.
"""


def channel_options() -> list[tuple[str, int | str]]:
    """The channel arguments every newsdedup channel is made with."""
    return [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]


def open_channel(target: str) -> grpc.Channel:
    """A plaintext channel to `target` ("host:port", or any gRPC target such as "unix:/path")."""
    if not target.strip():
        raise ValueError("target must be a gRPC address such as 'localhost:50051', got an empty string")
    return grpc.insecure_channel(target, options=channel_options())
