"""Cart analytics kept as counters in Redis, updated in the same transaction as each cart write.

Keys: `carts:stats` (hash of counters), `carts:value` (hash currency -> minor units),
`carts:active` (zset cart id -> expiry in ms), `carts:contrib` (hash cart id ->
"items:value:currency", what that cart adds to the totals, so an expired cart can be
taken back out after its own key is gone). Nothing here scans keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as redis
from pydantic import BaseModel
from redis.asyncio.client import Pipeline

STATS = "carts:stats"
VALUE = "carts:value"
ACTIVE = "carts:active"
CONTRIB = "carts:contrib"
CART_KEY_PREFIX = "cart:"
_PRUNE_BATCH = 500

# Abandoned = active carts whose key expired. Runs atomically; a cart still present (its TTL
# renewed, or Redis's clock a little behind ours) is left for a later pass.
_PRUNE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local pruned = 0
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[3] .. id) == 0 then
    local contrib = redis.call('HGET', KEYS[2], id)
    if contrib then
      local items, value, currency = string.match(contrib, '^(%-?%d+):(%-?%d+):(.*)$')
      redis.call('HINCRBY', KEYS[3], 'items', -tonumber(items))
      if currency ~= '' then redis.call('HINCRBY', KEYS[4], currency, -tonumber(value)) end
      redis.call('HDEL', KEYS[2], id)
    end
    redis.call('ZREM', KEYS[1], id)
    redis.call('HINCRBY', KEYS[3], 'abandoned', 1)
    pruned = pruned + 1
  end
end
return pruned
"""


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one active cart adds to the totals."""

    items: int = 0
    value: int = 0
    currency: str = ""

    def encode(self) -> str:
        return f"{self.items}:{self.value}:{self.currency}"


class CartAnalytics(BaseModel):
    active_carts: int
    items_in_carts: int
    value_in_carts: dict[str, int]
    carts_created: int
    carts_converted: int
    conversion_rate: float
    abandoned: int


def record_created(pipe: Pipeline, cart_id: str, expires_at_ms: int) -> None:
    pipe.hincrby(STATS, "created", 1)
    pipe.zadd(ACTIVE, {cart_id: expires_at_ms})
    pipe.hset(CONTRIB, cart_id, Contribution().encode())


def record_change(
    pipe: Pipeline, cart_id: str, old: Contribution, new: Contribution, expires_at_ms: int
) -> None:
    """Move the totals from the cart's old contribution to its new one; renew its expiry."""
    if new.items != old.items:
        pipe.hincrby(STATS, "items", new.items - old.items)
    for currency, amount in value_moves(old, new):
        pipe.hincrby(VALUE, currency, amount)
    pipe.zadd(ACTIVE, {cart_id: expires_at_ms})
    pipe.hset(CONTRIB, cart_id, new.encode())


def value_moves(old: Contribution, new: Contribution) -> list[tuple[str, int]]:
    """What moves in `carts:value` (currency, minor units) when a cart's contribution changes."""
    if old.currency == new.currency:
        moved = new.value - old.value
        return [(new.currency, moved)] if new.currency and moved else []
    return [(c, v) for c, v in ((old.currency, -old.value), (new.currency, new.value)) if c]


def record_closed(pipe: Pipeline, cart_id: str, old: Contribution, *, converted: bool) -> None:
    """The cart left the active set: checked out (`converted`) or deleted by its owner."""
    record_change(pipe, cart_id, old, Contribution(), 0)
    pipe.zrem(ACTIVE, cart_id)
    pipe.hdel(CONTRIB, cart_id)
    pipe.hincrby(STATS, "converted" if converted else "deleted", 1)


async def prune_abandoned(client: redis.Redis, now_ms: int | None = None) -> int:
    """Count carts that expired while active as abandoned and take them out of the totals."""
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    total = 0
    while True:
        pruned = int(
            await client.eval(
                _PRUNE, 4, ACTIVE, CONTRIB, STATS, VALUE, now_ms, _PRUNE_BATCH, CART_KEY_PREFIX
            )
        )
        total += pruned
        if pruned < _PRUNE_BATCH:
            return total


async def cart_analytics(client: redis.Redis) -> CartAnalytics:
    await prune_abandoned(client)
    async with client.pipeline(transaction=True) as pipe:
        pipe.hgetall(STATS)
        pipe.hgetall(VALUE)
        pipe.zcard(ACTIVE)
        stats, value, active = await pipe.execute()
    created, converted = int(stats.get("created", 0)), int(stats.get("converted", 0))
    return CartAnalytics(
        active_carts=int(active),
        items_in_carts=int(stats.get("items", 0)),
        value_in_carts={currency: int(v) for currency, v in sorted(value.items()) if int(v)},
        carts_created=created,
        carts_converted=converted,
        conversion_rate=round(converted / created, 4) if created else 0.0,
        abandoned=int(stats.get("abandoned", 0)),
    )
