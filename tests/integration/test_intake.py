"""Requests and triage (SPEC §2.1, §2.2, §2.6, §5) against real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import finnish_calendar
from consultations import intake, services
from consultations.calendar import BusinessCalendar
from consultations.consultation import CaseStatus, Consultation, DeclineRoute
from consultations.errors import Conflict, DomainError, IdentityCodeRefused, InvalidInput
from consultations.model import TeamInstallation, User, UserRef
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.tables import (
    audit_events,
    case_counters,
    case_notes,
    case_transitions,
    consultations,
    metadata,
    outbox,
)
from storage.uow import SqlAlchemyUnitOfWork

HELSINKI = ZoneInfo("Europe/Helsinki")
# Monday 23.11.2026 10:00 in Helsinki: an ordinary working day.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=HELSINKI)
TENANT = "11111111-2222-3333-4444-555555555555"
ADMIN_AAD = "00000000-0000-0000-0000-000000000004"
HETU = "131052-308T"
CALENDAR: BusinessCalendar = finnish_calendar()

BASICS = {
    "client_reference": "AB-1980",
    "consent": "obtained",
    "consent_date": "2026-11-02",
}
QUESTION = {
    "question": "Mikä tukisi paluuta työelämään?",
    "situation": "Pitkä sairausloma, kuntoutus kesken.",
    "self_rating": "4",
}
MORE = {
    "services": "kela,typ",
    "barriers": ["person.pain", "environment.long_distances"],
    "professions": "physician,social_worker",
    "client_attends": "yes",
    "urgency": "normal",
}


def hel(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HELSINKI)


def ref(n: int) -> UserRef:
    return UserRef(
        teams_user_id=f"29:user-{n}",
        aad_object_id=f"00000000-0000-0000-0000-{n:012d}",
        name=f"User {n}",
        locale="fi-FI",
        tenant_id=TENANT,
        service_url="https://smba.example/emea/",
        bot_id="28:bot",
    )


def installation(key: str, name: str, roster: tuple[UserRef, ...]) -> TeamInstallation:
    return TeamInstallation(
        teams_team_id=f"19:{key}@thread.tacv2",
        name=name,
        tenant_id=TENANT,
        service_url="https://smba.example/emea/",
        general_channel_id=f"19:{key}@thread.tacv2",
        channels=((f"19:{key}@thread.tacv2", "General"),),
        roster=roster,
    )


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    team: int
    other_team: int
    coordinator: User
    second_coordinator: User
    requester: User
    member: User
    other_coordinator: User

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.sessions)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


async def seed(sessions: async_sessionmaker[AsyncSession]) -> World:
    """Team North: coordinators 1 and 4, requester 2, member 3. Team South: coordinator 5."""

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(sessions)

    earlier = NOW - timedelta(days=30)
    team, coordinator, _ = await services.record_team_installation(
        uow(),
        installation("north", "Työkykytiimi Pohjoinen", (ref(2), ref(3), ref(4))),
        ref(1),
        earlier,
    )
    south, other_coordinator, _ = await services.record_team_installation(
        uow(), installation("south", "Työkykytiimi Etelä", ()), ref(5), earlier
    )
    assert coordinator is not None and other_coordinator is not None
    await services.claim_coordinator(uow(), coordinator.id, team.id, frozenset(), earlier)
    await services.claim_coordinator(uow(), other_coordinator.id, south.id, frozenset(), earlier)
    async with uow() as u:
        requester = await u.users.by_teams_id("29:user-2")
        member = await u.users.by_teams_id("29:user-3")
        second = await u.users.by_teams_id("29:user-4")
    assert requester is not None and member is not None and second is not None
    # An admin may take the role in a team that has a coordinator already.
    await services.claim_coordinator(uow(), second.id, team.id, frozenset({ADMIN_AAD}), earlier)
    return World(
        sessions, team.id, south.id, coordinator, second, requester, member, other_coordinator
    )


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return await seed(session_factory(engine))


async def dump(sessions: async_sessionmaker[AsyncSession], *tables: Any) -> dict[str, list[Any]]:
    """Every row of the given tables (all of them by default), in a stable order."""
    chosen = tables or tuple(metadata.sorted_tables)
    found: dict[str, list[Any]] = {}
    async with sessions() as session:
        for table in chosen:
            order = list(table.primary_key.columns)
            rows = await session.execute(select(table).order_by(*order))
            found[table.name] = [tuple(row) for row in rows]
    return found


async def messages(world: World, case_id: int) -> list[dict[str, Any]]:
    async with world.sessions() as session:
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).mappings()
        return [dict(r) for r in rows if r["payload"].get("case_id") == case_id]


def of_kind(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["kind"] == kind]


async def draft(world: World, now: datetime = NOW, **extra: Any) -> Consultation:
    """A complete draft of the requester, saved page by page."""
    case = await intake.start_request(world.uow(), world.requester.id, BASICS, "basics", now)
    assert case.id is not None
    for page, values in (("question", QUESTION), ("more", {**MORE, **extra})):
        case = await intake.update_draft(
            world.uow(), world.requester.id, case.id, values, page, now
        )
    return case


async def submitted(world: World, now: datetime = NOW) -> Consultation:
    case = await draft(world, now)
    assert case.id is not None
    return await intake.submit_request(world.uow(), world.requester.id, case.id, now, CALENDAR)


async def stored(world: World, case_id: int) -> Consultation:
    async with world.uow() as uow:
        case = await uow.consultations.get(case_id)
    assert case is not None
    return case


# --- request --------------------------------------------------------------------------------


async def test_a_request_is_drafted_page_by_page_and_submitted_with_a_case_number(
    world: World,
) -> None:
    case = await intake.start_request(world.uow(), world.requester.id, BASICS, "basics", NOW)
    assert case.id is not None
    assert case.status is CaseStatus.DRAFT and case.case_number is None
    assert case.details.team_id == world.team  # the requester's own team by default
    assert case.details.client_reference == "AB-1980"

    await intake.update_draft(world.uow(), world.requester.id, case.id, QUESTION, "question", NOW)
    saved = await intake.update_draft(world.uow(), world.requester.id, case.id, MORE, "more", NOW)
    assert saved.draft_page == "more"

    resumed = await intake.open_draft(world.uow(), world.requester.id, case.id, NOW)
    assert resumed.details == saved.details
    assert resumed.details.client_reference == "AB-1980"
    assert resumed.details.self_rating == 4
    assert {s.value for s in resumed.details.services} == {"kela", "typ"}
    assert resumed.details.client_attends is True

    done = await intake.submit_request(world.uow(), world.requester.id, case.id, NOW, CALENDAR)
    assert done.case_number == "TK-2026-0001"
    assert done.status is CaseStatus.SUBMITTED
    again = await stored(world, case.id)
    assert again.case_number == "TK-2026-0001"
    assert again.status is CaseStatus.SUBMITTED
    assert again.submitted_at == NOW
    assert [(t.from_status, t.to_status, t.actor_user_id) for t in again.history] == [
        (None, CaseStatus.DRAFT, world.requester.id),
        (CaseStatus.DRAFT, CaseStatus.SUBMITTED, world.requester.id),
    ]

    second = await submitted(world, NOW + timedelta(minutes=5))
    assert second.case_number == "TK-2026-0002"


async def test_a_new_request_with_nothing_in_it_leaves_no_draft(world: World) -> None:
    before = await dump(world.sessions)
    # Only the team it defaults to, or nothing at all: nothing worth keeping.
    for values in ({}, {"team_id": str(world.team)}, {"client_reference": "  "}):
        with pytest.raises(DomainError) as refused:
            await intake.start_request(world.uow(), world.requester.id, values, "basics", NOW)
        assert refused.value.code == "error.draft_empty"
    assert await dump(world.sessions) == before
    assert (
        await intake.my_requests(world.uow(), world.requester.id, NOW, drafts=True, limit=25)
    ).page.items == []
    # What a new request starts with is read, not stored.
    defaults = await intake.request_defaults(world.uow(), world.requester.id)
    assert defaults.team_id == world.team and not defaults.has_content()


async def test_the_case_number_takes_the_year_in_helsinki(world: World) -> None:
    # 31.12.2026 23:30 UTC is already 1.1.2027 in Helsinki.
    case = await submitted(world, datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    assert case.case_number == "TK-2027-0001"


async def test_an_incomplete_draft_is_not_submitted_and_nothing_changes(world: World) -> None:
    case = await intake.start_request(world.uow(), world.requester.id, BASICS, "basics", NOW)
    assert case.id is not None
    await intake.update_draft(
        world.uow(), world.requester.id, case.id, {"consent": "not_yet"}, "basics", NOW
    )
    before = await dump(world.sessions)

    for values in ({}, {**QUESTION, "consent": "not_yet"}):
        if values:
            await intake.update_draft(world.uow(), world.requester.id, case.id, values, "q", NOW)
            before = await dump(world.sessions)
        with pytest.raises(DomainError) as refused:
            await intake.submit_request(world.uow(), world.requester.id, case.id, NOW, CALENDAR)
        assert refused.value.code == "error.request_incomplete"
        assert await dump(world.sessions) == before
    assert (await stored(world, case.id)).status is CaseStatus.DRAFT


async def test_an_urgent_request_needs_its_timeframe(world: World) -> None:
    case = await draft(world, urgency="urgent")
    assert case.id is not None
    with pytest.raises(DomainError, match=r"error\.request_incomplete"):
        await intake.submit_request(world.uow(), world.requester.id, case.id, NOW, CALENDAR)
    await intake.update_draft(
        world.uow(), world.requester.id, case.id, {"urgent_timeframe": "2 viikkoa"}, "more", NOW
    )
    done = await intake.submit_request(world.uow(), world.requester.id, case.id, NOW, CALENDAR)
    assert done.status is CaseStatus.SUBMITTED


async def test_a_draft_pointing_at_a_team_that_does_not_exist_is_refused(world: World) -> None:
    case = await draft(world)
    assert case.id is not None
    before = await dump(world.sessions)
    with pytest.raises(InvalidInput):
        await intake.update_draft(
            world.uow(), world.requester.id, case.id, {"team_id": 999_999}, "basics", NOW
        )
    assert await dump(world.sessions) == before


async def test_todays_consent_date_is_accepted_just_after_midnight_in_helsinki(
    world: World,
) -> None:
    case = await intake.start_request(world.uow(), world.requester.id, BASICS, "basics", NOW)
    assert case.id is not None
    just_after_midnight = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 24.11. 01:30 Helsinki
    saved = await intake.update_draft(
        world.uow(),
        world.requester.id,
        case.id,
        {"consent": "obtained", "consent_date": "2026-11-24"},
        "basics",
        just_after_midnight,
    )
    assert saved.details.consent_date is not None


# --- triage and reminders ---------------------------------------------------------------------


async def test_coordinators_get_the_request_now_a_reminder_in_2_and_an_escalation_in_5_days(
    world: World,
) -> None:
    case = await submitted(world)
    assert case.id is not None
    rows = await messages(world, case.id)
    coordinators = {str(world.coordinator.id), str(world.second_coordinator.id)}

    requests = of_kind(rows, "triage.request")
    reminders = of_kind(rows, "triage.reminder")
    escalations = of_kind(rows, "triage.escalation")
    assert {r["recipient_id"] for r in requests} == coordinators
    assert {r["recipient_id"] for r in reminders} == coordinators
    assert {r["recipient_id"] for r in escalations} == coordinators
    assert all(r["due_at"] == NOW for r in requests)
    assert all(r["due_at"] == hel(2026, 11, 25) for r in reminders)  # Wednesday 10:00
    assert all(r["due_at"] == hel(2026, 11, 30) for r in escalations)  # next Monday 10:00
    assert all(r["status"] == "pending" for r in rows)
    assert all(r["team_id"] == world.team for r in rows)
    assert len(rows) == 6
    # Nobody outside the team's coordinators is told.
    assert all(r["recipient_id"] in coordinators for r in rows)


async def test_a_request_submitted_after_hours_is_reminded_from_the_next_working_morning(
    world: World,
) -> None:
    friday_evening = hel(2026, 11, 27, 18)
    case = await submitted(world, friday_evening)
    assert case.id is not None
    rows = await messages(world, case.id)
    # Friday 18:00 counts from Monday 08:00: + 2 is Wednesday 08:00, + 5 the next Monday.
    assert {r["due_at"] for r in of_kind(rows, "triage.reminder")} == {hel(2026, 12, 2, 8)}
    assert {r["due_at"] for r in of_kind(rows, "triage.escalation")} == {hel(2026, 12, 7, 8)}


async def test_the_question_and_answer_loop_moves_the_reminders_along(world: World) -> None:
    case = await submitted(world)
    assert case.id is not None
    first_round = {r["idempotency_key"] for r in await messages(world, case.id)}

    tuesday = hel(2026, 11, 24, 9, 15)
    asked = await intake.ask_for_information(
        world.uow(),
        world.coordinator.id,
        case.id,
        "  Onko Kelan päätös tullut?  ",
        tuesday,
        CALENDAR,
    )
    assert asked.status is CaseStatus.NEEDS_INFO
    assert asked.pending_question == "Onko Kelan päätös tullut?"
    rows = await messages(world, case.id)
    for kind in ("triage.reminder", "triage.escalation"):
        assert {r["status"] for r in of_kind(rows, kind)} == {"cancelled"}
    [question] = of_kind(rows, "case.question")
    [reminder] = of_kind(rows, "question.reminder")
    assert question["recipient_id"] == reminder["recipient_id"] == str(world.requester.id)
    assert question["due_at"] == tuesday and question["status"] == "pending"
    assert reminder["due_at"] == hel(2026, 11, 27, 9, 15)  # + 3 working days: Friday
    assert reminder["status"] == "pending"

    wednesday = hel(2026, 11, 25, 14)
    answered = await intake.answer_question(
        world.uow(), world.requester.id, case.id, "Päätös tuli, kielteinen.", wednesday, CALENDAR
    )
    assert answered.status is CaseStatus.SUBMITTED
    assert answered.pending_question == ""
    rows = await messages(world, case.id)
    assert {r["status"] for r in of_kind(rows, "question.reminder")} == {"cancelled"}
    new_round = [r for r in rows if r["idempotency_key"] not in first_round]
    second = [r for r in new_round if r["kind"].startswith("triage.")]
    assert len(second) == 6
    assert all(r["status"] == "pending" for r in second)
    assert {r["due_at"] for r in of_kind(second, "triage.request")} == {wednesday}
    assert {r["due_at"] for r in of_kind(second, "triage.reminder")} == {hel(2026, 11, 27, 14)}
    assert {r["due_at"] for r in of_kind(second, "triage.escalation")} == {hel(2026, 12, 2, 14)}

    viewed, requester_name, team_name, notes = await intake.view_for_triage(
        world.uow(), world.second_coordinator.id, case.id, wednesday
    )
    assert viewed.status is CaseStatus.SUBMITTED
    assert requester_name == "User 2" and team_name == "Työkykytiimi Pohjoinen"
    assert [(kind, text) for kind, text, _ in notes] == [
        ("question", "Onko Kelan päätös tullut?"),
        ("answer", "Päätös tuli, kielteinen."),
    ]

    # The loop may repeat: a second question gets keys of its own.
    await intake.ask_for_information(
        world.uow(), world.coordinator.id, case.id, "Entä TE-palvelut?", wednesday, CALENDAR
    )
    rows = await messages(world, case.id)
    assert len(of_kind(rows, "case.question")) == 2
    assert [r["status"] for r in of_kind(rows, "question.reminder")] == ["cancelled", "pending"]
    assert all(r["status"] == "cancelled" for r in of_kind(rows, "triage.reminder"))


async def test_accepting_stops_the_triage_reminders_and_tells_the_requester(world: World) -> None:
    case = await submitted(world)
    assert case.id is not None
    later = NOW + timedelta(hours=2)
    accepted = await intake.accept_request(world.uow(), world.second_coordinator.id, case.id, later)
    assert accepted.status is CaseStatus.ACCEPTED
    rows = await messages(world, case.id)
    for kind in ("triage.reminder", "triage.escalation"):
        assert {r["status"] for r in of_kind(rows, kind)} == {"cancelled"}
    [told] = of_kind(rows, "case.accepted")
    assert told["recipient_id"] == str(world.requester.id)
    assert told["due_at"] == later and told["status"] == "pending"
    history = (await stored(world, case.id)).history
    assert (history[-1].from_status, history[-1].to_status, history[-1].actor_user_id) == (
        CaseStatus.SUBMITTED,
        CaseStatus.ACCEPTED,
        world.second_coordinator.id,
    )
    assert history[-1].at == later

    # Decided is decided: a second decision is an illegal transition and changes nothing.
    before = await dump(world.sessions)
    with pytest.raises(DomainError, match=r"error\.illegal_transition"):
        await intake.decline_request(
            world.uow(), world.coordinator.id, case.id, "Ei sittenkään", "kela", later
        )
    assert await dump(world.sessions) == before


async def test_declining_tells_the_requester_the_reason_and_the_route(world: World) -> None:
    case = await submitted(world)
    assert case.id is not None
    await intake.ask_for_information(
        world.uow(), world.coordinator.id, case.id, "Kuka hoitaa nyt?", NOW, CALENDAR
    )
    declined = await intake.decline_request(
        world.uow(),
        world.coordinator.id,
        case.id,
        "Kuuluu työterveyshuollolle",
        "other_team",
        NOW + timedelta(hours=1),
    )
    assert declined.status is CaseStatus.DECLINED
    again = await stored(world, case.id)
    assert again.decline_reason == "Kuuluu työterveyshuollolle"
    assert again.decline_route is DeclineRoute.OTHER_TEAM
    assert again.pending_question == ""
    rows = await messages(world, case.id)
    [told] = of_kind(rows, "case.declined")
    assert told["recipient_id"] == str(world.requester.id) and told["status"] == "pending"
    assert {r["status"] for r in rows if r["subject"]} == {"cancelled"}


async def test_a_decline_needs_a_reason_and_a_known_route(world: World) -> None:
    case = await submitted(world)
    assert case.id is not None
    before = await dump(world.sessions)
    for reason, route, error in (
        ("", "kela", "error.reason_required"),
        ("   ", "kela", "error.reason_required"),
        (None, "kela", "error.reason_required"),
        (["x"], "kela", "error.reason_required"),
        ("x" * 2001, "kela", "error.field_too_long"),
        ("Syy", "mars", "error.invalid_input"),
        ("Syy", ["kela"], "error.invalid_input"),
    ):
        with pytest.raises(DomainError) as refused:
            await intake.decline_request(
                world.uow(), world.coordinator.id, case.id, reason, route, NOW
            )
        assert refused.value.code == error, (reason, route)
    assert await dump(world.sessions) == before


async def test_withdrawing_cancels_every_pending_reminder_and_tells_the_coordinators(
    world: World,
) -> None:
    case = await submitted(world)
    assert case.id is not None
    await intake.ask_for_information(
        world.uow(), world.coordinator.id, case.id, "Tarkennus?", NOW, CALENDAR
    )
    later = NOW + timedelta(hours=3)
    withdrawn = await intake.withdraw_request(world.uow(), world.requester.id, case.id, later)
    assert withdrawn.status is CaseStatus.WITHDRAWN
    again = await stored(world, case.id)
    assert again.status is CaseStatus.WITHDRAWN and again.pending_question == ""
    rows = await messages(world, case.id)
    reminders = [r for r in rows if r["subject"]]
    assert reminders and {r["status"] for r in reminders} == {"cancelled"}
    told = of_kind(rows, "case.withdrawn")
    assert {r["recipient_id"] for r in told} == {
        str(world.coordinator.id),
        str(world.second_coordinator.id),
    }
    assert all(r["due_at"] == later and r["status"] == "pending" for r in told)
    # A triage card still pending is no longer sent to the coordinators.
    for row in rows:
        if row["status"] == "pending" and not row["kind"].startswith("case."):
            assert not intake.still_relevant(row["kind"], again), row["kind"]

    with pytest.raises(DomainError, match=r"error\.case_not_editable"):
        await intake.withdraw_request(world.uow(), world.requester.id, case.id, later)


async def test_a_discarded_draft_is_gone_from_the_lists(world: World) -> None:
    case = await draft(world)
    assert case.id is not None
    await intake.discard_draft(world.uow(), world.requester.id, case.id, NOW)
    assert (await stored(world, case.id)).status is CaseStatus.WITHDRAWN
    assert (
        await intake.my_requests(world.uow(), world.requester.id, NOW, drafts=True, limit=25)
    ).page.items == []
    assert (
        await intake.my_requests(world.uow(), world.requester.id, NOW, drafts=False, limit=25)
    ).page.items == []
    assert await messages(world, case.id) == []


async def test_answering_without_a_pending_question_is_refused(world: World) -> None:
    case = await submitted(world)
    assert case.id is not None
    async with world.sessions() as session:
        await session.execute(
            update(consultations)
            .where(consultations.c.id == case.id)
            .values(status=CaseStatus.FOLLOW_UP.value)
        )
        await session.commit()
    before = await dump(world.sessions)
    with pytest.raises(DomainError):
        await intake.answer_question(
            world.uow(), world.requester.id, case.id, "Vastaus", NOW, CALENDAR
        )
    assert await dump(world.sessions) == before


async def test_answering_a_submitted_case_is_refused_and_changes_nothing(world: World) -> None:
    case = await submitted(world)
    assert case.id is not None
    before = await dump(world.sessions)
    with pytest.raises(DomainError, match=r"error\.no_question_pending"):
        await intake.answer_question(
            world.uow(), world.requester.id, case.id, "Vastaus", NOW, CALENDAR
        )
    assert await dump(world.sessions) == before


# --- authorisation ---------------------------------------------------------------------------


async def test_nobody_but_the_requester_touches_a_request(world: World) -> None:
    case = await draft(world)
    assert case.id is not None
    stranger = world.member.id
    before = await dump(world.sessions)
    attempts = [
        intake.update_draft(world.uow(), stranger, case.id, {"question": "Muutettu"}, "q", NOW),
        intake.open_draft(world.uow(), stranger, case.id, NOW),
        intake.submit_request(world.uow(), stranger, case.id, NOW, CALENDAR),
        intake.discard_draft(world.uow(), stranger, case.id, NOW),
        intake.withdraw_request(world.uow(), stranger, case.id, NOW),
        # Coordinators do not write the request either.
        intake.update_draft(
            world.uow(), world.coordinator.id, case.id, {"question": "x"}, "q", NOW
        ),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as refused:
            await attempt
        assert refused.value.code == "error.not_requester"
        assert await dump(world.sessions) == before

    done = await intake.submit_request(world.uow(), world.requester.id, case.id, NOW, CALENDAR)
    assert done.id is not None
    await intake.ask_for_information(
        world.uow(), world.coordinator.id, done.id, "Kysymys?", NOW, CALENDAR
    )
    before = await dump(world.sessions)
    for attempt in (
        intake.withdraw_request(world.uow(), stranger, done.id, NOW),
        intake.answer_question(world.uow(), stranger, done.id, "Vastaan", NOW, CALENDAR),
        intake.answer_question(world.uow(), world.coordinator.id, done.id, "Minä", NOW, CALENDAR),
    ):
        with pytest.raises(DomainError) as refused:
            await attempt
        assert refused.value.code == "error.not_requester"
        assert await dump(world.sessions) == before


@pytest.mark.parametrize("who", ["member", "requester", "other_coordinator"])
async def test_only_a_coordinator_of_the_cases_team_triages_it(world: World, who: str) -> None:
    actor: User = getattr(world, who)
    case = await submitted(world)
    assert case.id is not None
    before = await dump(world.sessions, consultations, case_transitions, case_notes, outbox)
    before_all = await dump(world.sessions)
    attempts = [
        intake.accept_request(world.uow(), actor.id, case.id, NOW),
        intake.ask_for_information(world.uow(), actor.id, case.id, "Miksi?", NOW, CALENDAR),
        intake.decline_request(world.uow(), actor.id, case.id, "Ei meille", "kela", NOW),
        intake.view_for_triage(world.uow(), actor.id, case.id, NOW),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as refused:
            await attempt
        assert refused.value.code == "error.not_coordinator"
        after = await dump(world.sessions, consultations, case_transitions, case_notes, outbox)
        assert after == before
        assert await dump(world.sessions) == before_all
    assert (await stored(world, case.id)).status is CaseStatus.SUBMITTED
    if who != "other_coordinator":
        with pytest.raises(DomainError, match=r"error\.not_coordinator"):
            await intake.triage_queue(world.uow(), actor.id, NOW, CALENDAR, limit=25)


async def test_an_unknown_case_is_not_found(world: World) -> None:
    with pytest.raises(DomainError, match=r"error\.not_found"):
        await intake.accept_request(world.uow(), world.coordinator.id, 987_654, NOW)
    with pytest.raises(DomainError, match=r"error\.not_found"):
        await intake.update_draft(world.uow(), world.requester.id, 987_654, {}, "x", NOW)


async def test_a_coordinator_cannot_read_a_draft_that_was_never_submitted(world: World) -> None:
    case = await draft(world)
    assert case.id is not None
    with pytest.raises(DomainError):
        await intake.view_for_triage(world.uow(), world.coordinator.id, case.id, NOW)


# --- privacy ---------------------------------------------------------------------------------


async def test_an_identity_code_is_refused_everywhere_and_stored_nowhere(world: World) -> None:
    case = await draft(world)
    assert case.id is not None
    before = await dump(world.sessions)
    for field in ("client_reference", "question", "situation", "goals", "urgent_timeframe"):
        for text in (HETU, f"asiakas {HETU.lower()} kotona"):
            with pytest.raises(IdentityCodeRefused):
                await intake.update_draft(
                    world.uow(), world.requester.id, case.id, {field: text[:40]}, "p", NOW
                )
    assert await dump(world.sessions) == before

    done = await intake.submit_request(world.uow(), world.requester.id, case.id, NOW, CALENDAR)
    assert done.id is not None
    for question in (f"Onko tämä {HETU}?", HETU.lower()):
        with pytest.raises(IdentityCodeRefused):
            await intake.ask_for_information(
                world.uow(), world.coordinator.id, done.id, question, NOW, CALENDAR
            )
    with pytest.raises(IdentityCodeRefused):
        await intake.decline_request(
            world.uow(), world.coordinator.id, done.id, f"Hetu {HETU}", "kela", NOW
        )
    await intake.ask_for_information(
        world.uow(), world.coordinator.id, done.id, "Syntymävuosi?", NOW, CALENDAR
    )
    for answer in (f"Se on {HETU}", f"{HETU.lower()}."):
        with pytest.raises(IdentityCodeRefused):
            await intake.answer_question(
                world.uow(), world.requester.id, done.id, answer, NOW, CALENDAR
            )

    everything = str(await dump(world.sessions)).upper()
    assert HETU not in everything
    assert HETU[:6] + HETU[7:] not in everything.replace("-", "")
    assert (await stored(world, done.id)).status is CaseStatus.NEEDS_INFO


# --- audit -----------------------------------------------------------------------------------


async def test_every_change_and_read_is_audited_with_its_actor(world: World) -> None:
    case = await intake.start_request(world.uow(), world.requester.id, BASICS, "basics", NOW)
    assert case.id is not None
    await intake.update_draft(world.uow(), world.requester.id, case.id, QUESTION, "q", NOW)
    await intake.open_draft(world.uow(), world.requester.id, case.id, NOW)
    await intake.submit_request(world.uow(), world.requester.id, case.id, NOW, CALENDAR)
    await intake.view_for_triage(world.uow(), world.coordinator.id, case.id, NOW)
    await intake.ask_for_information(
        world.uow(), world.coordinator.id, case.id, "K?", NOW, CALENDAR
    )
    await intake.answer_question(world.uow(), world.requester.id, case.id, "V.", NOW, CALENDAR)
    await intake.accept_request(world.uow(), world.second_coordinator.id, case.id, NOW)
    await intake.my_requests(world.uow(), world.requester.id, NOW, drafts=False, limit=25)
    await intake.triage_queue(world.uow(), world.coordinator.id, NOW, CALENDAR, limit=25)

    async with world.sessions() as session:
        rows = list(
            (
                await session.execute(
                    select(audit_events)
                    .where(audit_events.c.subject_type.in_(["consultation", "user", "team"]))
                    .where(audit_events.c.action.like("consultation.%"))
                    .order_by(audit_events.c.id)
                )
            ).mappings()
        )
    r, c, c2 = world.requester.id, world.coordinator.id, world.second_coordinator.id
    assert [(row["action"], row["actor_user_id"]) for row in rows] == [
        ("consultation.draft_started", r),
        ("consultation.draft_saved", r),
        ("consultation.viewed", r),
        ("consultation.submitted", r),
        ("consultation.viewed", c),
        ("consultation.asked", c),
        ("consultation.answered", r),
        ("consultation.accepted", c2),
        ("consultation.listed_own", r),
        ("consultation.queue_viewed", c),
    ]
    about_case = [row for row in rows if row["subject_type"] == "consultation"]
    assert all(row["subject_id"] == str(case.id) for row in about_case)
    assert all(row["team_id"] == world.team for row in about_case)
    assert rows[-1]["subject_id"] == str(world.team)
    assert rows[0]["details"]["fields"] == sorted(BASICS)
    # Ids and codes only: no free text from the cards.
    text = str([row["details"] for row in rows])
    for free in ("AB-1980", "Mikä tukisi", "K?", "V."):
        assert free not in text


# --- lists -----------------------------------------------------------------------------------


async def test_my_requests_lists_submitted_ones_and_drafts_separately(world: World) -> None:
    first = await submitted(world, NOW)
    second = await submitted(world, NOW + timedelta(hours=1))
    unfinished = await intake.start_request(
        world.uow(), world.requester.id, BASICS, "basics", NOW + timedelta(hours=2)
    )
    assert second.id is not None
    await intake.withdraw_request(world.uow(), world.requester.id, second.id, NOW)
    someone_elses = await intake.start_request(world.uow(), world.member.id, BASICS, "basics", NOW)

    mine = (
        await intake.my_requests(world.uow(), world.requester.id, NOW, drafts=False, limit=25)
    ).page.items
    assert [(c.id, c.status) for c in mine] == [
        (second.id, CaseStatus.WITHDRAWN),
        (first.id, CaseStatus.SUBMITTED),
    ]
    assert [c.case_number for c in mine] == ["TK-2026-0002", "TK-2026-0001"]
    drafts = (
        await intake.my_requests(world.uow(), world.requester.id, NOW, drafts=True, limit=25)
    ).page.items
    assert [c.id for c in drafts] == [unfinished.id]
    assert someone_elses.id not in {c.id for c in [*mine, *drafts]}


async def test_the_triage_queue_is_oldest_first_with_working_days_waiting(world: World) -> None:
    # Thursday 2.12.2027 and Friday 3.12.; Monday 6.12.2027 is Independence Day.
    oldest = await submitted(world, hel(2027, 12, 2, 10))
    newer = await submitted(world, hel(2027, 12, 3, 9))
    waiting = await submitted(world, hel(2027, 12, 7, 9))
    decided = await submitted(world, hel(2027, 12, 1, 9))
    assert waiting.id is not None and decided.id is not None
    await intake.ask_for_information(
        world.uow(), world.coordinator.id, waiting.id, "Lisätietoa?", hel(2027, 12, 7, 11), CALENDAR
    )
    await intake.accept_request(world.uow(), world.coordinator.id, decided.id, hel(2027, 12, 1, 11))
    # A request to another team is not in this queue.
    elsewhere = await draft(world)
    assert elsewhere.id is not None
    await intake.update_draft(
        world.uow(), world.requester.id, elsewhere.id, {"team_id": world.other_team}, "b", NOW
    )
    await intake.submit_request(world.uow(), world.requester.id, elsewhere.id, NOW, CALENDAR)

    def seen(view: Any) -> list[tuple[int | None, int, bool]]:
        return [(i.case.id, i.working_days_waiting, i.overdue) for i in view.page.items]

    # Tuesday 7.12. noon: the weekend and the holiday do not count.
    queue = await intake.triage_queue(
        world.uow(), world.coordinator.id, hel(2027, 12, 7, 12), CALENDAR, limit=25
    )
    assert seen(queue) == [(oldest.id, 2, True), (newer.id, 1, False), (waiting.id, 0, False)]
    assert {i.requester_name for i in queue.page.items} == {"User 2"}
    assert [i.case.status for i in queue.page.items][-1] is CaseStatus.NEEDS_INFO
    assert (queue.page.total, queue.overdue) == (3, 1)

    # Friday 3.12. afternoon: one working day for the oldest, none for the newer.
    early = await intake.triage_queue(
        world.uow(), world.second_coordinator.id, hel(2027, 12, 3, 15), CALENDAR, limit=25
    )
    assert seen(early)[:2] == [(oldest.id, 1, False), (newer.id, 0, False)]

    # Monday 6.12. (the holiday) changes nothing from Friday.
    holiday = await intake.triage_queue(
        world.uow(), world.coordinator.id, hel(2027, 12, 6, 12), CALENDAR, limit=25
    )
    assert seen(holiday)[:2] == [(oldest.id, 1, False), (newer.id, 0, False)]

    # Wednesday 8.12.: the newer one reaches two working days too.
    later = await intake.triage_queue(
        world.uow(), world.coordinator.id, hel(2027, 12, 8, 9), CALENDAR, limit=25
    )
    assert seen(later) == [(oldest.id, 3, True), (newer.id, 2, True), (waiting.id, 1, False)]

    south = await intake.triage_queue(
        world.uow(), world.other_coordinator.id, hel(2027, 12, 7, 12), CALENDAR, limit=25
    )
    assert [i.case.id for i in south.page.items] == [elsewhere.id]


async def test_triage_reminders_skip_the_weekend_and_independence_day(world: World) -> None:
    case = await submitted(world, hel(2027, 12, 3, 10))  # Friday
    assert case.id is not None
    rows = await messages(world, case.id)
    # Mon 6.12.2027 is a holiday: Tue 7.12. is the 1st working day, Wed 8.12. the 2nd.
    assert {r["due_at"] for r in of_kind(rows, "triage.reminder")} == {hel(2027, 12, 8, 10)}
    assert {r["due_at"] for r in of_kind(rows, "triage.escalation")} == {hel(2027, 12, 13, 10)}


# --- concurrency (PostgreSQL) -------------------------------------------------------------


@pytest.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_url, pool_size=40)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_30_concurrent_submits_get_30_consecutive_case_numbers(
    pg_engine: AsyncEngine,
) -> None:
    world = await seed(session_factory(pg_engine))
    drafts = [await draft(world) for _ in range(30)]

    async def submit(case: Consultation) -> Consultation:
        assert case.id is not None
        return await intake.submit_request(
            SqlAlchemyUnitOfWork(world.sessions), world.requester.id, case.id, NOW, CALENDAR
        )

    done = await asyncio.gather(*(submit(case) for case in drafts))

    numbers = sorted(case.case_number or "" for case in done)
    assert numbers == [f"TK-2026-{n:04d}" for n in range(1, 31)]
    async with world.sessions() as session:
        stored_numbers = sorted(
            (
                await session.execute(
                    select(consultations.c.case_number).where(
                        consultations.c.case_number.is_not(None)
                    )
                )
            ).scalars()
        )
        counter = await session.scalar(
            select(case_counters.c.last_value).where(case_counters.c.year == 2026)
        )
        requests = await session.scalar(
            select(func.count()).where(outbox.c.kind == "triage.request")
        )
    assert stored_numbers == numbers
    assert counter == 30
    assert requests == 60  # two coordinators each


@pytest.mark.postgres
async def test_two_coordinators_deciding_at_once_make_exactly_one_decision(
    pg_engine: AsyncEngine,
) -> None:
    world = await seed(session_factory(pg_engine))
    c1, c2 = world.coordinator.id, world.second_coordinator.id
    rounds: list[tuple[str, str]] = [("accept", "decline"), ("accept", "accept")] * 3 + [
        ("decline", "decline")
    ]

    def decide(action: str, actor: int, case_id: int) -> Any:
        uow = SqlAlchemyUnitOfWork(world.sessions)
        if action == "accept":
            return intake.accept_request(uow, actor, case_id, NOW)
        return intake.decline_request(uow, actor, case_id, "Ei meille", "other_team", NOW)

    for first, second in rounds:
        case = await submitted(world)
        assert case.id is not None
        results = await asyncio.gather(
            decide(first, c1, case.id), decide(second, c2, case.id), return_exceptions=True
        )
        winners = [r for r in results if isinstance(r, Consultation)]
        losers = [r for r in results if isinstance(r, BaseException)]
        assert len(winners) == 1 and len(losers) == 1, results
        loser = losers[0]
        assert isinstance(loser, Conflict) or (
            isinstance(loser, DomainError) and loser.code == "error.illegal_transition"
        ), repr(loser)

        final = await stored(world, case.id)
        assert final.status is winners[0].status
        decisions = [
            t for t in final.history if t.to_status in (CaseStatus.ACCEPTED, CaseStatus.DECLINED)
        ]
        assert len(decisions) == 1
        rows = await messages(world, case.id)
        told = [r for r in rows if r["kind"] in ("case.accepted", "case.declined")]
        assert len(told) == 1
        assert told[0]["kind"] == f"case.{final.status.value}"
        async with world.sessions() as session:
            audited = await session.scalar(
                select(func.count()).where(
                    audit_events.c.subject_id == str(case.id),
                    audit_events.c.action.in_(["consultation.accepted", "consultation.declined"]),
                )
            )
        assert audited == 1
