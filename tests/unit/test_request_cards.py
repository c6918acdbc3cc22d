"""Request and triage cards read the way a user reads them, in Finnish, Swedish and English."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.i18n import Texts, catalog, texts_for
from consultations.case_manager import CasesSection
from consultations.consultation import (
    DEFAULT_MAX_TEXT,
    MAX_TEXT,
    TEXT_FIELDS,
    Barrier,
    CaseStatus,
    Consent,
    Consultation,
    DeclineRoute,
    Outcome,
    RequestDetails,
    Service,
    Urgency,
    check_fields,
)
from consultations.intake import QueueItem, QueueView
from consultations.lists import Page
from consultations.model import LANGUAGES, Profession, RecipientType, Role
from consultations.poll import TimeSlot
from consultations.records import ErasureReason
from consultations.reports import Fate, Lead, PeriodKind, RecState
from consultations.summary import (
    HandOverState,
    NotImplementedReason,
    OutsideParty,
    RecommendationStatus,
)
from dialogs.cards import registry
from dialogs.cards.base import MAX_CARD_BYTES, Card, card_bytes
from dialogs.cards.registry import WEEKDAYS
from dialogs.cards.request import (
    BARRIER_GROUPS,
    FIELDS,
    PAGE_FIELDS,
    PAGES,
    confirm_card,
    draft_saved_card,
    drafts_card,
    my_requests_card,
    no_teams_card,
    request_discarded_card,
    request_not_saved_card,
    request_page_card,
    request_submitted_card,
)
from dialogs.cards.retention import DIGEST_LINES
from dialogs.cards.triage import DECISIONS, decision_card, question_card, queue_card, triage_card
from dialogs.commands import COMMANDS


def whole(items: list[Any]) -> Page[Any]:
    """A list short enough to be one page."""
    return Page(items, 0, len(items))


LOCALES = ("fi-FI", "sv-FI", "en-US")
TEAMS = [(1, "Joensuun työkykytiimi"), (2, "Lieksan tiimi")]
AT = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def full_details() -> RequestDetails:
    return RequestDetails(
        team_id=2,
        client_reference="MK-1985",
        consent=Consent.OBTAINED,
        consent_date=date(2026, 2, 20),
        question="Miten tukea paluuta työhön?",
        situation="Sairauslomalla",
        history="Fysioterapiaa 2025",
        work_capacity="Kevyt työ onnistuu",
        self_rating=6,
        strengths="Motivoitunut",
        goals="Osa-aikatyö",
        services=frozenset({Service.KELA, Service.TYP}),
        barriers=frozenset({Barrier.PAIN, Barrier.LONG_DISTANCES}),
        professions=frozenset({Profession.PHYSICIAN, Profession.SOCIAL_WORKER}),
        client_attends=True,
        urgency=Urgency.URGENT,
        urgent_timeframe="Kahden viikon sisällä",
    )


def case(
    status: CaseStatus = CaseStatus.SUBMITTED,
    details: RequestDetails | None = None,
    case_id: int = 7,
    number: str | None = "TK-2026-0042",
) -> Consultation:
    return Consultation(
        id=case_id,
        requester_id=3,
        details=details or full_details(),
        status=status,
        case_number=number,
        created_at=AT,
        submitted_at=AT if status is not CaseStatus.DRAFT else None,
        decline_reason="Kuuluu työterveyshuoltoon",
        decline_route=DeclineRoute.OCCUPATIONAL_HEALTH,
    )


# --- reading a card ----------------------------------------------------------------------


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def inputs(card: Card) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in walk(card) if str(e.get("type", "")).startswith("Input.")}


def buttons(card: Card) -> dict[str, dict[str, Any]]:
    """verb -> action (only Action.Execute; their Submit fallbacks carry the same data)."""
    found = {}
    for e in walk(card):
        if e.get("type") == "Action.Execute":
            assert e["fallback"]["type"] == "Action.Submit"
            assert e["fallback"]["data"] == e["data"]
            assert e["data"]["verb"] == e["verb"]
            found[e["verb"]] = e
    return found


def texts(card: Card) -> str:
    parts = []
    for e in walk(card):
        for key in ("text", "title", "value", "label", "placeholder"):
            if isinstance(e.get(key), str):
                parts.append(e[key])
    return "\n".join(parts)


def data_of(action: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in action["data"].items() if k != "verb"}


@pytest.fixture(params=LOCALES)
def t(request: pytest.FixtureRequest) -> Texts:
    return texts_for(request.param)


# --- the request dialog ------------------------------------------------------------------


@pytest.mark.parametrize("page", [p for p in PAGES if PAGE_FIELDS[p]])
def test_every_input_page_is_prefilled_from_the_draft(t: Texts, page: str) -> None:
    d = full_details()
    card = request_page_card(t, page, d, case_id=7, teams=TEAMS)
    found = inputs(card)
    assert set(found) == set(PAGE_FIELDS[page])
    expected: dict[str, Any] = {
        "team_id": "2",
        "client_reference": "MK-1985",
        "consent": "obtained",
        "consent_date": "2026-02-20",
        "urgency": "urgent",
        "urgent_timeframe": d.urgent_timeframe,
        "question": d.question,
        "situation": d.situation,
        "history": d.history,
        "work_capacity": d.work_capacity,
        "self_rating": 6,
        "strengths": d.strengths,
        "goals": d.goals,
        "services": "typ,kela",
        "barriers": "person.pain,environment.long_distances",
        "professions": "social_worker,physician",
        "client_attends": "yes",
    }
    for name, block in found.items():
        assert block["value"] == expected[name], name
        assert block["label"] == t(f"request.field.{name}")
    verbs = buttons(card)
    assert set(verbs) >= {"request.next", "request.save", "request.cancel"}
    assert "request.submit" not in verbs
    for verb in ("request.next", "request.save", "request.cancel"):
        assert data_of(verbs[verb]) == {"case_id": 7, "page": page}
    assert ("request.back" in verbs) == (page != "basics")


def test_the_basics_page_offers_teams_consents_and_a_pseudonym_hint(t: Texts) -> None:
    card = request_page_card(t, "basics", RequestDetails(), case_id=1, teams=TEAMS, first=True)
    found = inputs(card)
    assert [c["title"] for c in found["team_id"]["choices"]] == [n for _, n in TEAMS]
    assert {c["value"] for c in found["consent"]["choices"]} == {c.value for c in Consent}
    assert {c["title"] for c in found["consent"]["choices"]} == {
        t(f"consent.{c.value}") for c in Consent
    }
    assert "value" not in found["team_id"]  # nothing chosen yet
    assert found["consent_date"]["type"] == "Input.Date"
    assert found["client_reference"]["maxLength"] == MAX_TEXT["client_reference"]
    shown = texts(card)
    assert t("request.help.client_reference") in shown
    assert t("request.placeholder.client_reference") in shown
    assert t("request.intro") in shown
    assert "request.back" not in buttons(card)


def test_pseudonym_hint_says_never_the_identity_code() -> None:
    assert "henkilötunnus" in texts_for("fi")("request.help.client_reference")
    assert "personbeteckning" in texts_for("sv")("request.help.client_reference")
    assert "identity code" in texts_for("en")("request.help.client_reference")


def test_the_question_is_multiline_and_checked_by_the_server_not_the_client(t: Texts) -> None:
    card = request_page_card(t, "question", RequestDetails(), case_id=1, teams=TEAMS)
    question = inputs(card)["question"]
    # A client-side isRequired would block Back and Save draft while it is empty.
    assert "isRequired" not in question and question["isMultiline"] is True
    assert question["value"] == ""
    missing = request_page_card(
        t, "question", RequestDetails(), case_id=1, teams=TEAMS, errors=["question"]
    )
    assert t("request.error.question") in str(missing)
    # Cancel must work even with an empty mandatory question.
    assert buttons(card)["request.cancel"]["associatedInputs"] == "none"


def test_capacity_page_asks_a_rating_from_0_to_10_without_letting_the_client_clamp_it(
    t: Texts,
) -> None:
    card = request_page_card(t, "capacity", RequestDetails(), case_id=1, teams=TEAMS)
    rating = inputs(card)["self_rating"]
    assert rating["type"] == "Input.Number" and "value" not in rating
    # With min/max the client quietly made 12 into 10; the server refuses it instead.
    assert "min" not in rating and "max" not in rating
    assert "0–10" in rating["label"] and "0–10" in rating["placeholder"]


def test_a_refused_rating_is_named_and_the_other_inputs_stay(t: Texts) -> None:
    _, refused = check_fields({"self_rating": "12"}, date(2026, 3, 2))
    typed = RequestDetails(work_capacity="Kevyt työ onnistuu", strengths="Motivoitunut")
    card = request_page_card(t, "capacity", typed, case_id=1, teams=TEAMS, refused=refused)
    found = inputs(card)
    assert found["work_capacity"]["value"] == "Kevyt työ onnistuu"
    assert found["strengths"]["value"] == "Motivoitunut"
    assert "value" not in found["self_rating"]
    red = [e["text"] for e in walk(card) if e.get("color") == "Attention"]
    assert red == [
        t(
            "request.error.in_field",
            field=t("request.field.self_rating"),
            message=t("error.self_rating_range"),
        )
    ]


def test_an_identity_code_is_named_by_its_field_and_never_shown_back(t: Texts) -> None:
    code = "131052-308T"
    changes, refused = check_fields(
        {
            "team_id": "2",
            "client_reference": f"Asiakas {code}",
            "consent": "obtained",
            "consent_date": "2026-02-20",
            "urgency": "urgent",
        },
        date(2026, 3, 2),
    )
    card = request_page_card(
        t, "basics", RequestDetails().merged(changes), case_id=None, teams=TEAMS, refused=refused
    )
    found = inputs(card)
    # The consent, its date, the team and the urgency are kept; the code is not echoed.
    assert found["consent"]["value"] == "obtained"
    assert found["consent_date"]["value"] == "2026-02-20"
    assert found["team_id"]["value"] == "2" and found["urgency"]["value"] == "urgent"
    assert found["client_reference"]["value"] == ""
    assert code not in json.dumps(card)
    red = [e["text"] for e in walk(card) if e.get("color") == "Attention"]
    assert red == [t("request.error.identity_code", field=t("request.field.client_reference"))]


def test_multi_selects_list_every_option_localized(t: Texts) -> None:
    services = request_page_card(t, "services", RequestDetails(), case_id=1, teams=TEAMS)
    found = inputs(services)
    assert found["services"]["isMultiSelect"] and found["barriers"]["isMultiSelect"]
    assert [c["value"] for c in found["services"]["choices"]] == [s.value for s in Service]
    assert [c["value"] for c in found["barriers"]["choices"]] == [b.value for b in Barrier]
    assert all(t(f"barrier.{b.value}") in texts(services) for b in Barrier)
    assert found["services"]["value"] == ""
    meeting = inputs(request_page_card(t, "meeting", RequestDetails(), case_id=1, teams=TEAMS))
    assert [c["value"] for c in meeting["professions"]["choices"]] == [p.value for p in Profession]
    assert [c["value"] for c in meeting["client_attends"]["choices"]] == ["yes", "no", ""]
    assert meeting["client_attends"]["value"] == ""


def test_finnish_barriers_follow_siun_sote() -> None:
    t = texts_for("fi-FI")
    assert t("barrier.person.physical_limitation") == "Fyysinen rajoite"
    assert t("barrier.skills.keeping_up") == "Työelämätaitojen ylläpito"
    assert t("barrier.other.societal_situation") == "Yhteiskunnallinen tilanne"


def test_consent_page_explains_and_allows_only_back_and_save(t: Texts) -> None:
    d = RequestDetails(consent=Consent.NOT_YET)
    card = request_page_card(t, "consent", d, case_id=4, teams=TEAMS)
    assert inputs(card) == {}
    assert set(buttons(card)) == {"request.back", "request.save"}
    shown = texts(card)
    for key in ("request.consent.explain", "request.consent.how", "request.consent.typ"):
        assert t(key) in shown
    assert t("command.drafts") in shown


def test_review_shows_the_whole_request_and_offers_submit(t: Texts) -> None:
    d = full_details()
    card = request_page_card(t, "review", d, case_id=9, teams=TEAMS)
    assert inputs(card) == {}
    verbs = buttons(card)
    assert set(verbs) == {"request.submit", "request.back", "request.save", "request.cancel"}
    assert data_of(verbs["request.submit"]) == {"case_id": 9}
    assert verbs["request.submit"]["style"] == "positive"
    fact_map = {
        f["title"]: f["value"] for e in walk(card) if e.get("type") == "FactSet" for f in e["facts"]
    }
    assert set(fact_map) == {t(f"request.field.{name}") for name in FIELDS}
    label = {name: t(f"request.field.{name}") for name in FIELDS}
    assert fact_map[label["team_id"]] == "Lieksan tiimi"
    assert fact_map[label["consent"]] == t("consent.obtained")
    assert fact_map[label["consent_date"]] == t.date(date(2026, 2, 20))
    assert fact_map[label["urgency"]] == t("urgency.urgent")
    assert fact_map[label["self_rating"]] == "6"
    assert fact_map[label["client_attends"]] == t("attends.yes")
    assert t("service.kela") in fact_map[label["services"]]
    assert t("barrier.person.pain") in fact_map[label["barriers"]]
    assert t("profession.physician") in fact_map[label["professions"]]
    for name in TEXT_FIELDS:
        assert fact_map[label[name]] == getattr(d, name)


def test_review_of_an_empty_draft_shows_dashes_and_errors(t: Texts) -> None:
    errors = RequestDetails().missing_for_submit()
    card = request_page_card(t, "review", RequestDetails(), case_id=1, teams=TEAMS, errors=errors)
    values = [f["value"] for e in walk(card) if e.get("type") == "FactSet" for f in e["facts"]]
    assert values.count("—") >= 10
    red = [e["text"] for e in walk(card) if e.get("color") == "Attention"]
    assert red == [t(f"request.error.{name}") for name in errors]


def test_an_error_that_is_a_catalog_key_is_shown_translated(t: Texts) -> None:
    card = request_page_card(
        t, "basics", RequestDetails(), case_id=1, teams=TEAMS, errors=["error.consent_date_future"]
    )
    red = [e["text"] for e in walk(card) if e.get("color") == "Attention"]
    assert red == [t("error.consent_date_future")]


def test_unknown_page_is_refused() -> None:
    with pytest.raises(ValueError):
        request_page_card(texts_for("fi"), "nope", RequestDetails(), case_id=1, teams=TEAMS)


def test_small_request_cards(t: Texts) -> None:
    submitted = request_submitted_card(t, "TK-2026-0042", "Lieksan tiimi")
    assert "TK-2026-0042" in texts(submitted) and "Lieksan tiimi" in texts(submitted)
    saved = draft_saved_card(t, 5)
    assert data_of(buttons(saved)["request.resume"]) == {"case_id": 5}
    assert t("command.drafts") in texts(saved)
    assert set(buttons(request_discarded_card(t))) == {"request.new", "request.drafts"}
    confirm = confirm_card(
        t,
        "request.withdraw.confirm.title",
        "request.withdraw.confirm.body",
        yes=("request.withdraw.confirm.yes", "request.withdraw.confirm"),
        no=("request.withdraw.confirm.no", "request.my"),
        data={"case_id": 5},
        case_number="TK-2026-0001",
    )
    verbs = buttons(confirm)
    assert set(verbs) == {"request.withdraw.confirm", "request.my"}
    assert all(data_of(a) == {"case_id": 5} for a in verbs.values())
    assert "TK-2026-0001" in texts(confirm)
    # The buttons say what they do, not "Yes" / "No".
    assert verbs["request.withdraw.confirm"]["title"] == t("request.withdraw.confirm.yes")
    assert verbs["request.withdraw.confirm"]["style"] == "destructive"
    assert verbs["request.my"]["title"] == t("request.withdraw.confirm.no")


def test_confirmation_buttons_say_what_they_do_in_every_language() -> None:
    assert texts_for("fi")("request.discard.confirm.yes") == "Poista luonnos"
    assert texts_for("fi")("request.discard.confirm.no") == "Säilytä luonnos"
    assert texts_for("sv")("request.discard.confirm.yes") == "Radera utkastet"
    assert texts_for("en")("request.withdraw.confirm.no") == "Keep the request"


def test_a_new_request_is_not_a_draft_until_saved(t: Texts) -> None:
    new = request_page_card(t, "basics", RequestDetails(), case_id=None, teams=TEAMS, first=True)
    verbs = buttons(new)
    assert set(verbs) == {"request.next", "request.save", "request.cancel"}
    assert all(data_of(a) == {"page": "basics"} for a in verbs.values())
    assert verbs["request.cancel"]["title"] == t("request.button.cancel")
    # A saved draft's page deletes it, and says so.
    saved = request_page_card(t, "question", RequestDetails(), case_id=8, teams=TEAMS)
    delete = buttons(saved)["request.cancel"]
    assert delete["title"] == t("request.button.delete") and delete["style"] == "destructive"
    assert t("request.not_saved.title") in texts(request_not_saved_card(t))


def test_before_the_bot_is_in_a_team_the_card_says_how_to_add_it(t: Texts) -> None:
    card = no_teams_card(t)
    assert inputs(card) == {}
    shown = texts(card)
    assert t("request.no_teams.body") in shown and t("request.no_teams.how") in shown
    assert "Työkykytiimi" in t("request.no_teams.how")


def test_what_does_not_apply_is_left_out_of_the_request(t: Texts) -> None:
    d = RequestDetails(team_id=2, client_reference="AB", consent=Consent.TYP_EXCEPTION)
    card = request_page_card(t, "review", d, case_id=9, teams=TEAMS)
    titles = [f["title"] for e in walk(card) if e.get("type") == "FactSet" for f in e["facts"]]
    # A normal request has no timeframe, a TYP exception no consent date.
    assert t("request.field.urgent_timeframe") not in titles
    assert t("request.field.consent_date") not in titles
    assert t("request.field.urgency") in titles and t("request.field.consent") in titles


def test_a_scheduled_request_shows_its_meeting_time_and_place(t: Texts) -> None:
    start = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # Tuesday 13.00 in Helsinki
    card = my_requests_card(
        t,
        whole([case(CaseStatus.SCHEDULED, case_id=3, number="TK-2026-0043")]),
        meetings={3: (TimeSlot(5, start, 60), "Neuvotteluhuone 2")},
    )
    fact_map = {
        f["title"]: f["value"] for e in walk(card) if e.get("type") == "FactSet" for f in e["facts"]
    }
    assert fact_map[t("meeting.time")] == t.span(start, start.replace(hour=12))
    assert fact_map[t("meeting.place")] == "Neuvotteluhuone 2"
    if t.language == "fi":
        assert fact_map[t("meeting.time")] == "ti 1.12. klo 13.00–14.00"


def test_my_requests_show_status_next_step_and_withdraw(t: Texts) -> None:
    cases = [
        case(CaseStatus.DRAFT, case_id=1, number=None),
        case(CaseStatus.SUBMITTED, case_id=2),
        case(CaseStatus.SCHEDULED, case_id=3, number="TK-2026-0043"),
        case(CaseStatus.CLOSED, case_id=4, number="TK-2025-0001"),
    ]
    card = my_requests_card(t, whole(cases), notice="notice.request.withdrawn")
    shown = texts(card)
    assert t("notice.request.withdrawn") in shown
    assert t("request.draft_label") in shown and "TK-2026-0043" in shown
    for c in cases:
        assert t(f"status.{c.status.value}") in shown
        assert t(f"status.{c.status.value}.next") in shown
    assert t("my.submitted", date=t.date(date(2026, 3, 2))) in shown
    withdraws = [
        data_of(e)
        for e in walk(card)
        if e.get("type") == "Action.Execute" and e["verb"] == "request.withdraw"
    ]
    assert withdraws == [{"case_id": 2}, {"case_id": 3}]
    assert card["actions"][-1]["verb"] == "request.new"
    assert t("my.empty") in texts(my_requests_card(t, whole([])))


def test_drafts_are_titled_by_reference_and_date_and_can_be_resumed_or_deleted(
    t: Texts,
) -> None:
    drafts = [case(CaseStatus.DRAFT, case_id=i, number=None) for i in (11, 12)]
    unnamed = case(CaseStatus.DRAFT, RequestDetails(question="Mitä?"), case_id=13, number=None)
    card = drafts_card(t, whole([*drafts, unnamed]))

    def of(verb: str) -> list[dict[str, Any]]:
        return [
            data_of(e)
            for e in walk(card)
            if e.get("type") == "Action.Execute" and e["verb"] == verb
        ]

    assert of("request.resume") == [{"case_id": 11}, {"case_id": 12}, {"case_id": 13}]
    assert of("request.delete") == of("request.resume")
    started = t.date(date(2026, 3, 2))
    shown = texts(card)
    assert t("drafts.item", reference="MK-1985", date=started) in shown
    assert t("drafts.item_unnamed", date=started) in shown
    assert t("drafts.empty") in texts(drafts_card(t, whole([])))


# --- triage ------------------------------------------------------------------------------


def test_triage_card_shows_the_request_and_offers_three_decisions(t: Texts) -> None:
    notes = [("question", "Onko lääkärinlausunto?", AT), ("answer", "On, B-lausunto", AT)]
    card = triage_card(
        t,
        case(CaseStatus.SUBMITTED),
        requester_name="Sari Sosiaalityöntekijä",
        team_name="Lieksan tiimi",
        notes=notes,
        reminder="reminder.triage",
    )
    shown = texts(card)
    for needle in (
        "TK-2026-0042",
        "Lieksan tiimi",
        "MK-1985",
        "Sari Sosiaalityöntekijä",
        "Onko lääkärinlausunto?",
        "On, B-lausunto",
        "Kahden viikon sisällä",
        t("consent.obtained"),
        t("urgency.urgent"),
        t("service.typ"),
        t("barrier.environment.long_distances"),
        t("profession.social_worker"),
        t("attends.yes"),
    ):
        assert needle in shown, needle
    assert card["body"][0]["text"] == t("reminder.triage")
    assert card["body"][0]["color"] == "Attention"
    found = inputs(card)
    assert set(found) == {"question", "reason", "route"}
    assert found["question"]["isMultiline"]
    assert [c["value"] for c in found["route"]["choices"]] == [r.value for r in DeclineRoute]
    verbs = buttons(card)
    assert set(verbs) == {"triage.accept", "triage.ask", "triage.decline"}
    assert all(data_of(a) == {"case_id": 7} for a in verbs.values())


def test_decided_triage_card_has_no_inputs_or_buttons(t: Texts) -> None:
    card = triage_card(
        t,
        case(CaseStatus.ACCEPTED),
        requester_name="A",
        team_name="B",
        notes=[],
        decided="triage.decided.accepted",
    )
    assert inputs(card) == {} and buttons(card) == {}
    assert t("triage.decided.accepted") in texts(card)


def test_question_card_asks_then_shows_the_question_and_the_answer_sent(t: Texts) -> None:
    c = case(CaseStatus.NEEDS_INFO)
    card = question_card(t, c, "Mitä tutkimuksia on tehty?", reminder=True)
    assert card["body"][0]["text"] == t("reminder.question")
    assert set(inputs(card)) == {"answer"}
    assert data_of(buttons(card)["request.answer"]) == {"case_id": 7}
    assert "Mitä tutkimuksia on tehty?" in texts(card)
    done = question_card(
        t, case(CaseStatus.SUBMITTED), "Mitä tutkimuksia on tehty?", answer="B-lausunto 2025"
    )
    assert inputs(done) == {} and buttons(done) == {}
    shown = texts(done)
    assert "Mitä tutkimuksia on tehty?" in shown and "B-lausunto 2025" in shown
    assert t("question.your_answer") in shown and t("question.answered") in shown
    assert "—" not in shown
    # Declined meanwhile: nothing to answer, and no reminder.
    gone = question_card(t, case(CaseStatus.DECLINED), "Mitä?", reminder=True)
    assert inputs(gone) == {} and t("reminder.question") not in texts(gone)
    assert t("question.no_longer_open") in texts(gone)


def test_the_answer_comes_to_the_coordinator_headed_as_an_answer(t: Texts) -> None:
    notes = [("question", "Onko lääkärinlausunto?", AT), ("answer", "On, B-lausunto", AT)]
    card = triage_card(
        t, case(CaseStatus.SUBMITTED), requester_name="Sari", team_name="Lieksa", notes=notes
    )
    body = card["body"]
    assert body[0]["text"] == t("triage.title.answer", case_number="TK-2026-0042")
    # The answer first, before the request it belongs to.
    assert body[1]["text"] == f"**{t('triage.note.answer')}**"
    assert body[2]["text"] == "On, B-lausunto"
    assert "Onko lääkärinlausunto?" in body[3]["text"]
    first = triage_card(t, case(), requester_name="Sari", team_name="Lieksa", notes=[])
    assert first["body"][0]["text"] == t("triage.title.new", case_number="TK-2026-0042")


@pytest.mark.parametrize("decision", DECISIONS)
def test_decision_cards_tell_the_requester(t: Texts, decision: str) -> None:
    status = {
        "accepted": CaseStatus.ACCEPTED,
        "declined": CaseStatus.DECLINED,
        "withdrawn": CaseStatus.WITHDRAWN,
        "submitted_again": CaseStatus.SUBMITTED,
    }[decision]
    card = decision_card(t, case(status), decision)
    shown = texts(card)
    assert "TK-2026-0042" in shown
    assert t(f"decision.{decision}.body", case_number="TK-2026-0042") in shown
    if decision == "declined":
        assert "Kuuluu työterveyshuoltoon" in shown
        assert t("route.occupational_health") in shown
    with pytest.raises(ValueError):
        decision_card(t, case(status), "maybe")


def test_queue_lists_cases_with_waiting_days_overdue_and_open(t: Texts) -> None:
    items = [
        QueueItem(case(CaseStatus.SUBMITTED, case_id=1, number="TK-2026-0001"), 6, True, "Aino"),
        QueueItem(case(CaseStatus.NEEDS_INFO, case_id=2, number="TK-2026-0002"), 1, False, "Bo"),
    ]
    card = queue_card(t, QueueView(whole(items), overdue=1))
    shown = texts(card)
    assert shown.index("TK-2026-0001") < shown.index("TK-2026-0002")
    assert t.n("queue.waiting", 6) in shown and t.n("queue.waiting", 1) in shown
    assert t.n("queue.overdue_count", 1) in shown
    assert t("queue.overdue") in shown
    opens = [
        data_of(e)
        for e in walk(card)
        if e.get("type") == "Action.Execute" and e["verb"] == "triage.open"
    ]
    assert opens == [{"case_id": 1}, {"case_id": 2}]
    assert t("queue.empty") in texts(queue_card(t, QueueView(whole([]), overdue=0)))


def test_waiting_days_read_as_words_never_as_0_working_days() -> None:
    fi, sv, en = texts_for("fi"), texts_for("sv"), texts_for("en")
    assert (fi.n("queue.waiting", 1), fi.n("queue.waiting", 3)) == ("1 työpäivä", "3 työpäivää")
    assert (sv.n("queue.waiting", 1), sv.n("queue.waiting", 3)) == ("1 arbetsdag", "3 arbetsdagar")
    assert en.n("queue.waiting", 1) == "1 working day"
    today = [QueueItem(case(CaseStatus.SUBMITTED, case_id=1), 0, False, "Aino")]
    shown = texts(queue_card(fi, QueueView(whole(today), overdue=0)))
    assert fi("queue.waiting_today") in shown and "0 työpäivää" not in shown


def test_languages_differ() -> None:
    cards = [
        request_page_card(texts_for(loc), "review", full_details(), case_id=1, teams=TEAMS)
        for loc in LOCALES
    ]
    assert len({texts(c) for c in cards}) == 3
    assert "Lähetä pyyntö" in texts(cards[0])
    assert "Skicka begäran" in texts(cards[1])
    assert "Send request" in texts(cards[2])


# --- size ----------------------------------------------------------------------------------


def longest(filler: str) -> RequestDetails:
    def fill(name: str) -> str:
        limit = MAX_TEXT.get(name, DEFAULT_MAX_TEXT)
        return (filler * (limit // len(filler) + 1))[:limit]

    assert set(TEXT_FIELDS) == {
        "client_reference",
        "question",
        "situation",
        "history",
        "work_capacity",
        "strengths",
        "goals",
        "urgent_timeframe",
    }
    return RequestDetails(
        team_id=1,
        consent=Consent.OBTAINED,
        consent_date=date(2026, 1, 1),
        self_rating=10,
        services=frozenset(Service),
        barriers=frozenset(Barrier),
        professions=frozenset(Profession),
        urgency=Urgency.URGENT,
        client_reference=fill("client_reference"),
        question=fill("question"),
        situation=fill("situation"),
        history=fill("history"),
        work_capacity=fill("work_capacity"),
        strengths=fill("strengths"),
        goals=fill("goals"),
        urgent_timeframe=fill("urgent_timeframe"),
    )


FILLERS = {
    "finnish": "Asiakas kertoo, että työkyky on heikentynyt ja kipu häiritsee arkea. ",
    "worst": 'äöå\n"',
}


@pytest.mark.parametrize("filler", FILLERS.values(), ids=FILLERS.keys())
def test_every_card_fits_even_at_maximum_length(t: Texts, filler: str) -> None:
    d = longest(filler)
    note = (filler * 2000)[:2000]
    many = [case(CaseStatus.SUBMITTED, d, case_id=i) for i in range(100)]
    cards = [request_page_card(t, p, d, case_id=1, teams=TEAMS, errors=FIELDS) for p in PAGES]
    cards += [
        request_submitted_card(t, "TK-2026-0042", "x" * 200),
        draft_saved_card(t, 1),
        request_discarded_card(t),
        my_requests_card(t, Page(many[:25], 25, 5000), notice="notice.request.withdrawn"),
        drafts_card(t, Page(many[:25], 0, 5000)),
        triage_card(
            t,
            many[0],
            requester_name="x" * 200,
            team_name="y" * 200,
            notes=[("question" if i % 2 else "answer", note, AT) for i in range(30)],
            reminder="reminder.triage_escalation",
        ),
        question_card(t, many[0], note, reminder=True),
        decision_card(t, case(CaseStatus.DECLINED, d), "declined"),
        queue_card(
            t,
            QueueView(Page([QueueItem(c, 99, True, "x" * 200) for c in many[:25]], 50, 1500), 900),
        ),
    ]
    for card in cards:
        assert card["version"] == "1.5"
        size = card_bytes(card)
        if filler == FILLERS["worst"] and inputs(card).keys() & set(TEXT_FIELDS):
            # Input pages carry the user's own texts in full and cannot shorten them: with
            # nothing but escaped characters they fit only when sent as UTF-8.
            size = len(json.dumps(card, ensure_ascii=False).encode("utf-8"))
        assert size <= MAX_CARD_BYTES


def test_realistic_long_texts_are_not_shortened(t: Texts) -> None:
    d = longest(FILLERS["finnish"])
    card = request_page_card(t, "review", d, case_id=1, teams=TEAMS)
    assert d.question in texts(card)
    assert t("card.shortened") not in texts(card)


# --- the catalog ---------------------------------------------------------------------------

CARDS_DIR = Path(registry.__file__).parent
# Values that fill each `t(f"family.{...}")` in the card modules.
FAMILIES: dict[str, list[str]] = {
    "status.": [s.value for s in CaseStatus],
    "consent.": [c.value for c in Consent],
    "urgency.": [u.value for u in Urgency],
    "service.": [s.value for s in Service],
    "barrier.": [b.value for b in Barrier],
    "barrier_group.": list(BARRIER_GROUPS),
    "route.": [r.value for r in DeclineRoute],
    "profession.": [p.value for p in Profession],
    "role.": [r.value for r in Role],
    "deliveries.recipient.": [r.value for r in RecipientType],
    "attends.": ["yes", "no", "unknown"],
    "request.field.": list(FIELDS),
    "request.error.": list(FIELDS),
    "request.placeholder.": list(TEXT_FIELDS),
    "request.page.": list(PAGES),
    "decision.": list(DECISIONS),
    "weekday.": list(WEEKDAYS),
    "party.": [p.value for p in OutsideParty],
    "rec.status.": [s.value for s in RecommendationStatus],
    "rec.reason_category.": [c.value for c in NotImplementedReason],
    "outcome.": [o.value for o in Outcome],
    "handover.state.": [s.value for s in HandOverState],
    "feedback.rating.": [str(n) for n in range(1, 6)],
    "privacy.erase.reason.": [r.value for r in ErasureReason],
    "digest.privacy.": list(DIGEST_LINES),
    "report.fate.": [f.value for f in Fate],
    "report.lead.": [lead.value for lead in Lead],
    "report.lead_short.": [lead.value for lead in Lead],
    "report.rec_state.": [s.value for s in RecState],
    "report.period.": [k.value for k in PeriodKind],
    "report.export.": ["xlsx", "csv"],
    "deliveries.kind.": list(registry.DELIVERY_KINDS),
    "triage.title.": ["new", "answer", "brought_back"],
    "triage.note.": ["answer", "brought_back"],
    "settings.language.": list(LANGUAGES),
    "cases.section.": list(CasesSection.ALL),
}
# Keys the handlers use (they are not written in a card module).
HANDLER_KEYS = [
    "command.new",
    "command.my",
    "command.drafts",
    "command.queue",
    "help.command.new",
    "help.command.my",
    "help.command.drafts",
    "help.command.queue",
    "error.illegal_transition",
    "error.field_too_long",
    "error.consent_date_future",
    "error.self_rating_range",
    "error.case_not_editable",
    "error.request_incomplete",
    "error.not_requester",
    "error.not_coordinator",
    "error.question_required",
    "error.reason_required",
    "reminder.triage",
    "reminder.triage_escalation",
    "reminder.question",
    "triage.decided.accepted",
    "triage.decided.asked",
    "triage.decided.declined",
    "request.withdraw.confirm.title",
    "request.withdraw.confirm.body",
    "request.discard.confirm.title",
    "request.discard.confirm.body",
    "request.discard.confirm.yes",
    "request.discard.confirm.no",
    "request.withdraw.confirm.yes",
    "request.withdraw.confirm.no",
    "error.draft_empty",
    "notice.request.withdrawn",
    "notice.draft.discarded",
    "notice.answer.sent",
]
_LITERAL = re.compile(r"""\bt\(\s*(["'])([a-z_][a-z0-9_.]*)\1""")
_FSTRING = re.compile(r"""\bt\(\s*f(["'])(.+?)\1""")


def used_keys() -> set[str]:
    keys: set[str] = set(HANDLER_KEYS)
    keys.update(k for spec in COMMANDS for k in (spec.word_key, spec.help_key))
    for path in sorted(CARDS_DIR.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        keys.update(m.group(2) for m in _LITERAL.finditer(source))
        for m in _FSTRING.finditer(source):
            template = m.group(2)
            head = template.split("{", 1)[0]
            assert head in FAMILIES, f"{path.name}: no values known for t(f{template!r})"
            tail = re.sub(r"^[^}]*\}", "", template[len(head) :])
            keys.update(head + value + tail for value in FAMILIES[head])
    return keys


def po(language: str) -> dict[str, str]:
    return dict(catalog(language).messages)


def fields_of(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_the_cards_use_is_translated_in_every_language() -> None:
    keys = used_keys()
    assert "status.needs_info.next" in keys and "barrier.person.pain" in keys
    catalogs = {language: po(language) for language in ("fi", "sv", "en")}
    for language, found in catalogs.items():
        missing = sorted(k for k in keys if not found.get(k, "").strip())
        assert not missing, f"{language}: {missing}"
    # Same placeholders in every language, so no translation fails to format.
    for key, text in catalogs["fi"].items():
        for language in ("sv", "en"):
            assert fields_of(catalogs[language].get(key, "")) == fields_of(text), (language, key)
