"""The ballot box: votes that arrive together are written together (group commit).

An invitation goes to a whole team at once, so votes come in bursts. Each vote on its own
pays for a transaction: begin, reading the poll, commit. The box writes one batch at a
time; votes that arrive while a batch is being written wait for the next one, and share
its transaction and its reading of the poll. A voter still hears back only after their
own vote is committed, so nothing is promised that a crash could take back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from consultations.errors import DomainError
from consultations.ports import Clock, UnitOfWork
from consultations.scheduling import Ballot, VoteOutcome, cast_votes

MAX_BATCH = 64


class BallotBox:
    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._max_batch = max_batch
        self._waiting: list[tuple[Ballot, asyncio.Future[VoteOutcome]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # how many transactions the box has written (for the benchmark)

    async def cast(self, ballot: Ballot) -> VoteOutcome:
        """Write the ballot and return the poll as it stands after it.

        Raises the ballot's own DomainError when it is refused (nothing of it written),
        or whatever failed the batch's transaction (nothing of the batch written).
        """
        answer: asyncio.Future[VoteOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((ballot, answer))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        # A voter who gives up waiting (a dropped request) cancels only their own answer:
        # the batch is written all the same.
        return await answer

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: len(batch)]
                await self._write_batch(batch)
                # Let the turns that waited for a database connection meanwhile take it
                # first: a steady stream of votes must not starve every other turn (with
                # SQLite's single connection it did, for as long as the stream lasted).
                await asyncio.sleep(0)
        finally:
            self._writer = None

    async def _write_batch(self, batch: list[tuple[Ballot, asyncio.Future[VoteOutcome]]]) -> None:
        self.batches += 1
        try:
            results = await cast_votes(
                self._uow(), [ballot for ballot, _ in batch], self._clock.now()
            )
        except BaseException as failure:  # every voter of the batch hears of it
            told = failure if isinstance(failure, Exception) else RuntimeError("vote not written")
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(told)
            if not isinstance(failure, Exception):
                raise  # the box is being shut down (cancelled): let it
            return
        for (_, answer), result in zip(batch, results, strict=True):
            if answer.done():
                continue
            if isinstance(result, DomainError):
                answer.set_exception(result)
            else:
                answer.set_result(result)
