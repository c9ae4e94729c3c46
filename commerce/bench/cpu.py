"""CPU time spent by the processes of a bench run, by role, read from `/proc` (Linux).

Every process the bench started descends from it: the Temporal dev server, PostgreSQL (the
postmaster and its backends), Redis/Valkey, the `commerce api` and `commerce worker` children.
The bench process itself is "driver": the shoppers' HTTP client and, for the bare workflow, its
in-process worker. A backend that exits between two readings takes its CPU time with it (the
pools keep theirs open, so this is rare). CPU seconds depend on the machine's speed at the time,
so they are reported per order beside the bare workflow's from the same run, never alone.
"""

from __future__ import annotations

import os
from pathlib import Path

# Each role a process is counted under, and what it is (the work-per-order table's labels).
ROLES = {
    "temporal": "Temporal dev server",
    "worker": "commerce worker",
    "api": "commerce api",
    "postgres": "PostgreSQL (every backend)",
    "redis": "Redis",
    "driver": "bench process (HTTP client; the bare workflow's own worker)",
}
_PROC = Path("/proc")
_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, user + system CPU seconds) of a live process."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def _role(pid: int, name: str, app_pids: dict[int, str]) -> str | None:
    if pid in app_pids:
        return app_pids[pid]
    if name.startswith("temporal"):
        return "temporal"
    if name.startswith("postgres"):
        return "postgres"
    if name.startswith(("valkey", "redis")):
        return "redis"
    return "worker" if name.startswith("python") else None  # a worker started for scaling


def cpu_seconds(app_pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far by role (`ROLES`), over this process and its descendants;
    `app_pids` names the API's and workers' pids (`App.pids()`: {"api": pid, "worker": pid})."""
    roles = {pid: role for role, pid in app_pids.items()}
    stats = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    me = os.getpid()
    used = dict.fromkeys(ROLES, 0.0)
    for pid, (name, _, seconds) in stats.items():
        if pid == me:
            used["driver"] += seconds
        elif _descends_from(pid, me, stats) and (role := _role(pid, name, roles)) is not None:
            used[role] += seconds
    return used


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds by role between two readings of `cpu_seconds`."""
    return {role: max(after.get(role, 0.0) - before.get(role, 0.0), 0.0) for role in ROLES}


def _descends_from(pid: int, ancestor: int, stats: dict[int, tuple[str, int, float]]) -> bool:
    seen = 0
    while pid in stats and seen < 64:
        pid = stats[pid][1]
        if pid == ancestor:
            return True
        seen += 1
    return False
