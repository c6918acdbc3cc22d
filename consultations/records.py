"""What the bot keeps about a case, and for how long (SPEC §5).

The county's retention policy, what anonymisation wipes and what it keeps, and the shapes
the data subject's rights are exercised through: a case's header and its audit trail.
"""

from __future__ import annotations

import enum
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from consultations.consultation import FINISHED, TEXT_FIELDS, CaseStatus
from consultations.errors import DomainError

HELSINKI = ZoneInfo("Europe/Helsinki")

# SPEC §5 defaults. The county's admins may change the two periods; a team may shorten the
# first for its own cases (TeamSettings.retention_months).
DEFAULT_CASE_MONTHS = 24
DEFAULT_AUDIT_YEARS = 5
MAX_CASE_MONTHS = 120
MAX_AUDIT_YEARS = 12
# Not configurable: a draft nobody has touched for a month was abandoned; delivered
# messages and dead letters are only needed to answer "did it arrive" for a while.
DRAFT_DAYS = 30
DRAFT_WARNING_DAYS = 7
HOUSEKEEPING_DAYS = 90

# What a finished case's request keeps after anonymisation: the categories and dates the
# reports count. Everything else in it is wiped.
WIPED_REQUEST_FIELDS = (*TEXT_FIELDS, "self_rating", "consent_date")
ANONYMISABLE = FINISHED


@dataclass(frozen=True)
class RetentionPolicy:
    """The county's periods, set by an admin."""

    case_months: int = DEFAULT_CASE_MONTHS
    audit_years: int = DEFAULT_AUDIT_YEARS

    def to_json(self) -> dict[str, int]:
        return {"case_months": self.case_months, "audit_years": self.audit_years}

    @classmethod
    def from_json(cls, data: object) -> RetentionPolicy:
        if not isinstance(data, dict):
            return cls()
        months, years = data.get("case_months"), data.get("audit_years")
        return cls(
            case_months=months if isinstance(months, int) else DEFAULT_CASE_MONTHS,
            audit_years=years if isinstance(years, int) else DEFAULT_AUDIT_YEARS,
        )

    def validate(self) -> None:
        """Refuse periods out of range, or an audit trail that would end before the texts
        it accounts for (who read a case must be answerable while the case exists)."""
        if not 1 <= self.case_months <= MAX_CASE_MONTHS:
            raise DomainError("error.retention_case_months", limit=MAX_CASE_MONTHS)
        if not 1 <= self.audit_years <= MAX_AUDIT_YEARS:
            raise DomainError("error.retention_audit_years", limit=MAX_AUDIT_YEARS)
        if self.audit_years * 12 < self.case_months:
            raise DomainError("error.retention_audit_shorter")

    def months_for(self, team_months: int | None) -> int:
        """A team's period: its own when stricter, the county's otherwise."""
        if team_months is None:
            return self.case_months
        return min(team_months, self.case_months)


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock moment `months` calendar months earlier in Helsinki (31 March
    minus one month is 28 or 29 February)."""
    local = moment.astimezone(HELSINKI)
    index = local.year * 12 + (local.month - 1) - months
    year, month = divmod(index, 12)
    day = min(local.day, monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day)


def years_before(moment: datetime, years: int) -> datetime:
    return months_before(moment, years * 12)


def days_before(moment: datetime, days: int) -> datetime:
    return moment - timedelta(days=days)


def anonymised_details(details: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON without its free texts, self-rating and consent date."""
    wiped = dict(details)
    for name in WIPED_REQUEST_FIELDS:
        if name in wiped:
            wiped[name] = "" if name in TEXT_FIELDS else None
    return wiped


def anonymised_plan(items: object) -> list[Any]:
    """A summary's plan (its JSON list) with every recommendation's text wiped; owners,
    due dates and ids stay for the reports."""
    if not isinstance(items, list):
        return []
    return [{**item, "text": ""} if isinstance(item, dict) else item for item in items]


class ErasureReason(enum.StrEnum):
    """Why an admin erases a case. A code, never free text: the audit record of an
    erasure must not keep what the erasure removed."""

    DATA_SUBJECT_REQUEST = "data_subject_request"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    ENTERED_IN_ERROR = "entered_in_error"
    UNLAWFUL_PROCESSING = "unlawful_processing"


@dataclass(frozen=True)
class CaseHeader:
    """What identifies a case to an admin: no client detail."""

    id: int
    case_number: str
    team_id: int | None
    team_name: str
    status: CaseStatus
    requester_id: int
    created_at: datetime
    submitted_at: datetime | None
    ended_at: datetime | None
    anonymised_at: datetime | None


@dataclass(frozen=True)
class TrailEntry:
    """One line of a case's audit trail: a recorded action or a change of status."""

    at: datetime
    actor_user_id: int | None
    actor_name: str
    action: str
    from_status: str | None = None
    to_status: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def is_transition(self) -> bool:
        return self.to_status is not None


@dataclass(frozen=True)
class ExpiredCase:
    id: int
    team_id: int | None
    status: CaseStatus


@dataclass(frozen=True)
class IdleDraft:
    """A draft with the moment its requester last touched it."""

    id: int
    requester_id: int
    team_id: int | None
    last_touched: datetime
    reminded_at: datetime | None


@dataclass
class RetentionReport:
    """What one run of the daily job did (numbers only)."""

    anonymised: int = 0
    late_texts_wiped: int = 0
    drafts_reminded: int = 0
    drafts_deleted: int = 0
    outbox_pruned: int = 0
    documents_pruned: int = 0
    audit_pruned: int = 0
    skipped: bool = False

    def changed(self) -> bool:
        return any(
            (
                self.anonymised,
                self.late_texts_wiped,
                self.drafts_reminded,
                self.drafts_deleted,
                self.outbox_pruned,
                self.documents_pruned,
                self.audit_pruned,
            )
        )

    def to_json(self) -> dict[str, int]:
        return {
            "anonymised": self.anonymised,
            "late_texts_wiped": self.late_texts_wiped,
            "drafts_reminded": self.drafts_reminded,
            "drafts_deleted": self.drafts_deleted,
            "outbox_pruned": self.outbox_pruned,
            "documents_pruned": self.documents_pruned,
            "audit_pruned": self.audit_pruned,
        }
