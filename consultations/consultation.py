"""The consultation aggregate: a request, its life cycle and its history.

Every state change goes through `Consultation.transition`, which refuses an illegal move
before anything changes and records who made it and when.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from consultations.errors import DomainError, IdentityCodeRefused, InvalidInput
from consultations.model import Profession
from consultations.privacy import contains_identity_code


class CaseStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    NEEDS_INFO = "needs_info"
    ACCEPTED = "accepted"
    SCHEDULING = "scheduling"
    SCHEDULED = "scheduled"
    CONSULTED = "consulted"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


S = CaseStatus
# SPEC §2: the main line, the loop with the requester, the side exits, and a case brought
# back to the team from follow-up.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.NEEDS_INFO, S.ACCEPTED, S.DECLINED, S.WITHDRAWN}),
    S.NEEDS_INFO: frozenset({S.SUBMITTED, S.DECLINED, S.WITHDRAWN}),
    S.ACCEPTED: frozenset({S.SCHEDULING, S.CANCELLED, S.WITHDRAWN}),
    S.SCHEDULING: frozenset({S.SCHEDULED, S.ACCEPTED, S.CANCELLED, S.WITHDRAWN}),
    S.SCHEDULED: frozenset({S.CONSULTED, S.SCHEDULING, S.CANCELLED, S.WITHDRAWN}),
    S.CONSULTED: frozenset({S.FOLLOW_UP, S.CLOSED}),
    S.FOLLOW_UP: frozenset({S.CLOSED, S.SUBMITTED}),
    S.CLOSED: frozenset(),
    S.DECLINED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.CANCELLED: frozenset(),
}
OPEN_FOR_TRIAGE = frozenset({S.SUBMITTED, S.NEEDS_INFO})
# A requester may take the request back until the meeting has been held.
WITHDRAWABLE = frozenset({S.SUBMITTED, S.NEEDS_INFO, S.ACCEPTED, S.SCHEDULING, S.SCHEDULED})
FINISHED = frozenset({S.CLOSED, S.DECLINED, S.WITHDRAWN, S.CANCELLED})


class Consent(enum.StrEnum):
    OBTAINED = "obtained"
    TYP_EXCEPTION = "typ_exception"
    NOT_YET = "not_yet"


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Service(enum.StrEnum):
    EMPLOYMENT_SERVICES = "employment_services"
    TYP = "typ"
    KELA = "kela"
    OCCUPATIONAL_HEALTH = "occupational_health"
    HEALTH_SERVICES = "health_services"
    MENTAL_HEALTH_SUBSTANCE = "mental_health_substance"
    SOCIAL_SERVICES = "social_services"
    REHABILITATION = "rehabilitation"
    EDUCATION = "education"
    NGO = "ngo"
    PENSION_INSURER = "pension_insurer"
    OTHER = "other"


class Barrier(enum.StrEnum):
    """Siun sote's classification of barriers to work ability."""

    PHYSICAL_LIMITATION = "person.physical_limitation"
    SPECIAL_SUPPORT_NEED = "person.special_support_need"
    EXHAUSTION = "person.exhaustion"
    PAIN = "person.pain"
    COGNITION = "person.cognition"
    DIGITAL_SKILLS = "skills.digital"
    MISSING_EXPERTISE = "skills.missing_expertise"
    KEEPING_SKILLS_UP = "skills.keeping_up"
    LONG_DISTANCES = "environment.long_distances"
    NO_PUBLIC_TRANSPORT = "environment.no_public_transport"
    ACCESSIBILITY = "environment.accessibility"
    LACK_OF_JOBS = "other.lack_of_jobs"
    SOCIETAL_SITUATION = "other.societal_situation"


class Outcome(enum.StrEnum):
    """How a case ended (SPEC §2.5)."""

    EMPLOYMENT = "employment"
    STUDIES = "studies"
    REHABILITATION = "rehabilitation"
    DISABILITY_PENSION = "disability_pension"
    OTHER_SERVICES = "other_services"
    NO_LASTING_SOLUTION = "no_lasting_solution"


class DeclineRoute(enum.StrEnum):
    """Where a declined request is pointed instead."""

    OTHER_TEAM = "other_team"
    EMPLOYMENT_SERVICES = "employment_services"
    OCCUPATIONAL_HEALTH = "occupational_health"
    HEALTH_SERVICES = "health_services"
    SOCIAL_SERVICES = "social_services"
    KELA = "kela"
    OTHER = "other"


TEXT_FIELDS = (
    "client_reference",
    "question",
    "situation",
    "history",
    "work_capacity",
    "strengths",
    "goals",
    "urgent_timeframe",
)
MAX_TEXT = {"client_reference": 40, "urgent_timeframe": 200}
DEFAULT_MAX_TEXT = 2000
_CASE_NUMBER = re.compile(r"^TK-(\d{4})-(\d{4,})$")


