"""How the clients connect: retries on UNAVAILABLE, where a token may go, and the checks on their options."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent import futures

import grpc
import pytest
from newsdedup.api.server import NewsdedupServer
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc
from newsdedup_client import NO_RETRIES, DedupClient, RetryPolicy, Tls
from newsdedup_client.channel import local_connection

# Retries a few milliseconds apart: the tests below count attempts, they do not time them.
QUICK = RetryPolicy(initial_backoff=0.01, max_backoff=0.05)


class FlakyServicer(pb_grpc.DedupServiceServicer):
    """GetStats fails with `code` for its first `failures` calls, then answers; counts the calls."""

    def __init__(self, failures: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        self.failures = failures
        self.code = code
        self.calls = 0
        self._lock = threading.Lock()

    def GetStats(self, request: pb.GetStatsRequest, context: grpc.ServicerContext) -> pb.GetStatsResponse:
        with self._lock:
            self.calls += 1
            fail = self.calls <= self.failures
        if fail:
            context.abort(self.code, f"not now (call {self.calls})")
        return pb.GetStatsResponse(article_count=7)


@pytest.fixture
def flaky() -> Iterator[Callable[..., tuple[str, FlakyServicer]]]:
    """Start a server of a FlakyServicer; returns its target and the servicer."""
    servers: list[grpc.Server] = []

    def start(failures: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> tuple[str, FlakyServicer]:
        servicer = FlakyServicer(failures, code)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        pb_grpc.add_DedupServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}", servicer

    yield start
    for server in servers:
        server.stop(0)


# --- retries


@pytest.mark.parametrize(
    ("failures", "code", "retry", "calls", "outcome"),
    [
        (2, grpc.StatusCode.UNAVAILABLE, QUICK, 3, grpc.StatusCode.OK),
        (4, grpc.StatusCode.UNAVAILABLE, QUICK, 5, grpc.StatusCode.OK),
        (99, grpc.StatusCode.UNAVAILABLE, QUICK, 5, grpc.StatusCode.UNAVAILABLE),
        (
            99,
            grpc.StatusCode.UNAVAILABLE,
            RetryPolicy(attempts=3, initial_backoff=0.01),
            3,
            grpc.StatusCode.UNAVAILABLE,
        ),
        (1, grpc.StatusCode.UNAVAILABLE, NO_RETRIES, 1, grpc.StatusCode.UNAVAILABLE),
        (1, grpc.StatusCode.INTERNAL, QUICK, 1, grpc.StatusCode.INTERNAL),
        (1, grpc.StatusCode.NOT_FOUND, QUICK, 1, grpc.StatusCode.NOT_FOUND),
    ],
    ids=[
        "recovers-on-the-third-attempt",
        "recovers-on-the-last-attempt",
        "unavailable-after-five-attempts",
        "unavailable-after-the-attempts-given",
        "no-retries",
        "internal-is-not-retried",
        "not-found-is-not-retried",
    ],
)
def test_unavailable_is_retried_within_the_budget(
    flaky: Callable[..., tuple[str, FlakyServicer]],
    failures: int,
    code: grpc.StatusCode,
    retry: RetryPolicy,
    calls: int,
    outcome: grpc.StatusCode,
) -> None:
    """A call failing with UNAVAILABLE is tried again up to the policy's attempts; other errors are final."""
    target, servicer = flaky(failures, code)
    with DedupClient(target, timeout=30, retry=retry) as client:
        if outcome == grpc.StatusCode.OK:
            assert client.stats().article_count == 7
        else:
            with pytest.raises(grpc.RpcError) as raised:
                client.stats()
            assert raised.value.code() == outcome
    assert servicer.calls == calls


def test_a_call_made_before_the_server_is_up_succeeds_once_it_is(seeds: list) -> None:
    """The first attempt finds no server; the server starts then, and a retry reaches it.

    The port is held by a plain socket that takes the client's first
    connection and drops it, which is the client's first failed attempt;
    only then does the server start there (no sleeping, no guessing).
    """
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    holder.settimeout(60)  # a client that never came would end the test, not hang it
    port = holder.getsockname()[1]
    settings = Settings(data_dir="", port=port)
    engine = Engine(settings)  # made beforehand, so that the server starts quickly once asked to
    started: list[NewsdedupServer] = []

    def start_on_first_attempt() -> None:
        connection, _ = holder.accept()
        connection.close()
        holder.close()
        server = NewsdedupServer(settings, engine=engine)
        server.start()
        started.append(server)

    starter = threading.Thread(target=start_on_first_attempt, daemon=True)
    starter.start()
    generous = RetryPolicy(initial_backoff=0.5, max_backoff=5.0)  # some 7 s in all, far more than a start takes
    try:
        with DedupClient(f"127.0.0.1:{port}", timeout=60, retry=generous) as client:
            result = client.ingest(pb.Article(id=seeds[0].id, body=seeds[0].body))
        assert result.verdict == pb.VERDICT_UNIQUE
        assert started, "the call succeeded without the server: the port was not the server's"
    finally:
        starter.join(timeout=60)
        for server in started:
            server.stop(grace=0)


