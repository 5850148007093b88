"""The redis-servers of the shared-store tests: the benchmarks' starter (benchmarks/redis_process.py).

A free loopback port, its own data folder, stopped by its PID; never skipped (it
raises if redis-server is missing: .ci/run installs Debian's package). The tests
run it with its append-only file fsynced on every write, as the README advises.
`RedisClusterNodes` makes a Redis Cluster of such servers, `RedisWithSentinel` a
master, its replica and a Sentinel watching them.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from .programs import load_benchmark

redis_process = load_benchmark("redis_process")
RedisServer = redis_process.RedisProcess

SLOTS = 16384
READY_SECONDS = 30.0


def wait_until(ready: Callable[[], object], what: str) -> None:
    """Poll `ready()` until it is true; a RedisError counts as not yet. RuntimeError after READY_SECONDS."""
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            if ready():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {READY_SECONDS} s for {what}")
        time.sleep(0.1)


class RedisClusterNodes:
    """A Redis Cluster of `count` primaries on loopback, the slots shared evenly; `add_replica` gives one a replica.

    Nodes count another as failing after NODE_TIMEOUT_MS without an answer (Redis's default is 15 s), so
    that a replica takes over from a crashed primary within a few seconds.
    """

    NODE_TIMEOUT_MS = 1000

    def __init__(self, directory: Path, count: int = 3) -> None:
        self.directory = directory
        self.nodes = [self._node(i) for i in range(count)]

    def _node(self, index: int) -> RedisServer:
        timeout = ["--cluster-node-timeout", str(self.NODE_TIMEOUT_MS)]
        return RedisServer(self.directory / f"node{index}", appendfsync="always", cluster=True, extra_args=timeout)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> RedisClusterNodes:
        """Start the nodes, give each its share of the slots, join them, and wait until the cluster is ok."""
        for node in self.nodes:
            node.start()
        share = SLOTS // len(self.nodes)
        for i, node in enumerate(self.nodes):
            last = SLOTS - 1 if i == len(self.nodes) - 1 else (i + 1) * share - 1
            with node.client() as client:
                client.execute_command("CLUSTER ADDSLOTS", *range(i * share, last + 1))
                client.execute_command("CLUSTER MEET", "127.0.0.1", self.nodes[0].port)
        self._wait_until_ok()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def add_replica(self, of: int) -> int:
        """Start a node that replicates node `of` and has its writes so far; returns its index."""
        replica = self._node(len(self.nodes)).start()
        self.nodes.append(replica)
        primary = self._id(self.nodes[of])
        with replica.client() as client:

            def known() -> list[str]:
                return [node["node_id"] for node in client.execute_command("CLUSTER NODES").values()]

            client.execute_command("CLUSTER MEET", "127.0.0.1", self.nodes[of].port)
            wait_until(lambda: primary in known(), "the replica to know its primary")
            client.execute_command("CLUSTER REPLICATE", primary)
            wait_until(lambda: client.info("replication").get("master_link_status") == "up", "the replication")
        self._wait_until_ok()
        return len(self.nodes) - 1

    def crash(self, index: int) -> None:
        """SIGKILL node `index`: what it had not sent to its replica is lost, as in a real crash."""
        process = self.nodes[index].process
        assert process is not None
        process.kill()
        process.wait()

    def wait_for_promotion(self, index: int) -> None:
        """Until node `index` (a replica whose primary crashed) is a primary and the cluster is ok again."""
        with self.nodes[index].client() as client:
            wait_until(lambda: client.info("replication")["role"] == "master", f"node {index} to take over")
        self._wait_until_ok()

    def holder(self, key: str) -> int:
        """The index of the node that holds the slot of `key`."""
        slot = self._slot(key)
        with self._living()[0].client() as client:
            for start, end, primary, *_ in client.execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return next(i for i, node in enumerate(self.nodes) if node.port == primary[1])
        raise LookupError(f"no node holds slot {slot}")

    def move_slot_of(self, key: str, to: int) -> None:
        """Reshard: move the slot of `key`, with its keys, to node `to`, as redis-cli --cluster reshard does."""
        slot, source, target = self._slot(key), self.nodes[self.holder(key)], self.nodes[to]
        with source.client() as out, target.client() as into:
            source_id, target_id = out.execute_command("CLUSTER MYID"), into.execute_command("CLUSTER MYID")
            into.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source_id)
            out.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target_id)
            while keys := out.execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
                out.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 10_000, "KEYS", *keys)
            for node in self.nodes:
                with node.client() as client:
                    client.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
        self._wait_until_ok()

    def _living(self) -> list[RedisServer]:
        return [node for node in self.nodes if node.process is not None and node.process.poll() is None]

    def _slot(self, key: str) -> int:
        with self._living()[0].client() as client:
            return int(client.execute_command("CLUSTER KEYSLOT", key))

    @staticmethod
    def _id(node: RedisServer) -> str:
        with node.client() as client:
            return bytes(client.execute_command("CLUSTER MYID")).decode()

    def _wait_until_ok(self) -> None:
        """Until every living node sees every slot served (cluster_state:ok): the cluster has converged."""
        wait_until(lambda: all(self._state(node) == "ok" for node in self._living()), "the Redis Cluster to be ok")

    @staticmethod
    def _state(node: RedisServer) -> str:
        with node.client() as client:
            return str(client.cluster("INFO").get("cluster_state"))


class RedisWithSentinel:
    """A master, one replica of it and one Sentinel watching them (quorum 1) on loopback; `url` is the
    redis+sentinel:// URL of the master, `failover()` makes the replica the master."""

    SERVICE = "newsdedup"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.master = RedisServer(directory / "master", appendfsync="always")
        replica_of = ["--replicaof", "127.0.0.1", str(self.master.port)]
        self.replica = RedisServer(directory / "replica", appendfsync="always", extra_args=replica_of)
        self.port = redis_process.free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.SERVICE}/0"

    def start(self) -> RedisWithSentinel:
        self.master.start()
        self.replica.start()
        folder = self.directory / "sentinel"
        folder.mkdir(parents=True)
        config = folder / "sentinel.conf"  # Sentinel rewrites it with what it learns
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'sentinel.log'}\n"
            f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.master.port} 1\n"
            f"sentinel down-after-milliseconds {self.SERVICE} 1000\n"
            f"sentinel failover-timeout {self.SERVICE} 10000\n"
        )
        self.process = subprocess.Popen([self.master.binary, str(config), "--sentinel"], stdin=subprocess.DEVNULL)
        wait_until(lambda: self._ask("SENTINEL REPLICAS", self.SERVICE), "Sentinel to see the replica")
        return self

    def master_port(self) -> int:
        return int(self._ask("SENTINEL GET-MASTER-ADDR-BY-NAME", self.SERVICE)[1])

    def failover(self) -> None:
        """Wait for the replica to hold every write, have Sentinel promote it, and wait until it is the master."""
        with self.master.client() as client:
            client.execute_command("WAIT", 1, 10_000)
        # Refused (NOGOODSLAVE) until Sentinel has heard from the replica itself: asked again until it starts.
        wait_until(lambda: self._ask("SENTINEL FAILOVER", self.SERVICE), "a failover to start")
        wait_until(lambda: self.master_port() == self.replica.port, "the replica to become the master")
        wait_until(lambda: self._role(self.replica) == "master", "the promotion")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.replica.stop()
        self.master.stop()

    @staticmethod
    def _role(server: RedisServer) -> str:
        with server.client() as client:
            return str(client.info("replication")["role"])

    def _ask(self, *command: object) -> Any:
        """The Sentinel's reply to `command`."""
        with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10) as client:
            return client.execute_command(*command)
