"""Resident memory (VmRSS from /proc/<pid>/status) of the API and worker after N orders."""

from __future__ import annotations

import asyncio
from pathlib import Path

from commerce.bench.measure import Row

MAX_GROWTH = 0.10  # the target: RSS flat within 10% between order 200 and 1,000


def rss_mib(pid: int) -> float:
    """The process's resident set size in MiB, or 0.0 when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024  # the kernel reports kB
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


class MemoryProbe:
    """Samples each named process's RSS when told how many orders have gone through."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: list[tuple[int, dict[str, float]]] = []

    async def sample(self, orders: int, settle_s: float = 1.0) -> None:
        """Read RSS once the last orders' work has settled (the loop that drove them is done)."""
        await asyncio.sleep(settle_s)
        self.samples.append((orders, {name: rss_mib(pid) for name, pid in self.pids.items()}))

    def rows(self) -> list[Row]:
        """One row per process: every sample, and the growth from the first to the last."""
        rows: list[Row] = []
        if not self.samples:
            return rows
        (first_n, first), (last_n, last) = self.samples[0], self.samples[-1]
        for name, pid in self.pids.items():
            growth = last[name] / first[name] - 1 if first[name] else 0.0
            rows.append({
                "section": "memory", "name": f"{name} RSS (VmRSS)", "process": name, "pid": pid,
                "samples": [{"orders": n, "rss_mib": round(s[name], 1)} for n, s in self.samples],
                "growth": round(growth, 4),
                "target": f"flat within {MAX_GROWTH:.0%} (order {first_n} → {last_n})",
                "target_met": bool(first[name]) and growth <= MAX_GROWTH,
            })  # fmt: skip
        return rows
