"""Use cases after the meeting (SPEC §2.4–§2.6): the summary, the follow-up of every
recommendation, the case manager's hand-over, closing with an outcome, and feedback.

As everywhere: the acting user is checked against the case (card payloads are untrusted),
and every change, its audit record and every message and reminder it causes are written
in one commit. Refusals raise DomainError before anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from consultations.calendar import BusinessCalendar
from consultations.casework import (
    audit_case,
    is_coordinator,
    message_case,
    require_coordinator,
    sent_case,
)
from consultations.consultation import (
    FINISHED,
    CaseStatus,
    Consultation,
    Outcome,
    case_round,
)
from consultations.errors import DomainError, NotFound
from consultations.intake import send_to_triage
from consultations.model import OutgoingMessage, RecipientType, Role
from consultations.poll import AvailabilityPoll, PollState, TimeSlot
from consultations.ports import HeldMeeting, UnitOfWork
from consultations.summary import (
    ESCALATION_DAYS,
    FEEDBACK_AFTER_DAYS,
    HANDOVER_ESCALATION_DAYS,
    HANDOVER_REMINDER_DAYS,
    MAX_ATTENDEES,
    SUMMARY_MISSING_DAYS,
    Feedback,
    HandOver,
    HandOverState,
    MeetingSummary,
    NotImplementedReason,
    PlannedRecommendation,
    Recommendation,
    RecommendationStatus,
    StatusChange,
    SummaryState,
)

# Where the case is once its summary is out: the recommendations are being carried out.
AFTER_SUMMARY = frozenset({CaseStatus.CONSULTED, CaseStatus.FOLLOW_UP})


def summary_subject(case_id: int) -> str:
    return f"case:{case_id}:summary"


def recommendation_subject(recommendation_id: int) -> str:
    return f"rec:{recommendation_id}"


def review_subject(case_id: int) -> str:
    return f"case:{case_id}:review"


def handover_subject(handover_id: int) -> str:
    return f"handover:{handover_id}"


def feedback_subject(case_id: int) -> str:
    return f"case:{case_id}:feedback"


def morning(day: date, calendar: BusinessCalendar) -> datetime:
    """A date's reminder moment: 08:00 Helsinki, or the next working moment after it."""
    return calendar.next_working_moment(datetime.combine(day, time(8), tzinfo=calendar.tz))


def due_reminder_at(recommendation: Recommendation, calendar: BusinessCalendar) -> datetime:
    return morning(recommendation.due, calendar)


def escalation_at(recommendation: Recommendation, calendar: BusinessCalendar) -> datetime:
    """Overdue for ESCALATION_DAYS working days: the coordinator hears of it."""
    return calendar.add_working_days(due_reminder_at(recommendation, calendar), ESCALATION_DAYS)


def meeting_end(poll: AvailabilityPoll) -> datetime | None:
    chosen = poll.chosen_slot
    return chosen.end if chosen else None


# --- small helpers -------------------------------------------------------------------------


async def _channel_notice(uow: UnitOfWork, case: Consultation, key: str, now: datetime) -> None:
    """The team channel hears the case number and status only (SPEC §3)."""
    if case.team_id is None:
        return
    team = await uow.teams.get(case.team_id)
    if team is None or not team.general_channel_id:
        return
    await uow.outbox.add(
        OutgoingMessage(
            idempotency_key=key,
            kind="case.notice",
            recipient_type=RecipientType.CHANNEL,
            recipient_id=team.general_channel_id,
            due_at=now,
            payload={"case_id": case.id, "status": case.status.value},
            team_id=case.team_id,
        ),
        now,
    )


async def _published(uow: UnitOfWork, case_id: int) -> MeetingSummary | None:
    versions = await uow.followup.published_summaries(case_id)
    return versions[-1] if versions else None


async def follow_up_coordinators(uow: UnitOfWork, case: Consultation) -> list[int]:
    """Who gets a case's follow-up nudges: the coordinator who published its summary while
    they hold the role, else every coordinator of the team."""
    assert case.id is not None and case.team_id is not None
    latest = await _published(uow, case.id)
    holders = [u.id for u in await uow.teams.holders(case.team_id, Role.COORDINATOR)]
    if latest is not None and latest.published_by in holders:
        return [latest.published_by]
    return holders


async def _may_follow_up(uow: UnitOfWork, case: Consultation, actor_id: int) -> bool:
    """The case manager and the team's coordinators act on the case's follow-up."""
    assert case.id is not None
    return await uow.followup.case_manager(case.id) == actor_id or await is_coordinator(
        uow, case.team_id, actor_id
    )


# --- reminders -----------------------------------------------------------------------------


