"""Domain objects: plain dataclasses and enums, no framework."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Role(enum.StrEnum):
    COORDINATOR = "coordinator"
    MEMBER = "member"


class Profession(enum.StrEnum):
    """The professions of SPEC §1, used for invitations and coverage."""

    WORK_ABILITY_COORDINATOR = "work_ability_coordinator"
    SOCIAL_WORKER = "social_worker"
    SOCIAL_COUNSELLOR = "social_counsellor"
    NURSE = "nurse"
    PHYSICIAN = "physician"
    PSYCHOLOGIST = "psychologist"
    MENTAL_HEALTH_NURSE = "mental_health_nurse"
    REHABILITATION_COUNSELLOR = "rehabilitation_counsellor"
    PHYSIOTHERAPIST = "physiotherapist"
    OCCUPATIONAL_THERAPIST = "occupational_therapist"
    OCCUPATIONAL_HEALTH = "occupational_health"
    JOB_COACH = "job_coach"
    EMPLOYMENT_SERVICES = "employment_services"
    KELA = "kela"
    NGO = "ngo"
    OTHER = "other"


@dataclass(frozen=True)
class UserRef:
    """Who a Teams activity came from, as far as the bot knows them."""

    teams_user_id: str
    aad_object_id: str | None
    name: str
    locale: str
    tenant_id: str
    service_url: str
    bot_id: str = ""


@dataclass
class User:
    id: int
    teams_user_id: str
    aad_object_id: str | None
    name: str
    locale: str
    profession: Profession | None
    tenant_id: str
    service_url: str
    personal_conversation_id: str | None
    unreachable_since: datetime | None
    bot_id: str = ""
    # The language the user chose (fi/sv/en); None follows their Teams locale.
    language: str | None = None

    @property
    def speaks(self) -> str:
        """The locale to write to this user in: their choice, else what Teams last said."""
        return self.language or self.locale


# The languages a team's channel can be written in (SPEC §3); Finnish by default.
# The languages the bot speaks; the first is the default (a team channel, a new user).
LANGUAGES = ("fi", "sv", "en")


@dataclass(frozen=True)
class TeamSettings:
    """What a team's coordinators configure (SPEC §2.3, §3)."""

    # The team's regular consultation times (weekday 0=Monday, hour, minute), offered
    # as suggestions when a poll is set up.
    regular_times: tuple[tuple[int, int, int], ...] = ((1, 13, 0), (3, 9, 0))
    # Whether invitees see how others answered.
    show_tallies: bool = True
    # Months a finished case of this team keeps its texts (SPEC §5): None follows the
    # county's period; a team may only make it shorter (consultations.retention).
    retention_months: int | None = None
    # The language of the team channel's notices, whoever installed the bot.
    language: str = LANGUAGES[0]

    def to_json(self) -> dict[str, object]:
        return {
            "regular_times": [list(t) for t in self.regular_times],
            "show_tallies": self.show_tallies,
            "retention_months": self.retention_months,
            "language": self.language,
        }

    @classmethod
    def from_json(cls, data: object) -> TeamSettings:
        if not isinstance(data, dict):
            return cls()
        times = data.get("regular_times")
        regular = (
            tuple((int(d), int(h), int(m)) for d, h, m in times)
            if isinstance(times, list)
            else cls.regular_times
        )
        months = data.get("retention_months")
        language = data.get("language")
        return cls(
            regular_times=regular,
            show_tallies=bool(data.get("show_tallies", True)),
            retention_months=months if isinstance(months, int) and months > 0 else None,
            language=language if language in LANGUAGES else LANGUAGES[0],
        )


@dataclass
class Team:
    id: int
    teams_team_id: str
    name: str
    tenant_id: str
    service_url: str
    general_channel_id: str
    settings: TeamSettings = TeamSettings()


@dataclass(frozen=True)
class TeamInstallation:
    teams_team_id: str
    name: str
    tenant_id: str
    service_url: str
    general_channel_id: str
    channels: tuple[tuple[str, str], ...]
    roster: tuple[UserRef, ...]


class RecipientType(enum.StrEnum):
    USER = "user"
    CHANNEL = "channel"
    # A conversation the bot answered in (a reply handed over from a turn).
    CONVERSATION = "conversation"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    DEAD = "dead"


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to send outside the current turn: a row of the outbox.

    `payload` holds what the card needs (ids, codes, dates), not the card: the card is
    built at send time in the recipient's language.
    """

    idempotency_key: str
    kind: str
    recipient_type: RecipientType
    recipient_id: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    subject: str = ""
    team_id: int | None = None


@dataclass
class ClaimedMessage:
    id: int
    idempotency_key: str
    kind: str
    recipient_type: RecipientType
    recipient_id: str
    team_id: int | None
    payload: dict[str, Any]
    due_at: datetime
    attempts: int
    subject: str


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    kind: str
    recipient_type: RecipientType
    recipient_id: str
    recipient_name: str
    attempts: int
    last_error: str
    due_at: datetime
