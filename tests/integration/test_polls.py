"""Availability polls (SPEC §2.3) in storage: the repository against real SQLite and
PostgreSQL, and votes racing each other and the finalize on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from consultations.ballots import BallotBox
from consultations.consultation import Consultation, RequestDetails
from consultations.errors import Conflict, DomainError
from consultations.model import Profession, TeamInstallation, UserRef
from consultations.poll import Answer, AvailabilityPoll, Invitee, PollState, TimeSlot
from consultations.scheduling import Ballot
from consultations.services import record_user
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.tables import audit_events, outbox, poll_invitees, poll_slots, poll_votes, polls
from storage.uow import SqlAlchemyUnitOfWork

HELSINKI = ZoneInfo("Europe/Helsinki")
# Monday 23.11.2026 10:00 in Helsinki: an ordinary working day.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=HELSINKI)
TENANT = "11111111-2222-3333-4444-555555555555"
# Names sort differently from the ids, so ordering by name is visible.
NAMES = ["Veikko Virtanen", "Aino Aaltonen", "Maija Mäkinen", "Kalle Korhonen"]


def hel(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=HELSINKI)


def ref(n: int) -> UserRef:
    return UserRef(
        teams_user_id=f"29:user-{n}",
        aad_object_id=f"00000000-0000-0000-0000-{n:012d}",
        name=NAMES[n] if n < len(NAMES) else f"Käyttäjä {n:03d}",
        locale="fi-FI",
        tenant_id=TENANT,
        service_url="https://smba.example/emea/",
        bot_id="28:bot",
    )


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    team: int
    consultation: int
    coordinator: int
    # Invitee user ids, in the order of their refs (user 1, 2, …).
    members: list[int]

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.sessions)


async def seed(sessions: async_sessionmaker[AsyncSession], members: int = 3) -> World:
    """A team with coordinator (user 0), `members` more users, and one consultation."""
    earlier = NOW - timedelta(days=30)
    refs = [ref(n) for n in range(members + 1)]
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        users = [await uow.users.upsert(r, earlier) for r in refs]
        team = await uow.teams.save_installation(
            TeamInstallation(
                teams_team_id="19:north@thread.tacv2",
                name="Työkykytiimi Pohjoinen",
                tenant_id=TENANT,
                service_url="https://smba.example/emea/",
                general_channel_id="19:north@thread.tacv2",
                channels=(("19:north@thread.tacv2", "General"),),
                roster=tuple(refs),
            ),
            users[0].id,
            earlier,
        )
        case = await uow.consultations.add(
            Consultation(None, users[1].id, RequestDetails(team_id=team.id)), earlier
        )
        await uow.commit()
    assert case.id is not None
    return World(sessions, team.id, case.id, users[0].id, [u.id for u in users[1:]])


def new_poll(world: World, invitees: int | None = None) -> AvailabilityPoll:
    chosen = world.members if invitees is None else world.members[:invitees]
    professions = [Profession.PHYSICIAN, Profession.NURSE, None]
    return AvailabilityPoll(
        id=None,
        consultation_id=world.consultation,
        team_id=world.team,
        created_by=world.coordinator,
        # Not in time order: `get` gives them back earliest first.
        slots=[
            TimeSlot(None, hel(3, 12), 60),
            TimeSlot(None, hel(1, 9), 45),
            TimeSlot(None, hel(2, 14, 30), 90),
        ],
        invitees=[
            Invitee(user_id, "", professions[n % 3], required=n == 0)
            for n, user_id in enumerate(chosen)
        ],
        deadline=hel(1, 8) - timedelta(days=3),
        place="Kokoushuone Kuusi",
        wanted=frozenset({Profession.PHYSICIAN, Profession.NURSE}),
    )


async def add_poll(world: World, poll: AvailabilityPoll) -> AvailabilityPoll:
    async with world.uow() as uow:
        added = await uow.polls.add(poll, NOW)
        await uow.commit()
    return added


async def load(world: World, poll_id: int) -> AvailabilityPoll:
    async with world.uow() as uow:
        poll = await uow.polls.get(poll_id)
    assert poll is not None
    return poll


async def vote_rows(world: World, poll_id: int) -> list[tuple[int, int, str]]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(poll_votes.c.user_id, poll_votes.c.slot_id, poll_votes.c.answer)
            .where(poll_votes.c.poll_id == poll_id)
            .order_by(poll_votes.c.user_id, poll_votes.c.slot_id)
        )
        return [(u, s, a) for u, s, a in rows]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return await seed(session_factory(engine))


# --- the repository, on both databases ------------------------------------------------------


async def test_a_poll_comes_back_with_slot_ids_invitee_names_and_wanted_professions(
    world: World,
) -> None:
    poll = new_poll(world)
    proposed = [(s.start, s.minutes) for s in poll.slots]

    added = await add_poll(world, poll)

    assert added.id is not None
    # New slot objects with ids, in the order they were given.
    assert [(s.start, s.minutes) for s in added.slots] == proposed
    assert all(s.id is not None for s in added.slots)
    assert len({s.id for s in added.slots}) == 3

    again = await load(world, added.id)
    assert again.consultation_id == world.consultation
    assert again.team_id == world.team
    assert again.created_by == world.coordinator
    assert again.slots == sorted(added.slots, key=lambda s: s.start)
    assert again.slots[0].start == hel(1, 9) and again.slots[0].start.tzinfo is not None
    assert again.deadline == poll.deadline
    assert again.place == "Kokoushuone Kuusi"
    assert again.state is PollState.OPEN
    assert again.wanted == frozenset({Profession.PHYSICIAN, Profession.NURSE})
    assert again.votes == {}
    assert again.chosen_slot_id is None and again.sequence == 0
    # Names from the users table, ordered by name.
    first, second, third = world.members
    assert [(i.user_id, i.name, i.profession, i.required) for i in again.invitees] == [
        (first, "Aino Aaltonen", Profession.PHYSICIAN, True),
        (third, "Kalle Korhonen", None, False),
        (second, "Maija Mäkinen", Profession.NURSE, False),
    ]

    async with world.uow() as uow:
        assert await uow.polls.get(added.id + 1000) is None


async def test_a_changed_vote_replaces_the_old_one(world: World) -> None:
    poll = await add_poll(world, new_poll(world))
    assert poll.id is not None
    early, middle, late = (s.id for s in sorted(poll.slots, key=lambda s: s.start))
    assert early is not None and middle is not None and late is not None
    voter, other = world.members[0], world.members[1]

    async with world.uow() as uow:
        await uow.polls.record_votes(
            poll.id,
            {
                voter: {early: Answer.YES, middle: Answer.NO, late: Answer.IF_NEED_BE},
                other: {early: Answer.NO},
            },
            NOW,
        )
        await uow.commit()
    later = NOW + timedelta(hours=1)
    async with world.uow() as uow:
        await uow.polls.record_votes(
            poll.id, {voter: {middle: Answer.YES, early: Answer.NO}}, later
        )
        await uow.commit()

    again = await load(world, poll.id)
    assert again.votes == {
        voter: {early: Answer.NO, middle: Answer.YES, late: Answer.IF_NEED_BE},
        other: {early: Answer.NO},
    }
    assert sorted(await vote_rows(world, poll.id)) == sorted(
        [
            (voter, early, "no"),
            (voter, middle, "yes"),
            (voter, late, "if_need_be"),
            (other, early, "no"),
        ]
    )
    async with world.sessions() as session:
        rows = await session.execute(
            select(poll_votes.c.slot_id, poll_votes.c.updated_at).where(
                poll_votes.c.user_id == voter
            )
        )
        stamps = {slot_id: at for slot_id, at in rows}
    assert stamps == {early: later, middle: later, late: NOW}


async def test_saving_a_stale_poll_is_a_conflict_and_changes_nothing(world: World) -> None:
    poll = await add_poll(world, new_poll(world))
    assert poll.id is not None
    chosen = poll.slots[0].id
    assert chosen is not None

    async with world.uow() as uow:
        stale = await uow.polls.get(poll.id)
        fresh = await uow.polls.get(poll.id)
        assert stale is not None and fresh is not None
        fresh.close()
        await uow.polls.save(fresh, NOW)
        await uow.commit()

        stale.finalize(chosen, override=True)
        stale.place = "Etäyhteys"
        with pytest.raises(Conflict):
            await uow.polls.save(stale, NOW + timedelta(minutes=1))

    again = await load(world, poll.id)
    assert again.state is PollState.CLOSED
    assert again.chosen_slot_id is None
    assert again.place == "Kokoushuone Kuusi"
    async with world.sessions() as session:
        version, updated_at = (
            await session.execute(
                select(polls.c.version, polls.c.updated_at).where(polls.c.id == poll.id)
            )
        ).one()
    assert (version, updated_at) == (1, NOW)

    # Saved again after loading anew, it goes through, and so does the next save.
    async with world.uow() as uow:
        current = await uow.polls.get(poll.id, lock="update")
        assert current is not None
        current.finalize(chosen, override=True)
        await uow.polls.save(current, NOW)
        current.cancel()
        await uow.polls.save(current, NOW)
        await uow.commit()
    final = await load(world, poll.id)
    assert (final.state, final.chosen_slot_id, final.sequence) == (
        PollState.CANCELLED,
        chosen,
        1,
    )


async def test_the_latest_poll_of_a_consultation_skips_cancelled_ones(world: World) -> None:
    async with world.uow() as uow:
        assert await uow.polls.latest_for(world.consultation) is None

    first = await add_poll(world, new_poll(world))
    second = await add_poll(world, new_poll(world))
    assert first.id is not None and second.id is not None
    async with world.uow() as uow:
        latest = await uow.polls.latest_for(world.consultation)
        assert latest is not None and latest.id == second.id
        latest.cancel()
        await uow.polls.save(latest, NOW)
        await uow.commit()

    async with world.uow() as uow:
        latest = await uow.polls.latest_for(world.consultation)
        assert latest is not None and latest.id == first.id
        assert latest.invitees[0].name == "Aino Aaltonen"
        latest.cancel()
        await uow.polls.save(latest, NOW)
        await uow.commit()

    async with world.uow() as uow:
        assert await uow.polls.latest_for(world.consultation) is None
    async with world.sessions() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(table))
            for table in (polls, poll_slots, poll_invitees)
        ]
    assert counts == [2, 6, 6]


# --- concurrency, on PostgreSQL ----------------------------------------------------------------


@pytest.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_url, pool_size=60)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


def all_slots(poll: AvailabilityPoll, n: int) -> dict[int, Answer]:
    """A different but deterministic set of answers for voter n."""
    choices = list(Answer)
    return {s.id: choices[(n + k) % 3] for k, s in enumerate(poll.slots) if s.id is not None}


async def vote(
    world: World,
    poll_id: int,
    user_id: int,
    answers: dict[int, Answer],
    *,
    locked: asyncio.Event | None = None,
    go: asyncio.Event | None = None,
) -> datetime:
    """What cast_votes does with storage; returns the moment the vote was written."""
    async with world.uow() as uow:
        found = await uow.polls.for_voting(poll_id)
        assert found is not None
        poll = found[0]
        poll.record_vote(user_id, answers)
        at = datetime.now(UTC)
        await uow.polls.record_votes(poll_id, {user_id: answers}, at)
        if locked is not None:
            locked.set()
        if go is not None:
            await go.wait()
        await uow.commit()
    return at


async def waiting_for_locks(engine: AsyncEngine) -> int:
    """How many other sessions of this database wait for a lock right now."""
    async with engine.connect() as connection:
        found = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        )
    return int(found or 0)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting until {what}")


@pytest.mark.postgres
async def test_50_invitees_voting_at_the_same_moment_lose_no_vote(pg_engine: AsyncEngine) -> None:
    world = await seed(session_factory(pg_engine), members=50)
    poll = await add_poll(world, new_poll(world))
    assert poll.id is not None and len(poll.invitees) == 50
    expected = {user_id: all_slots(poll, n) for n, user_id in enumerate(world.members)}

    await asyncio.gather(
        *(vote(world, poll.id, user_id, answers) for user_id, answers in expected.items())
    )

    assert (await load(world, poll.id)).votes == expected
    assert len(await vote_rows(world, poll.id)) == 50 * 3


@pytest.mark.postgres
async def test_no_vote_lands_after_the_finalize_and_later_ones_find_the_poll_closed(
    pg_engine: AsyncEngine,
) -> None:
    """Deterministic order, checked against PostgreSQL's own lock waits:

    1. 10 voters have voted and committed.
    2. 1 voter holds the poll's lock, their vote written but not committed; 4 more
       voters wait for it (votes on one poll take turns).
    3. The finalize asks for the same lock: it waits behind them.
    4. The holder commits; the 4 vote in turn; the finalize gets the lock and sees all 15.
    5. 20 more voters ask for the lock while the finalize holds it: they wait.
    6. The finalize commits; the 20 then find the poll finalized, and write nothing.
    """
    world = await seed(session_factory(pg_engine), members=35)
    poll = await add_poll(world, new_poll(world))
    assert poll.id is not None
    poll_id = poll.id
    answers = {user_id: all_slots(poll, n) for n, user_id in enumerate(world.members)}
    before, holding, after = world.members[:10], world.members[10:15], world.members[15:]
    chosen = poll.slots[1].id
    assert chosen is not None

    # 1.
    for user_id in before:
        await vote(world, poll_id, user_id, answers[user_id])

    # 2.
    release_holder = asyncio.Event()
    held = asyncio.Event()
    holder = asyncio.create_task(
        vote(world, poll_id, holding[0], answers[holding[0]], locked=held, go=release_holder)
    )
    await asyncio.wait_for(held.wait(), 10)
    queued = [
        asyncio.create_task(vote(world, poll_id, user_id, answers[user_id]))
        for user_id in holding[1:]
    ]

    async def voters_queue() -> bool:
        return await waiting_for_locks(pg_engine) == len(queued)

    await until(voters_queue, "the other voters wait for the holder's lock")

    # 3.
    finalize_locked = asyncio.Event()
    commit_finalize = asyncio.Event()
    seen: dict[str, object] = {}

    async def finalize() -> datetime:
        async with world.uow() as uow:
            current = await uow.polls.get(poll_id, lock="update")
            assert current is not None
            seen["votes"] = {u: dict(v) for u, v in current.votes.items()}
            finalize_locked.set()
            await commit_finalize.wait()
            at = datetime.now(UTC)
            current.finalize(chosen, override=True)
            await uow.polls.save(current, at)
            await uow.commit()
        return at

    finalizing = asyncio.create_task(finalize())

    async def finalize_waits() -> bool:
        return await waiting_for_locks(pg_engine) == len(queued) + 1

    await until(finalize_waits, "the finalize waits behind the voters")
    assert not finalize_locked.is_set()

    # 4.
    release_holder.set()
    held_at = await asyncio.wait_for(asyncio.gather(holder, *queued), 10)
    await asyncio.wait_for(finalize_locked.wait(), 10)
    assert seen["votes"] == {u: answers[u] for u in [*before, *holding]}

    # 5.
    late = [
        asyncio.create_task(vote(world, poll_id, user_id, answers[user_id])) for user_id in after
    ]

    async def late_voters_wait() -> bool:
        return await waiting_for_locks(pg_engine) == len(after)

    await until(late_voters_wait, "the late voters wait for the finalize")

    # 6.
    commit_finalize.set()
    finalized_at = await asyncio.wait_for(finalizing, 10)
    outcomes = await asyncio.wait_for(asyncio.gather(*late, return_exceptions=True), 10)
    assert all(isinstance(o, DomainError) and o.code == "error.poll_closed" for o in outcomes), (
        outcomes
    )

    assert max(held_at) < finalized_at
    final = await load(world, poll_id)
    assert final.state is PollState.FINALIZED and final.chosen_slot_id == chosen
    # Exactly the votes the finalize saw are stored; none is newer than the finalize.
    assert final.votes == seen["votes"]
    async with world.sessions() as session:
        newest, closed_at = (
            await session.execute(
                select(func.max(poll_votes.c.updated_at), polls.c.updated_at)
                .select_from(polls.join(poll_votes, poll_votes.c.poll_id == polls.c.id))
                .where(polls.c.id == poll_id)
                .group_by(polls.c.updated_at)
            )
        ).one()
    assert closed_at == finalized_at
    assert newest < closed_at


# --- the ballot box: votes that arrive together, on both databases ---------------------------


class FixedClock:
    def now(self) -> datetime:
        return NOW


async def voted_audits(world: World) -> int:
    async with world.sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(audit_events)
            .where(audit_events.c.action == "poll.voted")
        )
    return int(found or 0)


async def test_50_invitees_voting_at_once_share_one_transaction_and_lose_no_vote(
    engine: AsyncEngine,
) -> None:
    world = await seed(session_factory(engine), members=50)
    poll = await add_poll(world, new_poll(world))
    assert poll.id is not None
    box = BallotBox(uow_factory=world.uow, clock=FixedClock())
    expected = {user_id: all_slots(poll, n) for n, user_id in enumerate(world.members)}

    outcomes = await asyncio.gather(
        *(box.cast(Ballot(user_id, poll.id, answers)) for user_id, answers in expected.items())
    )

    assert box.batches == 1
    assert (await load(world, poll.id)).votes == expected
    assert len(await vote_rows(world, poll.id)) == 50 * 3
    assert await voted_audits(world) == 50
    # Every voter's card shows their own answers, and the poll as the batch left it.
    for (user_id, answers), outcome in zip(expected.items(), outcomes, strict=True):
        assert outcome.poll.votes[user_id] == answers
        assert outcome.poll.everyone_answered()
    async with world.sessions() as session:
        told = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.kind == "poll.everyone_answered")
        )
    assert told == 1


async def test_a_refused_ballot_changes_nothing_and_does_not_stop_the_others(
    world: World,
) -> None:
    poll = await add_poll(world, new_poll(world, invitees=2))
    other = await add_poll(world, new_poll(world, invitees=2))
    assert poll.id is not None and other.id is not None
    first, second, stranger = world.members
    slot = poll.slots[0].id
    foreign_slot = other.slots[0].id
    assert slot is not None and foreign_slot is not None
    box = BallotBox(uow_factory=world.uow, clock=FixedClock())

    results = await asyncio.gather(
        box.cast(Ballot(first, poll.id, {slot: Answer.YES})),
        box.cast(Ballot(stranger, poll.id, {slot: Answer.YES})),
        box.cast(Ballot(second, poll.id, {foreign_slot: Answer.NO})),
        box.cast(Ballot(first, 999_999, {slot: Answer.NO})),
        box.cast(Ballot(second, poll.id, {slot: Answer.NO})),
        return_exceptions=True,
    )

    assert box.batches == 1
    refused = [r.code if isinstance(r, DomainError) else "ok" for r in results]
    assert refused == ["ok", "error.not_invited", "error.invalid_input", "error.not_found", "ok"]
    assert await vote_rows(world, poll.id) == [(first, slot, "yes"), (second, slot, "no")]
    assert await vote_rows(world, other.id) == []
    assert await voted_audits(world) == 2


async def test_the_same_invitee_twice_in_one_batch_keeps_the_later_answer(world: World) -> None:
    poll = await add_poll(world, new_poll(world))
    assert poll.id is not None
    voter = world.members[0]
    early, middle = (s.id for s in poll.slots[:2])
    assert early is not None and middle is not None
    box = BallotBox(uow_factory=world.uow, clock=FixedClock())

    _, later = await asyncio.gather(
        box.cast(Ballot(voter, poll.id, {early: Answer.YES, middle: Answer.YES})),
        box.cast(Ballot(voter, poll.id, {early: Answer.NO})),
    )

    assert box.batches == 1
    assert later.poll.votes[voter] == {early: Answer.NO, middle: Answer.YES}
    assert await vote_rows(world, poll.id) == sorted([(voter, early, "no"), (voter, middle, "yes")])


class FailingCommit(SqlAlchemyUnitOfWork):
    async def commit(self) -> None:
        raise ConnectionResetError("the database went away")


async def test_a_batch_that_fails_tells_every_voter_and_writes_nothing(world: World) -> None:
    poll = await add_poll(world, new_poll(world))
    assert poll.id is not None
    slot = poll.slots[0].id
    assert slot is not None
    box = BallotBox(uow_factory=lambda: FailingCommit(world.sessions), clock=FixedClock())

    results = await asyncio.gather(
        *(box.cast(Ballot(user_id, poll.id, {slot: Answer.YES})) for user_id in world.members),
        return_exceptions=True,
    )

    assert [type(r) for r in results] == [ConnectionResetError] * len(world.members)
    assert await vote_rows(world, poll.id) == []
    assert await voted_audits(world) == 0
    # The box is not stuck: the next vote is written.
    working = BallotBox(uow_factory=world.uow, clock=FixedClock())
    await working.cast(Ballot(world.members[0], poll.id, {slot: Answer.YES}))
    assert await vote_rows(world, poll.id) == [(world.members[0], slot, "yes")]


async def test_a_voter_who_stops_waiting_does_not_stop_the_batch(world: World) -> None:
    poll = await add_poll(world, new_poll(world))
    assert poll.id is not None
    slot = poll.slots[0].id
    assert slot is not None
    first, second = world.members[:2]
    box = BallotBox(uow_factory=world.uow, clock=FixedClock())

    gone = asyncio.ensure_future(box.cast(Ballot(first, poll.id, {slot: Answer.YES})))
    staying = asyncio.ensure_future(box.cast(Ballot(second, poll.id, {slot: Answer.NO})))
    await asyncio.sleep(0)  # both ballots are in the box
    gone.cancel()
    outcome = await staying

    assert outcome.poll.votes[second] == {slot: Answer.NO}
    assert await vote_rows(world, poll.id) == sorted([(first, slot, "yes"), (second, slot, "no")])


async def test_a_steady_stream_of_votes_does_not_starve_other_turns(engine: AsyncEngine) -> None:
    # On SQLite the app has one database connection: the box must hand it over between
    # batches, or a turn that is not a vote waits for as long as votes keep coming.
    world = await seed(session_factory(engine), members=8)
    poll = await add_poll(world, new_poll(world))
    assert poll.id is not None
    poll_id = poll.id
    slot = poll.slots[0].id
    assert slot is not None
    # Small batches: votes keep arriving while each batch is written, as under load.
    box = BallotBox(uow_factory=world.uow, clock=FixedClock(), max_batch=2)
    stop = asyncio.Event()

    async def keep_voting(user_id: int) -> None:
        k = 0
        while not stop.is_set():
            await box.cast(Ballot(user_id, poll_id, {slot: list(Answer)[k % 3]}))
            k += 1

    voters = [asyncio.create_task(keep_voting(user_id)) for user_id in world.members]
    try:
        await until(lambda: asyncio.sleep(0, box.batches >= 3), "votes flow")
        started = box.batches
        await asyncio.wait_for(record_user(world.uow(), ref(99), NOW), timeout=10)
        if engine.dialect.name == "sqlite":
            # One connection: the turn got it within a few batches. (PostgreSQL's pool
            # never makes it wait for the box; there the count only measures CPU load.)
            assert box.batches - started <= 3, "the other turn waited for many batches"
    finally:
        stop.set()
        await asyncio.gather(*voters)
    async with world.uow() as uow:
        assert await uow.users.by_teams_id(ref(99).teams_user_id) is not None