async def queue_summary_prompts(
    uow: UnitOfWork,
    case: Consultation,
    poll: AvailabilityPoll,
    coordinator_id: int,
    now: datetime,
    calendar: BusinessCalendar,
) -> None:
    """When a meeting is fixed: the summary card to the coordinator as the meeting ends,
    and a reminder one working day later if no summary has been published."""
    assert case.id is not None and poll.id is not None
    await uow.outbox.cancel_subject(summary_subject(case.id))
    end = meeting_end(poll)
    if end is None:
        return
    base = f"case:{case.id}:p{poll.id}:s{poll.sequence}:c{coordinator_id}"
    await message_case(
        uow,
        case,
        key=f"{base}:summary-prompt",
        kind="summary.prompt",
        user_id=coordinator_id,
        due_at=max(end, now),
        now=now,
        subject=summary_subject(case.id),
        poll_id=poll.id,
    )
    await message_case(
        uow,
        case,
        key=f"{base}:summary-missing",
        kind="summary.missing",
        user_id=coordinator_id,
        due_at=max(calendar.add_working_days(end, SUMMARY_MISSING_DAYS), now),
        now=now,
        subject=summary_subject(case.id),
        poll_id=poll.id,
    )


async def _schedule_recommendation(
    uow: UnitOfWork,
    case: Consultation,
    recommendation: Recommendation,
    now: datetime,
    calendar: BusinessCalendar,
    *,
    remind_at: datetime | None = None,
) -> None:
    """(Re)queue an active recommendation's due reminder, to its owner or, for an outside
    owner, the case manager, and its escalation to the coordinator."""
    assert case.id is not None and recommendation.id is not None
    subject = recommendation_subject(recommendation.id)
    await uow.outbox.cancel_subject(subject)
    if not recommendation.active or case.status in FINISHED:
        return
    recipient = recommendation.owner.user_id or await uow.followup.case_manager(case.id)
    stamp = now.isoformat()
    if recipient is not None:
        await message_case(
            uow,
            case,
            key=f"rec:{recommendation.id}:due:{recipient}:{stamp}",
            kind="recommendation.due",
            user_id=recipient,
            due_at=max(remind_at or due_reminder_at(recommendation, calendar), now),
            now=now,
            subject=subject,
            recommendation_id=recommendation.id,
        )
    for coordinator in await follow_up_coordinators(uow, case):
        await message_case(
            uow,
            case,
            key=f"rec:{recommendation.id}:escalation:{coordinator}:{stamp}",
            kind="recommendation.escalation",
            user_id=coordinator,
            due_at=max(escalation_at(recommendation, calendar), now),
            now=now,
            subject=subject,
            recommendation_id=recommendation.id,
        )


async def _schedule_review(
    uow: UnitOfWork, case: Consultation, review: date, now: datetime, calendar: BusinessCalendar
) -> None:
    assert case.id is not None
    await uow.outbox.cancel_subject(review_subject(case.id))
    manager = await uow.followup.case_manager(case.id)
    if manager is None:
        return
    await message_case(
        uow,
        case,
        key=f"case:{case.id}:review:{manager}:{now.isoformat()}",
        kind="review.due",
        user_id=manager,
        due_at=max(morning(review, calendar), now),
        now=now,
        subject=review_subject(case.id),
    )


async def _reschedule_for_new_manager(
    uow: UnitOfWork, case: Consultation, now: datetime, calendar: BusinessCalendar
) -> None:
    """A new case manager takes over the reminders that went to the old one."""
    assert case.id is not None
    for recommendation in await uow.followup.recommendations(case.id):
        if recommendation.active and recommendation.owner.user_id is None:
            await _schedule_recommendation(uow, case, recommendation, now, calendar)
    latest = await _published(uow, case.id)
    if latest is not None and latest.review_date is not None:
        await _schedule_review(uow, case, latest.review_date, now, calendar)


# --- the summary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryView:
    """Everything a summary card shows: the version, the meeting and the names."""

    case: Consultation
    summary: MeetingSummary
    meeting: TimeSlot | None
    names: Mapping[int, str]
    # Who may be ticked as present: the team's members and the poll's invitees.
    attendee_choices: Sequence[int]
    # Who may own a recommendation: the above and the requester.
    owner_choices: Sequence[int]
    recommendations: Mapping[int, Recommendation]
    case_manager_id: int | None
    problems: Sequence[str] = ()
    published_versions: int = 0

    @property
    def case_manager_choices(self) -> list[int]:
        """The rule of thumb (SPEC §1): someone present, or the requester."""
        return list(dict.fromkeys([*self.summary.attendees, self.case.requester_id]))


async def _summary_view(
    uow: UnitOfWork, case: Consultation, summary: MeetingSummary, today: date
) -> SummaryView:
    assert case.id is not None and case.team_id is not None
    poll = await uow.polls.get(summary.poll_id) if summary.poll_id else None
    members = await uow.teams.members(case.team_id)
    invited = [i.user_id for i in poll.invitees] if poll else []
    choices = list(dict.fromkeys([*invited, *(m.id for m in members)]))
    owners = list(dict.fromkeys([*choices, case.requester_id]))
    mentioned = [
        *owners,
        *summary.attendees,
        *([summary.case_manager_id] if summary.case_manager_id else []),
        *(r.owner.user_id for r in summary.recommendations if r.owner.user_id),
    ]
    people = await uow.users.get_many(sorted(set(mentioned)))
    live = {r.id: r for r in await uow.followup.recommendations(case.id) if r.id is not None}
    meeting = poll.chosen_slot if poll else None
    published = [
        s for s in await uow.followup.published_summaries(case.id) if s.round == summary.round
    ]
    view = SummaryView(
        case=case,
        summary=summary,
        meeting=meeting,
        names={user_id: user.name for user_id, user in people.items()},
        attendee_choices=choices,
        owner_choices=owners,
        recommendations=live,
        case_manager_id=await uow.followup.case_manager(case.id),
        published_versions=len(published),
    )
    return _showing(view, summary, today)


