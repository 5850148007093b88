"""How the client connects: the one place a gRPC channel to newsdedup is made.

Both clients, `DedupClient` and `AsyncDedupClient`, get their channel here
(`open_channel`, `open_aio_channel`), made from the same three things:

- `Tls`: whom to trust (a CA file, or the system's CAs), and for mutual TLS
  the client's own certificate and key.
- a bearer token, sent with every call as `authorization: Bearer <token>`.
  gRPC sends such call credentials only over a channel it deems secure: over
  TLS, or over plaintext to this machine (a loopback address or a Unix
  socket) through grpc's local credentials, which check that the peer really
  is local. A token is never sent in the clear to another machine: a client
  with a token, no TLS and a remote target is refused when it is made.
- `RetryPolicy`: a call that fails with UNAVAILABLE (the server cannot be
  reached, is restarting, or its store refused a write and changed nothing)
  is tried again with exponential backoff, by gRPC itself (the service
  config's retryPolicy), within the call's one deadline.

A channel connects lazily, on the first call, and reconnects by itself;
making one never fails because the server is down. A call to a server that
cannot be reached fails with UNAVAILABLE once its retries are spent (about
1.5 s with the default policy), which is what a command-line tool wants.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health
from newsdedup.credentials import is_token
from newsdedup.v1 import dedup_service_pb2 as pb

DEFAULT_TARGET = "localhost:50051"
"""Where `newsdedup serve` listens by default."""

DEFAULT_TIMEOUT = 30.0
"""Seconds a call may take before it fails with DEADLINE_EXCEEDED."""

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Largest message sent or received; matches the server's default max_message_bytes.

gRPC's own default for received messages is 4 MiB, which a large batch of
results or a long cluster listing can exceed.
"""

MAX_ATTEMPTS = 5
"""gRPC's ceiling on the attempts of one call; it would lower a larger maxAttempts silently."""

_RETRIED_SERVICES = (pb.DESCRIPTOR.services_by_name["DedupService"].full_name, health.SERVICE_NAME)


@dataclass(frozen=True)
class Tls:
    """TLS for a channel: the CAs that vouch for the server and, for mutual TLS, the client's own certificate.

    All values are PEM bytes; `Tls.from_files` reads them from files.
    `ca` None trusts the system's CAs. `server_name` is the name the server's
    certificate must carry when it is not the target's host (a test
    certificate, an address the certificate does not list).
    """

    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate and its private key go together: give both or neither")

    @classmethod
    def from_files(
        cls,
        ca: str | Path | None = None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        server_name: str | None = None,
    ) -> Tls:
        """TLS from PEM files; a file that cannot be read raises ValueError naming it."""
        return cls(_read("CA", ca), _read("certificate", cert), _read("private key", key), server_name)

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )


def _read(what: str, path: str | Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read the TLS {what} file {path}: {error.strerror or error}") from None


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how far apart, a call that fails with UNAVAILABLE is tried.

    Attempt n+1 starts `initial_backoff * multiplier**(n-1)` seconds (at most
    `max_backoff`, give or take gRPC's 20% jitter) after attempt n failed;
    the defaults try 5 times over about 1.5 s. `attempts=1` turns retries off.
    The call's deadline covers all its attempts: one that passes during the
    backoff ends the call with DEADLINE_EXCEEDED. The channel also reconnects
    at the same pace, so that a server that comes back within the budget is
    found.

    gRPC retries a call only before any of its response has arrived. That is
    safe for every newsdedup call: ingesting the same article again is
    reported as `already_ingested`, and a write refused with
    STORAGE_UNAVAILABLE changed nothing. (A delete whose answer was lost
    after it was applied reports NOT_FOUND when it is tried again.)
    """

    attempts: int = MAX_ATTEMPTS
    initial_backoff: float = 0.1
    max_backoff: float = 1.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.attempts <= MAX_ATTEMPTS:
            raise ValueError(f"attempts must be 1 (no retries) to {MAX_ATTEMPTS} (gRPC's limit), got {self.attempts}")
        if not 0 < self.initial_backoff <= self.max_backoff < float("inf"):  # NaN fails too
            raise ValueError(
                "initial_backoff and max_backoff must be seconds with 0 < initial_backoff <= max_backoff, "
                f"got {self.initial_backoff} and {self.max_backoff}"
            )
        if not 1 <= self.multiplier < float("inf"):
            raise ValueError(f"multiplier must be at least 1, got {self.multiplier}")

    def service_config(self) -> str:
        """The gRPC service config (JSON) that applies this policy to DedupService and health checks."""
        method: dict[str, object] = {"name": [{"service": service} for service in _RETRIED_SERVICES]}
        if self.attempts > 1:  # gRPC rejects a retryPolicy with maxAttempts 1
            method["retryPolicy"] = {
                "maxAttempts": self.attempts,
                "initialBackoff": f"{self.initial_backoff:.6f}s",
                "maxBackoff": f"{self.max_backoff:.6f}s",
                "backoffMultiplier": self.multiplier,
                "retryableStatusCodes": ["UNAVAILABLE"],
            }
        return json.dumps({"methodConfig": [method]})


DEFAULT_RETRY = RetryPolicy()
NO_RETRIES = RetryPolicy(attempts=1)


def channel_options(retry: RetryPolicy = DEFAULT_RETRY, tls: Tls | None = None) -> list[tuple[str, int | str]]:
    """The channel arguments a newsdedup channel is made with."""
    options: list[tuple[str, int | str]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.service_config", retry.service_config()),
        ("grpc.initial_reconnect_backoff_ms", round(retry.initial_backoff * 1000)),
        ("grpc.max_reconnect_backoff_ms", round(retry.max_backoff * 1000)),
    ]
    if tls is not None and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return options


def local_connection(target: str) -> grpc.LocalConnectionType | None:
    """How `target` is reached when it is on this machine (a loopback address or a Unix socket), else None."""
    if target.startswith(("unix:", "unix-abstract:")):
        return grpc.LocalConnectionType.UDS
    scheme, _, rest = target.partition(":")
    address = rest.rpartition("/")[2] if scheme in ("dns", "ipv4", "ipv6") else target
    if address.startswith("["):  # [::1]:50051
        host = address[1 : address.find("]")]
    else:
        host = address.rpartition(":")[0] if address.count(":") == 1 else address
    if host.lower() == "localhost":
        return grpc.LocalConnectionType.LOCAL_TCP
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve anywhere
        return None
    return grpc.LocalConnectionType.LOCAL_TCP if loopback else None


def channel_credentials(target: str, tls: Tls | None, token: str | None) -> grpc.ChannelCredentials | None:
    """The credentials of a channel to `target`, or None for a plain insecure channel."""
    if token is not None and not is_token(token):
        raise ValueError("a bearer token is one word of printable ASCII characters (no spaces), and not empty")
    if tls is not None:
        transport = tls.credentials()
    elif token is None:
        return None
    else:
        local = local_connection(target)
        if local is None:
            raise ValueError(
                f"{target} is not on this machine, and a token is sent without TLS only to a loopback address "
                "or a Unix socket: give TLS settings (a CA file) to send it there"
            )
        transport = grpc.local_channel_credentials(local)
    if token is None:
        return transport
    return grpc.composite_channel_credentials(transport, grpc.access_token_call_credentials(token))


def _open(grpc_module: Any, target: str, tls: Tls | None, token: str | None, retry: RetryPolicy) -> Any:
    """A channel from `grpc_module` (grpc, or grpc.aio for asyncio) made from these settings."""
    if not target.strip():
        raise ValueError("target must be a gRPC address such as 'localhost:50051', got an empty string")
    credentials = channel_credentials(target, tls, token)
    options = channel_options(retry, tls)
    if credentials is None:
        return grpc_module.insecure_channel(target, options=options)
    return grpc_module.secure_channel(target, credentials, options=options)


def open_channel(
    target: str, *, tls: Tls | None = None, token: str | None = None, retry: RetryPolicy = DEFAULT_RETRY
) -> grpc.Channel:
    """A channel to `target` ("host:port", or any gRPC target such as "unix:/path")."""
    channel: grpc.Channel = _open(grpc, target, tls, token, retry)
    return channel


def open_aio_channel(
    target: str, *, tls: Tls | None = None, token: str | None = None, retry: RetryPolicy = DEFAULT_RETRY
) -> grpc.aio.Channel:
    """The asyncio channel to `target`, made from the same settings as `open_channel`'s."""
    channel: grpc.aio.Channel = _open(grpc.aio, target, tls, token, retry)
    return channel
