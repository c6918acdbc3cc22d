"""The meeting summary and what follows it (SPEC §2.4–§2.5): recommendations with owners
and due dates, the case manager, hand-overs *saattaen vaihtaen*, outcomes and feedback.

A published summary is never edited in place: an amendment is a new version, and the
versions before it stay as they were published. Recommendations live on beside the
versions, each with its whole status history.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from consultations.errors import DomainError, IdentityCodeRefused, InvalidInput
from consultations.privacy import contains_identity_code

MAX_FINDINGS = 3000
MAX_RECOMMENDATION = 1000
MAX_REASON = 1000
MAX_RECOMMENDATIONS = 15
MAX_ATTENDEES = 40
# How far ahead a due or review date may be set.
MAX_DAYS_AHEAD = 730
# SPEC §2.6 defaults, in working days.
ESCALATION_DAYS = 5
HANDOVER_REMINDER_DAYS = 2
HANDOVER_ESCALATION_DAYS = 5
SUMMARY_MISSING_DAYS = 1
FEEDBACK_AFTER_DAYS = 28


class OutsideParty(enum.StrEnum):
    """Owners outside the team; their items are followed up by the case manager.

    The owner types a report counts the implementation rate by (issue 13): these and
    "team member" for a person in the bot."""

    KELA = "kela"
    EMPLOYMENT_SERVICES = "employment_services"
    OCCUPATIONAL_HEALTH = "occupational_health"
    HEALTH_SERVICES = "health_services"
    SOCIAL_SERVICES = "social_services"
    EDUCATION = "education"
    NGO = "ngo"
    OTHER = "other"


class NotImplementedReason(enum.StrEnum):
    """Why a recommendation was not carried out, as a category a report can count; the
    free-text reason beside it says the rest (and never leaves the case)."""

    CLIENT_DECLINED = "client_declined"
    SITUATION_CHANGED = "situation_changed"
    SERVICE_UNAVAILABLE = "service_unavailable"
    DECISION_NEGATIVE = "decision_negative"
    NO_CONTACT = "no_contact"
    OTHER = "other"


class RecommendationStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NOT_IMPLEMENTED = "not_implemented"
    # Taken out of the plan by an amended summary.
    REMOVED = "removed"


RS = RecommendationStatus
REC_TRANSITIONS: dict[RecommendationStatus, frozenset[RecommendationStatus]] = {
    RS.OPEN: frozenset({RS.IN_PROGRESS, RS.DONE, RS.NOT_IMPLEMENTED, RS.REMOVED}),
    # "In progress" again with a new date is a move of its own, recorded like any other.
    RS.IN_PROGRESS: frozenset({RS.IN_PROGRESS, RS.DONE, RS.NOT_IMPLEMENTED, RS.REMOVED}),
    RS.DONE: frozenset(),
    RS.NOT_IMPLEMENTED: frozenset(),
    RS.REMOVED: frozenset(),
}
ACTIVE = frozenset({RS.OPEN, RS.IN_PROGRESS})


class SummaryState(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class HandOverState(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


def clean_text(value: object, limit: int, *, required_code: str = "") -> str:
    """Free text from a card: a string, within `limit`, without identity codes."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput()
    text = value.strip()
    if required_code and not text:
        raise DomainError(required_code)
    if len(text) > limit:
        raise DomainError("error.field_too_long", limit=limit)
    if contains_identity_code(text):
        raise IdentityCodeRefused()
    return text


def check_future_date(value: date, today: date, code: str) -> date:
    """A due or review date: today at the earliest, at most two years ahead."""
    if value < today or (value - today).days > MAX_DAYS_AHEAD:
        raise DomainError(code)
    return value