def _showing(view: SummaryView, summary: MeetingSummary, today: date) -> SummaryView:
    """The view of `summary` (a saved change of the same draft), with what keeps it from
    being published."""
    view = replace(view, summary=summary, problems=())
    if summary.is_draft:
        allowed = frozenset(view.case_manager_choices)
        view = replace(view, problems=summary.problems(today, allowed))
    return view


async def _new_draft(
    uow: UnitOfWork, case: Consultation, actor_id: int, now: datetime
) -> MeetingSummary:
    """The first version of this round's summary, attendees pre-filled from the poll."""
    assert case.id is not None
    poll = await uow.polls.latest_for(case.id)
    if poll is None or poll.state is not PollState.FINALIZED:
        raise DomainError("error.meeting_not_fixed")
    present = poll.attendees()
    if case.team_id is not None and await uow.teams.is_member(case.team_id, actor_id):
        present = [*present, actor_id]
    draft = MeetingSummary(
        id=None,
        consultation_id=case.id,
        poll_id=poll.id,
        round=case_round(case),
        version=1,
        created_by=actor_id,
        attendees=tuple(dict.fromkeys(present))[:MAX_ATTENDEES],
    )
    return await uow.followup.add_summary(draft, now)


async def open_summary(
    uow: UnitOfWork, actor_id: int, case_id: int, now: datetime, today: date
) -> SummaryView:
    """The coordinator opens the case's summary: the draft being written (started with the
    poll's attendees once the meeting is fixed), else the latest published version."""
    async with uow:
        case = await sent_case(uow, case_id)
        await require_coordinator(uow, case.team_id, actor_id)
        summary = await uow.followup.draft_summary(case_id)
        if summary is None:
            latest = await _published(uow, case_id)
            if case.status is CaseStatus.SCHEDULED and (
                latest is None or latest.round < case_round(case)
            ):
                summary = await _new_draft(uow, case, actor_id, now)
            elif latest is not None:
                summary = latest
            else:
                raise DomainError("error.meeting_not_fixed")
        view = await _summary_view(uow, case, summary, today)
        await audit_case(uow, actor_id, "summary.viewed", case, now, summary_id=summary.id)
        await uow.commit()
        return view


@dataclass(frozen=True)
class SummaryEdit:
    """What the editor card sends (parsed at the edge; checked against the case here)."""

    attendees: tuple[int, ...]
    client_attended: bool | None
    findings: str
    case_manager_id: int | None
    review_date: date | None
    add: PlannedRecommendation | None = None
    remove: int | None = None


async def _draft_for_change(
    uow: UnitOfWork, actor_id: int, summary_id: int
) -> tuple[Consultation, MeetingSummary]:
    summary = await uow.followup.get_summary(summary_id, lock=True)
    if summary is None:
        raise NotFound()
    case = await sent_case(uow, summary.consultation_id)
    await require_coordinator(uow, case.team_id, actor_id)
    if not summary.is_draft:
        raise DomainError("error.summary_published_already")
    return case, summary


async def edit_summary(
    uow: UnitOfWork, actor_id: int, summary_id: int, edit: SummaryEdit, now: datetime, today: date
) -> SummaryView:
    """Save what the coordinator wrote into the draft; add or remove a recommendation."""
    async with uow:
        case, summary = await _draft_for_change(uow, actor_id, summary_id)
        view = await _summary_view(uow, case, summary, today)
        if not set(edit.attendees) <= set(view.attendee_choices):
            raise DomainError("error.not_team_member")
        if len(edit.attendees) > MAX_ATTENDEES:
            raise DomainError("error.too_many_invitees", limit=MAX_ATTENDEES)
        allowed_managers = {*edit.attendees, case.requester_id}
        if edit.case_manager_id is not None and edit.case_manager_id not in allowed_managers:
            raise DomainError("error.summary_case_manager")
        changed = replace(
            summary,
            attendees=edit.attendees,
            client_attended=edit.client_attended,
            findings=edit.findings,
            case_manager_id=edit.case_manager_id,
            review_date=edit.review_date,
        )
        if edit.add is not None:
            owner = edit.add.owner.user_id
            if owner is not None and owner not in view.owner_choices:
                raise DomainError("error.not_team_member")
            changed = changed.with_recommendation(edit.add)
        if edit.remove is not None:
            changed = changed.without_recommendation(edit.remove)
        await uow.followup.save_summary(changed, now)
        await audit_case(
            uow,
            actor_id,
            "summary.draft_saved",
            case,
            now,
            summary_id=summary_id,
            recommendations=len(changed.recommendations),
        )
        # Nothing but the draft changed: the choices, names and live plan are as loaded.
        view = _showing(view, changed, today)
        await uow.commit()
        return view


