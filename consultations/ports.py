"""What the domain needs from the outside world, as Protocols.

`storage/` implements the repositories and the unit of work, `scheduler/` drives the
outbox, `bot/` sends. Tests use fakes of the same shape.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from consultations.consultation import Consultation
from consultations.lists import Page
from consultations.model import (
    ClaimedMessage,
    FailedDelivery,
    OutgoingMessage,
    Profession,
    Role,
    Team,
    TeamInstallation,
    TeamSettings,
    User,
    UserRef,
)
from consultations.poll import Answer, AvailabilityPoll, TimeSlot
from consultations.records import (
    CaseHeader,
    ExpiredCase,
    IdleDraft,
    RetentionPolicy,
    TrailEntry,
)
from consultations.summary import (
    Assignment,
    Feedback,
    HandOver,
    MeetingSummary,
    Recommendation,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class UserRepository(Protocol):
    async def upsert(self, ref: UserRef, now: datetime) -> User:
        """Create or refresh a user from what Teams tells about them."""
        ...

    async def get(self, user_id: int) -> User | None: ...

    async def get_many(self, user_ids: Sequence[int]) -> Mapping[int, User]: ...

    async def by_teams_id(self, teams_user_id: str) -> User | None: ...

    async def changed_since(self, since: datetime) -> Sequence[User]:
        """The users whose stored row changed after `since` (by any instance)."""
        ...

    async def set_personal_conversation(
        self, user_id: int, conversation_id: str, now: datetime
    ) -> None: ...

    async def set_profession(self, user_id: int, profession: Profession, now: datetime) -> None: ...

    async def set_language(self, user_id: int, language: str | None, now: datetime) -> None:
        """The language the user chose; None follows their Teams locale again."""
        ...

    async def mark_unreachable(self, user_id: int, now: datetime) -> bool:
        """Mark unreachable; True only for the call that changed it (tell coordinators once)."""
        ...


class TeamRepository(Protocol):
    async def save_installation(
        self, installation: TeamInstallation, installer_id: int | None, now: datetime
    ) -> Team:
        """Record the team, its channels and its roster (members not listed become inactive)."""
        ...

    async def get(self, team_id: int) -> Team | None: ...

    async def by_teams_id(self, teams_team_id: str) -> Team | None: ...

    async def teams_of(self, user_id: int) -> Sequence[Team]: ...

    async def coordinated_by(self, user_id: int) -> Sequence[Team]:
        """The teams this person is an active member and a coordinator of."""
        ...

    async def members(self, team_id: int) -> Sequence[User]: ...

    async def members_with_roles(
        self, team_id: int, *, limit: int, offset: int = 0
    ) -> Page[tuple[User, frozenset[Role]]]:
        """A page of the team's active members with their roles: coordinators first, then
        by name."""
        ...

    async def is_member(self, team_id: int, user_id: int) -> bool: ...

    async def installer_id(self, team_id: int) -> int | None: ...

    async def holders(self, team_id: int, role: Role) -> Sequence[User]: ...

    async def roles_of(self, team_id: int, user_id: int) -> frozenset[Role]: ...

    async def grant(
        self, team_id: int, user_id: int, role: Role, granted_by: int | None, now: datetime
    ) -> bool:
        """Grant a role; False when it was held already."""
        ...

    async def revoke(self, team_id: int, user_id: int, role: Role) -> bool: ...

    async def save_settings(self, team_id: int, settings: TeamSettings, now: datetime) -> None: ...

    async def all(self) -> Sequence[Team]: ...


class Outbox(Protocol):
    async def add(self, message: OutgoingMessage, now: datetime) -> bool:
        """Queue a message in the current transaction; False if its key was queued before."""
        ...

    async def cancel(self, idempotency_key: str) -> int: ...

    async def cancel_subject(self, subject: str, *, keep: Collection[str] = ()) -> int:
        """Cancel every pending message about `subject` (e.g. all nudges of one poll),
        except those whose idempotency keys are in `keep`."""
        ...

    async def failures(
        self, team_ids: Sequence[int] | None, *, limit: int, offset: int = 0
    ) -> Page[FailedDelivery]:
        """Messages given up on, newest first (every team's when `team_ids` is None)."""
        ...

    async def failure_count(self, team_ids: Sequence[int] | None) -> int: ...


class AuditLog(Protocol):
    async def record(
        self,
        *,
        at: datetime,
        actor_user_id: int | None,
        action: str,
        subject_type: str,
        subject_id: str,
        team_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record who did what to which subject. Details hold ids and codes, never free text."""
        ...


@dataclass(frozen=True)
class TriageRow:
    """A request in the triage queue, with its requester's name."""

    case: Consultation
    requester_name: str


class ConsultationRepository(Protocol):
    async def add(self, consultation: Consultation, now: datetime) -> Consultation:
        """Store a new consultation (a draft) and its first transition; sets its id."""
        ...

    async def get(self, consultation_id: int) -> Consultation | None: ...

    async def save(self, consultation: Consultation, now: datetime) -> None:
        """Write the changes and the new transitions; Conflict when someone else saved first."""
        ...

    async def next_case_number(self, year: int) -> str:
        """The next `TK-<year>-<seq>`; unique even when many submit at once."""
        ...

    async def of_requester(
        self, user_id: int, *, drafts: bool, limit: int, offset: int = 0
    ) -> Page[Consultation]:
        """The requester's drafts (last touched first), or their sent requests (those
        waiting for their answer first, then newest first)."""
        ...

    async def of_requesters(
        self, user_ids: Sequence[int], *, drafts: bool, limit: int, offset: int = 0
    ) -> Mapping[int, Page[Consultation]]:
        """`of_requester` for several requesters at once (one read), by requester."""
        ...

    async def triage_queue(
        self, team_ids: Sequence[int], overdue_before: datetime, *, limit: int, offset: int = 0
    ) -> tuple[Page[TriageRow], int]:
        """A page of the teams' requests waiting for triage or for the requester's
        answer, overdue first (submitted and waiting since before `overdue_before`),
        then oldest first; and how many of the whole queue are overdue."""
        ...

    async def triage_counts(
        self, team_ids: Sequence[int], overdue_before: datetime
    ) -> Mapping[int, tuple[int, int]]:
        """Team id -> (requests in the queue, of which overdue); teams with none left out."""
        ...

    async def add_note(
        self, consultation_id: int, author_user_id: int, kind: str, text: str, at: datetime
    ) -> None: ...

    async def notes(self, consultation_id: int) -> Sequence[tuple[str, str, datetime]]:
        """(kind, text, at) of the questions and answers, oldest first."""
        ...


class PollRepository(Protocol):
    async def add(self, poll: AvailabilityPoll, now: datetime) -> AvailabilityPoll:
        """Store a new poll with its slots and invitees; sets the ids of poll and slots."""
        ...

    async def get(self, poll_id: int, *, lock: str = "none") -> AvailabilityPoll | None:
        """The poll with slots, invitees (names from users) and votes.

        lock="update" (closing, finalizing) locks the poll row for the transaction on
        PostgreSQL; votes take the same lock (`for_voting`), so no vote slips in after the
        poll has closed.
        """
        ...

    async def latest_for(self, consultation_id: int) -> AvailabilityPoll | None:
        """The consultation's newest poll that is not cancelled."""
        ...

    async def save(self, poll: AvailabilityPoll, now: datetime) -> None:
        """Write state, chosen slot, sequence, place and deadline (not slots or votes)."""
        ...

    async def fixed_meetings(
        self, consultation_ids: Sequence[int]
    ) -> Mapping[int, tuple[TimeSlot, str]]:
        """Case id -> the chosen time and place of its newest finalized poll, for the
        cases that have one."""
        ...

    async def record_votes(
        self, poll_id: int, votes: Mapping[int, Mapping[int, Answer]], now: datetime
    ) -> None:
        """Insert or replace invitees' answers (user id -> slot id -> answer), one row per
        slot (an upsert)."""
        ...

    async def for_voting(self, poll_id: int) -> tuple[AvailabilityPoll, str, TeamSettings] | None:
        """The poll as `get` gives it, its row locked for the transaction on PostgreSQL
        (votes on one poll take turns, so each sees every vote before it: "everyone has
        answered" is told once), with what its cards show beside it: the case's number
        and the team's settings. Invitees' names may be a minute old."""
        ...


@dataclass(frozen=True)
class HeldMeeting:
    """A fixed meeting of a case still waiting for its summary."""

    consultation_id: int
    case_number: str
    team_id: int
    poll_id: int
    start: datetime
    minutes: int
    coordinator_id: int


@dataclass(frozen=True)
class ManagedRow:
    """A case someone manages, with the review date of its latest published summary."""

    case: Consultation
    review_date: date | None


class FollowUpRepository(Protocol):
    """Summaries, recommendations, case managers, hand-overs and feedback (SPEC §2.4–2.5)."""

    async def add_summary(self, summary: MeetingSummary, now: datetime) -> MeetingSummary: ...

    async def get_summary(
        self, summary_id: int, *, lock: bool = False
    ) -> MeetingSummary | None: ...

    async def save_summary(self, summary: MeetingSummary, now: datetime) -> None:
        """Write a draft's content or its publication; a published version never changes."""
        ...

    async def draft_summary(self, consultation_id: int) -> MeetingSummary | None: ...

    async def published_summaries(self, consultation_id: int) -> Sequence[MeetingSummary]:
        """Every published version of every round, oldest first."""
        ...

    async def add_recommendation(
        self, recommendation: Recommendation, now: datetime
    ) -> Recommendation: ...

    async def get_recommendation(
        self, recommendation_id: int, *, lock: bool = False
    ) -> Recommendation | None: ...

    async def save_recommendation(self, recommendation: Recommendation, now: datetime) -> None:
        """Write the changes and the new status history; Conflict when saved by another."""
        ...

    async def recommendations(self, consultation_id: int) -> Sequence[Recommendation]: ...

    async def active_recommendations(
        self, consultation_ids: Sequence[int]
    ) -> Sequence[Recommendation]:
        """The open and in-progress recommendations of these cases, earliest due first,
        without their status histories (for lists)."""
        ...

    async def owned_elsewhere(
        self, user_id: int, *, limit: int, offset: int = 0
    ) -> Page[tuple[Recommendation, str]]:
        """Active recommendations this person owns in open cases someone else manages,
        with the case number, earliest due first (no histories)."""
        ...

    async def case_manager(self, consultation_id: int) -> int | None: ...

    async def assign_case_manager(
        self,
        consultation_id: int,
        user_id: int,
        assigned_by: int | None,
        reason: str,
        now: datetime,
    ) -> None:
        """End the current assignment (if any) and start this one."""
        ...

    async def assignments(self, consultation_id: int) -> Sequence[Assignment]: ...

    async def end_case_manager(self, consultation_id: int, now: datetime) -> None:
        """End the case's current assignment (the case is over)."""
        ...

    async def managed_cases(
        self, user_id: int, today: date, *, limit: int, offset: int = 0
    ) -> Page[ManagedRow]:
        """The open cases this person is the case manager of now: those with an
        overdue recommendation first, then by review date (none last)."""
        ...

    async def add_handover(self, handover: HandOver) -> HandOver: ...

    async def get_handover(self, handover_id: int, *, lock: bool = False) -> HandOver | None: ...

    async def save_handover(self, handover: HandOver) -> None: ...

    async def pending_handover(self, consultation_id: int) -> HandOver | None: ...

    async def pending_handovers(self, consultation_ids: Sequence[int]) -> Mapping[int, HandOver]:
        """Case id -> its hand-over waiting for an answer, for the cases with one."""
        ...

    async def handovers_to(
        self, user_id: int, *, limit: int, offset: int = 0
    ) -> Page[tuple[HandOver, str, str]]:
        """Hand-overs waiting for this person's answer, oldest first, with the case
        number and the name of who proposed it."""
        ...

    async def add_feedback(self, feedback: Feedback, round_: int) -> bool:
        """False when this round's feedback was given already."""
        ...

    async def feedback(self, consultation_id: int) -> Sequence[Feedback]: ...

    async def held_meetings(
        self, team_ids: Sequence[int], started_by: datetime, *, limit: int, offset: int = 0
    ) -> Page[HeldMeeting]:
        """Fixed meetings of scheduled cases (their summary not out yet) that began by
        `started_by`, earliest first."""
        ...

    async def meetings_without_summary(
        self, team_ids: Sequence[int], now: datetime
    ) -> Mapping[int, int]:
        """Team id -> meetings over by `now` whose summary is not out yet."""
        ...

    async def overdue_counts(self, team_ids: Sequence[int], today: date) -> Mapping[int, int]:
        """Team id -> active recommendations past due in the team's open cases."""
        ...

    async def handovers_waiting_counts(self, team_ids: Sequence[int]) -> Mapping[int, int]: ...


class RetentionStore(Protocol):
    """The county's retention policy and the daily job's work on the stored data
    (SPEC §5). Wiping and deleting happen in the caller's transaction."""

    async def lock(self) -> bool:
        """Take the job's lock for this transaction; False when another instance holds it."""
        ...

    async def policy(self) -> RetentionPolicy: ...

    async def save_policy(self, policy: RetentionPolicy, actor_id: int, now: datetime) -> None: ...

    async def team_periods(self) -> Mapping[int, int]:
        """Team id -> the shorter period (months) the team chose; teams without one left out."""
        ...

    async def expired_cases(
        self, cutoffs: Mapping[int, datetime], default_cutoff: datetime, limit: int
    ) -> Sequence[ExpiredCase]:
        """Finished, not yet anonymised cases that ended before their team's cutoff
        (`default_cutoff` for teams not in `cutoffs`), oldest end first."""
        ...

    async def anonymise(self, case_ids: Sequence[int], now: datetime) -> None:
        """Wipe every free text of these cases and mark them anonymised."""
        ...

    async def wipe_late_texts(self) -> int:
        """Wipe text written to an anonymised case after it was anonymised (a late
        feedback comment); the number of rows wiped."""
        ...

    async def idle_drafts(self, touched_before: datetime, limit: int) -> Sequence[IdleDraft]:
        """Drafts their requester has not touched (saved or opened) since the moment given."""
        ...

    async def mark_reminded(self, case_id: int, now: datetime) -> None: ...

    async def discarded_drafts(self, limit: int) -> Sequence[int]:
        """Drafts their requester threw away: never sent, nothing for reports."""
        ...

    async def delete_cases(self, case_ids: Sequence[int]) -> None:
        """Delete drafts with everything that refers to them."""
        ...

    async def prune_outbox(self, before: datetime) -> int:
        """Delete sent, dead and cancelled messages settled before the moment given."""
        ...

    async def prune_documents(self, before: datetime) -> int:
        """Delete bot-state documents not written since; the signing keys stay."""
        ...

    async def prune_audit(self, before: datetime) -> int: ...

    async def action_counts(self, since: datetime, actions: Sequence[str]) -> Mapping[str, int]:
        """How many audit records of each of these actions were written since."""
        ...

    async def run_totals(self, since: datetime, action: str) -> Mapping[str, int]:
        """The sums of the numbers in the details of this action's records since."""
        ...

    async def known_users(self, aad_object_ids: Sequence[str]) -> Sequence[int]:
        """The ids of the users the bot knows with these AAD object ids (the admins)."""
        ...

    async def forget_freed_pages(self) -> None:
        """After a commit that wiped or deleted texts: make sure the database files no
        longer hold them either (SQLite keeps old pages in its write-ahead log)."""
        ...


class CaseRecords(Protocol):
    """Everything stored about one case, for the data subject's rights."""

    async def find(self, case_number: str) -> CaseHeader | None:
        """A sent case by its number (drafts have none)."""
        ...

    async def header(self, case_id: int) -> CaseHeader | None: ...

    async def trail(
        self, case_id: int, limit: int, offset: int
    ) -> tuple[Sequence[TrailEntry], int]:
        """Audit records and status changes of the case, newest first, and their total."""
        ...

    async def dump(self, case_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every stored row about the case, table by table, every column."""
        ...

    async def erase(self, case_id: int) -> Mapping[str, int]:
        """Delete the case and every row that refers to it; rows deleted per table.
        Audit records stay (they hold ids and codes only)."""
        ...


class UnitOfWork(Protocol):
    @property
    def polls(self) -> PollRepository: ...

    @property
    def followup(self) -> FollowUpRepository: ...

    @property
    def consultations(self) -> ConsultationRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def teams(self) -> TeamRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def retention(self) -> RetentionStore: ...

    @property
    def case_records(self) -> CaseRecords: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    async def commit(self) -> None: ...


class DeliveryQueue(Protocol):
    """The dispatcher's view of the outbox: claim, then settle every claimed row."""

    async def claim_due(
        self, now: datetime, limit: int, lease_seconds: float
    ) -> list[ClaimedMessage]:
        """Atomically take due rows; no other dispatcher gets them until the lease ends."""
        ...

    async def mark_sent(
        self, message_id: int, now: datetime, activity_id: str | None, conversation_id: str | None
    ) -> None: ...

    async def mark_retry(self, message_id: int, due_at: datetime, error: str) -> None: ...

    async def mark_dead(self, message_id: int, now: datetime, error: str) -> None: ...

    async def release(self, message_id: int, due_at: datetime) -> None:
        """Give a claimed row back unsent, without counting an attempt."""
        ...


class DispatchLease(Protocol):
    """One instance of the fleet sends the outbox at a time (Teams' limits are per app)."""

    async def hold(self, now: datetime) -> bool:
        """Take or renew the lease; True while this instance may claim and send."""
        ...


class Sender(Protocol):
    """Sends one claimed message; raises DeliveryFailure when it cannot."""

    async def prepare(self, messages: Sequence[ClaimedMessage]) -> None:
        """Called once per claimed batch before its messages are sent."""
        ...

    async def send(self, message: ClaimedMessage) -> tuple[str | None, str | None]:
        """Deliver it; return (activity id, conversation id)."""
        ...