@dataclass(frozen=True)
class RequestDetails:
    """What the requester tells the team (SPEC §2.1). All optional while a draft."""

    team_id: int | None = None
    client_reference: str = ""
    consent: Consent | None = None
    consent_date: date | None = None
    question: str = ""
    situation: str = ""
    history: str = ""
    work_capacity: str = ""
    self_rating: int | None = None
    strengths: str = ""
    goals: str = ""
    services: frozenset[Service] = frozenset()
    barriers: frozenset[Barrier] = frozenset()
    professions: frozenset[Profession] = frozenset()
    client_attends: bool | None = None
    urgency: Urgency = Urgency.NORMAL
    urgent_timeframe: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "team_id": self.team_id,
            "client_reference": self.client_reference,
            "consent": self.consent.value if self.consent else None,
            "consent_date": self.consent_date.isoformat() if self.consent_date else None,
            "question": self.question,
            "situation": self.situation,
            "history": self.history,
            "work_capacity": self.work_capacity,
            "self_rating": self.self_rating,
            "strengths": self.strengths,
            "goals": self.goals,
            "services": sorted(s.value for s in self.services),
            "barriers": sorted(b.value for b in self.barriers),
            "professions": sorted(p.value for p in self.professions),
            "client_attends": self.client_attends,
            "urgency": self.urgency.value,
            "urgent_timeframe": self.urgent_timeframe,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestDetails:
        """Read what `to_json` wrote (our own storage: trusted shape)."""
        return cls(
            team_id=data.get("team_id"),
            client_reference=data.get("client_reference") or "",
            consent=Consent(data["consent"]) if data.get("consent") else None,
            consent_date=date.fromisoformat(data["consent_date"])
            if data.get("consent_date")
            else None,
            question=data.get("question") or "",
            situation=data.get("situation") or "",
            history=data.get("history") or "",
            work_capacity=data.get("work_capacity") or "",
            self_rating=data.get("self_rating"),
            strengths=data.get("strengths") or "",
            goals=data.get("goals") or "",
            services=frozenset(Service(v) for v in data.get("services") or ()),
            barriers=frozenset(Barrier(v) for v in data.get("barriers") or ()),
            professions=frozenset(Profession(v) for v in data.get("professions") or ()),
            client_attends=data.get("client_attends"),
            urgency=Urgency(data.get("urgency") or Urgency.NORMAL.value),
            urgent_timeframe=data.get("urgent_timeframe") or "",
        )

    def merged(self, changes: dict[str, Any]) -> RequestDetails:
        """A copy with parsed, validated field changes (see `parse_fields`)."""
        return replace(self, **changes)

    def has_content(self) -> bool:
        """Whether anything was written or chosen beyond the team it defaults to."""
        return self != RequestDetails(team_id=self.team_id)

    def can_submit(self) -> bool:
        return not self.missing_for_submit()

    def missing_for_submit(self) -> list[str]:
        """Field names that must be filled (or fixed) before the team sees the request."""
        missing = []
        if self.team_id is None:
            missing.append("team_id")
        if not self.client_reference.strip():
            missing.append("client_reference")
        if self.consent not in (Consent.OBTAINED, Consent.TYP_EXCEPTION):
            missing.append("consent")
        if self.consent is Consent.OBTAINED and self.consent_date is None:
            missing.append("consent_date")
        if not self.question.strip():
            missing.append("question")
        if self.urgency is Urgency.URGENT and not self.urgent_timeframe.strip():
            missing.append("urgent_timeframe")
        return missing


def _enum_set(kind: type[enum.StrEnum], value: Any) -> frozenset[Any]:
    # Adaptive Cards send a multi-select as "a,b,c"; a tampered card may send anything.
    if value is None or value == "":
        return frozenset()
    if isinstance(value, str):
        items: list[Any] = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidInput()
    try:
        return frozenset(kind(v) for v in items)
    except (ValueError, TypeError):
        raise InvalidInput() from None


def _text(name: str, raw: Any, today: date) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise InvalidInput()
    value = raw.strip()
    limit = MAX_TEXT.get(name, DEFAULT_MAX_TEXT)
    if len(value) > limit:
        raise DomainError("error.field_too_long", limit=limit)
    if contains_identity_code(value):
        raise IdentityCodeRefused()
    return value


def _team(name: str, team: Any, today: date) -> int | None:
    if isinstance(team, bool) or not isinstance(team, int | str):
        raise InvalidInput()
    try:
        return int(team) if str(team).strip() else None
    except ValueError:
        raise InvalidInput() from None


def _consent(name: str, raw: Any, today: date) -> Consent | None:
    if raw is not None and not isinstance(raw, str):
        raise InvalidInput()
    try:
        return Consent(raw) if raw else None
    except ValueError:
        raise InvalidInput() from None