async def publish_summary(
    uow: UnitOfWork, actor_id: int, summary_id: int, now: datetime, calendar: BusinessCalendar
) -> SummaryView:
    """Publish the draft: the case goes to follow-up, the requester, the case manager and
    the attendees get the summary, the channel a pseudonymous notice, and every
    recommendation, the review and the feedback request get their reminders."""
    today = now.astimezone(calendar.tz).date()
    async with uow:
        case, summary = await _draft_for_change(uow, actor_id, summary_id)
        assert case.id is not None
        view = await _summary_view(uow, case, summary, today)
        if view.problems:
            raise DomainError(view.problems[0])
        first = summary.version == 1
        if first:
            if case.status is not CaseStatus.SCHEDULED:
                raise DomainError("error.meeting_not_fixed")
            if view.meeting is not None and view.meeting.start > now:
                raise DomainError("error.meeting_not_held")
            case.transition(CaseStatus.CONSULTED, actor_id, now, "summary_published")
            case.transition(CaseStatus.FOLLOW_UP, actor_id, now, "follow_up")
            await uow.consultations.save(case, now)
        elif case.status not in AFTER_SUMMARY:
            raise DomainError("error.case_not_in_follow_up")

        # The plan: new lines become recommendations, amended lines change theirs, and
        # an active recommendation the new version leaves out is removed from the plan.
        live = {r.id: r for r in await uow.followup.recommendations(case.id)}
        planned: list[PlannedRecommendation] = []
        kept: set[int] = set()
        touched: list[Recommendation] = []
        for line in summary.recommendations:
            existing = live.get(line.recommendation_id) if line.recommendation_id else None
            if existing is None:
                created = await uow.followup.add_recommendation(
                    Recommendation(
                        id=None,
                        consultation_id=case.id,
                        summary_id=summary_id,
                        text=line.text,
                        owner=line.owner,
                        due=line.due,
                        history=[
                            StatusChange(
                                None, RecommendationStatus.OPEN, actor_id, now, due=line.due
                            )
                        ],
                    ),
                    now,
                )
                assert created.id is not None
                planned.append(replace(line, recommendation_id=created.id))
                touched.append(created)
                kept.add(created.id)
                continue
            assert existing.id is not None
            kept.add(existing.id)
            planned.append(line)
            if existing.amend(line.text, line.owner, line.due):
                await uow.followup.save_recommendation(existing, now)
                touched.append(existing)
        for recommendation in live.values():
            if recommendation.active and recommendation.id not in kept:
                recommendation.change(
                    RecommendationStatus.REMOVED, actor_id, now, reason=f"v{summary.version}"
                )
                await uow.followup.save_recommendation(recommendation, now)
                touched.append(recommendation)

        summary = replace(summary, recommendations=tuple(planned))
        summary.publish(actor_id, now)
        await uow.followup.save_summary(summary, now)

        assert summary.case_manager_id is not None and summary.review_date is not None
        manager_changed = view.case_manager_id != summary.case_manager_id
        if manager_changed:
            await uow.followup.assign_case_manager(
                case.id, summary.case_manager_id, actor_id, "summary", now
            )
            pending = await uow.followup.pending_handover(case.id)
            if pending is not None:
                pending.cancel(now)
                await uow.followup.save_handover(pending)
                assert pending.id is not None
                await uow.outbox.cancel_subject(handover_subject(pending.id))
        to_schedule = {r.id: r for r in touched}
        if manager_changed:
            # Outside owners' reminders go to the case manager: all of them move.
            to_schedule.update({r.id: r for r in live.values()})
        for recommendation in to_schedule.values():
            await _schedule_recommendation(uow, case, recommendation, now, calendar)
        await _schedule_review(uow, case, summary.review_date, now, calendar)
        await uow.outbox.cancel_subject(summary_subject(case.id))

        recipients = [case.requester_id, summary.case_manager_id, *summary.attendees]
        for user_id in dict.fromkeys(recipients):
            if user_id == actor_id:
                continue
            await message_case(
                uow,
                case,
                key=f"summary:{summary_id}:to:{user_id}",
                kind="summary.published",
                user_id=user_id,
                due_at=now,
                now=now,
                summary_id=summary_id,
            )
        if first:
            await _channel_notice(uow, case, f"summary:{summary_id}:notice", now)
            feedback_day = (now + timedelta(days=FEEDBACK_AFTER_DAYS)).astimezone(calendar.tz)
            await message_case(
                uow,
                case,
                key=f"case:{case.id}:r{summary.round}:feedback",
                kind="feedback.request",
                user_id=case.requester_id,
                due_at=morning(feedback_day.date(), calendar),
                now=now,
                subject=feedback_subject(case.id),
            )
        await audit_case(
            uow,
            actor_id,
            "summary.published",
            case,
            now,
            summary_id=summary_id,
            version=summary.version,
            recommendations=len(planned),
            case_manager=summary.case_manager_id,
        )
        view = await _summary_view(uow, case, summary, today)
        await uow.commit()
        return view