@dataclass(frozen=True)
class Owner:
    """Who carries a recommendation out: a person in the bot, or an outside party."""

    user_id: int | None = None
    party: OutsideParty | None = None

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.party is None):
            raise ValueError("an owner is either a user or an outside party")

    @property
    def token(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else f"party:{self.party}"

    @classmethod
    def parse(cls, token: object) -> Owner:
        """Read a card's owner choice ("user:12" or "party:kela"); refuse anything else."""
        if not isinstance(token, str) or ":" not in token:
            raise InvalidInput()
        kind, _, value = token.partition(":")
        if kind == "user" and value.isdigit() and 0 < int(value) < 2**31:
            return cls(user_id=int(value))
        if kind == "party":
            try:
                return cls(party=OutsideParty(value))
            except ValueError:
                raise InvalidInput() from None
        raise InvalidInput()


@dataclass(frozen=True)
class PlannedRecommendation:
    """A recommendation as one summary version states it."""

    text: str
    owner: Owner
    due: date
    # The live recommendation this line is (set once published).
    recommendation_id: int | None = None


@dataclass
class MeetingSummary:
    """One version of a round's summary: a draft while the coordinator writes it."""

    id: int | None
    consultation_id: int
    poll_id: int | None
    round: int
    version: int
    created_by: int
    state: SummaryState = SummaryState.DRAFT
    attendees: tuple[int, ...] = ()
    client_attended: bool | None = None
    findings: str = ""
    recommendations: tuple[PlannedRecommendation, ...] = ()
    case_manager_id: int | None = None
    review_date: date | None = None
    published_by: int | None = None
    published_at: datetime | None = None

    @property
    def is_draft(self) -> bool:
        return self.state is SummaryState.DRAFT

    def problems(self, today: date, allowed_case_managers: frozenset[int]) -> list[str]:
        """What keeps this draft from being published, as catalog codes."""
        missing = []
        if not self.attendees:
            missing.append("error.summary_no_attendees")
        if self.client_attended is None:
            missing.append("error.summary_client_attended")
        if not self.findings.strip():
            missing.append("error.summary_no_findings")
        if self.case_manager_id is None or self.case_manager_id not in allowed_case_managers:
            missing.append("error.summary_case_manager")
        if self.review_date is None or self.review_date < today:
            missing.append("error.summary_review_date")
        if any(r.due < today for r in self.recommendations if r.recommendation_id is None):
            missing.append("error.due_date")
        return missing

    def with_recommendation(self, planned: PlannedRecommendation) -> MeetingSummary:
        if len(self.recommendations) >= MAX_RECOMMENDATIONS:
            raise DomainError("error.too_many_recommendations", limit=MAX_RECOMMENDATIONS)
        return replace(self, recommendations=(*self.recommendations, planned))

    def without_recommendation(self, index: int) -> MeetingSummary:
        if not 0 <= index < len(self.recommendations):
            raise InvalidInput()
        items = list(self.recommendations)
        del items[index]
        return replace(self, recommendations=tuple(items))

    def amendment(self, actor_id: int) -> MeetingSummary:
        """The next version as a draft, starting from this published one."""
        if self.state is not SummaryState.PUBLISHED:
            raise DomainError("error.summary_not_published")
        return replace(
            self,
            id=None,
            version=self.version + 1,
            created_by=actor_id,
            state=SummaryState.DRAFT,
            published_by=None,
            published_at=None,
        )

    def publish(self, actor_id: int, at: datetime) -> None:
        if self.state is not SummaryState.DRAFT:
            raise DomainError("error.summary_published_already")
        self.state = SummaryState.PUBLISHED
        self.published_by = actor_id
        self.published_at = at


@dataclass(frozen=True)
class StatusChange:
    from_status: RecommendationStatus | None
    to_status: RecommendationStatus
    actor_user_id: int | None
    at: datetime
    reason: str = ""
    due: date | None = None


@dataclass
class Recommendation:
    """A recommendation being followed up, with every status it has had."""

    id: int | None
    consultation_id: int
    summary_id: int
    text: str
    owner: Owner
    due: date
    status: RecommendationStatus = RecommendationStatus.OPEN
    reason: str = ""
    # Set with the reason when not implemented; None for those recorded before categories.
    reason_category: NotImplementedReason | None = None
    # Set while the owner has snoozed the due reminder.
    snoozed_until: datetime | None = None
    history: list[StatusChange] = field(default_factory=list)
    version: int = 0

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def overdue(self, today: date) -> bool:
        return self.active and self.due < today

    def change(
        self,
        to: RecommendationStatus,
        actor_id: int | None,
        at: datetime,
        *,
        reason: str = "",
        category: NotImplementedReason | None = None,
        due: date | None = None,
    ) -> StatusChange:
        """Move to `to` or refuse, changing nothing; "not implemented" needs a reason and
        its category, "in progress" a new date."""
        if to not in REC_TRANSITIONS[self.status]:
            raise DomainError("error.recommendation_closed")
        if to is RS.NOT_IMPLEMENTED and not reason.strip():
            raise DomainError("error.reason_missing")
        if to is RS.NOT_IMPLEMENTED and category is None:
            raise DomainError("error.reason_category_missing")
        if to is RS.IN_PROGRESS and due is None:
            raise DomainError("error.due_date")
        step = StatusChange(self.status, to, actor_id, at, reason, due)
        self.status = to
        self.reason = reason if to is RS.NOT_IMPLEMENTED else ""
        self.reason_category = category if to is RS.NOT_IMPLEMENTED else None
        if due is not None:
            self.due = due
        self.snoozed_until = None
        self.history.append(step)
        return step

    def amend(self, text: str, owner: Owner, due: date) -> bool:
        """Take an amended summary's wording; True when anything changed."""
        if not self.active:
            return False
        changed = (text, owner, due) != (self.text, self.owner, self.due)
        self.text, self.owner, self.due = text, owner, due
        if changed:
            # The reminder is made again from the new wording's due date and owner.
            self.snoozed_until = None
        return changed


@dataclass
class HandOver:
    """The case manager role passed on *saattaen vaihtaen*: the successor must accept."""

    id: int | None
    consultation_id: int
    from_user_id: int
    to_user_id: int
    note: str
    proposed_at: datetime
    state: HandOverState = HandOverState.PROPOSED
    answered_at: datetime | None = None
    reason: str = ""

    def answer(self, actor_id: int, accept: bool, at: datetime, reason: str = "") -> None:
        if actor_id != self.to_user_id:
            raise DomainError("error.not_successor")
        if self.state is not HandOverState.PROPOSED:
            raise DomainError("error.handover_answered")
        self.state = HandOverState.ACCEPTED if accept else HandOverState.DECLINED
        self.answered_at = at
        self.reason = reason

    def cancel(self, at: datetime) -> None:
        if self.state is not HandOverState.PROPOSED:
            raise DomainError("error.handover_answered")
        self.state = HandOverState.CANCELLED
        self.answered_at = at


@dataclass(frozen=True)
class Assignment:
    """One stretch of a case manager's responsibility for a case."""

    user_id: int
    since: datetime
    until: datetime | None
    assigned_by: int | None
    reason: str


@dataclass(frozen=True)
class Feedback:
    consultation_id: int
    rating: int
    comment: str
    at: datetime


def parse_rating(value: object) -> int:
    if isinstance(value, bool):
        raise InvalidInput()
    try:
        rating = int(str(value))
    except ValueError:
        raise DomainError("error.rating") from None
    if not 1 <= rating <= 5:
        raise DomainError("error.rating")
    return rating


def owners_of(items: Sequence[Recommendation]) -> frozenset[int]:
    return frozenset(r.owner.user_id for r in items if r.owner.user_id is not None)
