"""Delivery: turns a claimed outbox row into a card in the recipient's language and sends it
through the Bot Connector, inside Teams' rate limits."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot import invitations
from bot.edge.connector import BotConnector
from bot.i18n import HELSINKI, Texts, team_texts, texts_for
from bot.ratelimit import RateLimiter
from consultations import case_manager, feedback, handovers, recommendations, summaries
from consultations.consultation import CaseStatus, Consultation
from consultations.delivery import DeliveryFailure, FailureKind
from consultations.errors import DomainError
from consultations.intake import latest_exchange
from consultations.model import ClaimedMessage, RecipientType, Role, User
from consultations.poll import AvailabilityPoll, PollState
from consultations.ports import Clock, UnitOfWork
from consultations.records import RetentionPolicy
from dialogs.cards import followup as followup_cards
from dialogs.cards import poll as poll_cards
from dialogs.cards import registry as cards
from dialogs.cards import retention as retention_cards
from dialogs.cards import summary as summary_cards
from dialogs.cards import triage as triage_cards
from dialogs.cards.base import Card, attachment
from dialogs.triage import DECIDED

log = logging.getLogger(__name__)

UowFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class RenderContext:
    """What a renderer may use beyond the payload: a unit of work (opened only when the
    card needs more than the payload), the address of a meeting's .ics, and the time."""

    uows: UowFactory
    # (poll, attendee, until when the link works, case number) -> the .ics address
    ics_url: Callable[[int, int, datetime, str], str]
    clock: Clock

    def today(self) -> date:
        return self.clock.now().astimezone(HELSINKI).date()


Renderer = Callable[[RenderContext, Texts, dict[str, Any]], Awaitable[Card]]