async def amend_summary(
    uow: UnitOfWork, actor_id: int, case_id: int, now: datetime, today: date
) -> SummaryView:
    """Start the next version from the latest published one (or reopen its draft)."""
    async with uow:
        case = await sent_case(uow, case_id)
        await require_coordinator(uow, case.team_id, actor_id)
        if case.status not in AFTER_SUMMARY:
            raise DomainError("error.case_not_in_follow_up")
        draft = await uow.followup.draft_summary(case_id)
        if draft is None:
            latest = await _published(uow, case_id)
            if latest is None:
                raise DomainError("error.summary_not_published")
            draft = await uow.followup.add_summary(latest.amendment(actor_id), now)
        view = await _summary_view(uow, case, draft, today)
        await audit_case(uow, actor_id, "summary.amendment_started", case, now, summary_id=draft.id)
        await uow.commit()
        return view


async def view_summary(
    uow: UnitOfWork, actor_id: int, summary_id: int, now: datetime, today: date
) -> SummaryView:
    """A published version, for those it was sent to and the team's coordinators."""
    async with uow:
        summary = await uow.followup.get_summary(summary_id)
        if summary is None:
            raise NotFound()
        case = await sent_case(uow, summary.consultation_id)
        concerned = {case.requester_id, *summary.attendees}
        if summary.case_manager_id:
            concerned.add(summary.case_manager_id)
        concerned.add(await uow.followup.case_manager(case.id or 0) or 0)
        if summary.is_draft or actor_id not in concerned:
            await require_coordinator(uow, case.team_id, actor_id)
        view = await _summary_view(uow, case, summary, today)
        await audit_case(uow, actor_id, "summary.viewed", case, now, summary_id=summary_id)
        await uow.commit()
        return view


# --- following a recommendation up ---------------------------------------------------------


@dataclass(frozen=True)
class RecommendationView:
    recommendation: Recommendation
    case: Consultation
    owner_name: str
    case_manager_id: int | None
    can_update: bool


class FollowUpAction:
    DONE = "done"
    IN_PROGRESS = "in_progress"
    NOT_IMPLEMENTED = "not_implemented"
    SNOOZE_DAY = "snooze_day"
    SNOOZE_WEEK = "snooze_week"
    ALL = frozenset({DONE, IN_PROGRESS, NOT_IMPLEMENTED, SNOOZE_DAY, SNOOZE_WEEK})


async def _recommendation_view(
    uow: UnitOfWork, actor_id: int, recommendation: Recommendation, case: Consultation
) -> RecommendationView:
    assert case.id is not None
    manager = await uow.followup.case_manager(case.id)
    allowed = (
        recommendation.owner.user_id == actor_id
        or manager == actor_id
        or await is_coordinator(uow, case.team_id, actor_id)
    )
    if not allowed:
        raise DomainError("error.not_recommendation_owner")
    owner = (
        await uow.users.get(recommendation.owner.user_id)
        if recommendation.owner.user_id is not None
        else None
    )
    return RecommendationView(
        recommendation,
        case,
        owner.name if owner else "",
        manager,
        can_update=recommendation.active and case.status not in FINISHED,
    )


async def view_recommendation(
    uow: UnitOfWork, actor_id: int, recommendation_id: int, now: datetime
) -> RecommendationView:
    async with uow:
        recommendation = await uow.followup.get_recommendation(recommendation_id)
        if recommendation is None:
            raise NotFound()
        case = await sent_case(uow, recommendation.consultation_id)
        view = await _recommendation_view(uow, actor_id, recommendation, case)
        await audit_case(
            uow, actor_id, "recommendation.viewed", case, now, recommendation=recommendation_id
        )
        await uow.commit()
        return view


async def update_recommendation(
    uow: UnitOfWork,
    actor_id: int,
    recommendation_id: int,
    action: str,
    *,
    due: date | None,
    reason: str,
    now: datetime,
    calendar: BusinessCalendar,
    reason_category: NotImplementedReason | None = None,
) -> RecommendationView:
    """The owner (or the case manager, or a coordinator) answers a follow-up card: done,
    in progress with a new date, not implemented with a reason and its category, or
    snooze."""
    if action not in FollowUpAction.ALL:
        raise DomainError("error.invalid_input")
    async with uow:
        recommendation = await uow.followup.get_recommendation(recommendation_id, lock=True)
        if recommendation is None:
            raise NotFound()
        case = await sent_case(uow, recommendation.consultation_id)
        await _recommendation_view(uow, actor_id, recommendation, case)
        if case.status in FINISHED:
            raise DomainError("error.case_closed")
        if not recommendation.active:
            raise DomainError("error.recommendation_closed")
        remind_at: datetime | None = None
        if action == FollowUpAction.DONE:
            recommendation.change(RecommendationStatus.DONE, actor_id, now)
        elif action == FollowUpAction.NOT_IMPLEMENTED:
            recommendation.change(
                RecommendationStatus.NOT_IMPLEMENTED,
                actor_id,
                now,
                reason=reason,
                category=reason_category,
            )
        elif action == FollowUpAction.IN_PROGRESS:
            recommendation.change(RecommendationStatus.IN_PROGRESS, actor_id, now, due=due)
        else:
            # Snoozing moves the reminder, not the due date: overdue stays overdue.
            remind_at = (
                calendar.add_working_days(now, 1)
                if action == FollowUpAction.SNOOZE_DAY
                else calendar.next_working_moment(now + timedelta(days=7))
            )
            recommendation.snoozed_until = remind_at
        await uow.followup.save_recommendation(recommendation, now)
        await _schedule_recommendation(
            uow, case, recommendation, now, calendar, remind_at=remind_at
        )
        await audit_case(
            uow,
            actor_id,
            f"recommendation.{action}",
            case,
            now,
            recommendation=recommendation_id,
            to=recommendation.status.value,
            **(
                {"category": recommendation.reason_category.value}
                if recommendation.reason_category
                else {}
            ),
        )
        view = await _recommendation_view(uow, actor_id, recommendation, case)
        await uow.commit()
        return view


