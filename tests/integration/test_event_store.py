"""The event store on a real PostgreSQL: round trip, optimistic concurrency, retry safety, feed."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from eventstore.feed_checkpoints import read_checkpoint, start_checkpoint
from eventstore.store import NO_STREAM, ConcurrencyError, EventStore, NewEvent


def _event(kind: str = "Something", **data: object) -> NewEvent:
    return NewEvent(uuid.uuid4(), kind, dict(data), {"correlation_id": "c-1", "actor": "test"})


def _stream() -> str:
    return f"order-{uuid.uuid4()}"


@pytest.fixture
def store(pool: asyncpg.Pool) -> EventStore:
    return EventStore(pool)


async def test_appended_events_read_back_in_order_with_data_and_metadata(store: EventStore) -> None:
    stream = _stream()
    events = [_event("AccountOpened", total=1999), _event("AccountCredited", amount=1999)]

    version = await store.append(stream, events, NO_STREAM)

    recorded = await store.read_stream(stream)
    assert version == 2
    assert [r.stream_version for r in recorded] == [1, 2]
    assert [(r.event_id, r.type, r.data, r.metadata) for r in recorded] == [
        (e.event_id, e.type, e.data, e.metadata) for e in events
    ]
    assert recorded[0].recorded_at <= recorded[1].recorded_at


async def test_append_at_a_stale_version_raises_concurrency_error(store: EventStore) -> None:
    stream = _stream()
    await store.append(stream, [_event(), _event()], NO_STREAM)

    with pytest.raises(ConcurrencyError) as raised:
        await store.append(stream, [_event()], 1)

    assert raised.value.actual_version == 2
    assert len(await store.read_stream(stream)) == 2


async def test_append_ahead_of_the_stream_is_refused_and_leaves_no_gap(store: EventStore) -> None:
    stream = _stream()
    with pytest.raises(ConcurrencyError):
        await store.append(stream, [_event()], 3)
    assert await store.read_stream(stream) == []


@pytest.mark.parametrize("size", [1, 3])
async def test_every_append_size_is_held_to_the_expected_version(
    store: EventStore, size: int
) -> None:
    """One event and several go through different statements: both refuse a version behind the
    stream and one ahead of it, and both take a retry of what they wrote as done."""
    stream = _stream()
    await store.append(stream, [_event(), _event()], NO_STREAM)
    batch = [_event(n=n) for n in range(size)]

    for stale_or_ahead in (0, 1, 3, 5):
        with pytest.raises(ConcurrencyError) as raised:
            await store.append(stream, batch, stale_or_ahead)
        assert raised.value.actual_version == 2
    assert await store.append(stream, batch, 2) == 2 + size
    assert await store.append(stream, batch, 2) == 2 + size  # the same batch again: a no-op

    assert [r.stream_version for r in await store.read_stream(stream)] == list(range(1, 3 + size))


async def test_twenty_concurrent_appends_at_one_version_exactly_one_wins(store: EventStore) -> None:
    stream = _stream()
    await store.append(stream, [_event()], NO_STREAM)

    results = await asyncio.gather(
        *(store.append(stream, [_event(n=n)], 1) for n in range(20)), return_exceptions=True
    )

    winners = [r for r in results if r == 2]
    losers = [r for r in results if isinstance(r, ConcurrencyError)]
    assert (len(winners), len(losers)) == (1, 19)
    assert len(await store.read_stream(stream)) == 2


async def test_reappending_the_same_events_is_a_no_op(store: EventStore) -> None:
    stream = _stream()
    events = [_event("A"), _event("B")]
    await store.append(stream, events, NO_STREAM)
    await store.append(stream, [_event("C")], 2)

    again = await store.append(stream, events, NO_STREAM)

    assert again == 3
    assert [r.type for r in await store.read_stream(stream)] == ["A", "B", "C"]


async def test_the_same_event_ids_with_other_data_are_a_conflict_not_a_repeat(
    store: EventStore,
) -> None:
    stream = _stream()
    decided = _event("PaymentAuthorized", authorization_id="auth-1", amount=1500)
    await store.append(stream, [decided], NO_STREAM)
    other = NewEvent(decided.event_id, decided.type, {"authorization_id": "auth-2", "amount": 1500})

    with pytest.raises(ConcurrencyError):
        await store.append(stream, [other], NO_STREAM)
    assert [r.data["authorization_id"] for r in await store.read_stream(stream)] == ["auth-1"]


async def test_partly_new_batch_at_a_stale_version_is_a_conflict(store: EventStore) -> None:
    stream = _stream()
    first = _event("A")
    await store.append(stream, [first], NO_STREAM)
    with pytest.raises(ConcurrencyError):
        await store.append(stream, [first, _event("B")], NO_STREAM)
    assert [r.type for r in await store.read_stream(stream)] == ["A"]


async def test_global_feed_lists_every_stream_in_commit_order(store: EventStore) -> None:
    start = await store.feed_head()
    one, two = _stream(), _stream()
    await store.append(one, [_event("A1")], NO_STREAM)
    await store.append(two, [_event("B1"), _event("B2")], NO_STREAM)
    await store.append(one, [_event("A2")], 1)

    feed = [r for r in await store.read_all(start) if r.stream_id in (one, two)]

    assert [r.type for r in feed] == ["A1", "B1", "B2", "A2"]
    positions = [r.feed_position for r in feed]
    assert positions == sorted(positions) and all(p > start for p in positions)
    assert [r.type for r in await store.read_all(feed[1].feed_position, limit=2)][:2] == [
        "B2",
        "A2",
    ]


async def test_feed_holds_back_events_of_a_transaction_still_open(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    start = await store.feed_head()
    stream = _stream()
    async with pool.acquire() as slow:
        tx = slow.transaction()
        await tx.start()
        await slow.execute(
            "INSERT INTO events (stream_id, stream_version, event_id, event_type, data)"
            " VALUES ($1, 1, $2, 'Slow', '{}')",
            stream,
            uuid.uuid4(),
        )
        later = _stream()
        await store.append(later, [_event("Fast")], NO_STREAM)

        held = [r.stream_id for r in await store.read_all(start)]
        assert stream not in held and later not in held
        await tx.commit()

    seen = [r.type for r in await store.read_all(start) if r.stream_id in (stream, later)]
    assert seen == ["Slow", "Fast"]


async def test_feed_never_skips_an_event_committed_after_a_later_position(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    start = await store.feed_head()
    early, late = _stream(), _stream()
    async with pool.acquire() as first, pool.acquire() as second:
        first_tx, second_tx = first.transaction(), second.transaction()
        await first_tx.start()
        await first.fetchval("SELECT pg_current_xact_id()")  # e.g. a checkout record written first
        await second_tx.start()
        await second.execute(  # a younger transaction takes the lower position
            "INSERT INTO events (stream_id, stream_version, event_id, event_type, data)"
            " VALUES ($1, 1, $2, 'LowerPosition', '{}')",
            late,
            uuid.uuid4(),
        )
        await first.execute(
            "INSERT INTO events (stream_id, stream_version, event_id, event_type, data)"
            " VALUES ($1, 1, $2, 'HigherPosition', '{}')",
            early,
            uuid.uuid4(),
        )
        await first_tx.commit()
        followed = [r for r in await store.read_all(start) if r.stream_id in (early, late)]
        checkpoint = followed[-1].feed_position if followed else start
        await second_tx.commit()

    followed += [r for r in await store.read_all(checkpoint) if r.stream_id in (early, late)]
    assert sorted(r.type for r in followed) == ["HigherPosition", "LowerPosition"]


async def test_a_follower_of_concurrent_appends_sees_each_event_once_in_stream_order(
    store: EventStore,
) -> None:
    streams = [_stream() for _ in range(6)]
    appended: list[uuid.UUID] = []
    done = asyncio.Event()  # every append has returned

    async def append_all(stream: str) -> None:
        for version in range(40):
            event = _event("Counted", n=version + 1)
            await store.append(stream, [event], version)
            appended.append(event.event_id)

    head = await store.feed_head()  # before any append: the follower owes all of them

    async def follow() -> list[tuple[str, int, uuid.UUID]]:
        seen: list[tuple[str, int, uuid.UUID]] = []
        checkpoint = head
        while not done.is_set() or len(seen) < len(appended):
            batch = await store.read_all(checkpoint, limit=7)
            seen += [
                (r.stream_id, r.stream_version, r.event_id) for r in batch if r.stream_id in streams
            ]
            checkpoint = batch[-1].feed_position if batch else checkpoint
            await asyncio.sleep(0 if batch else 0.01)
        return seen

    follower = asyncio.create_task(follow())
    await asyncio.gather(*(append_all(stream) for stream in streams))
    done.set()
    async with asyncio.timeout(10):  # a skipped event would leave the follower waiting
        seen = await follower

    assert sorted(event_id for _, _, event_id in seen) == sorted(appended)
    for stream in streams:
        assert [v for s, v, _ in seen if s == stream] == list(range(1, 41))


async def test_a_followers_checkpoint_and_next_batch_come_in_one_read_as_two_reads_give_them(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    follower = f"follower-{uuid.uuid4()}"
    assert await store.read_from_checkpoint(pool, follower) is None  # no row: no checkpoint

    start = await store.feed_head()
    await start_checkpoint(pool, follower, start)
    assert await store.read_from_checkpoint(pool, follower) == (start, [])  # nothing after it

    stream = _stream()
    await store.append(stream, [_event("A1"), _event("A2"), _event("A3")], NO_STREAM)
    async with pool.acquire() as slow:  # an append still open is held back, as read_all does
        tx = slow.transaction()
        await tx.start()
        await slow.execute(
            "INSERT INTO events (stream_id, stream_version, event_id, event_type, data)"
            " VALUES ($1, 1, $2, 'Slow', '{}')",
            _stream(),
            uuid.uuid4(),
        )
        found = await store.read_from_checkpoint(pool, follower, limit=2)
        two_reads = await read_checkpoint(pool, follower), await store.read_all(start, limit=2)
        rest = await store.read_from_checkpoint(pool, follower, limit=500)
        await tx.rollback()

    assert found is not None and found == two_reads
    assert [r.type for r in found[1]] == ["A1", "A2"]
    assert rest is not None and [r.type for r in rest[1] if r.stream_id == stream] == [
        "A1", "A2", "A3",
    ]  # fmt: skip
