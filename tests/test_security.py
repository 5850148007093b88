"""TLS, mutual TLS and the bearer token, against real servers, with certificates made by the test."""

from __future__ import annotations

import asyncio
import http.client
import ssl
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from newsdedup.api.server import NewsdedupServer
from newsdedup.config import Settings
from newsdedup.v1 import dedup_service_pb2 as pb
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc
from newsdedup_client import NO_RETRIES, AsyncDedupClient, DedupClient, Tls, error_reason

from .certificates import Pki
from .conftest import ServerProcess
from .test_cli import Run, newsdedup
from .test_metrics import free_port

TOKEN = "4f1c9e0b7a2d68e35c0f9b1a7d2e4c86"
SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.make(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")  # the final newline is not part of the token
    return path


@pytest.fixture
def start_server() -> Iterator[Callable[..., str]]:
    """Start in-process servers with extra settings; each is stopped at the end. Returns its target."""
    servers: list[NewsdedupServer] = []

    def start(**settings: Any) -> str:
        server = NewsdedupServer(Settings(data_dir="", port=0, **settings))
        servers.append(server)
        server.start()
        return f"127.0.0.1:{server.port}"

    yield start
    for server in servers:
        server.stop(grace=0)


def tls_settings(pki: Pki, mutual: bool = False) -> dict[str, str]:
    settings = {"tls_cert": str(pki.server_cert), "tls_key": str(pki.server_key)}
    if mutual:
        settings["tls_client_ca"] = str(pki.ca)
    return settings


def failure(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


# --- TLS


def test_tls_server_answers_tls_clients_and_not_plaintext_ones(start_server: Callable[..., str], pki: Pki) -> None:
    """A TLS server serves a client that trusts its CA; a plaintext client cannot reach it (UNAVAILABLE)."""
    target = start_server(**tls_settings(pki))
    with DedupClient(target, timeout=10, tls=Tls.from_files(ca=pki.ca)) as client:
        assert client.ingest(pb.Article(id="a", body="a story told in more than eight words here")).cluster_size == 1
        assert client.stats().article_count == 1
    with DedupClient(target, timeout=10, retry=NO_RETRIES) as plaintext:
        assert failure(plaintext.stats).code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("server_name", "trusted"),
    [(None, True), ("localhost", True), ("elsewhere.example", False)],
    ids=["address-in-certificate", "name-override-in-certificate", "name-override-not-in-certificate"],
)
def test_client_checks_the_server_certificate_name(
    start_server: Callable[..., str], pki: Pki, server_name: str | None, trusted: bool
) -> None:
    """The server's certificate must carry the target's address, or the name given as server_name."""
    target = start_server(**tls_settings(pki))
    tls = Tls.from_files(ca=pki.ca, server_name=server_name)
    with DedupClient(target, timeout=10, tls=tls, retry=NO_RETRIES) as client:
        if trusted:
            assert client.health() == SERVING
        else:
            assert failure(client.health).code() == grpc.StatusCode.UNAVAILABLE


def test_client_refuses_a_server_its_ca_did_not_sign(start_server: Callable[..., str], pki: Pki) -> None:
    """A client that trusts another CA does not talk to the server at all."""
    target = start_server(**tls_settings(pki))
    with DedupClient(target, timeout=10, tls=Tls.from_files(ca=pki.other_ca), retry=NO_RETRIES) as client:
        assert failure(client.health).code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("identity", "accepted"),
    [("client", True), (None, False), ("stranger", False)],
    ids=["certificate-of-the-ca", "no-certificate", "certificate-of-another-ca"],
)
def test_mutual_tls_admits_only_clients_with_a_certificate_of_the_client_ca(
    start_server: Callable[..., str], pki: Pki, identity: str | None, accepted: bool
) -> None:
    """With --tls-client-ca, the handshake fails for a client with no certificate or one another CA signed."""
    target = start_server(**tls_settings(pki, mutual=True))
    files = {"client": (pki.client_cert, pki.client_key), "stranger": (pki.stranger_cert, pki.stranger_key)}
    cert, key = files[identity] if identity else (None, None)
    with DedupClient(target, timeout=10, tls=Tls.from_files(pki.ca, cert, key), retry=NO_RETRIES) as client:
        if accepted:
            assert client.stats().article_count == 0
        else:
            assert failure(client.health).code() == grpc.StatusCode.UNAVAILABLE