# --- the case manager's view, the review, closing and bringing back ------------------------


@dataclass(frozen=True)
class ManagedCase:
    case: Consultation
    review_date: date | None
    recommendations: Sequence[Recommendation]
    handover: HandOver | None


@dataclass(frozen=True)
class CasesView:
    """`cases`/`asiakkaat`/`klienter`: what the user has to follow up."""

    managed: Sequence[ManagedCase]
    # Recommendations owned in cases managed by someone else: (recommendation, case number).
    owned: Sequence[tuple[Recommendation, str]]
    # Hand-overs waiting for this user's answer: (hand-over, case number, from whom).
    handovers: Sequence[tuple[HandOver, str, str]]
    # For coordinators: meetings held whose summary is not out yet.
    summaries_due: Sequence[HeldMeeting]
    names: Mapping[int, str]


async def _managed_case(uow: UnitOfWork, case: Consultation) -> ManagedCase:
    assert case.id is not None
    latest = await _published(uow, case.id)
    return ManagedCase(
        case,
        latest.review_date if latest else None,
        [r for r in await uow.followup.recommendations(case.id) if r.active],
        await uow.followup.pending_handover(case.id),
    )


async def my_cases(uow: UnitOfWork, actor_id: int, now: datetime) -> CasesView:
    async with uow:
        managed = []
        for case_id in await uow.followup.managed_by(actor_id):
            case = await uow.consultations.get(case_id)
            if case is not None and case.status not in FINISHED:
                managed.append(await _managed_case(uow, case))
        managed_ids = {m.case.id for m in managed}
        owned = []
        for recommendation in await uow.followup.owned_by(actor_id):
            if recommendation.consultation_id in managed_ids:
                continue
            case = await uow.consultations.get(recommendation.consultation_id)
            if case is not None and case.status not in FINISHED:
                owned.append((recommendation, case.case_number or ""))
        handovers = []
        for handover in await uow.followup.handovers_to(actor_id):
            case = await uow.consultations.get(handover.consultation_id)
            sender = await uow.users.get(handover.from_user_id)
            if case is not None:
                handovers.append((handover, case.case_number or "", sender.name if sender else ""))
        coordinated = [
            team.id
            for team in await uow.teams.teams_of(actor_id)
            if Role.COORDINATOR in await uow.teams.roles_of(team.id, actor_id)
        ]
        due = (
            [m for m in await uow.followup.held_meetings(coordinated) if m.start <= now]
            if coordinated
            else []
        )
        owners = [
            r.owner.user_id
            for m in managed
            for r in m.recommendations
            if r.owner.user_id is not None
        ]
        people = await uow.users.get_many(sorted(set(owners)))
        await uow.audit.record(
            at=now,
            actor_user_id=actor_id,
            action="cases.viewed",
            subject_type="user",
            subject_id=str(actor_id),
        )
        await uow.commit()
        return CasesView(managed, owned, handovers, due, {k: v.name for k, v in people.items()})


@dataclass(frozen=True)
class ReviewView:
    managed: ManagedCase
    case_manager_id: int | None
    candidates: Sequence[tuple[int, str]]
    can_act: bool


async def review_view(uow: UnitOfWork, actor_id: int, case_id: int, now: datetime) -> ReviewView:
    """The case manager's card for the case: close with an outcome, bring it back to the
    team, or hand the role over."""
    async with uow:
        case = await sent_case(uow, case_id)
        if not await _may_follow_up(uow, case, actor_id):
            raise DomainError("error.not_case_manager")
        assert case.team_id is not None
        manager = await uow.followup.case_manager(case_id)
        members = await uow.teams.members(case.team_id)
        requester = await uow.users.get(case.requester_id)
        candidates = [(m.id, m.name) for m in members if m.id != manager]
        if (
            requester is not None
            and requester.id != manager
            and requester.id not in {c for c, _ in candidates}
        ):
            candidates.append((requester.id, requester.name))
        view = ReviewView(
            await _managed_case(uow, case),
            manager,
            candidates,
            can_act=case.status in AFTER_SUMMARY,
        )
        await audit_case(uow, actor_id, "case.review_viewed", case, now)
        await uow.commit()
        return view


