"""Report exports: the card's figures as an Excel workbook (one sheet per section, the
period and the teams on every sheet) or one CSV file, small numbers as "< 5", no free
text and no case numbers.

The card links to them with signed links that expire in eight hours (bot/links.py). A
link's subject carries only what is needed to count the figures again: who, which
teams, which period, in which language. The download runs the report again for that
person, so whoever has lost a team since (or was never shown it) gets nothing, and it is
audited as an export.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from aiohttp import web
from openpyxl import Workbook
from openpyxl.styles import Font

from bot.i18n import Texts
from bot.links import LinkSigner, add_download
from consultations.calendar import BusinessCalendar
from consultations.errors import DomainError
from consultations.ports import Clock, UnitOfWork
from consultations.reporting import ReportSource, run_report
from consultations.reports import Figures, Period, PeriodKind, Ratio, Report, Scope, Suppressed
from dialogs.cards.report import owner_name

FORMATS = ("xlsx", "csv")
LINK_LIFETIME = timedelta(hours=8)
_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}


class Share(float):
    """A share 0..1 (a rate): a percentage in the workbook."""


class Average(float):
    """A mean rating: one decimal in the workbook."""


Value = str | int | float


def purpose(fmt: str) -> str:
    return f"report-{fmt}"


@dataclass(frozen=True)
class ExportScope:
    """What a download link recounts: who, which teams, which period, which language."""

    user_id: int
    team_ids: tuple[int, ...]
    kind: PeriodKind
    start: date
    end: date
    language: str

    def subject(self) -> str:
        return json.dumps(
            [self.user_id, list(self.team_ids), self.kind.value, self.start.isoformat(),
             self.end.isoformat(), self.language],
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def parse(cls, subject: str) -> ExportScope | None:
        try:
            user_id, team_ids, kind, start, end, language = json.loads(subject)
            return cls(
                int(user_id),
                tuple(int(team_id) for team_id in team_ids),
                PeriodKind(kind),
                date.fromisoformat(start),
                date.fromisoformat(end),
                str(language),
            )
        except (ValueError, TypeError):
            return None


# --- the tables ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    """One section as a table: a team column, maybe an item column, value columns."""

    name: str
    item: str  # the item column's header ("" when the rows are the teams themselves)
    measures: Sequence[str]
    rows: Sequence[tuple[str, str, Sequence[Value]]]


def cell(value: int | Suppressed) -> Value:
    return str(value) if isinstance(value, Suppressed) else value


def rate(value: Ratio) -> Value:
    return str(value) if isinstance(value, Suppressed) else Share(round(value, 4))


def mean(value: Ratio) -> Value:
    return str(value) if isinstance(value, Suppressed) else Average(round(value, 2))


def _units(t: Texts, report: Report) -> list[tuple[str, Figures]]:
    """The whole first, then each team when there are several."""
    if len(report.teams) == 1:
        return [(report.teams[0].name, report.whole)]
    whole = t("report.export.county") if report.scope is Scope.COUNTY else t("report.export.all")
    return [(whole, report.whole), *((team.name, team.figures) for team in report.teams)]


def sheets(t: Texts, report: Report) -> list[Sheet]:
    units = _units(t, report)
    fates = [t(f"report.fate.{fate.value}") for fate, _ in report.whole.requests.fates]
    total = t("report.export.total")

    def rows(build: Callable[[Figures], list[tuple[str, Sequence[Value]]]]) -> list[Any]:
        return [(name, item, values) for name, f in units for item, values in build(f)]

    return [
        Sheet(
            t("report.sheet.requests"),
            t("report.month"),
            [t("report.received"), *fates],
            rows(
                lambda f: [
                    (total, [cell(f.requests.received), *(cell(n) for _, n in f.requests.fates)]),
                    *(
                        (
                            f"{m.month.month}/{m.month.year}",
                            [cell(m.received), *(cell(n) for _, n in m.fates)],
                        )
                        for m in f.requests.months
                    ),
                ]
            ),
        ),
        Sheet(
            t("report.sheet.routes"),
            t("report.export.route"),
            [t("report.export.requests")],
            rows(
                lambda f: [
                    (t(f"route.{r.value}") if r else t("report.route.none"), [cell(n)])
                    for r, n in f.requests.declined_by_route
                ]
            ),
        ),
        Sheet(
            t("report.sheet.lead_times"),
            t("report.lead.column"),
            [t("report.cases"), t("report.median"), t("report.p90")],
            rows(
                lambda f: [
                    (t(f"report.lead.{x.lead.value}"), [cell(x.cases), cell(x.median), cell(x.p90)])
                    for x in f.lead_times
                ]
            ),
        ),
        Sheet(
            t("report.sheet.recommendations"),
            t("report.export.status"),
            [t("report.export.recommendations")],
            rows(
                lambda f: [
                    (total, [cell(f.recommendations.total)]),
                    *(
                        (t(f"report.rec_state.{s.value}"), [cell(n)])
                        for s, n in f.recommendations.states
                    ),
                ]
            ),
        ),
        Sheet(
            t("report.sheet.implementation"),
            t("report.export.owner"),
            [t("report.export.past_due"), t("report.rec_state.done"), t("report.rec.rate_column")],
            rows(
                lambda f: [
                    (
                        t("report.export.all_owners"),
                        [
                            cell(f.recommendations.due),
                            cell(f.recommendations.done),
                            rate(f.recommendations.rate),
                        ],
                    ),
                    *(
                        (owner_name(t, o.owner), [cell(o.due), cell(o.done), rate(o.rate)])
                        for o in f.recommendations.owners
                    ),
                ]
            ),
        ),
        Sheet(
            t("report.sheet.reasons"),
            t("report.export.reason"),
            [t("report.export.recommendations")],
            rows(
                lambda f: [
                    (
                        t(f"rec.reason_category.{c.value}") if c else t("report.reason.none"),
                        [cell(n)],
                    )
                    for c, n in f.recommendations.not_implemented
                ]
            ),
        ),
        Sheet(
            t("report.sheet.closing"),
            t("report.export.outcome"),
            [t("report.cases")],
            rows(
                lambda f: [
                    (t("report.closing.closed"), [cell(f.closing.closed)]),
                    *((t(f"outcome.{o.value}"), [cell(n)]) for o, n in f.closing.outcomes),
                    (t("report.closing.brought_back"), [cell(f.closing.brought_back)]),
                ]
            ),
        ),
        Sheet(
            t("report.sheet.feedback"),
            "",
            [
                t("report.feedback.asked"),
                t("report.feedback.answered"),
                t("report.feedback.response_rate"),
                t("report.feedback.mean"),
                *(t("report.feedback.rating", rating=r) for r in range(1, 6)),
            ],
            rows(
                lambda f: [
                    (
                        "",
                        [
                            cell(f.feedback.asked),
                            cell(f.feedback.answered),
                            rate(f.feedback.response_rate),
                            mean(f.feedback.mean),
                            *(cell(n) for _, n in f.feedback.ratings),
                        ],
                    )
                ]
            ),
        ),
        Sheet(
            t("report.sheet.barriers"),
            t("report.export.barrier"),
            [t("report.export.requests")],
            rows(lambda f: [(t(f"barrier.{b.value}"), [cell(n)]) for b, n in f.barriers]),
        ),
        Sheet(
            t("report.sheet.services"),
            t("report.export.service"),
            [t("report.export.requests")],
            rows(lambda f: [(t(f"service.{s.value}"), [cell(n)]) for s, n in f.services]),
        ),
        Sheet(
            t("report.sheet.meetings"),
            t("report.export.profession"),
            [t("report.export.invited"), t("report.export.present")],
            rows(
                lambda f: [
                    (t("report.meetings.held"), [cell(f.meetings), ""]),
                    *(
                        (
                            t(f"profession.{p.profession.value}")
                            if p.profession
                            else t("report.profession.none"),
                            [cell(p.convened), cell(p.attended)],
                        )
                        for p in f.professions
                    ),
                ]
            ),
        ),
        Sheet(
            t("report.sheet.load"),
            t("report.load.name"),
            [t("report.load.open")],
            rows(
                lambda f: [
                    (t("report.load.handovers"), [cell(f.handovers)]),
                    (t("report.load.case_managers"), [f.case_managers]),
                    *((row.name, [cell(row.open_follow_ups)]) for row in f.load),
                ]
            ),
        ),
    ]


def _heading(t: Texts, report: Report) -> list[str]:
    period = report.period
    return [
        t(
            "report.period_line",
            period=t(f"report.period.{period.kind.value}"),
            start=t.date(period.start),
            end=t.date(period.end),
        ),
        t("report.export.teams", teams=", ".join(team.name for team in report.teams)),
        t("report.small_note"),
    ]


def workbook_bytes(t: Texts, report: Report) -> bytes:
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    book.properties.creator = "Työkykytiimi"
    for sheet in sheets(t, report):
        # Excel allows 31 characters and no []:*?/\ in a sheet's name.
        ws = book.create_sheet(sheet.name[:31].translate(str.maketrans("", "", "[]:*?/\\")))
        ws.append([sheet.name])
        ws["A1"].font = Font(bold=True, size=13)
        for line in _heading(t, report):
            ws.append([line])
        ws.append([])
        header = [t("report.teams.team"), *([sheet.item] if sheet.item else []), *sheet.measures]
        ws.append(header)
        for column in ws[ws.max_row]:
            column.font = Font(bold=True)
        for team, item, values in sheet.rows:
            ws.append([team, *([item] if sheet.item else []), *values])
            for value, target in zip(values, ws[ws.max_row][-len(values) :], strict=True):
                if isinstance(value, Share):
                    target.number_format = "0 %"
                elif isinstance(value, Average):
                    target.number_format = "0.0"
        ws.column_dimensions["A"].width = 34
        ws.column_dimensions["B"].width = 34
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(t: Texts, report: Report) -> bytes:
    """One long table: section, period, team, item, measure, value; semicolons and a BOM,
    as Excel in Finland opens it."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            t("report.export.section"),
            t("report.picker.start"),
            t("report.picker.end"),
            t("report.teams.team"),
            t("report.export.item"),
            t("report.export.measure"),
            t("report.export.value"),
        ]
    )
    period = report.period
    for sheet in sheets(t, report):
        for team, item, values in sheet.rows:
            for measure, value in zip(sheet.measures, values, strict=True):
                if value == "":
                    continue
                text = str(value)
                if isinstance(value, float) and t.language != "en":
                    text = text.replace(".", ",")
                writer.writerow(
                    [sheet.name, period.start.isoformat(), period.end.isoformat(), team, item,
                     measure, text]
                )  # fmt: skip
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- links and downloads -------------------------------------------------------------------


