"""What Linux's /proc says of a process the benchmarks started: its CPU time and its memory."""

from __future__ import annotations

import os


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used."""
    with open(f"/proc/{pid}/stat") as stat:
        parts = stat.read().rpartition(")")[2].split()  # after the command name, which may hold spaces
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def memory(pid: int) -> dict[str, int]:
    """The process's resident set now (rss_bytes) and at its highest (hwm_bytes)."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
    return {"rss_bytes": fields["VmRSS"], "hwm_bytes": fields["VmHWM"]}
