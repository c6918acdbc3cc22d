"""The ballot box: votes that arrive together are written together (group commit).

An invitation goes to a whole team at once, so votes come in bursts. Each vote on its own
pays for a transaction: begin, reading the poll, commit. The box writes one batch at a
time (consultations.batches); votes that arrive while a batch is being written wait for
the next one, and share its transaction and its reading of the poll. A voter still hears
back only after their own vote is committed, so nothing is promised that a crash could
take back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from consultations.batches import Batcher
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
        self._batcher: Batcher[Ballot, VoteOutcome] = Batcher(self._write, max_batch=max_batch)

    @property
    def batches(self) -> int:
        """How many transactions the box has written (tests, the benchmark)."""
        return self._batcher.batches

    async def cast(self, ballot: Ballot) -> VoteOutcome:
        """Write the ballot and return the poll as it stands after it.

        Raises the ballot's own DomainError when it is refused (nothing of it written),
        or whatever failed the batch's transaction (nothing of the batch written).
        """
        return await self._batcher.submit(ballot)

    async def _write(self, ballots: list[Ballot]) -> Sequence[VoteOutcome | BaseException]:
        return await cast_votes(self._uow(), ballots, self._clock.now())
