"""The meeting summary (SPEC §2.4): the coordinator's draft, its publication to everyone
concerned with every reminder it starts, and amendments as new versions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from consultations.calendar import BusinessCalendar
from consultations.case_manager import AFTER_SUMMARY, schedule_review
from consultations.casework import (
    audit_case,
    channel_notice,
    feedback_subject,
    handover_subject,
    latest_published,
    message_case,
    morning,
    require_coordinator,
    sent_case,
    summary_subject,
)
from consultations.consultation import (
    CaseStatus,
    Consultation,
    case_round,
)
from consultations.errors import DomainError, NotFound
from consultations.poll import AvailabilityPoll, PollState, TimeSlot
from consultations.ports import UnitOfWork
from consultations.recommendations import follow_new_case_manager, schedule_recommendation
from consultations.summary import (
    FEEDBACK_AFTER_DAYS,
    MAX_ATTENDEES,
    SUMMARY_MISSING_DAYS,
    MeetingSummary,
    PlannedRecommendation,
    Recommendation,
    RecommendationStatus,
    StatusChange,
)


def meeting_end(poll: AvailabilityPoll) -> datetime | None:
    chosen = poll.chosen_slot
    return chosen.end if chosen else None


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
    # The poll's invitees: who the pickers suggest on a team of hundreds.
    invited: Sequence[int] = ()

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
        invited=invited,
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
            latest = await latest_published(uow, case_id)
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
        for recommendation in touched:
            await schedule_recommendation(uow, case, recommendation, now, calendar)
        if manager_changed:
            # Outside owners' reminders go to the case manager: all of them move.
            touched_ids = {r.id for r in touched}
            await follow_new_case_manager(
                uow, case, [r for r in live.values() if r.id not in touched_ids], now, calendar
            )
        await schedule_review(uow, case, summary.review_date, now, calendar)
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
            await channel_notice(uow, case, f"summary:{summary_id}:notice", now)
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
            latest = await latest_published(uow, case_id)
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
