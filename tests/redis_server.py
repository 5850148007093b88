"""The redis-server of the shared-store tests: the benchmarks' starter (benchmarks/redis_process.py).

A free loopback port, its own data folder, stopped by its PID; never skipped (it
raises if redis-server is missing: .ci/run installs Debian's package). The tests
run it with its append-only file fsynced on every write, as the README advises.
"""

from __future__ import annotations

from .programs import load_benchmark

RedisServer = load_benchmark("redis_process").RedisProcess