class ReportExports:
    """Makes the report card's export links and serves the downloads they lead to."""

    def __init__(
        self,
        *,
        signer: LinkSigner,
        clock: Clock,
        source: ReportSource,
        uow_factory: Callable[[], UnitOfWork],
        admins: frozenset[str],
        calendar: BusinessCalendar,
    ) -> None:
        self.signer = signer
        self._clock = clock
        self._source = source
        self._uow = uow_factory
        self._admins = admins
        self._calendar = calendar

    def urls(self, user_id: int, report: Report, language: str) -> dict[str, str]:
        period = report.period
        scope = ExportScope(
            user_id, report.team_ids, period.kind, period.start, period.end, language
        )
        expires = self._clock.now() + LINK_LIFETIME
        name = f"report-{period.start.isoformat()}-{period.end.isoformat()}"
        return {
            fmt: self.signer.url(purpose(fmt), scope.subject(), expires, f"{name}.{fmt}")
            for fmt in FORMATS
        }

    async def download(self, fmt: str, subject: str) -> web.Response:
        scope = ExportScope.parse(subject)
        if scope is None:
            raise web.HTTPNotFound()
        t = Texts(scope.language if scope.language in ("fi", "sv", "en") else "fi")
        try:
            report = await run_report(
                self._source,
                self._uow(),
                actor_id=scope.user_id,
                period=Period(scope.kind, scope.start, scope.end),
                team_ids=scope.team_ids,
                admins=self._admins,
                now=self._clock.now(),
                calendar=self._calendar,
                action="report.exported",
                format=fmt,
            )
        except DomainError as refused:
            return web.Response(
                status=403, text=t(refused.code, **refused.params), content_type="text/plain"
            )
        body = workbook_bytes(t, report) if fmt == "xlsx" else csv_bytes(t, report)
        filename = f"report-{scope.start.isoformat()}-{scope.end.isoformat()}.{fmt}"
        return web.Response(
            body=body,
            content_type=_TYPES[fmt],
            charset="utf-8" if fmt == "csv" else None,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                # Figures about clients' cases: never kept by a proxy or the browser.
                "Cache-Control": "no-store",
            },
        )


REPORT_EXPORTS = web.AppKey("report_exports", ReportExports)


def add_report_downloads(app: web.Application, now: Callable[[], Any]) -> None:
    """Serve `/links/report-xlsx/…` and `/links/report-csv/…` once the app has started
    (the exports object is made at start, with the signing key from the database)."""
    for fmt in FORMATS:

        async def handler(subject: str, request: web.Request, fmt: str = fmt) -> web.Response:
            return await request.app[REPORT_EXPORTS].download(fmt, subject)

        add_download(app, lambda: app[REPORT_EXPORTS].signer, now, purpose(fmt), handler)
