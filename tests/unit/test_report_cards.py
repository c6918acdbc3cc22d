"""The report cards read like a user would read them, in Finnish, Swedish and English:
charts with a table beside them for hosts without charts, small numbers as "< 5", and
every card under Teams' size limit even for a county's every team over three years."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from bot.i18n import LANGUAGES, Texts
from consultations.calendar import BusinessCalendar
from consultations.consultation import Barrier, DeclineRoute, Outcome, Service
from consultations.errors import InvalidInput
from consultations.model import Profession, Team
from consultations.reporting import ReportChoices
from consultations.reports import (
    Fate,
    Lead,
    OwnerType,
    Period,
    PeriodKind,
    RecKey,
    Report,
    Scope,
    TallySet,
    TeamTally,
    build_report,
)
from consultations.summary import NotImplementedReason
from dialogs.cards.base import MAX_CARD_BYTES, card_bytes
from dialogs.cards.report import picker_card, report_card
from dialogs.report import parse_choice
from tests.support.cards import actions, find, inputs, nodes, texts

HELSINKI = ZoneInfo("Europe/Helsinki")
TODAY = date(2026, 11, 30)
CALENDAR = BusinessCalendar(
    holidays=frozenset(holidays.country_holidays("FI", years=range(2023, 2028)).keys())
)
CHARTS = {
    "Chart.VerticalBar.Grouped",
    "Chart.Donut",
    "Chart.HorizontalBar",
    "Chart.VerticalBar",
}


def tally(period: Period, scale: int, rng: random.Random) -> TeamTally:
    """A team's raw counts: every category at `scale` or so (small when scale < 5)."""
    t = TeamTally()

    def n() -> int:
        return rng.randint(scale, scale * 2) if scale >= 5 else rng.randint(0, 4)

    for month in period.months():
        for fate in Fate:
            t.requests[(f"{month:%Y-%m}", fate)] = n()
    for route in DeclineRoute:
        t.declined_routes[route.value] = n()
    for barrier in Barrier:
        t.barriers[barrier.value] = n()
    for service in Service:
        t.services[service.value] = n()
    start = datetime.combine(period.start, datetime.min.time())
    for lead in Lead:
        for i in range(40):
            begin = (start + timedelta(days=i * 3)).date()
            t.lead[lead][(begin, begin + timedelta(days=i % 20))] = n()
    for status in ("done", "in_progress", "not_implemented", "open"):
        for owner in OwnerType:
            for past in (True, False):
                category = "client_declined" if status == "not_implemented" else ""
                t.recommendations[RecKey(status, past, owner, category)] = n()
    for reason in NotImplementedReason:
        t.recommendations[RecKey("not_implemented", True, OwnerType.KELA, reason.value)] = n()
    for outcome in Outcome:
        t.closed[outcome.value] = n()
    t.brought_back = n()
    t.feedback = Counter({rating: n() for rating in range(6)})
    for profession in Profession:
        t.professions[(profession.value, True)] = n()
        t.professions[(profession.value, False)] = n()
    t.handovers = n()
    return t


def county(teams: int, kind: PeriodKind, scale: int = 20, start: date | None = None) -> Report:
    rng = random.Random(teams * 31 + scale)
    period = (
        Period.of(kind, TODAY, start, TODAY)
        if kind is PeriodKind.CUSTOM
        else Period.of(kind, TODAY)
    )
    # The longest names Teams allows, in letters that escape to six bytes each.
    all_teams = [
        Team(i, f"19:t{i}", f"Työkykytiimi {'ä' * 200} {i}", "", "", "")
        for i in range(1, teams + 1)
    ]
    tallies = {team.id: tally(period, scale, rng) for team in all_teams}
    people = {}
    for team in all_teams:
        for k in range(12):
            user = team.id * 100 + k
            tallies[team.id].load[user] = rng.randint(1, 12)
            people[user] = f"Asiakasvastaava {'ö' * 60} {user}"
    scope = Scope.COUNTY if teams > 1 else Scope.TEAM
    return build_report(TallySet(tallies, people), all_teams, scope, period, TODAY, CALENDAR)


def charts(card: dict[str, object]) -> dict[str, list[dict[str, object]]]:
    found: dict[str, list[dict[str, object]]] = {}
    for node in nodes(card):
        if node.get("type") in CHARTS:
            found.setdefault(str(node["type"]), []).append(node)
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_chart_has_a_table_beside_it_with_the_same_numbers(language: str) -> None:
    t = Texts(language)
    report = county(1, PeriodKind.THIS_QUARTER)
    card = report_card(t, report, {"xlsx": "https://bot.example/x.xlsx", "csv": "https://c"})
    found = charts(card)
    assert {kind: len(items) for kind, items in found.items()} == {
        "Chart.VerticalBar.Grouped": 2,  # requests per month, lead times
        "Chart.Donut": 1,  # recommendation statuses
        "Chart.HorizontalBar": 1,  # outcomes
        "Chart.VerticalBar": 1,  # ratings
    }
    for items in found.values():
        for item in items:
            fallback = item["fallback"]
            assert isinstance(fallback, dict) and fallback["type"] in ("Table", "FactSet")
            assert item["title"]
    whole = report.whole
    # The month table: every month's received count, as a user reads it.
    months = found["Chart.VerticalBar.Grouped"][0]["fallback"]
    for month in whole.requests.months:
        assert f"{month.month.month}/{month.month.year}" in texts(months)
        assert str(month.received) in texts(months)
    lead = found["Chart.VerticalBar.Grouped"][1]
    assert t("report.lead.triage") in texts(lead["fallback"])
    assert str(whole.lead(Lead.TRIAGE).median) in texts(lead["fallback"])
    outcomes = found["Chart.HorizontalBar"][0]
    assert t("outcome.employment") in texts(outcomes["fallback"])
    shown = texts(card)
    assert t("report.title.team", team=report.teams[0].name[:40]) in shown
    assert t("report.small_note") in shown
    assert (
        t(
            "report.rec.rate",
            rate=t("report.percent", value=round(whole.recommendations.rate * 100)),
            done=str(whole.recommendations.done),
            due=str(whole.recommendations.due),
        )
        in shown
    )  # type: ignore[operator]
    urls = [n["url"] for n in find(card, lambda n: n.get("type") == "Action.OpenUrl")]
    assert urls == ["https://bot.example/x.xlsx", "https://c"]
    assert "report.open" in actions(card)


