"""Case histories written straight into the tables, as the use cases would have left them
(statuses, transitions, polls, summaries, recommendations, case managers, hand-overs,
feedback): for report tests that need arbitrary moments, and for bench/report.py's county.

A `Life` says what happened to one request and when; `rows` turns lives into table rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from consultations.consultation import RequestDetails
from storage.tables import (
    audit_events,
    case_managers,
    case_transitions,
    consultations,
    feedback,
    handovers,
    meeting_summaries,
    outbox,
    poll_invitees,
    poll_slots,
    polls,
    recommendations,
    role_grants,
    team_members,
    teams,
    users,
)

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Invited:
    user_id: int
    profession: str | None
    present: bool


@dataclass(frozen=True)
class Rec:
    due: date
    status: str  # open, in_progress, done, not_implemented, removed
    owner_user_id: int | None = None
    party: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class HandOverDone:
    to_user_id: int
    answered_at: datetime
    accepted: bool


@dataclass
class Life:
    """One request from its submission on. Times are aware datetimes in order."""

    team_id: int
    requester_id: int
    submitted: datetime
    barriers: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    asked_at: datetime | None = None  # needs_info, answered a minute later
    # ("accepted" | "declined" | "withdrawn", when); None: still waiting for triage.
    decision: tuple[str, datetime] | None = None
    route: str | None = None
    poll_cancelled: datetime | None = None
    meeting: datetime | None = None  # the fixed time; the poll is finalized at `decision`
    invited: tuple[Invited, ...] = ()
    published: datetime | None = None  # the first summary
    amended: datetime | None = None  # a second version; the first invitee was not there
    recs: tuple[Rec, ...] = ()
    case_manager: int | None = None
    handover: HandOverDone | None = None
    rating: int | None = None
    # ("closed", when, outcome) | ("back", when, None); then maybe round 2's decision.
    end: tuple[str, datetime, str | None] | None = None
    second: tuple[str, datetime] | None = None
    case_id: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self) -> str:
        if self.end is not None and self.end[0] == "closed":
            return "closed"
        if self.end is not None:
            return self.second[0] if self.second else "submitted"
        if self.published is not None:
            return "follow_up"
        if self.decision is None:
            return "needs_info" if self.asked_at else "submitted"
        kind = self.decision[0]
        if kind == "accepted" and self.meeting is not None:
            return "scheduled"
        return kind

    def decisions(self) -> list[str]:
        return [d[0] for d in (self.decision, self.second) if d is not None]

    def present(self) -> set[int]:
        """Who the latest published version lists as present."""
        people = {i.user_id for i in self.invited if i.present}
        if self.amended is not None and self.invited:
            people.discard(self.invited[0].user_id)
        return people


def _transitions(life: Life) -> list[tuple[str | None, str, datetime, str]]:
    steps: list[tuple[str | None, str, datetime, str]] = [
        (None, "draft", life.submitted - timedelta(minutes=5), "created"),
        ("draft", "submitted", life.submitted, "submitted"),
    ]
    if life.asked_at is not None:
        steps.append(("submitted", "needs_info", life.asked_at, "asked"))
        if life.decision is not None:
            answered = life.asked_at + timedelta(minutes=1)
            steps.append(("needs_info", "submitted", answered, "answered"))
    if life.decision is None:
        return steps
    kind, at = life.decision
    steps.append(("submitted", kind, at, kind))
    if kind != "accepted":
        return steps
    if life.poll_cancelled is not None:
        steps.append(("accepted", "scheduling", at + timedelta(minutes=1), "poll_opened"))
        steps.append(("scheduling", "accepted", life.poll_cancelled, "poll_cancelled"))
    if life.meeting is None:
        return steps
    fixed = (life.poll_cancelled or at) + timedelta(minutes=2)
    steps.append(("accepted", "scheduling", fixed, "poll_opened"))
    steps.append(("scheduling", "scheduled", fixed + timedelta(minutes=1), "poll_finalized"))
    if life.published is None:
        return steps
    steps.append(("scheduled", "consulted", life.published, "summary_published"))
    steps.append(("consulted", "follow_up", life.published, "follow_up"))
    if life.end is None:
        return steps
    end_kind, end_at, _outcome = life.end
    if end_kind == "closed":
        steps.append(("follow_up", "closed", end_at, "closed"))
        return steps
    steps.append(("follow_up", "submitted", end_at, "brought_back"))
    if life.second is not None:
        steps.append(("submitted", life.second[0], life.second[1], life.second[0]))
    return steps


def rows(
    lives: Sequence[Life],
    *,
    team_names: dict[int, str],
    people: dict[int, tuple[str, str | None]],
    coordinators: Iterable[tuple[int, int]] = (),
    members: Iterable[tuple[int, int]] = (),
    first_id: int = 1,
    filler: str = "",
) -> dict[Table, list[dict[str, Any]]]:
    """Table rows for these lives (ids from `first_id`), in an order foreign keys accept;
    `filler` is written into the request's free-text fields (as long as real ones get)."""
    out: dict[Table, list[dict[str, Any]]] = defaultdict(list)
    for team_id, name in team_names.items():
        out[teams].append(
            {
                "id": team_id,
                "teams_team_id": f"19:team-{team_id}@thread.tacv2",
                "name": name,
                "installed": True,
                "created_at": EPOCH,
                "updated_at": EPOCH,
            }
        )
    for user_id, (name, profession) in people.items():
        out[users].append(
            {
                "id": user_id,
                "teams_user_id": f"29:user-{user_id}",
                "aad_object_id": f"00000000-0000-0000-0000-{user_id:012d}",
                "name": name,
                "profession": profession,
                "created_at": EPOCH,
                "updated_at": EPOCH,
            }
        )
    coordinators = list(coordinators)
    for team_id, user_id in {*coordinators, *members}:
        out[team_members].append({"team_id": team_id, "user_id": user_id, "active": True})
    for team_id, user_id in coordinators:
        out[role_grants].append(
            {"team_id": team_id, "user_id": user_id, "role": "coordinator", "granted_at": EPOCH}
        )
    next_id = first_id
    for life in lives:
        case_id = life.case_id = next_id
        next_id += 1
        details = RequestDetails(
            team_id=life.team_id,
            client_reference=f"Tunniste-{case_id}",
            question=f"Kysymys {case_id}: {filler}",
            situation=filler,
            history=filler,
            goals=filler,
        ).to_json()
        details["barriers"] = sorted(life.barriers)
        details["services"] = sorted(life.services)
        out[consultations].append(
            {
                "id": case_id,
                "case_number": f"TK-{life.submitted.year}-{case_id:05d}",
                "requester_id": life.requester_id,
                "team_id": life.team_id,
                "status": life.status(),
                "details": details,
                "decline_route": life.route if "declined" in life.decisions() else None,
                "decline_reason": f"Perustelu {case_id}" if "declined" in life.decisions() else "",
                "outcome": life.end[2] if life.end and life.end[0] == "closed" else None,
                "created_at": life.submitted - timedelta(minutes=5),
                "submitted_at": life.end[1]
                if life.end and life.end[0] == "back"
                else life.submitted,
                "updated_at": life.submitted,
                "version": 1,
            }
        )
        for from_status, to_status, at, reason in _transitions(life):
            out[case_transitions].append(
                {
                    "consultation_id": case_id,
                    "from_status": from_status,
                    "to_status": to_status,
                    "actor_user_id": life.requester_id,
                    "at": at,
                    "reason": reason,
                }
            )
        if life.meeting is None or life.decision is None:
            continue
        decided = life.decision[1]
        out[polls].append(
            {
                "id": case_id,
                "consultation_id": case_id,
                "team_id": life.team_id,
                "created_by": life.requester_id,
                "deadline": decided + timedelta(days=1),
                "state": "finalized",
                "wanted": [],
                "chosen_slot_id": case_id,
                "sequence": 0,
                "created_at": decided,
                "updated_at": decided,
                "version": 1,
            }
        )
        out[poll_slots].append(
            {"id": case_id, "poll_id": case_id, "start": life.meeting, "minutes": 60}
        )
        for invited in life.invited:
            out[poll_invitees].append(
                {
                    "poll_id": case_id,
                    "user_id": invited.user_id,
                    "profession": invited.profession,
                    "required": False,
                }
            )
        if life.published is None:
            continue
        versions = [(1, life.published, {i.user_id for i in life.invited if i.present})]
        if life.amended is not None:
            versions.append((2, life.amended, life.present()))
        for version, at, present in versions:
            out[meeting_summaries].append(
                {
                    "id": case_id * 10 + version,
                    "consultation_id": case_id,
                    "poll_id": case_id,
                    "round": 1,
                    "version": version,
                    "state": "published",
                    "attendees": sorted(present),
                    "client_attended": True,
                    "findings": f"Havainnot asiakkaasta {case_id}",
                    "recommendations": [],
                    "case_manager_id": life.case_manager,
                    "review_date": at.date() + timedelta(days=60),
                    "created_by": life.requester_id,
                    "created_at": at,
                    "updated_at": at,
                    "published_by": life.requester_id,
                    "published_at": at,
                }
            )
        for rec in life.recs:
            out[recommendations].append(
                {
                    "consultation_id": case_id,
                    "summary_id": case_id * 10 + 1,
                    "text": f"Suositus asiakkaalle {case_id}",
                    "owner_user_id": rec.owner_user_id,
                    "owner_party": rec.party,
                    "due": rec.due,
                    "status": rec.status,
                    "reason": f"Perustelu {case_id}" if rec.status == "not_implemented" else "",
                    "reason_category": rec.category,
                    "created_at": life.published,
                    "updated_at": life.published,
                    "version": 1,
                }
            )
        if life.case_manager is not None:
            handover = life.handover
            out[case_managers].append(
                {
                    "consultation_id": case_id,
                    "user_id": life.case_manager,
                    "since": life.published,
                    "until": handover.answered_at if handover and handover.accepted else None,
                    "reason": "summary",
                }
            )
            if handover is not None:
                out[handovers].append(
                    {
                        "consultation_id": case_id,
                        "from_user_id": life.case_manager,
                        "to_user_id": handover.to_user_id,
                        "note": f"Saattaen vaihtaen {case_id}",
                        "state": "accepted" if handover.accepted else "declined",
                        "proposed_at": handover.answered_at - timedelta(hours=1),
                        "answered_at": handover.answered_at,
                    }
                )
                if handover.accepted:
                    out[case_managers].append(
                        {
                            "consultation_id": case_id,
                            "user_id": handover.to_user_id,
                            "since": handover.answered_at,
                            "until": None,
                            "reason": "handover",
                        }
                    )
        if life.rating is not None:
            out[feedback].append(
                {
                    "consultation_id": case_id,
                    "round": 1,
                    "rating": life.rating,
                    "comment": f"Kommentti {case_id}",
                    "at": life.published + timedelta(days=29),
                }
            )
    return out


ORDER = (
    teams,
    users,
    team_members,
    role_grants,
    consultations,
    case_transitions,
    polls,
    poll_slots,
    poll_invitees,
    meeting_summaries,
    recommendations,
    case_managers,
    handovers,
    feedback,
)


async def write(connection: AsyncConnection, tables: dict[Table, list[dict[str, Any]]]) -> None:
    """Insert the rows, table by table, in batches; on PostgreSQL the id sequences then
    continue after the ids written here."""
    for table in ORDER:
        batch = tables.get(table, [])
        for start in range(0, len(batch), 5000):
            await connection.execute(insert(table), batch[start : start + 5000])
    if connection.dialect.name == "postgresql":
        for table in ORDER:
            if "id" in table.c and table.c.id.autoincrement:
                await connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                    )
                )


async def clear(connection: AsyncConnection) -> None:
    for table in (audit_events, outbox, *reversed(ORDER)):
        await connection.execute(table.delete())