def fetch_metrics(url: str, context: ssl.SSLContext | None = None) -> str:
    """GET the metrics page (HTTPS with `context`), never through a proxy from the environment."""
    handlers = [urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)]
    with urllib.request.build_opener(*handlers).open(url, timeout=10) as response:
        return response.read().decode()


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mutual-tls"])
def test_the_metrics_endpoint_speaks_tls_as_the_grpc_port_does(
    start_server: Callable[..., str], pki: Pki, mutual: bool
) -> None:
    """With --tls-cert the metrics are served over HTTPS only, with the server's certificate; with
    --tls-client-ca, only to a client with a certificate that CA signed. Refused scrapes do not stop it."""
    port = free_port()
    start_server(metrics_port=port, **tls_settings(pki, mutual))
    url = f"https://127.0.0.1:{port}/metrics"
    with pytest.raises((OSError, http.client.HTTPException)):
        fetch_metrics(f"http://127.0.0.1:{port}/metrics")
    context = ssl.create_default_context(cafile=str(pki.ca))
    if mutual:
        with pytest.raises(OSError):  # no client certificate
            fetch_metrics(url, context)
        stranger = ssl.create_default_context(cafile=str(pki.ca))
        stranger.load_cert_chain(pki.stranger_cert, pki.stranger_key)
        with pytest.raises(OSError):  # one another CA signed
            fetch_metrics(url, stranger)
        context.load_cert_chain(pki.client_cert, pki.client_key)
    assert "newsdedup_articles 0.0" in fetch_metrics(url, context)


# --- the bearer token


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ((), "MISSING_TOKEN"),
        ((("authorization", "Bearer not-the-token"),), "INVALID_TOKEN"),
        ((("authorization", f"Basic {TOKEN}"),), "INVALID_TOKEN"),
        ((("authorization", f"Bearer {TOKEN}x"),), "INVALID_TOKEN"),
        ((("authorization", f"Bearer {TOKEN}"), ("authorization", f"Bearer {TOKEN}")), "INVALID_TOKEN"),
        ((("authorization", f"Bearer {TOKEN}"),), None),
        ((("authorization", f"bearer {TOKEN}"),), None),
    ],
    ids=["missing", "wrong", "other-scheme", "longer", "twice", "right", "scheme-in-lower-case"],
)
def test_token_is_checked_on_every_dedup_call(
    start_server: Callable[..., str], token_file: Path, metadata: tuple[tuple[str, str], ...], reason: str | None
) -> None:
    """Without `authorization: Bearer <token>` a call gets UNAUTHENTICATED with a reason; with it, an answer."""
    target = start_server(auth_token_file=str(token_file))
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.DedupServiceStub(channel)
        if reason is None:
            assert stub.GetStats(pb.GetStatsRequest(), metadata=metadata, timeout=10).article_count == 0
            return
        error = failure(lambda: stub.GetStats(pb.GetStatsRequest(), metadata=metadata, timeout=10))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(error) == reason
    assert "authorization: Bearer <token>" in error.details()


def test_health_is_open_without_a_token_and_streams_and_reflection_are_not(
    start_server: Callable[..., str], token_file: Path
) -> None:
    """Probes need no secret; a streaming call and server reflection need the token like any other."""
    target = start_server(auth_token_file=str(token_file))
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == SERVING
        stream = pb_grpc.DedupServiceStub(channel).StreamIngestArticles(
            iter([pb.StreamIngestArticlesRequest()]), timeout=10
        )
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
        for call in (stream, reflection):
            error = failure(lambda call=call: list(call))
            assert (error.code(), error_reason(error)) == (grpc.StatusCode.UNAUTHENTICATED, "MISSING_TOKEN")


@pytest.mark.parametrize("token", [None, "not-the-token", TOKEN], ids=["missing", "wrong", "right"])
def test_client_sends_its_token_over_plaintext_to_this_machine(
    start_server: Callable[..., str], token_file: Path, token: str | None
) -> None:
    """A DedupClient's token reaches a plaintext server on loopback; the wrong or no token is refused."""
    target = start_server(auth_token_file=str(token_file))
    with DedupClient(target, timeout=10, token=token) as client:
        assert client.health() == SERVING
        if token == TOKEN:
            assert client.stats().article_count == 0
        else:
            error = failure(client.stats)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error_reason(error) == ("MISSING_TOKEN" if token is None else "INVALID_TOKEN")


