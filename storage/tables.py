"""The schema. Alembic migrations in `storage/migrations` create exactly this."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from storage.db import JsonText, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("teams_team_id", String(256), nullable=False, unique=True),
    Column("name", String(256), nullable=False, default=""),
    Column("tenant_id", String(64), nullable=False, default=""),
    Column("service_url", String(512), nullable=False, default=""),
    Column("general_channel_id", String(256), nullable=False, default=""),
    Column("installed", Boolean, nullable=False, default=True),
    Column("installed_by", Integer, ForeignKey("users.id"), nullable=True),
    # TeamSettings as JSON; NULL means the defaults.
    Column("settings", JsonText, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("team_id", Integer, ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
    Column("channel_id", String(256), nullable=False),
    Column("name", String(256), nullable=False, default=""),
    UniqueConstraint("team_id", "channel_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    # The Teams user id (29:…) is per bot and always present; the AAD object id is what
    # admins configure (BOT_ADMINS) and what the roster reports.
    Column("teams_user_id", String(256), nullable=False, unique=True),
    Column("aad_object_id", String(64), nullable=True, index=True),
    Column("name", String(256), nullable=False, default=""),
    Column("locale", String(16), nullable=False, default=""),
    # The language the user chose with `kieli` (fi/sv/en); NULL follows Teams' locale.
    Column("language", String(8), nullable=True),
    Column("profession", String(64), nullable=True),
    Column("tenant_id", String(64), nullable=False, default=""),
    Column("service_url", String(512), nullable=False, default=""),
    Column("personal_conversation_id", String(512), nullable=True),
    # The bot's own account id in this user's tenant, needed to open a 1:1 chat.
    Column("bot_id", String(256), nullable=False, default=""),
    Column("unreachable_since", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", Integer, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("active", Boolean, nullable=False, default=True),
)

role_grants = Table(
    "role_grants",
    metadata,
    Column("team_id", Integer, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(32), primary_key=True),
    Column("granted_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("granted_at", UtcDateTime, nullable=False),
)

bot_state = Table(
    "bot_state",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("document", Text, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor_user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("action", String(64), nullable=False),
    Column("subject_type", String(32), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("team_id", Integer, ForeignKey("teams.id"), nullable=True),
    # Ids and codes only: free text from cards never goes here.
    Column("details", JsonText, nullable=False, default=dict),
    Index("ix_audit_events_subject", "subject_type", "subject_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    # What the message is about, so every nudge of one poll can be cancelled in one call.
    Column("subject", String(128), nullable=False, default=""),
    Column("recipient_type", String(16), nullable=False),
    Column("recipient_id", String(512), nullable=False),
    Column("team_id", Integer, ForeignKey("teams.id"), nullable=True),
    Column("payload", JsonText, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(500), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
    # Which instance holds the claim (leases.holder), so a new dispatch leader can take
    # back at once what a dead one had in flight.
    Column("claimed_by", String(64), nullable=True),
    Column("sent_activity_id", String(256), nullable=True),
    Column("conversation_id", String(512), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Index("ix_outbox_due", "status", "due_at"),
    Index("ix_outbox_subject", "subject"),
)

consultations = Table(
    "consultations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_number", String(32), nullable=True, unique=True),
    Column("requester_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("team_id", Integer, ForeignKey("teams.id"), nullable=True, index=True),
    Column("status", String(16), nullable=False, index=True),
    # The request's fields (SPEC §2.1) as JSON: pseudonymous, checked for identity codes.
    Column("details", JsonText, nullable=False),
    Column("draft_page", String(32), nullable=False, default=""),
    Column("pending_question", Text, nullable=False, default=""),
    Column("decline_reason", Text, nullable=False, default=""),
    Column("decline_route", String(32), nullable=True),
    # How the case ended (consultations.consultation.Outcome), once closed.
    Column("outcome", String(32), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    # Optimistic concurrency: two coordinators triaging at once cannot both win.
    Column("version", Integer, nullable=False, default=0),
    # When the retention job wiped the case's texts (SPEC §5); NULL while they are kept.
    Column("anonymised_at", UtcDateTime, nullable=True),
    # When the requester of an idle draft was told it will be deleted.
    Column("draft_reminded_at", UtcDateTime, nullable=True),
    # A team's queue (and its meetings waiting for a summary) found, sorted and counted
    # from the index alone: thousands of requests, each with its long texts.
    Index("ix_consultations_queue", "team_id", "status", "submitted_at", "created_at"),
)

case_transitions = Table(
    "case_transitions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "consultation_id",
        Integer,
        ForeignKey("consultations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("actor_user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Column("reason", String(64), nullable=False, default=""),
    # Reports find a period's events by kind and time, and a case's own events by kind.
    Index("ix_case_transitions_to_status_at", "to_status", "at"),
    Index("ix_case_transitions_consultation_id_to_status_at", "consultation_id", "to_status", "at"),
)

case_notes = Table(
    "case_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "consultation_id",
        Integer,
        ForeignKey("consultations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("at", UtcDateTime, nullable=False),
    Column("author_user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
)

# Named leases several instances share (e.g. "dispatch": the one instance that sends).
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("until", UtcDateTime, nullable=False),
)

case_counters = Table(
    "case_counters",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_value", Integer, nullable=False),
)

__all__ = [
    "audit_events",
    "bot_state",
    "case_counters",
    "case_notes",
    "case_transitions",
    "channels",
    "consultations",
    "leases",
    "metadata",
    "outbox",
    "role_grants",
    "team_members",
    "teams",
    "users",
]

polls = Table(
    "polls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("consultation_id", Integer, ForeignKey("consultations.id"), nullable=False, index=True),
    Column("team_id", Integer, ForeignKey("teams.id"), nullable=False),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("place", Text, nullable=False, default=""),
    Column("state", String(16), nullable=False),
    # The wanted professions (Profession values) as a JSON list.
    Column("wanted", JsonText, nullable=False, default=list),
    # No foreign key to poll_slots: the two tables would refer to each other.
    Column("chosen_slot_id", Integer, nullable=True),
    # The .ics SEQUENCE: every reschedule or cancel increments it.
    Column("sequence", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Optimistic concurrency, as on consultations.
    Column("version", Integer, nullable=False, default=0),
)

poll_slots = Table(
    "poll_slots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "poll_id", Integer, ForeignKey("polls.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("start", UtcDateTime, nullable=False),
    Column("minutes", Integer, nullable=False),
)

poll_invitees = Table(
    "poll_invitees",
    metadata,
    Column("poll_id", Integer, ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("profession", String(64), nullable=True),
    Column("required", Boolean, nullable=False),
)

poll_votes = Table(
    "poll_votes",
    metadata,
    Column("poll_id", Integer, ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, primary_key=True),
    Column("slot_id", Integer, ForeignKey("poll_slots.id", ondelete="CASCADE"), primary_key=True),
    Column("answer", String(16), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

__all__ += ["poll_invitees", "poll_slots", "poll_votes", "polls"]

meeting_summaries = Table(
    "meeting_summaries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "consultation_id",
        Integer,
        ForeignKey("consultations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("poll_id", Integer, ForeignKey("polls.id"), nullable=True),
    # The consultation round (1, then 2 once brought back…) and this summary's version in it.
    Column("round", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attendees", JsonText, nullable=False, default=list),
    Column("client_attended", Boolean, nullable=True),
    Column("findings", Text, nullable=False, default=""),
    # The plan as this version states it: [{text, owner, due, recommendation_id}].
    Column("recommendations", JsonText, nullable=False, default=list),
    Column("case_manager_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("review_date", Date, nullable=True),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("published_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("published_at", UtcDateTime, nullable=True),
    UniqueConstraint("consultation_id", "round", "version"),
)

recommendations = Table(
    "recommendations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "consultation_id",
        Integer,
        ForeignKey("consultations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # The summary version that introduced it.
    Column("summary_id", Integer, ForeignKey("meeting_summaries.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("owner_user_id", Integer, ForeignKey("users.id"), nullable=True, index=True),
    Column("owner_party", String(32), nullable=True),
    Column("due", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    # consultations.summary.NotImplementedReason, with the reason; NULL before 0007.
    Column("reason_category", String(32), nullable=True),
    Column("snoozed_until", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False, default=0),
)

recommendation_events = Table(
    "recommendation_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "recommendation_id",
        Integer,
        ForeignKey("recommendations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("actor_user_id", Integer, ForeignKey("users.id"), nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("due", Date, nullable=True),
)

case_managers = Table(
    "case_managers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "consultation_id",
        Integer,
        ForeignKey("consultations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("since", UtcDateTime, nullable=False),
    # NULL while the assignment lasts.
    Column("until", UtcDateTime, nullable=True),
    Column("assigned_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("reason", String(32), nullable=False),
)

handovers = Table(
    "handovers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "consultation_id",
        Integer,
        ForeignKey("consultations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("from_user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("to_user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("note", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("proposed_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime, nullable=True),
    Column("reason", Text, nullable=False, default=""),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "consultation_id",
        Integer,
        ForeignKey("consultations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("round", Integer, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("at", UtcDateTime, nullable=False),
    UniqueConstraint("consultation_id", "round"),
)

__all__ += [
    "case_managers",
    "feedback",
    "handovers",
    "meeting_summaries",
    "recommendation_events",
    "recommendations",
]

# County-wide settings an admin changes at run time (the retention policy), as JSON by key.
county_settings = Table(
    "county_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JsonText, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", Integer, ForeignKey("users.id"), nullable=True),
)

__all__ += ["county_settings"]