async def _render_role_granted(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
    async with ctx.uows() as uow:
        team = await uow.teams.get(int(payload["team_id"]))
    return cards.role_granted_card(t, team.name if team else "", Role(payload["role"]))


async def _render_unreachable(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
    async with ctx.uows() as uow:
        team = await uow.teams.get(int(payload["team_id"]))
        user = await uow.users.get(int(payload["user_id"]))
    return cards.unreachable_card(t, team.name if team else "", user.name if user else "")


async def _render_digest(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
    team_id = int(payload["team_id"])
    async with ctx.uows() as uow:
        team = await uow.teams.get(team_id)
        failures = await uow.outbox.failure_count([team_id])
        unreachable = [m.name for m in await uow.teams.members(team_id) if m.unreachable_since]
    return cards.digest_card(
        t,
        team.name if team else "",
        failures,
        unreachable,
        waiting=int(payload.get("open", 0)),
        overdue=int(payload.get("overdue", 0)),
        no_summary=int(payload.get("no_summary", 0)),
        overdue_recommendations=int(payload.get("overdue_recommendations", 0)),
        handovers_waiting=int(payload.get("handovers_waiting", 0)),
    )


async def _case_parts(
    uows_: UowFactory, case_id: int
) -> tuple[Consultation, str, str, Sequence[tuple[str, str, datetime]]]:
    async with uows_() as uow:
        case = await uow.consultations.get(case_id)
        if case is None:
            raise KeyError(case_id)
        requester = await uow.users.get(case.requester_id)
        team = await uow.teams.get(case.team_id) if case.team_id else None
        notes = await uow.consultations.notes(case_id)
    return case, requester.name if requester else "", team.name if team else "", notes


def _triage_renderer(reminder: str) -> Renderer:
    async def render(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
        case, requester, team, notes = await _case_parts(ctx.uows, int(payload["case_id"]))
        decided = (
            "" if case.is_open_for_triage() else DECIDED.get(case.status, "triage.decided.accepted")
        )
        return triage_cards.triage_card(
            t,
            case,
            requester_name=requester,
            team_name=team,
            notes=notes,
            decided=decided,
            # A reminder for a request someone already decided says so instead of nagging.
            reminder=reminder if not decided else "",
        )

    return render


def _question_renderer(reminder: bool) -> Renderer:
    async def render(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
        case, _requester, _team, notes = await _case_parts(ctx.uows, int(payload["case_id"]))
        question, answer = latest_exchange(notes)
        if case.status is CaseStatus.NEEDS_INFO:
            question, answer = case.pending_question or question, None
        return triage_cards.question_card(t, case, question, answer=answer, reminder=reminder)

    return render


def _decision_renderer(decision: str) -> Renderer:
    async def render(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
        case, _requester, _team, _notes = await _case_parts(ctx.uows, int(payload["case_id"]))
        return triage_cards.decision_card(t, case, decision)

    return render


async def _poll_parts(ctx: RenderContext, poll_id: int) -> tuple[AvailabilityPoll, str, bool]:
    """The poll, its case number, and whether its team shows invitees the tallies."""
    async with ctx.uows() as uow:
        poll = await uow.polls.get(poll_id)
        if poll is None:
            raise KeyError(poll_id)
        case = await uow.consultations.get(poll.consultation_id)
        team = await uow.teams.get(poll.team_id)
    tallies = team.settings.show_tallies if team else True
    return poll, (case.case_number or "") if case else "", tallies


def _vote_renderer(reminder: bool) -> Renderer:
    async def render(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
        poll, case_number, tallies = await _poll_parts(ctx, int(payload["poll_id"]))
        user_id = int(payload["user_id"])
        # A nudge for a poll already closed, or already answered, shows the card as it is.
        still = reminder and poll.state is PollState.OPEN
        return poll_cards.vote_card(
            t, poll, user_id=user_id, case_number=case_number, show_tallies=tallies, reminder=still
        )

    return render


def _overview_renderer(reason: str) -> Renderer:
    async def render(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
        poll, case_number, _tallies = await _poll_parts(ctx, int(payload["poll_id"]))
        return poll_cards.overview_card(t, poll, case_number=case_number, reason=reason)

    return render


def _meeting_renderer(*, cancelled: bool = False, rescheduled: bool = False) -> Renderer:
    async def render(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
        poll, case_number, _tallies = await _poll_parts(ctx, int(payload["poll_id"]))
        assert poll.id is not None
        return poll_cards.meeting_confirmation_card(
            t,
            poll,
            case_number=case_number,
            ics_url=ctx.ics_url(
                poll.id,
                int(payload["user_id"]),
                invitations.expires(
                    poll.chosen_slot.end if poll.chosen_slot else None, ctx.clock.now()
                ),
                case_number,
            ),
            cancelled=cancelled,
            rescheduled=rescheduled,
        )

    return render


# --- after the meeting: each card is the use case's own view, as the recipient may see it ---


def _summary_prompt_renderer(reminder: bool) -> Renderer:
    async def render(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
        async with ctx.uows() as uow:
            case = await uow.consultations.get(int(payload["case_id"]))
            poll = await uow.polls.get(int(payload["poll_id"]))
        if case is None or poll is None:
            raise KeyError(payload["case_id"])
        return summary_cards.summary_prompt_card(
            t,
            case_id=int(payload["case_id"]),
            case_number=case.case_number or "",
            meeting=poll.chosen_slot,
            reminder=reminder,
            done=case.status is not CaseStatus.SCHEDULED,
        )

    return render


async def _render_summary(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
    user_id = int(payload["user_id"])
    view = await summaries.view_summary(
        ctx.uows(), user_id, int(payload["summary_id"]), ctx.clock.now(), ctx.today()
    )
    return summary_cards.summary_card(t, view, for_user=user_id)


async def _render_case_notice(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
    async with ctx.uows() as uow:
        case = await uow.consultations.get(int(payload["case_id"]))
    if case is None:
        raise KeyError(payload["case_id"])
    return summary_cards.case_notice_card(t, case.case_number or "", CaseStatus(payload["status"]))


def _recommendation_renderer(reason: str) -> Renderer:
    async def render(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
        view = await recommendations.view_recommendation(
            ctx.uows(), int(payload["user_id"]), int(payload["recommendation_id"]), ctx.clock.now()
        )
        return followup_cards.recommendation_card(t, view, reason=reason)

    return render


async def _render_review(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
    view = await case_manager.review_view(
        ctx.uows(), int(payload["user_id"]), int(payload["case_id"]), ctx.clock.now()
    )
    return followup_cards.review_card(t, view, reason="reminder.review_due")


def _handover_renderer(reason: str = "", result: bool = False) -> Renderer:
    async def render(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
        user_id = int(payload["user_id"])
        view = await handovers.view_handover(
            ctx.uows(), user_id, int(payload["handover_id"]), ctx.clock.now()
        )
        if result:
            return followup_cards.handover_result_card(t, view, for_user=user_id)
        return followup_cards.handover_card(t, view, for_user=user_id, reason=reason)

    return render


def _case_renderer(build: Callable[[Texts, Consultation], Card]) -> Renderer:
    async def render(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
        case, _requester, _team, _notes = await _case_parts(ctx.uows, int(payload["case_id"]))
        return build(t, case)

    return render


async def _render_feedback(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
    view = await feedback.view_feedback(
        ctx.uows(), int(payload["user_id"]), int(payload["case_id"])
    )
    return followup_cards.feedback_card(t, view)


# --- retention (SPEC §5) ----------------------------------------------------------------


async def _render_draft_expiring(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
    async with ctx.uows() as uow:
        draft = await uow.consultations.get(int(payload["case_id"]))
    if draft is None:
        raise KeyError(payload["case_id"])
    deletes_at = datetime.fromisoformat(str(payload["deletes_at"]))
    return retention_cards.draft_expiring_card(t, draft, deletes_at)


async def _render_privacy_digest(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
    counts = {k: v for k, v in payload.items() if isinstance(v, int)}
    policy = RetentionPolicy.from_json(payload)
    return retention_cards.privacy_digest_card(t, str(payload["week"]), policy, counts)


async def _render_text(ctx: RenderContext, t: Texts, payload: dict[str, Any]) -> Card:
    # Used by tests and operators: a plain message whose text is a catalog id.
    return {"text": t(str(payload["message_id"]))}


RENDERERS: dict[str, Renderer] = {
    "role.granted": _render_role_granted,
    "delivery.unreachable": _render_unreachable,
    "digest": _render_digest,
    "text": _render_text,
    "triage.request": _triage_renderer(""),
    "triage.reminder": _triage_renderer("reminder.triage"),
    "triage.escalation": _triage_renderer("reminder.triage_escalation"),
    "case.question": _question_renderer(False),
    "question.reminder": _question_renderer(True),
    "case.accepted": _decision_renderer("accepted"),
    "case.declined": _decision_renderer("declined"),
    "case.withdrawn": _decision_renderer("withdrawn"),
    "poll.invite": _vote_renderer(False),
    "poll.nudge": _vote_renderer(True),
    "poll.deadline": _overview_renderer("reminder.poll_deadline_passed"),
    "poll.everyone_answered": _overview_renderer("notice.poll_everyone_answered"),
    "meeting.confirmed": _meeting_renderer(),
    "meeting.rescheduled": _meeting_renderer(rescheduled=True),
    "meeting.cancelled": _meeting_renderer(cancelled=True),
    "summary.prompt": _summary_prompt_renderer(False),
    "summary.missing": _summary_prompt_renderer(True),
    "summary.published": _render_summary,
    "case.notice": _render_case_notice,
    "recommendation.due": _recommendation_renderer("reminder.recommendation_due"),
    "recommendation.escalation": _recommendation_renderer("reminder.recommendation_overdue"),
    "review.due": _render_review,
    "handover.proposed": _handover_renderer(),
    "handover.reminder": _handover_renderer("reminder.handover"),
    "handover.escalation": _handover_renderer("reminder.handover_escalation"),
    "handover.accepted": _handover_renderer(result=True),
    "handover.declined": _handover_renderer(result=True),
    "case.closed": _case_renderer(followup_cards.case_closed_card),
    "case.brought_back": _case_renderer(followup_cards.brought_back_card),
    "feedback.request": _render_feedback,
    "draft.expiring": _render_draft_expiring,
    "digest.privacy": _render_privacy_digest,
}


REPLY_KIND = "reply"


class PersonalChats:
    """A user's 1:1 chat with the bot: the one Teams told about, or a new one opened."""

    def __init__(
        self,
        *,
        connector: BotConnector,
        limiter: RateLimiter,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
    ) -> None:
        self._connector = connector
        self._limiter = limiter
        self._uow = uow_factory
        self._clock = clock

    async def conversation_of(self, user: User) -> str:
        """Raises DeliveryFailure when Teams will not open one (yet)."""
        if user.personal_conversation_id:
            return user.personal_conversation_id
        if not user.service_url:
            raise DeliveryFailure(FailureKind.PERMANENT, "no service url known")
        await self._limiter.acquire(user.tenant_id, "create-conversation")
        conversation_id = await self._connector.create_personal_conversation(
            user.service_url,
            bot_id=user.bot_id,
            user_id=user.teams_user_id,
            tenant_id=user.tenant_id,
        )
        async with self._uow() as uow:
            await uow.users.set_personal_conversation(user.id, conversation_id, self._clock.now())
            await uow.commit()
        user.personal_conversation_id = conversation_id
        return conversation_id


class ConnectorSender:
    """Implements the dispatcher's `Sender` port."""

    def __init__(
        self,
        *,
        connector: BotConnector,
        limiter: RateLimiter,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        ics_url: Callable[[int, int, datetime, str], str],
        read_uow_factory: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        """`read_uow_factory`: what rendering and the recipients' look-ups read through
        (on SQLite beside the writer, so a tick's fan-out does not hold turns up)."""
        self._connector = connector
        self._limiter = limiter
        self._uow = read_uow_factory or uow_factory
        self._context = RenderContext(self._uow, ics_url, clock)
        self._clock = clock
        self._users: dict[int, User] = {}
        self._chats = PersonalChats(
            connector=connector, limiter=limiter, uow_factory=uow_factory, clock=clock
        )

    async def prepare(self, messages: Sequence[ClaimedMessage]) -> None:
        """Load every recipient of a batch in one query instead of one per message."""
        ids = {
            int(m.recipient_id)
            for m in messages
            if m.recipient_type is RecipientType.USER and m.recipient_id.isdigit()
        }
        async with self._uow() as uow:
            self._users = dict(await uow.users.get_many(sorted(ids))) if ids else {}

    async def _recipient(self, user_id: int) -> User | None:
        user = self._users.get(user_id)
        if user is None:
            async with self._uow() as uow:
                user = await uow.users.get(user_id)
        return user

    async def _user(self, message: ClaimedMessage) -> User:
        if not message.recipient_id.isdigit():
            raise DeliveryFailure(FailureKind.PERMANENT, "recipient not found")
        user = await self._recipient(int(message.recipient_id))
        if user is None:
            raise DeliveryFailure(FailureKind.PERMANENT, "recipient not found")
        if user.unreachable_since is not None:
            raise DeliveryFailure(FailureKind.UNREACHABLE, "recipient unreachable")
        return user

    async def send(self, message: ClaimedMessage) -> tuple[str | None, str | None]:
        if message.kind == REPLY_KIND:
            return await self._send_reply(message)
        renderer = RENDERERS.get(message.kind)
        if renderer is None:
            raise DeliveryFailure(FailureKind.PERMANENT, f"unknown kind {message.kind}")
        user = None
        if message.recipient_type is RecipientType.USER:
            user = await self._user(message)
            service_url, tenant = user.service_url, user.tenant_id
            texts = texts_for(user.speaks)
        else:
            async with self._uow() as uow:
                team = await uow.teams.get(message.team_id) if message.team_id else None
            if team is None:
                raise DeliveryFailure(FailureKind.PERMANENT, "team not found")
            service_url, tenant = team.service_url, team.tenant_id
            texts = team_texts(team.settings)
        try:
            rendered = await renderer(self._context, texts, message.payload)
        except (KeyError, ValueError, TypeError):
            raise DeliveryFailure(FailureKind.PERMANENT, "payload does not fit its kind") from None
        except DomainError as error:
            # The recipient may no longer see this (a role handed on, a case gone).
            raise DeliveryFailure(FailureKind.PERMANENT, f"refused: {error.code}") from None
        if not service_url:
            raise DeliveryFailure(FailureKind.PERMANENT, "no service url known")
        # First proactive message to a user: their 1:1 chat is opened and remembered.
        conversation_id = (
            await self._chats.conversation_of(user) if user is not None else message.recipient_id
        )
        if "text" in rendered and "type" not in rendered:
            activity: dict[str, Any] = {"type": "message", "text": rendered["text"]}
        else:
            activity = {"type": "message", "attachments": [attachment(rendered)]}
        return await self._post(service_url, tenant, conversation_id, activity), conversation_id

    async def _send_reply(self, message: ClaimedMessage) -> tuple[str | None, str | None]:
        """A reply a turn could not deliver in time: sent as it was written."""
        payload = message.payload
        activity = payload.get("activity")
        if not isinstance(activity, dict):
            raise DeliveryFailure(FailureKind.PERMANENT, "payload does not fit its kind")
        reply_to = payload.get("reply_to")
        if message.recipient_type is RecipientType.USER:
            user = await self._user(message)
            service_url, tenant = user.service_url, user.tenant_id
            conversation_id = await self._chats.conversation_of(user)
        else:
            service_url, tenant = (
                str(payload.get("service_url", "")),
                str(payload.get("tenant", "")),
            )
            conversation_id = message.recipient_id
        if not service_url:
            raise DeliveryFailure(FailureKind.PERMANENT, "no service url known")
        activity_id = await self._post(
            service_url,
            tenant,
            conversation_id,
            activity,
            reply_to=reply_to if isinstance(reply_to, str) else None,
        )
        return activity_id, conversation_id

    async def _post(
        self,
        service_url: str,
        tenant: str,
        conversation_id: str,
        activity: dict[str, Any],
        *,
        reply_to: str | None = None,
    ) -> str | None:
        await self._limiter.acquire(tenant, conversation_id)
        try:
            return await self._connector.send(
                service_url, conversation_id, activity, reply_to=reply_to
            )
        except DeliveryFailure as failure:
            if failure.retry_after is not None:
                self._limiter.throttled(tenant, conversation_id, failure.retry_after)
            raise
