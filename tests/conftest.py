"""Fixtures shared by the test suite.

- `shared_data`, `seeds`, `ecbplus`: the real data in ../shared/data; a test
  that needs it fails (never skips) with a clear message when it is missing.
- `engine`: an in-memory Engine.
- `grpc_server` / `stub`: a real gRPC server in this process on a free port.
- `ServerProcess` / `server_process`: the real `newsdedup serve` command in a
  child process, found through a port file, stopped by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from newsdedup.api.server import NewsdedupServer
from newsdedup.config import Settings
from newsdedup.engine import Engine
from newsdedup.v1 import dedup_service_pb2_grpc as pb_grpc

from .redis_server import RedisServer

SHARED_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
NEWSDEDUP = str(Path(sys.executable).with_name("newsdedup"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "seeds").is_dir() or not (SHARED_DATA / "ecbplus" / "ecbplus_docs.jsonl").is_file():
        pytest.fail(
            f"the real test data is missing: expected {SHARED_DATA}/seeds/ and "
            f"{SHARED_DATA}/ecbplus/ecbplus_docs.jsonl (the repository must sit beside ../shared, as in CI)"
        )
    return SHARED_DATA


@dataclass(frozen=True)
class SeedArticle:
    id: str
    body: str


@pytest.fixture(scope="session")
def seeds(shared_data: Path) -> list[SeedArticle]:
    """The five seed articles: one story from five outlets."""
    files = sorted((shared_data / "seeds").glob("*.txt"))
    assert len(files) == 5, f"expected 5 seed articles in {shared_data / 'seeds'}, found {len(files)}"
    return [SeedArticle(path.stem, path.read_text(encoding="utf-8")) for path in files]


@pytest.fixture(scope="session")
def ecbplus(shared_data: Path) -> list[dict]:
    """The 982 ECB+ articles (doc_id, topic, subtopic, source_url, text)."""
    with open(shared_data / "ecbplus" / "ecbplus_docs.jsonl", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = Engine(Settings(data_dir=""))
    yield engine
    engine.close()


@pytest.fixture
def grpc_server() -> Iterator[NewsdedupServer]:
    """A real server on a free loopback port, memory only."""
    server = NewsdedupServer(Settings(data_dir="", port=0))
    server.start()
    yield server
    server.stop(grace=0)


@pytest.fixture
def channel(grpc_server: NewsdedupServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_server.port}") as channel:
        yield channel


@pytest.fixture
def stub(channel: grpc.Channel) -> pb_grpc.DedupServiceStub:
    return pb_grpc.DedupServiceStub(channel)


class ServerProcess:
    """`newsdedup serve` in a child process on a free loopback port."""

    def __init__(self, data_dir: Path | str, workdir: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.data_dir = str(data_dir)
        self.workdir = workdir
        self.extra_args = extra_args
        self.port_file = workdir / "port"
        self.log_file = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.port_file.unlink(missing_ok=True)
        command = [NEWSDEDUP, "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", str(self.port_file)]
        command += ["--data-dir", self.data_dir, *self.extra_args]
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while not self.port_file.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"newsdedup serve exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"newsdedup serve did not start within {timeout} s:\n{self.log()}")
            time.sleep(0.05)
        self.port = int(self.port_file.read_text())
        self.wait_serving(deadline - time.monotonic())
        return self

    def wait_serving(self, timeout: float) -> None:
        with grpc.insecure_channel(self.target) as channel:
            grpc.channel_ready_future(channel).result(timeout=max(timeout, 1.0))
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"newsdedup serve ignored SIGTERM for {timeout} s:\n{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start `newsdedup serve` processes (each stopped at the end of the test)."""
    started: list[ServerProcess] = []

    def start(data_dir: Path | str | None = None, *extra_args: str) -> ServerProcess:
        workdir = tmp_path / f"server{len(started)}"
        workdir.mkdir()
        server = ServerProcess(tmp_path / "data" if data_dir is None else data_dir, workdir, extra_args)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        if server.process is not None and server.process.poll() is None:
            server.kill()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real, empty redis-server on a free loopback port, stopped by its PID at the end of the test."""
    server = RedisServer(tmp_path / "redis", appendfsync="always").start()
    yield server
    server.stop()
