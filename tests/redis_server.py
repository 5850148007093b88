"""A real redis-server for the shared-store tests: a free loopback port, its own data dir, stopped by its PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

READY_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One redis-server process with an append-only file fsynced on every write, as the README advises."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:  # never skipped: .ci/run installs Debian's redis-server
            raise RuntimeError("redis-server is not installed: apt-get install redis-server (.ci/run does)")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port)

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        command += ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes"]
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - the process writes it until stopped
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + READY_SECONDS
        client = self.client()
        while True:
            try:
                if client.ping():
                    return self
            except redis.RedisError as error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.directory / "redis.log").read_text()
                    raise RuntimeError(f"redis-server did not start: {log}") from error
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        """SIGTERM (Redis finishes writing its append-only file), waited for."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