def test_sync_and_async_clients_use_mutual_tls_and_a_token_together(
    start_server: Callable[..., str], pki: Pki, token_file: Path
) -> None:
    """Both clients reach a server that wants a client certificate and a token, given both."""
    target = start_server(**tls_settings(pki, mutual=True), auth_token_file=str(token_file))
    tls = Tls.from_files(pki.ca, pki.client_cert, pki.client_key)
    with DedupClient(target, timeout=10, tls=tls, token=TOKEN) as client:
        client.ingest(pb.Article(id="sync", body="the sync client stores this article of ten words or so"))

    async def use_async_client() -> tuple[int, str]:
        async with AsyncDedupClient(target, timeout=10, tls=tls, token=TOKEN) as client:
            await client.ingest(pb.Article(id="async", body="and the asyncio client stores another of its own words"))
            stats = await client.stats()
        async with AsyncDedupClient(target, timeout=10, tls=tls) as tokenless:
            try:
                await tokenless.stats()
            except grpc.RpcError as error:
                return stats.article_count, error_reason(error)
        return stats.article_count, ""

    assert asyncio.run(use_async_client()) == (2, "MISSING_TOKEN")


# --- settings: the files are checked before the server starts


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (lambda pki, tmp: {"tls_cert": pki.server_cert}, "tls_cert and tls_key go together"),
        (lambda pki, tmp: {"tls_key": pki.server_key}, "tls_cert and tls_key go together"),
        (lambda pki, tmp: {"tls_client_ca": pki.ca}, "tls_client_ca .mutual TLS. needs tls_cert and tls_key"),
        (
            lambda pki, tmp: {"tls_cert": tmp / "missing.crt", "tls_key": pki.server_key},
            "tls_cert: cannot read .*missing.crt: No such file",
        ),
        (
            lambda pki, tmp: {"tls_cert": pki.server_key, "tls_key": pki.server_key},
            "tls_cert: .*server.key holds no PEM certificate",
        ),
        (
            lambda pki, tmp: {"tls_cert": pki.server_cert, "tls_key": pki.client_key},
            "tls_key: .*client.key is not the private key of the certificate in .*server.crt",
        ),
        (
            lambda pki, tmp: {"tls_cert": pki.server_cert, "tls_key": pki.server_cert},
            "tls_key: .*server.crt holds no unencrypted PEM private key",
        ),
        (
            lambda pki, tmp: {**tls_settings(pki), "tls_client_ca": pki.client_key},
            "tls_client_ca: .*client.key holds no PEM certificate",
        ),
        (lambda pki, tmp: {"auth_token_file": tmp / "nope"}, "auth_token_file: cannot read the token file .*nope"),
        (lambda pki, tmp: {"auth_token_file": tmp / "empty"}, "auth_token_file: the token file .*empty is empty"),
        (
            lambda pki, tmp: {"auth_token_file": tmp / "two-words"},
            "auth_token_file: the token file .*two-words must hold one word of printable ASCII",
        ),
    ],
    ids=[
        "cert-without-key",
        "key-without-cert",
        "client-ca-without-cert",
        "unreadable-cert",
        "cert-not-pem",
        "key-of-another-cert",
        "key-not-pem",
        "client-ca-not-pem",
        "unreadable-token-file",
        "empty-token-file",
        "token-with-a-space",
    ],
)
def test_unusable_security_settings_are_refused_naming_the_file(
    pki: Pki, tmp_path: Path, settings: Callable[[Pki, Path], dict[str, Path]], message: str
) -> None:
    """A TLS or token setting that cannot work fails when Settings is made, saying which file and why."""
    (tmp_path / "empty").write_text(" \n")
    (tmp_path / "two-words").write_text("two words\n")
    values = {name: str(path) for name, path in settings(pki, tmp_path).items()}
    with pytest.raises(ValueError, match=message):
        Settings(data_dir="", **values)


