"""What reports count, aggregated in the database (SQLite and PostgreSQL alike).

Every figure is a GROUP BY with COUNT or a conditional sum over the period's events, per
team; no case row travels to Python. Lead times need working days, which SQL does not
know (Finnish public holidays move with Easter): those queries return pairs of Helsinki
dates with how many cases share them, grouped in SQL, and the domain maps each date to
its working-day number once (`consultations.reports.WorkingDayIndex`). A county has far
fewer distinct date pairs than cases.

A report is read in one snapshot: a read-only REPEATABLE READ transaction on PostgreSQL,
SQLite's own transaction on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Select,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from consultations.consultation import FINISHED, OPEN_FOR_TRIAGE, CaseStatus
from consultations.model import Role, Team, User
from consultations.reports import Fate, Lead, OwnerType, Period, RecKey, TallySet, TeamTally
from consultations.summary import (
    FEEDBACK_AFTER_DAYS,
    HandOverState,
    RecommendationStatus,
    SummaryState,
)
from storage.tables import (
    case_managers,
    case_transitions,
    consultations,
    feedback,
    handovers,
    meeting_summaries,
    poll_invitees,
    poll_slots,
    polls,
    recommendations,
    role_grants,
    teams,
    users,
)
from storage.teams import SqlAlchemyTeamRepository, team_from_row
from storage.users import SqlAlchemyUserRepository

S = CaseStatus
_ROUND_STARTS = (S.DRAFT.value, S.FOLLOW_UP.value)
_PUBLISHED = SummaryState.PUBLISHED.value


@lru_cache(maxsize=16)
def offset_changes(
    zone: str, first_year: int, last_year: int
) -> tuple[int, tuple[tuple[datetime, int], ...]]:
    """The zone's UTC offset (minutes) before `first_year`, and each later change as
    (naive UTC moment, offset from then on) up to the end of `last_year`: the zone's own
    rules (zoneinfo), not a copy of the EU's."""
    tz = ZoneInfo(zone)

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(tz).utcoffset()
        assert delta is not None
        return int(delta.total_seconds() // 60)

    moment = datetime(first_year, 1, 1, tzinfo=UTC)
    before = offset(moment)
    changes: list[tuple[datetime, int]] = []
    current = before
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    while moment < end:
        nxt = moment + timedelta(days=1)
        if offset(nxt) != current:
            # Within the day, to the quarter of an hour (every zone changes on one).
            step = moment
            while offset(step) == current:
                step += timedelta(minutes=15)
            current = offset(step)
            changes.append((step.replace(tzinfo=None), current))
        moment = nxt
    return before, tuple(changes)


class _Sql:
    """The period's queries in one dialect."""

    def __init__(
        self, dialect: str, tz: ZoneInfo, period: Period, now: datetime, team_ids: Sequence[int]
    ) -> None:
        self.postgres = dialect == "postgresql"
        self.tz = tz
        self.start, self.end = period.bounds(tz)
        self.period = period
        self.now = now
        self.today = now.astimezone(tz).date()
        self.team_ids = list(team_ids)
        # Requests a lead time starts from may be years older than the period.
        self.years = (period.start.year - 10, max(period.end.year, self.today.year) + 1)

    # --- Helsinki dates in SQL ---------------------------------------------------------

    def _sqlite_shift(self, moment: Any) -> ColumnElement[Any]:
        # SQLite keeps UTC as text and knows no zones: shift by the zone's offset at that
        # moment, which changes at the daylight-saving switches listed from zoneinfo. The
        # CASE is a balanced tree, a handful of comparisons for any moment.
        before, changes = offset_changes(self.tz.key, *self.years)
        offsets = [before, *(after for _at, after in changes)]
        moments = [f"'{at:%Y-%m-%d %H:%M:%S}'" for at, _after in changes]

        def shift(low: int, high: int) -> ColumnElement[Any]:
            # offsets[low..high] apply between moments[low-1] and moments[high].
            if low == high:
                return literal_column(f"'{offsets[low]:+d} minutes'")
            middle = (low + high + 1) // 2
            return case(
                (moment < literal_column(moments[middle - 1]), shift(low, middle - 1)),
                else_=shift(middle, high),
            )

        return shift(0, len(offsets) - 1)

    def local_date(self, moment: Any) -> ColumnElement[Any]:
        if self.postgres:
            return cast(func.timezone(literal_column(f"'{self.tz.key}'"), moment), Date)
        return func.date(moment, self._sqlite_shift(moment))

    def local_month(self, moment: Any) -> ColumnElement[Any]:
        if self.postgres:
            return func.to_char(
                func.timezone(literal_column(f"'{self.tz.key}'"), moment),
                literal_column("'YYYY-MM'"),
            )
        return func.substr(func.date(moment, self._sqlite_shift(moment)), 1, 7)

    # --- pieces ---------------------------------------------------------------------------

    def in_period(self, moment: Any) -> ColumnElement[bool]:
        return and_(moment >= self.start, moment < self.end)

    def ours(self) -> ColumnElement[bool]:
        return consultations.c.team_id.in_(self.team_ids)

    @staticmethod
    def round_start(case_id: Any, before: Any) -> Any:
        """When the round that led to `before` began: the latest submission from a draft
        or from follow-up (a case brought back) at or before it."""
        s = case_transitions.alias("round_start")
        return (
            select(func.max(s.c.at))
            .where(
                s.c.consultation_id == case_id,
                s.c.to_status == S.SUBMITTED.value,
                s.c.from_status.in_(_ROUND_STARTS),
                s.c.at <= before,
            )
            .scalar_subquery()
        )

    @staticmethod
    def first_submission(case_id: Any) -> Any:
        s = case_transitions.alias("first_submission")
        return (
            select(func.min(s.c.at))
            .where(
                s.c.consultation_id == case_id,
                s.c.from_status == S.DRAFT.value,
                s.c.to_status == S.SUBMITTED.value,
            )
            .scalar_subquery()
        )

    def received(self) -> tuple[Any, ColumnElement[bool]]:
        """Requests first submitted in the period: their submission, and the filter."""
        t = case_transitions.alias("received")
        return t, and_(
            t.c.from_status == S.DRAFT.value,
            t.c.to_status == S.SUBMITTED.value,
            self.in_period(t.c.at),
            self.ours(),
        )

    # --- the statements -------------------------------------------------------------------

    def requests(self) -> Select[Any]:
        t, where = self.received()
        accepted = case_transitions.alias("accepted")
        fate = case(
            (
                exists().where(
                    accepted.c.consultation_id == consultations.c.id,
                    accepted.c.to_status == S.ACCEPTED.value,
                ),
                Fate.ACCEPTED.value,
            ),
            (consultations.c.status == S.DECLINED.value, Fate.DECLINED.value),
            (consultations.c.status == S.WITHDRAWN.value, Fate.WITHDRAWN.value),
            else_=Fate.OPEN.value,
        )
        rows = (
            select(
                consultations.c.team_id,
                self.local_month(t.c.at).label("month"),
                fate.label("fate"),
                func.coalesce(consultations.c.decline_route, "").label("route"),
            )
            .select_from(t.join(consultations, consultations.c.id == t.c.consultation_id))
            .where(where)
            .subquery()
        )
        return select(
            rows.c.team_id, rows.c.month, rows.c.fate, rows.c.route, func.count()
        ).group_by(rows.c.team_id, rows.c.month, rows.c.fate, rows.c.route)

    def needs(self) -> Any:
        """Barriers and services named in the requests received. Each request's stored
        fields are read (and on PostgreSQL parsed) once, then both lists unnested."""
        t, where = self.received()
        details = consultations.c.details
        docs = (
            select(
                consultations.c.team_id,
                (cast(details, JSONB) if self.postgres else details).label("doc"),
            )
            .select_from(t.join(consultations, consultations.c.id == t.c.consultation_id))
            .where(where)
            .cte("docs")
            .prefix_with("MATERIALIZED")
        )
        parts = []
        for key in ("barriers", "services"):
            if self.postgres:
                values = func.jsonb_array_elements_text(docs.c.doc[key]).table_valued("value")
            else:
                values = func.json_each(docs.c.doc, f"$.{key}").table_valued("value")
            parts.append(
                select(literal(key).label("kind"), docs.c.team_id, values.c.value).select_from(
                    docs.join(values, true())
                )
            )
        rows = union_all(*parts).subquery()
        return select(rows.c.kind, rows.c.team_id, rows.c.value, func.count()).group_by(
            rows.c.kind, rows.c.team_id, rows.c.value
        )

    def _meetings(self) -> tuple[Any, Any, Any]:
        ms = meeting_summaries.alias("held")
        slot = poll_slots.alias("slot")
        joined = (
            ms.join(polls, polls.c.id == ms.c.poll_id)
            .join(slot, slot.c.id == polls.c.chosen_slot_id)
            .join(consultations, consultations.c.id == ms.c.consultation_id)
        )
        return ms, slot, joined

    def lead_pairs(self) -> Select[Any]:
        """(lead, team, from date, to date, cases) for every lead time ending in the period."""
        e = case_transitions.alias("decided")
        triage = (
            select(
                literal(Lead.TRIAGE.value).label("lead"),
                consultations.c.team_id,
                self.round_start(e.c.consultation_id, e.c.at).label("start_at"),
                e.c.at.label("end_at"),
            )
            .select_from(e.join(consultations, consultations.c.id == e.c.consultation_id))
            .where(
                e.c.from_status.in_([s.value for s in OPEN_FOR_TRIAGE]),
                e.c.to_status.in_([S.ACCEPTED.value, S.DECLINED.value]),
                self.in_period(e.c.at),
                self.ours(),
            )
        )
        ms, slot, joined = self._meetings()
        first = and_(ms.c.state == _PUBLISHED, ms.c.version == 1, self.ours())
        meeting = (
            select(
                literal(Lead.MEETING.value),
                consultations.c.team_id,
                self.round_start(consultations.c.id, slot.c.start),
                slot.c.start,
            )
            .select_from(joined)
            .where(first, self.in_period(slot.c.start))
        )
        ms, slot, joined = self._meetings()
        summary = (
            select(
                literal(Lead.SUMMARY.value),
                consultations.c.team_id,
                slot.c.start,
                ms.c.published_at,
            )
            .select_from(joined)
            .where(
                ms.c.state == _PUBLISHED,
                ms.c.version == 1,
                self.ours(),
                self.in_period(ms.c.published_at),
            )
        )
        c = case_transitions.alias("closing")
        closing = (
            select(
                literal(Lead.CLOSING.value),
                consultations.c.team_id,
                self.first_submission(c.c.consultation_id),
                c.c.at,
            )
            .select_from(c.join(consultations, consultations.c.id == c.c.consultation_id))
            .where(c.c.to_status == S.CLOSED.value, self.in_period(c.c.at), self.ours())
        )
        # Materialized: the start of a lead time is a correlated subquery, and SQLite would
        # otherwise inline it into every place its Helsinki date refers to it.
        rows = union_all(triage, meeting, summary, closing).cte("pairs").prefix_with("MATERIALIZED")
        start, end = self.local_date(rows.c.start_at), self.local_date(rows.c.end_at)
        # Grouped by position: SQLite then computes each Helsinki date once per row.
        return (
            select(rows.c.lead, rows.c.team_id, start, end, func.count())
            .where(rows.c.start_at.is_not(None))
            .group_by(text("1, 2, 3, 4"))
        )

    def recommendations(self) -> Select[Any]:
        r = recommendations
        owner = case(
            (r.c.owner_user_id.is_not(None), OwnerType.TEAM_MEMBER.value),
            else_=r.c.owner_party,
        )
        rows = (
            select(
                consultations.c.team_id,
                r.c.status,
                case((r.c.due < self.today, 1), else_=0).label("past_due"),
                owner.label("owner"),
                func.coalesce(r.c.reason_category, "").label("category"),
            )
            .select_from(r.join(consultations, consultations.c.id == r.c.consultation_id))
            .where(
                r.c.due >= self.period.start,
                r.c.due <= self.period.end,
                r.c.status != RecommendationStatus.REMOVED.value,
                self.ours(),
            )
            .subquery()
        )
        keys = (rows.c.team_id, rows.c.status, rows.c.past_due, rows.c.owner, rows.c.category)
        return select(*keys, func.count()).group_by(*keys)

    def events(self) -> Any:
        """Cases closed by outcome, cases brought back, hand-overs accepted."""
        closed = case_transitions.alias("closed")
        back = case_transitions.alias("back")
        joined = consultations.c.id
        return union_all(
            select(
                literal("closed").label("kind"),
                consultations.c.team_id,
                func.coalesce(consultations.c.outcome, "").label("key"),
                func.count().label("n"),
            )
            .select_from(closed.join(consultations, joined == closed.c.consultation_id))
            .where(closed.c.to_status == S.CLOSED.value, self.in_period(closed.c.at), self.ours())
            .group_by(consultations.c.team_id, consultations.c.outcome),
            select(
                literal("brought_back"),
                consultations.c.team_id,
                literal(""),
                func.count(distinct(back.c.consultation_id)),
            )
            .select_from(back.join(consultations, joined == back.c.consultation_id))
            .where(
                back.c.from_status == S.FOLLOW_UP.value,
                back.c.to_status == S.SUBMITTED.value,
                self.in_period(back.c.at),
                self.ours(),
            )
            .group_by(consultations.c.team_id),
            select(literal("handover"), consultations.c.team_id, literal(""), func.count())
            .select_from(handovers.join(consultations, joined == handovers.c.consultation_id))
            .where(
                handovers.c.state == HandOverState.ACCEPTED.value,
                self.in_period(handovers.c.answered_at),
                self.ours(),
            )
            .group_by(consultations.c.team_id),
        )

    def feedback(self) -> Select[Any]:
        """Feedback requests sent in the period (four weeks after a round's first summary),
        by the rating given (0: none)."""
        after = timedelta(days=FEEDBACK_AFTER_DAYS)
        ms = meeting_summaries
        return (
            select(consultations.c.team_id, func.coalesce(feedback.c.rating, 0), func.count())
            .select_from(
                ms.join(consultations, consultations.c.id == ms.c.consultation_id).outerjoin(
                    feedback,
                    and_(
                        feedback.c.consultation_id == ms.c.consultation_id,
                        feedback.c.round == ms.c.round,
                    ),
                )
            )
            .where(
                ms.c.state == _PUBLISHED,
                ms.c.version == 1,
                ms.c.published_at >= self.start - after,
                ms.c.published_at < self.end - after,
                ms.c.published_at <= self.now - after,
                self.ours(),
            )
            .group_by(consultations.c.team_id, feedback.c.rating)
        )

    def _attended(self, attendees: Any, user_id: Any) -> ColumnElement[bool]:
        if self.postgres:
            return cast(attendees, JSONB).contains(func.to_jsonb(user_id))
        present = func.json_each(attendees).table_valued("value")
        return exists().select_from(present).where(present.c.value == user_id)

    def professions(self) -> Select[Any]:
        """Invitations to the meetings held in the period, by profession, and whether the
        invitee was present (the meeting's latest published summary says)."""
        ms, slot, _joined = self._meetings()
        latest = meeting_summaries.alias("latest")
        # Summaries are found through their case (indexed), then their poll.
        newest = (
            select(func.max(latest.c.version))
            .where(
                latest.c.consultation_id == polls.c.consultation_id,
                latest.c.poll_id == polls.c.id,
                latest.c.state == _PUBLISHED,
            )
            .scalar_subquery()
        )
        invitee = poll_invitees
        rows = (
            select(
                consultations.c.team_id,
                func.coalesce(invitee.c.profession, users.c.profession, "").label("profession"),
                case((self._attended(ms.c.attendees, invitee.c.user_id), 1), else_=0).label(
                    "present"
                ),
            )
            .select_from(
                invitee.join(polls, polls.c.id == invitee.c.poll_id)
                .join(slot, slot.c.id == polls.c.chosen_slot_id)
                .join(
                    ms,
                    and_(
                        ms.c.consultation_id == polls.c.consultation_id,
                        ms.c.poll_id == polls.c.id,
                        ms.c.state == _PUBLISHED,
                        ms.c.version == newest,
                    ),
                )
                .join(consultations, consultations.c.id == polls.c.consultation_id)
                .outerjoin(users, users.c.id == invitee.c.user_id)
            )
            .where(self.in_period(slot.c.start), self.ours())
            .subquery()
        )
        keys = (rows.c.team_id, rows.c.profession, rows.c.present)
        return select(*keys, func.count()).group_by(*keys)

    def load(self) -> Select[Any]:
        """Open follow-ups per case manager now: assignments of cases not finished (closing
        a case does not end its assignment)."""
        return (
            select(consultations.c.team_id, case_managers.c.user_id, users.c.name, func.count())
            .select_from(
                case_managers.join(
                    consultations, consultations.c.id == case_managers.c.consultation_id
                ).join(users, users.c.id == case_managers.c.user_id)
            )
            .where(
                case_managers.c.until.is_(None),
                consultations.c.status.not_in([s.value for s in FINISHED]),
                self.ours(),
            )
            .group_by(consultations.c.team_id, case_managers.c.user_id, users.c.name)
        )


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class SqlAlchemyReportSource:
    """`consultations.reporting.ReportSource` over its own sessions: reads only."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def viewer(self, user_id: int) -> User | None:
        async with self._sessions() as session:
            return await SqlAlchemyUserRepository(session).get(user_id)

    async def coordinated_teams(self, user_id: int) -> Sequence[Team]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(teams)
                .join(role_grants, role_grants.c.team_id == teams.c.id)
                .where(
                    role_grants.c.user_id == user_id,
                    role_grants.c.role == Role.COORDINATOR.value,
                    teams.c.installed.is_(True),
                )
                .order_by(teams.c.name, teams.c.id)
            )
            return [team_from_row(row) for row in rows.mappings()]

    async def all_teams(self) -> Sequence[Team]:
        async with self._sessions() as session:
            found = await SqlAlchemyTeamRepository(session, SqlAlchemyUserRepository(session)).all()
        return sorted(found, key=lambda team: (team.name, team.id))

    async def tally(
        self, team_ids: Sequence[int], period: Period, now: datetime, tz: ZoneInfo
    ) -> TallySet:
        tallies = {team_id: TeamTally() for team_id in team_ids}
        people: dict[int, str] = {}
        if not team_ids:
            return TallySet(tallies, people)
        async with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            options = (
                {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
                if dialect == "postgresql"
                else {}
            )
            await session.connection(execution_options=options)
            sql = _Sql(dialect, tz, period, now, team_ids)
            for team_id, month, fate, route, n in await session.execute(sql.requests()):
                tallies[team_id].requests[(month, Fate(fate))] += n
                if fate == Fate.DECLINED:
                    tallies[team_id].declined_routes[route] += n
            for kind, team_id, value, n in await session.execute(sql.needs()):
                getattr(tallies[team_id], kind)[value] += n
            for lead, team_id, start, end, n in await session.execute(sql.lead_pairs()):
                tallies[team_id].lead[Lead(lead)][(_date(start), _date(end))] += n
            for team_id, status, past_due, owner, category, n in await session.execute(
                sql.recommendations()
            ):
                key = RecKey(status, bool(past_due), OwnerType(owner), category)
                tallies[team_id].recommendations[key] += n
            for kind, team_id, key, n in await session.execute(sql.events()):
                if kind == "closed":
                    tallies[team_id].closed[key] += n
                elif kind == "brought_back":
                    tallies[team_id].brought_back += n
                else:
                    tallies[team_id].handovers += n
            for team_id, rating, n in await session.execute(sql.feedback()):
                tallies[team_id].feedback[int(rating)] += n
            for team_id, profession, present, n in await session.execute(sql.professions()):
                tallies[team_id].professions[(profession, bool(present))] += n
            for team_id, user_id, name, n in await session.execute(sql.load()):
                tallies[team_id].load[user_id] += n
                people[user_id] = name
        return TallySet(tallies, people)
