"""The redis-servers of the shared-store tests: the benchmarks' starter (benchmarks/redis_process.py).

A free loopback port, its own data folder, stopped by its PID; never skipped (it
raises if redis-server is missing: .ci/run installs Debian's package). The tests
run it with its append-only file fsynced on every write, as the README advises.
`RedisClusterNodes` makes a Redis Cluster of such servers.
"""

from __future__ import annotations

import time
from pathlib import Path

from .programs import load_benchmark

RedisServer = load_benchmark("redis_process").RedisProcess

SLOTS = 16384
READY_SECONDS = 30.0


class RedisClusterNodes:
    """A Redis Cluster of `count` primaries on loopback, the slots shared evenly, no replicas."""

    def __init__(self, directory: Path, count: int = 3) -> None:
        self.nodes = [RedisServer(directory / f"node{i}", appendfsync="always", cluster=True) for i in range(count)]

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

    def holder(self, key: str) -> int:
        """The index of the node that holds the slot of `key`."""
        slot = self._slot(key)
        with self.nodes[0].client() as client:
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

    def _slot(self, key: str) -> int:
        with self.nodes[0].client() as client:
            return int(client.execute_command("CLUSTER KEYSLOT", key))

    def _wait_until_ok(self) -> None:
        """Until every node sees every slot served (cluster_state:ok): the cluster has converged."""
        deadline = time.monotonic() + READY_SECONDS
        while True:
            states = []
            for node in self.nodes:
                with node.client() as client:
                    states.append(client.cluster("INFO").get("cluster_state"))
            if all(state == "ok" for state in states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis Cluster is not ok after {READY_SECONDS} s: {states}")
            time.sleep(0.1)
