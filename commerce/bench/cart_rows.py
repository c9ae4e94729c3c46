"""Add-to-cart rows from `commerce.bench.cart`, each beside its baselines."""

from __future__ import annotations

import asyncio
from typing import Any

from commerce.bench.cart import bench_add_to_cart
from commerce.bench.measure import Row
from commerce.settings import Settings

CART_TIMEOUT_S = 600.0
# Issue 16's targets: add-to-cart at least this share of the bare FastAPI POST rate, by concurrency.
MIN_RATIO = {1: 0.6, 32: 0.7}


async def cart_rows(settings: Settings, quick: bool) -> list[Row]:
    async with asyncio.timeout(CART_TIMEOUT_S):
        return cart_comparisons(await bench_add_to_cart(settings, quick))


def cart_comparisons(rows: list[dict[str, Any]]) -> list[Row]:
    """`bench_add_to_cart` reports flat rows, the API's and its baselines' alike: pair each API
    row with the baselines at its concurrency (the first one gives the ratio)."""
    if all("baseline" in row for row in rows):
        return [{"section": "cart", **row} for row in rows]

    def figures(row: dict[str, Any]) -> Row:
        return {
            "name": row.get("name"),
            "count": row.get("count", row.get("requests")),
            "rate": row.get("rate", row.get("rps")),
            **{key: row.get(key) for key in ("p50_ms", "p95_ms", "p99_ms")},
        }

    ours = [row for row in rows if str(row.get("name", "")).startswith("api")]
    paired: list[Row] = []
    for row in ours:
        baselines = [
            figures(other)
            for other in rows
            if other not in ours and other.get("concurrency") == row.get("concurrency")
        ]
        result: Row = {"section": "cart", "unit": "req/s", "concurrency": row.get("concurrency")}
        result |= figures(row)
        result["baseline"] = baselines[0] if baselines else None
        result["other_baselines"] = baselines[1:]
        base_rate = baselines[0]["rate"] if baselines else None
        result["ratio"] = round(result["rate"] / base_rate, 3) if base_rate else None
        least = MIN_RATIO.get(row.get("concurrency") or 0, max(MIN_RATIO.values()))
        result["target"] = f"rate >= {least:.0%}"
        result["target_met"] = (result["ratio"] or 0.0) >= least
        for work in ("redis_round_trips_per_add", "catalog_reads_per_add"):
            if work in row:
                result[work] = row[work]
        paired.append(result)
    return paired
