"""Report exports against a real database: the workbook opens with openpyxl and says what
the card says, the CSV file too, neither holds free text or case numbers, and a link
works for eight hours and only while its person may still see the teams."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import Texts
from bot.links import LinkSigner
from bot.report_export import REPORT_EXPORTS, ExportScope, ReportExports, add_report_downloads
from consultations.calendar import BusinessCalendar
from consultations.reporting import run_report
from consultations.reports import Lead, Period, PeriodKind, Report
from dialogs.cards.report import report_card
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.reports import SqlAlchemyReportSource
from storage.tables import audit_events, role_grants
from storage.uow import SqlAlchemyUnitOfWork
from tests.support.cards import find, texts
from tests.support.histories import HandOverDone, Invited, Life, Rec, rows, write

HELSINKI = ZoneInfo("Europe/Helsinki")
CALENDAR = BusinessCalendar(
    holidays=frozenset(holidays.country_holidays("FI", years=range(2025, 2028)).keys())
)
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=HELSINKI)
COORDINATOR, MEMBERS = 2, (20, 21, 22)
PEOPLE: dict[int, tuple[str, str | None]] = {
    COORDINATOR: ("Koordinaattori", None),
    10: ("Pyytäjä", None),
    20: ("Aino", "physician"),
    21: ("Bertil", "social_worker"),
    22: ("Cecilia", "nurse"),
}
FREE_TEXTS = ("Havainnot", "Suositus asiakkaalle", "Perustelu", "Kommentti", "Kysymys", "Tunniste-")


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


def lives() -> list[Life]:
    """A quarter's worth of one team's cases: enough of each kind to be shown."""
    found = []
    for i in range(30):
        submitted = datetime(2026, 10, 1, 9, tzinfo=HELSINKI) + timedelta(days=i)
        meeting = submitted + timedelta(days=7)
        published = meeting + timedelta(hours=3)
        life = Life(
            team_id=1,
            requester_id=10,
            submitted=submitted,
            barriers=("person.pain",),
            services=("kela",),
            decision=("accepted" if i % 5 else "declined", submitted + timedelta(days=2)),
            route="kela",
        )
        if i % 5:
            life.meeting = meeting
            life.invited = tuple(Invited(m, None, m != 22) for m in MEMBERS)
            life.published = published
            life.recs = (
                Rec(published.date(), "done", party="kela"),
                Rec(published.date() + timedelta(days=3), "not_implemented", owner_user_id=20,
                    category="client_declined"),
            )  # fmt: skip
            life.case_manager = 20 + i % 2
            life.rating = 4 if i % 2 else 5
            if i % 3 == 0:
                life.end = ("closed", published + timedelta(days=20), "employment")
            if i % 7 == 0:
                life.handover = HandOverDone(22, published + timedelta(days=1), True)
        found.append(life)
    return found


@dataclass
class Stack:
    engine: AsyncEngine
    source: SqlAlchemyReportSource
    exports: ReportExports
    client: TestClient[web.Request, web.Application]
    clock: Clock

    async def report(self) -> Report:
        return await run_report(
            self.source,
            SqlAlchemyUnitOfWork(session_factory(self.engine)),
            actor_id=COORDINATOR,
            period=Period.of(PeriodKind.THIS_QUARTER, NOW.date()),
            team_ids=None,
            admins=frozenset(),
            now=NOW,
            calendar=CALENDAR,
        )

    async def get(self, url: str) -> Any:
        return await self.client.get(url.removeprefix("https://bot.example.fi"))


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    engine = create_engine(database_url)
    await upgrade(engine)
    async with engine.begin() as connection:
        await write(
            connection,
            rows(
                lives(),
                team_names={1: "Työkykytiimi Pohjoinen"},
                people=PEOPLE,
                coordinators=[(1, COORDINATOR)],
                filler="Asiakkaan tilanne on jumittunut " * 20,
            ),
        )
    sessions = session_factory(engine)
    clock = Clock()
    source = SqlAlchemyReportSource(sessions)
    exports = ReportExports(
        signer=LinkSigner(bytes(range(32)), "https://bot.example.fi"),
        clock=clock,
        source=source,
        uow_factory=lambda: SqlAlchemyUnitOfWork(sessions),
        admins=frozenset(),
        calendar=CALENDAR,
    )
    app = web.Application()
    add_report_downloads(app, clock.now)
    app[REPORT_EXPORTS] = exports
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Stack(engine, source, exports, client, clock)
    finally:
        await client.close()
        await engine.dispose()


def facts_of(card: dict[str, Any]) -> dict[str, str]:
    return {
        str(f["title"]): str(f["value"])
        for f in find(card, lambda n: "title" in n and "value" in n and "type" not in n)
    }


def table_rows(sheet: Any) -> dict[tuple[str, str], list[Any]]:
    """(team, item) -> values, from the header row on."""
    values = list(sheet.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(values) if row[0] == Texts("fi")("report.teams.team"))
    return {(str(row[0]), str(row[1])): list(row[2:]) for row in values[start + 1 :]}


async def test_the_workbook_opens_and_says_what_the_card_says(stack: Stack) -> None:
    t = Texts("fi")
    report = await stack.report()
    urls = stack.exports.urls(COORDINATOR, report, "fi")
    card = report_card(t, report, urls)
    assert [a["url"] for a in find(card, lambda n: n.get("type") == "Action.OpenUrl")] == [
        urls["xlsx"],
        urls["csv"],
    ]
    response = await stack.get(urls["xlsx"])
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.read()
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames[:3] == [
        t("report.sheet.requests"),
        t("report.sheet.routes"),
        t("report.sheet.lead_times"),
    ]
    period_line = t(
        "report.period_line",
        period=t("report.period.this_quarter"),
        start=t.date(report.period.start),
        end=t.date(report.period.end),
    )
    for sheet in book.worksheets:
        assert sheet["B2"].value is None and sheet["A2"].value == period_line
        assert sheet["A3"].value == t("report.export.teams", teams="Työkykytiimi Pohjoinen")
    team = "Työkykytiimi Pohjoinen"
    shown = facts_of(card)
    requests = table_rows(book[t("report.sheet.requests")])
    total = requests[(team, t("report.export.total"))]
    assert str(total[0]) == shown[t("report.received")] == "30"
    assert str(total[1]) == shown[t("report.fate.accepted")] == "24"
    assert total[2:] == [6, "< 5", "< 5"] and shown[t("report.fate.declined")] == "6"
    assert shown[t("report.fate.withdrawn")] == "< 5"
    rate = table_rows(book[t("report.sheet.implementation")])[(team, t("report.export.all_owners"))]
    whole = report.whole.recommendations
    assert rate[:2] == [whole.due, whole.done] and round(rate[2] * 100) == 50
    assert t("report.rec.rate", rate="50 %", done=str(whole.done), due=str(whole.due)) in texts(
        card
    )
    lead = table_rows(book[t("report.sheet.lead_times")])[(team, t("report.lead.triage"))]
    assert lead == [30, report.whole.lead(Lead.TRIAGE).median, report.whole.lead(Lead.TRIAGE).p90]
    feedback = list(book[t("report.sheet.feedback")].iter_rows(values_only=True))[-1]
    assert feedback[0] == team and round(feedback[4], 1) == 4.5
    assert shown[t("report.feedback.mean")] == "4,5"
    # No free text, no case numbers, anywhere in the file.
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        content = " ".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    for text in (*FREE_TEXTS, "TK-2026", "tilanne on jumittunut", "Saattaen"):
        assert text not in content


async def test_the_csv_file_holds_the_same_figures_without_free_text(stack: Stack) -> None:
    t = Texts("sv")
    report = await stack.report()
    response = await stack.get(stack.exports.urls(COORDINATOR, report, "sv")["csv"])
    assert response.status == 200
    raw = await response.read()
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert lines[0][0] == t("report.export.section")
    found = {(row[0], row[4], row[5]): row[6] for row in lines[1:]}
    requests = t("report.sheet.requests")
    assert found[(requests, t("report.export.total"), t("report.received"))] == "30"
    assert found[(requests, t("report.export.total"), t("report.fate.withdrawn"))] == "< 5"
    assert all(row[1] == "2026-10-01" and row[2] == "2026-12-31" for row in lines[1:])
    for free in (*FREE_TEXTS, "TK-2026", "tilanne on jumittunut", "Saattaen"):
        assert free not in text


async def test_a_link_works_for_eight_hours_and_only_while_the_teams_are_still_yours(
    stack: Stack,
) -> None:
    report = await stack.report()
    url = stack.exports.urls(COORDINATOR, report, "en")["xlsx"]
    token = url.split("/")[-2]
    assert (await stack.get(url.replace(token, token[:-2] + "AA"))).status == 404
    stack.clock.at = NOW + timedelta(hours=7, minutes=59)
    assert (await stack.get(url)).status == 200
    async with stack.engine.begin() as connection:
        await connection.execute(delete(role_grants))
    refused = await stack.get(url)
    assert refused.status == 403
    assert await refused.text() == Texts("en")("error.report_coordinators_only")
    stack.clock.at = NOW + timedelta(hours=8)
    assert (await stack.get(url)).status == 404
    async with stack.engine.connect() as connection:
        actions = (
            await connection.execute(
                select(audit_events.c.action, audit_events.c.details).where(
                    audit_events.c.subject_type == "report"
                )
            )
        ).all()
    assert [(a, d.get("format")) for a, d in actions] == [
        ("report.viewed", None),
        ("report.exported", "xlsx"),
    ]


def test_a_link_carries_who_which_teams_which_period_and_nothing_else() -> None:
    scope = ExportScope(7, (1, 3), PeriodKind.THIS_YEAR, NOW.date().replace(month=1, day=1),
                        NOW.date().replace(month=12, day=31), "sv")  # fmt: skip
    assert scope.subject() == '[7,[1,3],"this_year","2026-01-01","2026-12-31","sv"]'
    assert ExportScope.parse(scope.subject()) == scope
    for broken in ("", "[]", '[7,[1],"nope","2026-01-01","2026-12-31","fi"]', "[1,2,3,4,5,6]"):
        assert ExportScope.parse(broken) is None
