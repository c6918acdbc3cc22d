"""Group commit (consultations/batches.py): requests arriving together share a batch,
each hears its own answer, and none is left waiting."""

from __future__ import annotations

import asyncio

import pytest

from consultations.batches import Batcher


class Recorder:
    def __init__(self, pause: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.pause = pause
        self.at_once = 0
        self.most_at_once = 0

    async def handle(self, batch: list[int]) -> list[int | BaseException]:
        self.batches.append(batch)
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            await asyncio.sleep(self.pause)
        finally:
            self.at_once -= 1
        return [ValueError(n) if n < 0 else n * 10 for n in batch]


async def test_requests_arriving_together_share_a_batch_and_each_hears_its_own_answer() -> None:
    recorder = Recorder(pause=0.01)
    batcher = Batcher(recorder.handle)

    answers = await asyncio.gather(*(batcher.submit(n) for n in range(1, 21)))

    assert answers == [n * 10 for n in range(1, 21)]
    # All twenty were asked before the worker got its turn: one batch.
    assert recorder.batches == [list(range(1, 21))]


async def test_a_refusal_reaches_only_its_own_request() -> None:
    batcher = Batcher(Recorder().handle)

    results = await asyncio.gather(
        batcher.submit(1), batcher.submit(-2), batcher.submit(3), return_exceptions=True
    )

    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError)


async def test_a_failed_batch_fails_every_request_in_it_and_the_next_batch_still_runs() -> None:
    calls = 0

    async def handle(batch: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database gone")
        return batch

    batcher = Batcher(handle)
    first = await asyncio.gather(batcher.submit(1), return_exceptions=True)
    assert isinstance(first[0], RuntimeError)
    assert await batcher.submit(2) == 2


async def test_batches_stay_under_their_size() -> None:
    recorder = Recorder(pause=0.01)
    batcher = Batcher(recorder.handle, max_batch=5)

    await asyncio.gather(*(batcher.submit(n) for n in range(1, 13)))

    assert [len(batch) for batch in recorder.batches] == [5, 5, 2]


@pytest.mark.parametrize("workers", [1, 2, 3])
async def test_no_more_batches_run_at_once_than_workers(workers: int) -> None:
    recorder = Recorder(pause=0.01)
    batcher = Batcher(recorder.handle, max_batch=2, workers=workers)

    answers = await asyncio.gather(*(batcher.submit(n) for n in range(1, 31)))

    assert answers == [n * 10 for n in range(1, 31)]
    assert recorder.most_at_once == workers
    assert sorted(n for batch in recorder.batches for n in batch) == list(range(1, 31))


async def test_a_request_arriving_as_a_worker_finishes_is_not_left_waiting() -> None:
    batcher = Batcher(Recorder().handle)
    for n in range(1, 200):
        # Each submit lands around the moment the previous batch's worker stops.
        assert await asyncio.wait_for(batcher.submit(n), timeout=1) == n * 10
        await asyncio.sleep(0)
