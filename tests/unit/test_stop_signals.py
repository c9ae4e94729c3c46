"""`stopped_by_signals`: how infra, dev and the bench turn Ctrl-C and SIGTERM into an orderly stop."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from commerce.infra import stopped_by_signals


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_cancels_the_work_runs_its_cleanup_and_ends_the_block_normally(
    sent: signal.Signals,
) -> None:
    cleaned_up = False
    async with stopped_by_signals() as request:
        try:
            os.kill(os.getpid(), sent)
            await asyncio.sleep(30)
            pytest.fail("the signal did not stop the work")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # a second one, while cleaning up
            await asyncio.sleep(0.05)  # the cleanup's own awaits are not interrupted
            cleaned_up = True
    assert request.signal == sent and cleaned_up
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_without_a_signal_the_block_changes_nothing_and_a_cancel_from_elsewhere_passes() -> (
    None
):
    async with stopped_by_signals() as request:
        await asyncio.sleep(0)
    assert request.signal is None

    async def cancelled_by_someone_else() -> None:
        async with stopped_by_signals():
            await asyncio.sleep(30)

    task = asyncio.create_task(cancelled_by_someone_else())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # the handlers are gone with the block: the default ones are back
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