def test_serve_with_an_unreadable_certificate_is_one_line_and_exit_2(tmp_path: Path, pki: Pki) -> None:
    """`newsdedup serve` refuses a missing certificate file before listening, in one line naming it."""
    run = newsdedup("serve", "--data-dir", "", "--tls-cert", tmp_path / "gone.crt", "--tls-key", pki.server_key)
    assert run.code == 2
    assert len(run.err.splitlines()) == 1
    assert f"tls_cert: cannot read {tmp_path / 'gone.crt'}" in run.err


# --- the command line against a `newsdedup serve` process with mutual TLS and a token


class SecureServerProcess(ServerProcess):
    """`newsdedup serve` with TLS: it is found serving through a TLS health check."""

    def __init__(self, workdir: Path, pki: Pki, extra_args: tuple[str, ...]) -> None:
        super().__init__("", workdir, extra_args)
        self.pki = pki

    def wait_serving(self, timeout: float) -> None:
        tls = Tls.from_files(self.pki.ca, self.pki.client_cert, self.pki.client_key)
        with DedupClient(self.target, timeout=max(timeout, 1.0), tls=tls) as client:
            assert client.health() == SERVING


@pytest.fixture
def secure_server(tmp_path: Path, pki: Pki, token_file: Path) -> Iterator[SecureServerProcess]:
    args = ("--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key), "--tls-client-ca", str(pki.ca))
    (tmp_path / "server").mkdir()
    server = SecureServerProcess(tmp_path / "server", pki, (*args, "--auth-token-file", str(token_file)))
    try:
        yield server.start()
        assert server.stop() == 0
        assert "(TLS, client certificates, bearer token; data: memory only)" in server.log()
    finally:
        server.kill()


def test_cli_reaches_a_server_with_mutual_tls_and_a_token(
    secure_server: SecureServerProcess, pki: Pki, token_file: Path, tmp_path: Path
) -> None:
    """Flags or NEWSDEDUP_* variables give the CLI its CA, certificate, key and token; then every command works."""
    article = tmp_path / "story.txt"
    article.write_text("A story told in more than eight words, so that it is judged.\n")
    tls = ("--tls-ca", pki.ca, "--tls-cert", pki.client_cert, "--tls-key", pki.client_key)
    target = ("--target", secure_server.target)
    assert newsdedup("ingest", article, "--json", *target, *tls, "--token-file", token_file).code == 0
    environment = {
        "NEWSDEDUP_TARGET": secure_server.target,
        "NEWSDEDUP_TLS_CA": str(pki.ca),
        "NEWSDEDUP_CLIENT_CERT": str(pki.client_cert),
        "NEWSDEDUP_CLIENT_KEY": str(pki.client_key),
        "NEWSDEDUP_TOKEN_FILE": str(token_file),
    }
    stats = newsdedup("stats", "--json", env=environment)
    assert (stats.code, int(stats.json()["article_count"])) == (0, 1)
    assert newsdedup("health", *target, *tls) == Run(0, "SERVING\n", "")  # no token needed


def test_cli_without_the_token_or_tls_is_one_error_line(
    secure_server: SecureServerProcess, pki: Pki, tmp_path: Path
) -> None:
    """No token: one UNAUTHENTICATED line that says which option gives it. No TLS: cannot reach. Exit 1 both."""
    tls = ("--tls-ca", pki.ca, "--tls-cert", pki.client_cert, "--tls-key", pki.client_key)
    tokenless = newsdedup("stats", "--target", secure_server.target, *tls)
    assert (tokenless.code, tokenless.out) == (1, "")
    assert tokenless.err.splitlines() == [
        "newsdedup: error: UNAUTHENTICATED: this server needs a bearer token: send the metadata "
        "'authorization: Bearer <token>' (give the server's token with --token-file or NEWSDEDUP_TOKEN_FILE)"
    ]
    plaintext = newsdedup("stats", "--target", secure_server.target)
    assert plaintext.code == 1 and len(plaintext.err.splitlines()) == 1
    assert "cannot reach newsdedup" in plaintext.err and "--tls-ca" in plaintext.err
    empty = tmp_path / "empty-token"
    empty.write_text("")
    unusable = newsdedup("stats", "--target", secure_server.target, *tls, "--token-file", empty)
    assert unusable.code == 2 and unusable.err == f"newsdedup: error: the token file {empty} is empty; " + (
        "put a token in it, e.g. from `openssl rand -hex 32`\n"
    )