@pytest.mark.parametrize("language", LANGUAGES)
def test_small_numbers_read_as_less_than_five_and_are_drawn_as_zero(language: str) -> None:
    t = Texts(language)
    card = report_card(t, county(1, PeriodKind.THIS_YEAR, scale=1))
    shown = texts(card)
    assert "< 5" in shown
    for fact in find(card, lambda n: "title" in n and "value" in n and n.get("type") is None):
        assert (
            fact["value"] in ("< 5", "0") or not fact["value"].isdigit() or int(fact["value"]) >= 5
        )
    for cell in find(card, lambda n: n.get("type") == "TextBlock"):
        text = str(cell["text"])
        assert not (text.isdigit() and 0 < int(text) < 5), text
    for found in charts(card).values():
        for item in found:
            if "yAxisTitle" in item:
                continue  # lead times: working days, not counts of cases
            points = [p for series in item["data"] for p in series.get("values", [series])]  # type: ignore[attr-defined]
            values = [p.get("y", p.get("value")) for p in points]
            assert all(v == 0 or v >= 5 for v in values), (item["type"], values)
    # Categories all under five are summed up in one line, never listed one by one.
    assert t("report.others_small") in shown
    assert t("barrier.person.pain") not in shown


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("teams", "kind"),
    [
        (1, PeriodKind.LAST_12_MONTHS),
        (6, PeriodKind.THIS_YEAR),
        (6, PeriodKind.CUSTOM),
        (24, PeriodKind.CUSTOM),
    ],
)
def test_a_county_report_stays_under_the_size_limit(
    language: str, teams: int, kind: PeriodKind
) -> None:
    t = Texts(language)
    report = county(teams, kind, start=TODAY - timedelta(days=3 * 366))
    card = report_card(t, report, {"xlsx": "https://bot.example/" + "x" * 400, "csv": "https://c"})
    assert card_bytes(card) <= MAX_CARD_BYTES
    assert len(charts(card)) == 4
    if teams > 1:
        assert t("report.title.county") in texts(card)
        assert report.teams[0].name[:15] in texts(card)


def test_a_quarter_of_a_county_of_six_is_shown_at_full_detail() -> None:
    t = Texts("fi")
    report = county(6, PeriodKind.THIS_QUARTER)
    card = report_card(t, report)
    for team in report.teams:
        assert team.name[:15] in texts(card)
    months = charts(card)["Chart.VerticalBar.Grouped"][0]["fallback"]
    assert months["type"] == "Table"  # type: ignore[index]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_picker_offers_the_periods_and_for_an_admin_every_team(language: str) -> None:
    t = Texts(language)
    teams = tuple(Team(i, f"19:t{i}", f"Tiimi {i}", "", "", "") for i in (1, 2, 3))
    card = picker_card(t, ReportChoices(teams, admin=True))
    fields = inputs(card)
    assert [c["value"] for c in fields["period"]["choices"]] == [k.value for k in PeriodKind]
    assert fields["period"]["value"] == "this_quarter"
    assert {"start", "end"} <= fields.keys()
    team_choices = fields["team"]["choices"]
    assert team_choices[0] == {"title": t("report.picker.county"), "value": "all"}
    assert [c["title"] for c in team_choices[1:]] == ["Tiimi 1", "Tiimi 2", "Tiimi 3"]
    assert "report.show" in actions(card)
    single = picker_card(t, ReportChoices(teams[:1], admin=False))
    assert "team" not in inputs(single) and "Tiimi 1" in texts(single)
    mine = picker_card(t, ReportChoices(teams[:2], admin=False))
    assert inputs(mine)["team"]["choices"][0]["title"] == t("report.picker.all_mine")


def test_the_pickers_inputs_are_read_and_a_tampered_one_refused() -> None:
    choice = parse_choice({"period": "custom", "start": "2026-01-01", "end": "2026-06-30"})
    assert (choice.period, choice.start, choice.end, choice.team) == (
        PeriodKind.CUSTOM,
        date(2026, 1, 1),
        date(2026, 6, 30),
        "all",
    )
    assert parse_choice({}).period is PeriodKind.THIS_QUARTER
    assert parse_choice({"team": "3"}).team == "3"
    for tampered in ({"period": "forever"}, {"team": "x"}, {"team": -1}, {"start": 5}):
        with pytest.raises(InvalidInput):
            parse_choice(tampered)
