"""The availability polls (SPEC §2.3) over one AsyncSession; the unit of work owns the
transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import TTLCache
from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from consultations.errors import Conflict
from consultations.model import Profession, TeamSettings
from consultations.poll import Answer, AvailabilityPoll, Invitee, PollState, TimeSlot
from storage.db import UtcDateTime
from storage.tables import consultations, poll_invitees, poll_slots, poll_votes, polls, teams, users

LOCKS = ("none", "update")

# The statements a vote runs, built once: SQLAlchemy then keeps their cache keys and
# compiled forms, and a vote turn does not pay for building SQL again every time.
_POLL = select(polls).where(polls.c.id == bindparam("poll_id"))
_POLL_LOCKED = _POLL.with_for_update()
_SLOTS = (
    select(poll_slots.c.id, poll_slots.c.start, poll_slots.c.minutes)
    .where(poll_slots.c.poll_id == bindparam("poll_id"))
    .order_by(poll_slots.c.start, poll_slots.c.id)
)
_INVITEES = (
    select(
        poll_invitees.c.user_id,
        poll_invitees.c.profession,
        poll_invitees.c.required,
        users.c.name,
        users.c.teams_user_id,
    )
    .join(users, users.c.id == poll_invitees.c.user_id)
    .where(poll_invitees.c.poll_id == bindparam("poll_id"))
    .order_by(users.c.name, users.c.id)
)
_VOTES = select(poll_votes.c.user_id, poll_votes.c.slot_id, poll_votes.c.answer).where(
    poll_votes.c.poll_id == bindparam("poll_id")
)
# The poll's row with its case number, team settings and votes: one row per vote (or one
# with no vote), so a vote batch reads its poll in one statement.
_FOR_VOTING = (
    select(
        polls,
        consultations.c.case_number,
        teams.c.settings.label("team_settings"),
        poll_votes.c.user_id.label("vote_user_id"),
        poll_votes.c.slot_id.label("vote_slot_id"),
        poll_votes.c.answer.label("vote_answer"),
    )
    .select_from(polls)
    .join(consultations, consultations.c.id == polls.c.consultation_id)
    .join(teams, teams.c.id == polls.c.team_id)
    .outerjoin(poll_votes, poll_votes.c.poll_id == polls.c.id)
    .where(polls.c.id == bindparam("poll_id"))
)
# Votes on one poll take turns (PostgreSQL): each batch locks the poll's row, then reads
# the votes in a statement of its own, so it sees every vote committed before it. With a
# shared lock, the last two votes arriving through two instances at once each saw the
# other missing, and "everyone has answered" was never sent.
_LOCK_POLL = select(polls.c.id).where(polls.c.id == bindparam("poll_id")).with_for_update()
SHAPE_MEMORY_SECONDS = 60.0
SHAPE_MEMORY_SIZE = 1_000


@dataclass(frozen=True)
class _Shape:
    slots: tuple[TimeSlot, ...]
    invitees: tuple[Invitee, ...]


class PollShapes(TTLCache[int, _Shape]):
    """The slots and invitees of recently voted polls, shared by the units of work of one
    app. Storage never changes them once a poll is opened; only an invitee's name can
    change (in users), so an entry is read again after a minute."""

    def __init__(
        self, seconds: float = SHAPE_MEMORY_SECONDS, max_size: int = SHAPE_MEMORY_SIZE
    ) -> None:
        super().__init__(maxsize=max_size, ttl=seconds)


# A changed answer replaces the old one. Written as text because SQLAlchemy cannot cache
# an ON CONFLICT DO UPDATE construct and would compile it on every vote; PostgreSQL and
# SQLite (3.24+) read the same statement.
_VOTE_UPSERT = text(
    "INSERT INTO poll_votes (poll_id, user_id, slot_id, answer, updated_at)"
    " VALUES (:poll_id, :user_id, :slot_id, :answer, :updated_at)"
    " ON CONFLICT (poll_id, user_id, slot_id)"
    " DO UPDATE SET answer = excluded.answer, updated_at = excluded.updated_at"
).bindparams(bindparam("updated_at", type_=UtcDateTime()))


class SqlAlchemyPollRepository:
    def __init__(self, session: AsyncSession, shapes: PollShapes | None = None) -> None:
        self._s = session
        self._shapes = shapes
        # The row version each poll object was loaded (or added) at, by object identity, so
        # `save` refuses a poll someone else saved since. The object is kept so its id() is
        # not reused while this repository lives.
        self._versions: dict[int, tuple[AvailabilityPoll, int]] = {}

    def _dialect(self) -> str:
        return self._s.get_bind().dialect.name

    def _track(self, poll: AvailabilityPoll, version: int) -> None:
        self._versions[id(poll)] = (poll, version)

    async def add(self, poll: AvailabilityPoll, now: datetime) -> AvailabilityPoll:
        inserted = await self._s.execute(
            insert(polls)
            .returning(polls.c.id)
            .values(
                consultation_id=poll.consultation_id,
                team_id=poll.team_id,
                created_by=poll.created_by,
                deadline=poll.deadline,
                place=poll.place,
                state=poll.state.value,
                wanted=sorted(p.value for p in poll.wanted),
                chosen_slot_id=poll.chosen_slot_id,
                sequence=poll.sequence,
                created_at=now,
                updated_at=now,
                version=0,
            )
        )
        poll.id = int(inserted.scalar_one())
        slots = []
        for slot in poll.slots:
            slot_id = (
                await self._s.execute(
                    insert(poll_slots)
                    .returning(poll_slots.c.id)
                    .values(poll_id=poll.id, start=slot.start, minutes=slot.minutes)
                )
            ).scalar_one()
            slots.append(TimeSlot(int(slot_id), slot.start, slot.minutes))
        poll.slots = slots
        if poll.invitees:
            await self._s.execute(
                insert(poll_invitees),
                [
                    {
                        "poll_id": poll.id,
                        "user_id": i.user_id,
                        "profession": i.profession.value if i.profession else None,
                        "required": i.required,
                    }
                    for i in poll.invitees
                ],
            )
        self._track(poll, 0)
        return poll

    async def get(self, poll_id: int, *, lock: str = "none") -> AvailabilityPoll | None:
        if lock not in LOCKS:
            raise ValueError(f"lock must be one of {LOCKS}, not {lock!r}")
        # On SQLite the transaction holds the database's write lock from BEGIN IMMEDIATE
        # (storage.db), so there is nothing to add. On PostgreSQL closing takes the row
        # lock a vote takes (for_voting): no vote slips in after the poll has closed.
        query = _POLL_LOCKED if lock == "update" and self._dialect() == "postgresql" else _POLL
        row = (await self._s.execute(query, {"poll_id": poll_id})).mappings().first()
        if row is None:
            return None
        return self._poll(row, await self._read_shape(poll_id), await self._votes(poll_id))

    async def for_voting(self, poll_id: int) -> tuple[AvailabilityPoll, str, TeamSettings] | None:
        if self._dialect() == "postgresql":
            # SQLite's transactions take the one write lock at BEGIN: already in turn.
            await self._s.execute(_LOCK_POLL, {"poll_id": poll_id})
        rows = (await self._s.execute(_FOR_VOTING, {"poll_id": poll_id})).mappings().all()
        if not rows:
            return None
        votes: dict[int, dict[int, Answer]] = {}
        for vote in rows:
            if vote["vote_user_id"] is not None:
                votes.setdefault(vote["vote_user_id"], {})[vote["vote_slot_id"]] = Answer(
                    vote["vote_answer"]
                )
        shape = self._shapes.get(poll_id) if self._shapes is not None else None
        if shape is None:
            shape = await self._read_shape(poll_id)
            if self._shapes is not None:
                self._shapes[poll_id] = shape
        row = rows[0]
        poll = self._poll(row, shape, votes)
        return poll, row["case_number"] or "", TeamSettings.from_json(row["team_settings"])

    async def _read_shape(self, poll_id: int) -> _Shape:
        key = {"poll_id": poll_id}
        slots = tuple(
            TimeSlot(s_id, start, minutes)
            for s_id, start, minutes in await self._s.execute(_SLOTS, key)
        )
        invitees = tuple(
            Invitee(
                user_id=user_id,
                name=name,
                profession=Profession(profession) if profession else None,
                required=required,
                teams_user_id=teams_user_id,
            )
            for user_id, profession, required, name, teams_user_id in await self._s.execute(
                _INVITEES, key
            )
        )
        return _Shape(slots, invitees)

    async def _votes(self, poll_id: int) -> dict[int, dict[int, Answer]]:
        votes: dict[int, dict[int, Answer]] = {}
        for user_id, slot_id, answer in await self._s.execute(_VOTES, {"poll_id": poll_id}):
            votes.setdefault(user_id, {})[slot_id] = Answer(answer)
        return votes

    def _poll(
        self, row: RowMapping, shape: _Shape, votes: dict[int, dict[int, Answer]]
    ) -> AvailabilityPoll:
        poll = AvailabilityPoll(
            id=row["id"],
            consultation_id=row["consultation_id"],
            team_id=row["team_id"],
            created_by=row["created_by"],
            slots=list(shape.slots),
            invitees=list(shape.invitees),
            deadline=row["deadline"],
            place=row["place"],
            state=PollState(row["state"]),
            wanted=frozenset(Profession(p) for p in row["wanted"]),
            votes=votes,
            chosen_slot_id=row["chosen_slot_id"],
            sequence=row["sequence"],
        )
        self._track(poll, row["version"])
        return poll

    async def latest_for(self, consultation_id: int) -> AvailabilityPoll | None:
        poll_id = (
            await self._s.execute(
                select(polls.c.id)
                .where(
                    polls.c.consultation_id == consultation_id,
                    polls.c.state != PollState.CANCELLED.value,
                )
                .order_by(polls.c.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        return None if poll_id is None else await self.get(int(poll_id))

    async def fixed_meetings(
        self, consultation_ids: Sequence[int]
    ) -> Mapping[int, tuple[TimeSlot, str]]:
        if not consultation_ids:
            return {}
        # What latest_for + chosen_slot give one case at a time, for a page of cases.
        latest = (
            select(polls.c.consultation_id, func.max(polls.c.id).label("poll_id"))
            .where(
                polls.c.consultation_id.in_(list(consultation_ids)),
                polls.c.state != PollState.CANCELLED.value,
            )
            .group_by(polls.c.consultation_id)
            .subquery()
        )
        rows = await self._s.execute(
            select(
                latest.c.consultation_id,
                poll_slots.c.id,
                poll_slots.c.start,
                poll_slots.c.minutes,
                polls.c.place,
            )
            .join(polls, polls.c.id == latest.c.poll_id)
            .join(poll_slots, poll_slots.c.id == polls.c.chosen_slot_id)
            .where(polls.c.state == PollState.FINALIZED.value)
        )
        return {
            int(case_id): (TimeSlot(slot_id, start, minutes), place)
            for case_id, slot_id, start, minutes, place in rows
        }

    async def save(self, poll: AvailabilityPoll, now: datetime) -> None:
        assert poll.id is not None
        tracked = self._versions.get(id(poll))
        if tracked is None or tracked[0] is not poll:
            raise RuntimeError("save a poll that this unit of work loaded or added")
        version = tracked[1]
        result = await self._s.execute(
            update(polls)
            .where(polls.c.id == poll.id, polls.c.version == version)
            .values(
                state=poll.state.value,
                chosen_slot_id=poll.chosen_slot_id,
                sequence=poll.sequence,
                place=poll.place,
                deadline=poll.deadline,
                updated_at=now,
                version=version + 1,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise Conflict()
        self._track(poll, version + 1)

    async def record_votes(
        self, poll_id: int, votes: Mapping[int, Mapping[int, Answer]], now: datetime
    ) -> None:
        rows: list[dict[str, Any]] = [
            {
                "poll_id": poll_id,
                "user_id": user_id,
                "slot_id": slot_id,
                "answer": Answer(answer).value,
                "updated_at": now,
            }
            for user_id, answers in votes.items()
            for slot_id, answer in answers.items()
        ]
        if not rows:
            return
        # One statement, many rows (executemany): a changed answer replaces the old one.
        await self._s.execute(_VOTE_UPSERT, rows)
