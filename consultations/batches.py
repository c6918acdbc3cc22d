"""Group commit: requests that arrive together are handled together.

Votes arrive in bursts when an invitation goes to a whole team, people open their lists
at the start of the day, and every view writes who looked. Handled one by one, each pays
for a transaction (and, on SQLite's one writer, waits for all the others). A batcher
handles one batch at a time; what arrives while a batch is being handled waits for the
next one and shares it. Each request still hears back only after its own batch is done
(committed), so nothing is promised that a crash could take back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class Batcher(Generic[In, Out]):
    """`handle(batch)` answers each request of the batch, in order, with its result or
    the exception that refused it alone; an exception it raises fails the whole batch."""

    def __init__(
        self,
        handle: Callable[[list[In]], Awaitable[Sequence[Out | BaseException]]],
        *,
        max_batch: int = 64,
        size: Callable[[In], int] = lambda _item: 1,
        workers: int = 1,
    ) -> None:
        """`workers`: how many batches may be handled at once. One suits a single
        writer; reads, which each have a connection of their own, go further with two or
        three (a batch is gathered while another waits for its database round)."""
        self._handle = handle
        self._max_batch = max_batch
        self._size = size
        self._max_workers = workers
        self._waiting: list[tuple[In, asyncio.Future[Out]]] = []
        self._running = 0  # workers started and not yet finished
        self._tasks: set[asyncio.Task[None]] = set()  # held so none is collected midway
        self.batches = 0  # how many batches were handled (tests, benchmarks)

    async def submit(self, item: In) -> Out:
        """The item's result once its batch is done; raises its own refusal, or what
        failed the batch. A caller who stops waiting does not stop the batch."""
        answer: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answer))
        if self._running < self._max_workers:
            self._running += 1
            worker = asyncio.create_task(self._work())
            self._tasks.add(worker)
            worker.add_done_callback(self._tasks.discard)
        return await answer

    async def _work(self) -> None:
        try:
            while self._waiting:
                taken, weight = 0, 0
                for item, _ in self._waiting:
                    if taken and weight + self._size(item) > self._max_batch:
                        break
                    taken += 1
                    weight += self._size(item)
                batch = self._waiting[:taken]
                del self._waiting[:taken]
                await self._run(batch)
                # Let the turns that waited for a database connection meanwhile take it
                # first: a steady stream must not starve every other turn (with SQLite's
                # single writer it did, for as long as the stream lasted).
                await asyncio.sleep(0)
        finally:
            # No await between the last look at the queue and here: an item submitted
            # after it finds a worker slot free and starts one.
            self._running -= 1

    async def _run(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        self.batches += 1
        try:
            results = await self._handle([item for item, _ in batch])
        except BaseException as failure:  # every waiter of the batch hears of it
            told = failure if isinstance(failure, Exception) else RuntimeError("not done")
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(told)
            if not isinstance(failure, Exception):
                raise  # being shut down (cancelled): let it
            return
        for (_, answer), result in zip(batch, results, strict=True):
            if answer.done():
                continue
            if isinstance(result, BaseException):
                answer.set_exception(result)
            else:
                answer.set_result(result)