def _consent_date(name: str, raw: Any, today: date) -> date | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise InvalidInput()
    try:
        consent_date = date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput() from None
    if consent_date > today:
        raise DomainError("error.consent_date_future")
    return consent_date


def _self_rating(name: str, raw: Any, today: date) -> int | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidInput()
    try:
        number = float(str(raw).strip().replace(",", "."))
    except ValueError:
        raise DomainError("error.self_rating_range") from None
    # 12 is not quietly made 10, nor 6.5 quietly 6: the requester is asked again.
    if not number.is_integer() or not 0 <= number <= 10:
        raise DomainError("error.self_rating_range")
    return int(number)


def _client_attends(name: str, raw: Any, today: date) -> bool | None:
    mapping = {"yes": True, "no": False, "": None, "true": True, "false": False}
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw in mapping:
        return mapping[raw]
    raise InvalidInput()


def _urgency(name: str, raw: Any, today: date) -> Urgency:
    if raw is not None and not isinstance(raw, str):
        raise InvalidInput()
    try:
        return Urgency(raw or Urgency.NORMAL.value)
    except ValueError:
        raise InvalidInput() from None


_PARSERS: dict[str, Any] = {
    **dict.fromkeys(TEXT_FIELDS, _text),
    "team_id": _team,
    "consent": _consent,
    "consent_date": _consent_date,
    "self_rating": _self_rating,
    "services": lambda name, raw, today: _enum_set(Service, raw),
    "barriers": lambda name, raw, today: _enum_set(Barrier, raw),
    "professions": lambda name, raw, today: _enum_set(Profession, raw),
    "client_attends": _client_attends,
    "urgency": _urgency,
}


def check_fields(values: dict[str, Any], today: date) -> tuple[dict[str, Any], list[DomainError]]:
    """Read every field on its own: the values that are right, and a refusal for each one
    that is not, naming its field (`DomainError.field`), so a form can be shown again
    with everything else the requester typed still in it."""
    changes: dict[str, Any] = {}
    refused: list[DomainError] = []
    for name, parse in _PARSERS.items():
        if name not in values:
            continue
        try:
            changes[name] = parse(name, values[name], today)
        except DomainError as error:
            error.field = name
            refused.append(error)
    return changes, refused


def parse_fields(values: dict[str, Any], today: date) -> dict[str, Any]:
    """Turn untrusted card inputs into RequestDetails field values.

    Only known fields are read; anything malformed is refused (InvalidInput) and a
    personal identity code in any text is refused (IdentityCodeRefused) before anything
    is stored.
    """
    changes, refused = check_fields(values, today)
    if refused:
        raise refused[0]
    return changes


@dataclass(frozen=True)
class Transition:
    from_status: CaseStatus | None
    to_status: CaseStatus
    actor_user_id: int | None
    at: datetime
    reason: str = ""


@dataclass
class Consultation:
    id: int | None
    requester_id: int
    details: RequestDetails
    status: CaseStatus = CaseStatus.DRAFT
    case_number: str | None = None
    created_at: datetime | None = None
    submitted_at: datetime | None = None
    # Set while waiting for the requester: the coordinator's question, and the answers.
    pending_question: str = ""
    decline_reason: str = ""
    decline_route: DeclineRoute | None = None
    draft_page: str = ""
    outcome: Outcome | None = None
    version: int = 0
    history: list[Transition] = field(default_factory=list)

    def transition(
        self, to: CaseStatus, actor_user_id: int | None, at: datetime, reason: str = ""
    ) -> Transition:
        """Move to `to` or refuse (DomainError "error.illegal_transition") changing nothing."""
        if to not in TRANSITIONS[self.status]:
            raise DomainError("error.illegal_transition", status=self.status.value, target=to.value)
        step = Transition(self.status, to, actor_user_id, at, reason)
        self.status = to
        self.history.append(step)
        return step

    @property
    def team_id(self) -> int | None:
        return self.details.team_id

    def is_open_for_triage(self) -> bool:
        return self.status in OPEN_FOR_TRIAGE


def case_round(case: Consultation) -> int:
    """How many times the case has gone to the team: 1 for the first consultation round,
    2 once it has been brought back, and so on."""
    return sum(1 for t in case.history if t.to_status is CaseStatus.SUBMITTED)


# SPEC §2.6: a request untriaged for this many working days is overdue.
TRIAGE_REMINDER_DAYS = 2


def triage_overdue(case: Consultation, working_days_waiting: int) -> bool:
    """Overdue only while the coordinators hold it, not while the requester answers."""
    return case.status is CaseStatus.SUBMITTED and working_days_waiting >= TRIAGE_REMINDER_DAYS


def format_case_number(year: int, sequence: int) -> str:
    return f"TK-{year}-{sequence:04d}"


def parse_case_number(text: str) -> tuple[int, int] | None:
    match = _CASE_NUMBER.match(text.strip().upper())
    return (int(match.group(1)), int(match.group(2))) if match else None