# --- where a token may go, and the options' checks


@pytest.mark.parametrize(
    ("target", "local"),
    [
        ("localhost:50051", grpc.LocalConnectionType.LOCAL_TCP),
        ("127.0.0.1:50051", grpc.LocalConnectionType.LOCAL_TCP),
        ("127.8.9.10:50051", grpc.LocalConnectionType.LOCAL_TCP),
        ("[::1]:50051", grpc.LocalConnectionType.LOCAL_TCP),
        ("ipv4:127.0.0.1:50051", grpc.LocalConnectionType.LOCAL_TCP),
        ("dns:///localhost:50051", grpc.LocalConnectionType.LOCAL_TCP),
        ("unix:/run/newsdedup.sock", grpc.LocalConnectionType.UDS),
        ("news-dedup.internal:50051", None),
        ("10.0.0.7:50051", None),
        ("[2001:db8::1]:50051", None),
        ("dns:///news-dedup.internal:50051", None),
    ],
    ids=lambda value: str(value),
)
def test_local_targets_are_loopback_addresses_and_unix_sockets(
    target: str, local: grpc.LocalConnectionType | None
) -> None:
    assert local_connection(target) == local


def test_a_token_goes_in_the_clear_only_to_this_machine() -> None:
    """Without TLS, a client with a token for another machine is refused before anything is sent."""
    with pytest.raises(ValueError, match=r"news-dedup\.internal:50051 is not on this machine"):
        DedupClient("news-dedup.internal:50051", token="t0ken")
    DedupClient("news-dedup.internal:50051", token="t0ken", tls=Tls()).close()  # over TLS it may
    DedupClient("localhost:50051", token="t0ken").close()


@pytest.mark.parametrize("token", ["", "two words", "naïve"], ids=["empty", "space", "not-ascii"])
def test_a_token_is_one_word_of_printable_ascii(token: str) -> None:
    with pytest.raises(ValueError, match="a bearer token is one word of printable ASCII"):
        DedupClient("localhost:50051", token=token)


def test_tls_options_are_checked_when_made(tmp_path) -> None:
    """A client certificate needs its key; a file that cannot be read is named."""
    with pytest.raises(ValueError, match="a client certificate and its private key go together"):
        Tls(cert=b"pem")
    with pytest.raises(ValueError, match=f"cannot read the TLS CA file {tmp_path / 'ca.crt'}: No such file"):
        Tls.from_files(ca=tmp_path / "ca.crt")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"attempts": 0}, "attempts must be 1 .no retries. to 5"),
        ({"attempts": 6}, "attempts must be 1 .no retries. to 5 .gRPC's limit."),
        ({"initial_backoff": 0}, "0 < initial_backoff <= max_backoff"),
        ({"initial_backoff": 2.0, "max_backoff": 1.0}, "0 < initial_backoff <= max_backoff"),
        ({"max_backoff": float("nan")}, "0 < initial_backoff <= max_backoff"),
        ({"multiplier": 0.5}, "multiplier must be at least 1"),
    ],
    ids=["no-attempts", "beyond-grpc", "zero-backoff", "initial-above-max", "nan", "shrinking"],
)
def test_retry_policy_is_checked_when_made(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_retry_policy_becomes_a_grpc_service_config() -> None:
    """The policy covers DedupService and health checks; one attempt means no retryPolicy at all."""
    config = json.loads(RetryPolicy().service_config())["methodConfig"][0]
    assert config["name"] == [{"service": "newsdedup.v1.DedupService"}, {"service": "grpc.health.v1.Health"}]
    assert config["retryPolicy"] == {
        "maxAttempts": 5,
        "initialBackoff": "0.100000s",
        "maxBackoff": "1.000000s",
        "backoffMultiplier": 2.0,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    assert "retryPolicy" not in json.loads(NO_RETRIES.service_config())["methodConfig"][0]
