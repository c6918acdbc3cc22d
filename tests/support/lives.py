"""Cases taken through their whole life by the real use cases, side by side, on a clock
the test moves: filed, accepted (or declined), a poll fixes the meeting, the summary is
published with recommendations, each recommendation is followed up, the case closes with
an outcome and the requester rates the consultation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from consultations import case_manager, intake, recommendations, scheduling, summaries
from consultations.calendar import BusinessCalendar
from consultations.consultation import Outcome
from consultations.ports import UnitOfWork
from consultations.summary import NotImplementedReason, OutsideParty, Owner, PlannedRecommendation


@dataclass
class Lives:
    """What happened, for the test to compare with the report."""

    received: int = 0
    accepted: int = 0
    declined: int = 0
    closed: int = 0
    meetings: int = 0
    done: int = 0
    not_implemented: int = 0
    due_dates: list[date] = field(default_factory=list)


def _next_working_day(day: date, calendar: BusinessCalendar, after: int = 1) -> date:
    for _ in range(after):
        day += timedelta(days=1)
        while not calendar.is_working_day(day):
            day += timedelta(days=1)
    return day


async def live(
    uow: Callable[[], UnitOfWork],
    *,
    now: Callable[[], datetime],
    move_to: Callable[[datetime], None],
    calendar: BusinessCalendar,
    coordinator: int,
    team_id: int,
    requesters: list[int],
    members: list[int],
    declined: int = 1,
) -> Lives:
    """One request per entry of `requesters` (a person may file several); the first
    `declined` are declined, the rest live on."""
    tz = calendar.tz
    seen = Lives()
    today = now().astimezone(tz).date()
    cases = []
    for requester in requesters:
        case = await intake.start_request(
            uow(),
            requester,
            {
                "team_id": team_id,
                "client_reference": "AB-1980",
                "consent": "obtained",
                "consent_date": (today - timedelta(days=1)).isoformat(),
                "question": "Mikä tukisi työhön paluuta?",
                "urgency": "normal",
                "barriers": "person.pain,skills.digital",
                "services": "kela",
            },
            "review",
            now(),
        )
        assert case.id is not None
        await intake.submit_request(uow(), requester, case.id, now(), calendar)
        cases.append(case.id)
    seen.received = len(cases)
    move_to(now() + timedelta(hours=2))
    living = []
    for index, case_id in enumerate(cases):
        if index < declined:
            await intake.decline_request(
                uow(),
                coordinator,
                case_id,
                "Kuuluu työterveyshuollolle.",
                "occupational_health",
                now(),
            )
            seen.declined += 1
        else:
            await intake.accept_request(uow(), coordinator, case_id, now())
            living.append(case_id)
    seen.accepted = len(living)
    meeting_day = _next_working_day(now().astimezone(tz).date(), calendar, 2)
    polls = []
    for case_id in living:
        start = datetime.combine(meeting_day, time(9), tzinfo=tz)
        poll = await scheduling.open_poll(
            uow(),
            coordinator,
            case_id,
            slots=[(start, 60)],
            invitees=members,
            required=[],
            deadline=start - timedelta(hours=20),
            place="Neuvotteluhuone",
            now=now(),
            calendar=calendar,
        )
        assert poll.id is not None and poll.slots[0].id is not None
        await scheduling.finalize_poll(
            uow(),
            coordinator,
            poll.id,
            poll.slots[0].id,
            override=True,
            now=now(),
            calendar=calendar,
        )
        polls.append(poll)
    move_to(datetime.combine(meeting_day, time(11), tzinfo=tz))
    today = now().astimezone(tz).date()
    due = _next_working_day(today, calendar, 5)
    published_ids = []
    for case_id in living:
        view = await summaries.open_summary(uow(), coordinator, case_id, now(), today)
        assert view.summary.id is not None
        base = summaries.SummaryEdit(
            attendees=tuple(members),
            client_attended=True,
            findings="Osa-aikatyö onnistuu.",
            case_manager_id=members[0],
            review_date=today + timedelta(days=30),
        )
        for owner in (Owner(user_id=members[1]), Owner(party=OutsideParty.KELA)):
            planned = PlannedRecommendation("Työkokeilu", owner, due)
            view = await summaries.edit_summary(
                uow(), coordinator, view.summary.id, replace(base, add=planned), now(), today
            )
        published = await summaries.publish_summary(
            uow(), coordinator, view.summary.id, now(), calendar
        )
        published_ids += list(published.recommendations)
        seen.meetings += 1
    move_to(datetime.combine(due, time(10), tzinfo=tz))
    for index, recommendation_id in enumerate(published_ids):
        if index % 4 == 3:
            await recommendations.update_recommendation(
                uow(),
                coordinator,
                recommendation_id,
                recommendations.FollowUpAction.NOT_IMPLEMENTED,
                due=None,
                reason="Asiakas ei halunnut.",
                now=now(),
                calendar=calendar,
                reason_category=NotImplementedReason.CLIENT_DECLINED,
            )
            seen.not_implemented += 1
        else:
            await recommendations.update_recommendation(
                uow(),
                coordinator,
                recommendation_id,
                recommendations.FollowUpAction.DONE,
                due=None,
                reason="",
                now=now(),
                calendar=calendar,
            )
            seen.done += 1
        seen.due_dates.append(due)
    move_to(now() + timedelta(days=1))
    for case_id in living:
        await case_manager.close_case(uow(), members[0], case_id, Outcome.EMPLOYMENT, now())
        seen.closed += 1
    return seen
