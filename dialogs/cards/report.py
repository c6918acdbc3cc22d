"""Report cards (SPEC §2.7): the period picker and the report.

Charts (Teams renders `Chart.*` elements) carry a `fallback` to a plain table or fact
set, so a host without charts (the Agents Playground included) shows the same numbers. A
suppressed figure reads "< 5" in every table; a chart, which needs a number, draws it as
0, as the card says. Categories (barriers, services, routes…) list the ones with five or
more and then one line for the rest, so even which categories are empty stays unsaid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from consultations.reporting import ReportChoices
from consultations.reports import (
    Count,
    Fate,
    Figures,
    Lead,
    OwnerType,
    PeriodKind,
    Ratio,
    Report,
    Scope,
    Suppressed,
)
from dialogs.cards.base import (
    Card,
    Localizer,
    adaptive_card,
    bold,
    clip_text,
    execute,
    facts,
    fit,
    good,
    heading,
    paragraph,
)

ALL_TEAMS = "all"


@dataclass(frozen=True)
class Choice:
    """What the picker shows selected (a report's own choice when changing it)."""

    period: PeriodKind = PeriodKind.THIS_QUARTER
    start: date | None = None
    end: date | None = None
    team: str = ALL_TEAMS


# --- numbers as text ---------------------------------------------------------------------------


def number(value: Count) -> str:
    return str(value)


def percent(t: Localizer, value: Ratio) -> str:
    if isinstance(value, Suppressed):
        return str(value)
    return t("report.percent", value=round(value * 100))


def decimal(t: Localizer, value: Ratio) -> str:
    if isinstance(value, Suppressed):
        return str(value)
    text = f"{value:.1f}"
    return text if t.language == "en" else text.replace(".", ",")


def plotted(value: Count) -> int:
    return 0 if isinstance(value, Suppressed) else value


def owner_name(t: Localizer, owner: OwnerType) -> str:
    if owner is OwnerType.TEAM_MEMBER:
        return t("report.owner.team_member")
    return t(f"party.{owner.value}")


def month_label(month: date) -> str:
    return f"{month.month}/{month.year}"


# --- building blocks ---------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> dict[str, Any]:
    """An Adaptive Cards 1.5 table; the first column is the widest."""

    def row(cells: Sequence[str], *, bolder: bool = False) -> dict[str, Any]:
        blocks = []
        for index, text in enumerate(cells):
            block: dict[str, Any] = {"type": "TextBlock", "text": text}
            # Numbers are short; only the labels (and a header) may need a second line.
            if index == 0 or bolder:
                block["wrap"] = True
            if bolder:
                block["weight"] = "Bolder"
            blocks.append({"type": "TableCell", "items": [block]})
        return {"type": "TableRow", "cells": blocks}

    return {
        "type": "Table",
        "firstRowAsHeader": True,
        "showGridLines": False,
        "columns": [{"width": 3}, *({"width": 2} for _ in header[1:])],
        "rows": [row(header, bolder=True), *(row(r) for r in rows)],
    }


def chart(kind: str, title: str, fallback: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": kind, "title": title, **fields, "fallback": fallback}


def _shown_first(items: Sequence[tuple[str, Count]]) -> tuple[list[tuple[str, str]], bool]:
    """Categories of five or more, largest first; and whether any others were left out."""
    shown = sorted(
        ((label, n) for label, n in items if not isinstance(n, Suppressed)),
        key=lambda item: -item[1],
    )
    return [(label, number(n)) for label, n in shown], len(shown) < len(items)


def categories(t: Localizer, title: str, items: Sequence[tuple[str, Count]]) -> list[Any]:
    shown, rest = _shown_first(items)
    blocks: list[Any] = [bold(title)]
    if shown:
        blocks.append(facts(shown))
    if rest:
        blocks.append(paragraph(t("report.others_small"), subtle=True))
    return blocks


# --- the sections --------------------------------------------------------------------------


def _requests(t: Localizer, f: Figures, detail: Detail) -> list[Any]:
    r = f.requests
    months = r.months[-detail.months :]
    compact = detail.compact_months
    fates = [(t(f"report.fate.{fate.value}"), n) for fate, n in r.fates]
    blocks: list[Any] = [
        heading(t("report.section.requests")),
        facts([(t("report.received"), number(r.received))] + [(k, number(n)) for k, n in fates]),
    ]
    header = [t("report.month"), t("report.received"), *(k for k, _ in fates)]
    rows = [
        [month_label(m.month), number(m.received), *(number(n) for _, n in m.fates)] for m in months
    ]
    fallback: dict[str, Any] = (
        facts([(row[0], " · ".join(row[1:])) for row in rows]) if compact else table(header, rows)
    )
    blocks.append(
        chart(
            "Chart.VerticalBar.Grouped",
            t("report.requests.chart"),
            fallback,
            stacked=True,
            data=[
                {
                    "legend": t(f"report.fate.{fate.value}"),
                    "values": [
                        {"x": month_label(m.month), "y": plotted(dict(m.fates)[fate])}
                        for m in months
                    ],
                }
                for fate, _ in r.fates
            ],
        )
    )
    if compact:
        blocks.append(
            paragraph(t("report.months_legend", order=" · ".join(header[1:])), subtle=True)
        )
    if len(months) < len(r.months):
        blocks.append(paragraph(t("report.months_shown", count=len(months)), subtle=True))
    routes = [
        (t(f"route.{route.value}") if route else t("report.route.none"), n)
        for route, n in r.declined_by_route
    ]
    blocks += categories(t, t("report.declined_by_route"), routes)
    return blocks


def _lead_times(t: Localizer, f: Figures) -> list[Any]:
    rows = [
        [t(f"report.lead.{x.lead.value}"), number(x.cases), number(x.median), number(x.p90)]
        for x in f.lead_times
    ]
    header = [t("report.lead.column"), t("report.cases"), t("report.median"), t("report.p90")]
    return [
        heading(t("report.section.lead_times")),
        chart(
            "Chart.VerticalBar.Grouped",
            t("report.lead.chart"),
            table(header, rows),
            yAxisTitle=t("report.working_days"),
            data=[
                {
                    "legend": label,
                    "values": [
                        {"x": t(f"report.lead_short.{x.lead.value}"), "y": plotted(days)}
                        for x, days in zip(f.lead_times, values, strict=True)
                    ],
                }
                for label, values in (
                    (t("report.median"), [x.median for x in f.lead_times]),
                    (t("report.p90"), [x.p90 for x in f.lead_times]),
                )
            ],
        ),
    ]


def _recommendations(t: Localizer, f: Figures) -> list[Any]:
    rec = f.recommendations
    states = [(t(f"report.rec_state.{s.value}"), n) for s, n in rec.states]
    blocks: list[Any] = [
        heading(t("report.section.recommendations")),
        paragraph(t("report.rec.scope", total=number(rec.total))),
        chart(
            "Chart.Donut",
            t("report.rec.chart"),
            facts([(k, number(n)) for k, n in states]),
            data=[{"legend": k, "value": plotted(n)} for k, n in states],
        ),
        good(
            t(
                "report.rec.rate",
                rate=percent(t, rec.rate),
                done=number(rec.done),
                due=number(rec.due),
            )
        ),
        bold(t("report.rec.by_owner")),
        facts(
            [
                (
                    owner_name(t, o.owner),
                    t(
                        "report.rec.owner_value",
                        rate=percent(t, o.rate),
                        done=number(o.done),
                        due=number(o.due),
                    ),
                )
                for o in rec.owners
            ]
        ),
    ]
    reasons = [
        (t(f"rec.reason_category.{c.value}") if c else t("report.reason.none"), n)
        for c, n in rec.not_implemented
    ]
    blocks += categories(t, t("report.rec.not_implemented_by_reason"), reasons)
    return blocks


def _closing_and_feedback(t: Localizer, f: Figures) -> list[Any]:
    c, fb = f.closing, f.feedback
    outcomes = [(t(f"outcome.{o.value}"), n) for o, n in c.outcomes]
    ratings = [(str(rating), n) for rating, n in fb.ratings]
    return [
        heading(t("report.section.closing")),
        facts(
            [
                (t("report.closing.closed"), number(c.closed)),
                (t("report.closing.brought_back"), number(c.brought_back)),
            ]
        ),
        chart(
            "Chart.HorizontalBar",
            t("report.closing.chart"),
            facts([(k, number(n)) for k, n in outcomes]),
            data=[{"x": k, "y": plotted(n)} for k, n in outcomes],
        ),
        heading(t("report.section.feedback")),
        facts(
            [
                (t("report.feedback.asked"), number(fb.asked)),
                (t("report.feedback.answered"), number(fb.answered)),
                (t("report.feedback.response_rate"), percent(t, fb.response_rate)),
                (t("report.feedback.mean"), decimal(t, fb.mean)),
            ]
        ),
        chart(
            "Chart.VerticalBar",
            t("report.feedback.chart"),
            facts([(t("report.feedback.rating", rating=k), number(n)) for k, n in ratings]),
            data=[{"x": k, "y": plotted(n)} for k, n in ratings],
        ),
        paragraph(t("report.feedback.no_comments"), subtle=True),
    ]


def _needs_and_people(t: Localizer, f: Figures, rows: int, names: int) -> list[Any]:
    blocks: list[Any] = [heading(t("report.section.needs"))]
    blocks += categories(
        t, t("report.barriers"), [(t(f"barrier.{b.value}"), n) for b, n in f.barriers]
    )
    blocks += categories(
        t, t("report.services"), [(t(f"service.{s.value}"), n) for s, n in f.services]
    )
    blocks += [
        heading(t("report.section.meetings")),
        facts([(t("report.meetings.held"), number(f.meetings))]),
    ]
    shown = [p for p in f.professions if not isinstance(p.convened, Suppressed)]
    if shown:
        blocks.append(bold(t("report.profession.title")))
        blocks.append(
            facts(
                [
                    (
                        t(f"profession.{p.profession.value}")
                        if p.profession
                        else t("report.profession.none"),
                        t(
                            "report.profession.value",
                            convened=number(p.convened),
                            attended=number(p.attended),
                        ),
                    )
                    for p in sorted(shown, key=lambda p: -plotted(p.convened))
                ]
            )
        )
    if len(shown) < len(f.professions):
        blocks.append(paragraph(t("report.others_small"), subtle=True))
    blocks += [
        heading(t("report.section.load")),
        facts(
            [
                (t("report.load.case_managers"), str(f.case_managers)),
                (t("report.load.handovers"), number(f.handovers)),
            ]
        ),
    ]
    if f.load:
        blocks.append(bold(t("report.load.open")))
        blocks.append(
            facts(
                [(clip_text(row.name, names), number(row.open_follow_ups)) for row in f.load[:rows]]
            )
        )
        if len(f.load) > rows:
            blocks.append(paragraph(t("report.load.more", count=len(f.load) - rows), subtle=True))
    return blocks


def _side_by_side(t: Localizer, report: Report, limit: int, names: int) -> list[Any]:
    header = [
        t("report.teams.team"),
        t("report.received"),
        t("report.fate.accepted"),
        t("report.teams.triage_median"),
        t("report.rec.rate_column"),
        t("report.feedback.mean"),
    ]
    rows = [
        [
            clip_text(team.name, names),
            number(team.figures.requests.received),
            number(team.figures.requests.fate(Fate.ACCEPTED)),
            number(team.figures.lead(Lead.TRIAGE).median),
            percent(t, team.figures.recommendations.rate),
            decimal(t, team.figures.feedback.mean),
        ]
        for team in report.teams[:limit]
    ]
    blocks: list[Any] = [heading(t("report.section.teams")), table(header, rows)]
    if len(report.teams) > limit:
        blocks.append(
            paragraph(t("report.teams.more", count=len(report.teams) - limit), subtle=True)
        )
    return blocks


def _title(t: Localizer, report: Report, names: int) -> str:
    if report.scope is Scope.COUNTY:
        return t("report.title.county")
    if report.scope is Scope.TEAMS:
        return t("report.title.teams", count=len(report.teams))
    return t("report.title.team", team=clip_text(report.teams[0].name, names))


def _choice_of(report: Report) -> dict[str, str]:
    return {
        "period": report.period.kind.value,
        "start": report.period.start.isoformat(),
        "end": report.period.end.isoformat(),
        "team": str(report.teams[0].team_id) if report.scope is Scope.TEAM else ALL_TEAMS,
    }


@dataclass(frozen=True)
class Detail:
    """How much a report card shows; tighter steps until it fits."""

    compact_months: bool  # the months' fallback as facts instead of a table
    months: int  # the latest months on the chart (the export has them all)
    load_rows: int  # case managers listed
    team_rows: int  # teams side by side
    names: int  # characters of a team's or a person's name


_STEPS = (
    Detail(False, 36, 8, 30, 60),
    Detail(True, 36, 8, 30, 40),
    Detail(True, 18, 5, 20, 30),
    Detail(True, 12, 3, 12, 20),
)


def report_card(
    t: Localizer, report: Report, exports: Mapping[str, str] | None = None, notice: str = ""
) -> Card:
    """The report in the user's language: charts with table fallbacks, small numbers as
    "< 5", the teams side by side when there are several, and the export links."""
    period = report.period

    def build(detail: Detail) -> Card:
        body: list[Any] = []
        if notice:
            body.append(good(notice))
        body += [
            heading(_title(t, report, detail.names)),
            paragraph(
                t(
                    "report.period_line",
                    period=t(f"report.period.{period.kind.value}"),
                    start=t.date(period.start),
                    end=t.date(period.end),
                )
            ),
            paragraph(t("report.small_note"), subtle=True),
        ]
        if len(report.teams) > 1:
            body += _side_by_side(t, report, detail.team_rows, detail.names)
        f = report.whole
        body += _requests(t, f, detail)
        body += _lead_times(t, f)
        body += _recommendations(t, f)
        body += _closing_and_feedback(t, f)
        body += _needs_and_people(t, f, detail.load_rows, detail.names)
        actions = [
            {"type": "Action.OpenUrl", "title": t(f"report.export.{kind}"), "url": url}
            for kind, url in (exports or {}).items()
        ]
        if exports:
            body.append(paragraph(t("report.export.note"), subtle=True))
        actions.append(execute(t("report.change"), "report.open", _choice_of(report)))
        return adaptive_card(body, actions)

    return fit(build, _STEPS)


def picker_card(
    t: Localizer, choices: ReportChoices, choice: Choice | None = None, notice: str = ""
) -> Card:
    """Which period, and for an admin (or a coordinator of several teams) which team."""
    choice = choice or Choice()
    body: list[Any] = []
    if notice:
        body.append(paragraph(notice))
    body += [
        heading(t("report.picker.title")),
        paragraph(t("report.picker.intro")),
        {
            "type": "Input.ChoiceSet",
            "id": "period",
            "label": t("report.picker.period"),
            "value": choice.period.value,
            "choices": [
                {"title": t(f"report.period.{kind.value}"), "value": kind.value}
                for kind in PeriodKind
            ],
        },
        paragraph(t("report.picker.dates_hint"), subtle=True),
        _date("start", t("report.picker.start"), choice.start),
        _date("end", t("report.picker.end"), choice.end),
    ]
    if len(choices.teams) > 1:
        everyone = t("report.picker.county") if choices.admin else t("report.picker.all_mine")
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": "team",
                "label": t("report.picker.team"),
                "value": choice.team,
                "choices": [
                    {"title": everyone, "value": ALL_TEAMS},
                    *({"title": team.name, "value": str(team.id)} for team in choices.teams),
                ],
            }
        )
    else:
        body.append(facts([(t("report.picker.team"), choices.teams[0].name)]))
    body.append(paragraph(t("report.picker.audit"), subtle=True))
    return adaptive_card(body, [execute(t("report.show"), "report.show", style="positive")])


def _date(input_id: str, label: str, value: date | None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "Input.Date", "id": input_id, "label": label}
    if value is not None:
        block["value"] = value.isoformat()
    return block