async def _end_follow_up(uow: UnitOfWork, case: Consultation, now: datetime) -> None:
    """Stop the case's pending reminders and any hand-over still waiting."""
    assert case.id is not None
    await uow.outbox.cancel_subject(review_subject(case.id))
    for recommendation in await uow.followup.recommendations(case.id):
        assert recommendation.id is not None
        await uow.outbox.cancel_subject(recommendation_subject(recommendation.id))
    pending = await uow.followup.pending_handover(case.id)
    if pending is not None:
        assert pending.id is not None
        pending.cancel(now)
        await uow.followup.save_handover(pending)
        await uow.outbox.cancel_subject(handover_subject(pending.id))


async def close_case(
    uow: UnitOfWork, actor_id: int, case_id: int, outcome: Outcome, now: datetime
) -> Consultation:
    """The case manager closes the case with its outcome; the requester and the
    coordinator are told, the channel sees the new status."""
    async with uow:
        case = await sent_case(uow, case_id)
        if not await _may_follow_up(uow, case, actor_id):
            raise DomainError("error.not_case_manager")
        if case.status not in AFTER_SUMMARY:
            raise DomainError("error.case_not_in_follow_up")
        coordinators = await follow_up_coordinators(uow, case)
        manager = await uow.followup.case_manager(case_id)
        case.transition(CaseStatus.CLOSED, actor_id, now, "closed")
        case.outcome = outcome
        await uow.consultations.save(case, now)
        await _end_follow_up(uow, case, now)
        told = [case.requester_id, *coordinators, *([manager] if manager else [])]
        for user_id in dict.fromkeys(told):
            if user_id == actor_id:
                continue
            await message_case(
                uow,
                case,
                key=f"case:{case_id}:closed:{user_id}",
                kind="case.closed",
                user_id=user_id,
                due_at=now,
                now=now,
            )
        await _channel_notice(uow, case, f"case:{case_id}:closed:notice", now)
        await audit_case(uow, actor_id, "case.closed", case, now, outcome=outcome.value)
        await uow.commit()
        return case


async def bring_back(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    reason: str,
    now: datetime,
    calendar: BusinessCalendar,
) -> Consultation:
    """No lasting solution yet: the case goes back to the team for a new round. The
    coordinators triage it again; open recommendations keep being followed up."""
    if not reason:
        raise DomainError("error.reason_missing")
    async with uow:
        case = await sent_case(uow, case_id)
        if not await _may_follow_up(uow, case, actor_id):
            raise DomainError("error.not_case_manager")
        if case.status is not CaseStatus.FOLLOW_UP:
            raise DomainError("error.case_not_in_follow_up")
        case.transition(CaseStatus.SUBMITTED, actor_id, now, "brought_back")
        case.submitted_at = now
        await uow.consultations.save(case, now)
        await uow.consultations.add_note(case_id, actor_id, "brought_back", reason, now)
        await uow.outbox.cancel_subject(review_subject(case_id))
        await send_to_triage(uow, case, now, calendar)
        if case.requester_id != actor_id:
            await message_case(
                uow,
                case,
                key=f"case:{case_id}:r{case_round(case)}:brought-back",
                kind="case.brought_back",
                user_id=case.requester_id,
                due_at=now,
                now=now,
            )
        await _channel_notice(uow, case, f"case:{case_id}:r{case_round(case)}:notice", now)
        await audit_case(uow, actor_id, "case.brought_back", case, now)
        await uow.commit()
        return case


# --- hand-over, saattaen vaihtaen ----------------------------------------------------------


async def propose_handover(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    successor_id: int,
    note: str,
    now: datetime,
    calendar: BusinessCalendar,
) -> HandOver:
    """The case manager proposes a successor with a note; the successor must accept.
    Reminded after 2 working days, the coordinator after 5 (SPEC §2.6)."""
    if not note:
        raise DomainError("error.handover_note")
    async with uow:
        case = await sent_case(uow, case_id)
        manager = await uow.followup.case_manager(case_id)
        if manager != actor_id:
            raise DomainError("error.not_case_manager")
        if case.status not in AFTER_SUMMARY:
            raise DomainError("error.case_not_in_follow_up")
        if successor_id == actor_id:
            raise DomainError("error.handover_self")
        assert case.team_id is not None
        if successor_id != case.requester_id and not await uow.teams.is_member(
            case.team_id, successor_id
        ):
            raise DomainError("error.not_team_member")
        if await uow.followup.pending_handover(case_id) is not None:
            raise DomainError("error.handover_pending")
        handover = await uow.followup.add_handover(
            HandOver(None, case_id, actor_id, successor_id, note, now)
        )
        assert handover.id is not None
        subject = handover_subject(handover.id)
        base = f"handover:{handover.id}"
        await message_case(
            uow,
            case,
            key=f"{base}:proposed",
            kind="handover.proposed",
            user_id=successor_id,
            due_at=now,
            now=now,
            subject=subject,
            handover_id=handover.id,
        )
        await message_case(
            uow,
            case,
            key=f"{base}:reminder",
            kind="handover.reminder",
            user_id=successor_id,
            due_at=calendar.add_working_days(now, HANDOVER_REMINDER_DAYS),
            now=now,
            subject=subject,
            handover_id=handover.id,
        )
        for coordinator in await follow_up_coordinators(uow, case):
            await message_case(
                uow,
                case,
                key=f"{base}:escalation:{coordinator}",
                kind="handover.escalation",
                user_id=coordinator,
                due_at=calendar.add_working_days(now, HANDOVER_ESCALATION_DAYS),
                now=now,
                subject=subject,
                handover_id=handover.id,
            )
        await audit_case(
            uow, actor_id, "handover.proposed", case, now, handover=handover.id, to=successor_id
        )
        await uow.commit()
        return handover


@dataclass(frozen=True)
class HandOverView:
    handover: HandOver
    case: Consultation
    from_name: str
    to_name: str
    recommendations: Sequence[Recommendation]


async def view_handover(
    uow: UnitOfWork, actor_id: int, handover_id: int, now: datetime
) -> HandOverView:
    async with uow:
        handover = await uow.followup.get_handover(handover_id)
        if handover is None:
            raise NotFound()
        case = await sent_case(uow, handover.consultation_id)
        # The requester hears who follows their client up; the two case managers and the
        # coordinators see the whole hand-over.
        if actor_id not in (handover.from_user_id, handover.to_user_id, case.requester_id):
            await require_coordinator(uow, case.team_id, actor_id)
        view = await _handover_view(uow, handover, case)
        await audit_case(uow, actor_id, "handover.viewed", case, now, handover=handover_id)
        await uow.commit()
        return view


async def _handover_view(uow: UnitOfWork, handover: HandOver, case: Consultation) -> HandOverView:
    assert case.id is not None
    people = await uow.users.get_many([handover.from_user_id, handover.to_user_id])
    return HandOverView(
        handover,
        case,
        people[handover.from_user_id].name if handover.from_user_id in people else "",
        people[handover.to_user_id].name if handover.to_user_id in people else "",
        [r for r in await uow.followup.recommendations(case.id) if r.active],
    )


async def answer_handover(
    uow: UnitOfWork,
    actor_id: int,
    handover_id: int,
    accept: bool,
    reason: str,
    now: datetime,
    calendar: BusinessCalendar,
) -> HandOverView:
    """The successor accepts (and becomes the case manager) or declines; the previous case
    manager, the coordinator and, on acceptance, the requester are told."""
    async with uow:
        handover = await uow.followup.get_handover(handover_id, lock=True)
        if handover is None:
            raise NotFound()
        case = await sent_case(uow, handover.consultation_id)
        assert case.id is not None
        handover.answer(actor_id, accept, now, reason)
        if accept and case.status not in AFTER_SUMMARY:
            raise DomainError("error.case_not_in_follow_up")
        await uow.followup.save_handover(handover)
        await uow.outbox.cancel_subject(handover_subject(handover_id))
        if accept:
            await uow.followup.assign_case_manager(case.id, actor_id, actor_id, "handover", now)
            await _reschedule_for_new_manager(uow, case, now, calendar)
        kind = "handover.accepted" if accept else "handover.declined"
        told = [handover.from_user_id, *await follow_up_coordinators(uow, case)]
        if accept:
            told.append(case.requester_id)
        for user_id in dict.fromkeys(told):
            if user_id == actor_id:
                continue
            await message_case(
                uow,
                case,
                key=f"handover:{handover_id}:{kind}:{user_id}",
                kind=kind,
                user_id=user_id,
                due_at=now,
                now=now,
                handover_id=handover_id,
            )
        await audit_case(uow, actor_id, kind, case, now, handover=handover_id)
        view = await _handover_view(uow, handover, case)
        await uow.commit()
        return view


# --- feedback ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackView:
    case: Consultation
    given: Feedback | None


async def view_feedback(uow: UnitOfWork, actor_id: int, case_id: int) -> FeedbackView:
    async with uow:
        case = await sent_case(uow, case_id)
        if case.requester_id != actor_id:
            raise DomainError("error.not_requester")
        given = await uow.followup.feedback(case_id)
        return FeedbackView(case, given[-1] if given else None)


async def give_feedback(
    uow: UnitOfWork, actor_id: int, case_id: int, rating: int, comment: str, now: datetime
) -> FeedbackView:
    """The requester tells how useful the consultation was: once per round."""
    async with uow:
        case = await sent_case(uow, case_id)
        if case.requester_id != actor_id:
            raise DomainError("error.not_requester")
        latest = await _published(uow, case_id)
        if latest is None:
            raise DomainError("error.summary_not_published")
        feedback = Feedback(case_id, rating, comment, now)
        if not await uow.followup.add_feedback(feedback, latest.round):
            raise DomainError("error.feedback_given")
        await uow.outbox.cancel_subject(feedback_subject(case_id))
        await audit_case(uow, actor_id, "feedback.given", case, now, rating=rating)
        await uow.commit()
        return FeedbackView(case, feedback)


__all__ = [
    "FollowUpAction",
    "HandOverState",
    "SummaryState",
]
