"""The follow-up cards stay under Teams' size limit with the longest texts the forms allow,
and speak every language."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import LANGUAGES, Texts
from consultations.case_manager import ManagedCase, ReviewView
from consultations.consultation import CaseStatus, Consultation, Outcome, RequestDetails
from consultations.errors import InvalidInput
from consultations.handovers import HandOverView
from consultations.poll import TimeSlot
from consultations.recommendations import RecommendationView
from consultations.summaries import SummaryView
from consultations.summary import (
    MAX_FINDINGS,
    MAX_RECOMMENDATION,
    MAX_RECOMMENDATIONS,
    HandOver,
    HandOverState,
    MeetingSummary,
    NotImplementedReason,
    OutsideParty,
    Owner,
    PlannedRecommendation,
    Recommendation,
    RecommendationStatus,
    SummaryState,
)
from dialogs.cards.base import MAX_CARD_BYTES, card_bytes
from dialogs.cards.followup import handover_result_card, recommendation_card, review_card
from dialogs.cards.summary import summary_card, summary_editor_card, summary_preview_card
from dialogs.followup import parse_reason_category
from tests.support.cards import executes, inputs, texts

HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 11, 26, 14, 1, tzinfo=HELSINKI)
# Escaped in JSON, each "ä" is six bytes: the worst case for the size limit.
WORST = "ä"


def view(state: SummaryState, members: int = 30, filler: str = WORST) -> SummaryView:
    people = list(range(1, members + 1))
    plan = tuple(
        PlannedRecommendation(
            filler * MAX_RECOMMENDATION,
            Owner(user_id=people[i % members]) if i % 2 else Owner(party=OutsideParty.KELA),
            date(2026, 12, 3),
            recommendation_id=100 + i,
        )
        for i in range(MAX_RECOMMENDATIONS)
    )
    summary = MeetingSummary(
        id=7,
        consultation_id=1,
        poll_id=3,
        round=1,
        version=2,
        created_by=1,
        state=state,
        attendees=tuple(people),
        client_attended=True,
        findings=filler * MAX_FINDINGS,
        recommendations=plan,
        case_manager_id=2,
        review_date=date(2027, 1, 15),
        published_at=NOW if state is SummaryState.PUBLISHED else None,
    )
    case = Consultation(
        id=1,
        requester_id=999,
        details=RequestDetails(team_id=1),
        status=CaseStatus.FOLLOW_UP,
        case_number="TK-2026-0042",
    )
    live = {
        p.recommendation_id or 0: Recommendation(p.recommendation_id, 1, 7, p.text, p.owner, p.due)
        for p in plan
    }
    return SummaryView(
        case=case,
        summary=summary,
        meeting=TimeSlot(5, datetime(2026, 11, 26, 13, tzinfo=HELSINKI), 60),
        names={u: filler * 60 for u in [*people, 999]},
        attendee_choices=people,
        owner_choices=[*people, 999],
        recommendations=live,
        case_manager_id=2,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_fullest_summary_cards_fit_under_the_limit(language: str) -> None:
    t = Texts(language)
    cards = [
        summary_editor_card(t, view(SummaryState.DRAFT)),
        summary_preview_card(t, view(SummaryState.DRAFT)),
        summary_card(t, view(SummaryState.PUBLISHED), for_user=2, coordinator=True),
    ]
    for card in cards[1:]:
        assert card_bytes(card) <= MAX_CARD_BYTES
    # The editor carries the coordinator's own findings in full in its input (an input is
    # never shortened); it fits as the connector sends it, UTF-8.
    editor = cards[0]
    assert len(json.dumps(editor, ensure_ascii=False).encode("utf-8")) <= MAX_CARD_BYTES


def test_an_ordinary_summary_is_shown_whole() -> None:
    t = Texts("fi")
    full = view(SummaryState.PUBLISHED, members=4, filler="a")
    shown = replace(
        full,
        summary=replace(full.summary, recommendations=full.summary.recommendations[:5]),
    )
    card = summary_card(t, shown, for_user=2)
    assert "a" * MAX_FINDINGS in texts(card)
    assert "a" * MAX_RECOMMENDATION in texts(card)
    assert t("summary.you_are_case_manager") in texts(card)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_published_summary_says_it_holds_client_details_and_where_it_goes(
    language: str,
) -> None:
    t = Texts(language)
    card = summary_card(t, view(SummaryState.PUBLISHED, members=4, filler="a"), for_user=2)
    assert t("summary.privacy") in texts(card)
    # Not the meeting confirmation's line: this card shows findings and recommendations.
    assert t("meeting.privacy") not in texts(card)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_recommendation_card_asks_why_beside_the_free_text_reason(language: str) -> None:
    t = Texts(language)
    shown = view(SummaryState.PUBLISHED, members=4, filler="a")
    open_one = next(iter(shown.recommendations.values()))
    card = recommendation_card(
        t, RecommendationView(open_one, shown.case, "Maija", 2, can_update=True)
    )
    choices = inputs(card)["reason_category"]["choices"]
    assert [c["value"] for c in choices] == [c.value for c in NotImplementedReason]
    assert t("rec.reason_category.client_declined") in [c["title"] for c in choices]
    assert "reason" in inputs(card)

    closed = replace(
        open_one,
        status=RecommendationStatus.NOT_IMPLEMENTED,
        reason="a" * 20,
        reason_category=NotImplementedReason.NO_CONTACT,
    )
    card = recommendation_card(
        t, RecommendationView(closed, shown.case, "Maija", 2, can_update=False)
    )
    assert t("rec.reason_category.no_contact") in texts(card)
    assert "reason_category" not in inputs(card)


def test_an_unknown_reason_category_from_a_card_is_refused() -> None:
    assert parse_reason_category("") is None
    assert parse_reason_category("no_contact") is NotImplementedReason.NO_CONTACT
    for tampered in ("nope", 3, ["other"]):
        with pytest.raises(InvalidInput):
            parse_reason_category(tampered)


# --- read as the people who get them ---------------------------------------------------------


def closing_view(status: CaseStatus, open_count: int) -> ReviewView:
    case = Consultation(
        id=1,
        requester_id=9,
        details=RequestDetails(team_id=1),
        status=status,
        case_number="TK-2026-0042",
        outcome=Outcome.EMPLOYMENT if status is CaseStatus.CLOSED else None,
    )
    recs = [
        Recommendation(10 + i, 1, 7, "Työkokeilu", Owner(user_id=2), date(2026, 12, 3))
        for i in range(open_count)
    ]
    return ReviewView(
        ManagedCase(case, date(2027, 1, 15), recs, None),
        case_manager_id=2,
        candidates=[(3, "Anna")],
        can_act=status is not CaseStatus.CLOSED,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_closed_case_says_what_became_of_its_open_recommendations(language: str) -> None:
    t = Texts(language)
    closed = review_card(t, closing_view(CaseStatus.CLOSED, 1))
    shown = texts(closed)
    assert t.n("review.closed.open_recommendations", 1) in shown
    assert t("review.open_recommendations") not in shown  # no bare count
    # Before closing, the card says closing ends their follow-up.
    open_ = review_card(t, closing_view(CaseStatus.FOLLOW_UP, 2))
    assert t.n("review.close.open_recommendations", 2) in texts(open_)
    assert t.n("review.close.open_recommendations", 2) != t.n(
        "review.close.open_recommendations", 1
    )


def handover_view(state: HandOverState) -> HandOverView:
    handover = HandOver(
        4, 1, from_user_id=2, to_user_id=3, note="Ota?", proposed_at=NOW, state=state
    )
    case = Consultation(
        id=1,
        requester_id=9,
        details=RequestDetails(team_id=1),
        status=CaseStatus.FOLLOW_UP,
        case_number="TK-2026-0042",
    )
    return HandOverView(handover, case, "Bertil", "Anna", [])


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_hand_over_result_offers_only_what_its_reader_can_do(language: str) -> None:
    t = Texts(language)
    declined = handover_view(HandOverState.DECLINED)
    # The case manager who stays one can go back to the case; the coordinator (5) and
    # the requester (9) only read.
    [back] = executes(handover_result_card(t, declined, for_user=2))
    assert (back["verb"], back["data"]["case_id"]) == ("case.review", 1)
    assert executes(handover_result_card(t, declined, for_user=5)) == []
    accepted = handover_view(HandOverState.ACCEPTED)
    for reader in (2, 5, 9):
        card = handover_result_card(t, accepted, for_user=reader)
        assert executes(card) == []
        assert t("handover.accepted.body", name="Anna") in texts(card)


def test_each_language_has_its_own_phrase_for_the_hand_over() -> None:
    assert Texts("fi")("handover.hint").startswith("Saattaen vaihtaen")
    for language in ("sv", "en"):
        assert "Saattaen" not in Texts(language)("handover.hint")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_summary_says_whether_the_client_attended_in_yes_and_no(language: str) -> None:
    t = Texts(language)
    published = view(SummaryState.PUBLISHED, members=3, filler="a")
    facts = {
        f["title"]: f["value"]
        for block in summary_card(t, published, for_user=9)["body"]
        if block.get("type") == "FactSet"
        for f in block["facts"]
    }
    assert facts[t("summary.client_attended")] == t("attends.yes")
    assert t("attends.yes") != t("answer.yes") or language == "en"  # never "Sopii"/"Passar"
    editor = summary_editor_card(t, view(SummaryState.DRAFT, members=3, filler="a"))
    attended = next(
        b for b in editor["body"] if isinstance(b, dict) and b.get("id") == "client_attended"
    )
    assert [c["title"] for c in attended["choices"]] == [t("attends.yes"), t("attends.no")]


def test_a_snooze_is_shown_while_it_is_still_to_come() -> None:
    t = Texts("fi")
    rec = Recommendation(10, 1, 7, "Työkokeilu", Owner(party=OutsideParty.KELA), date(2026, 12, 3))
    rec.snoozed_until = datetime(2026, 12, 10, 8, tzinfo=HELSINKI)
    case = Consultation(
        id=1,
        requester_id=9,
        details=RequestDetails(team_id=1),
        status=CaseStatus.FOLLOW_UP,
        case_number="TK-2026-0042",
    )
    snoozed = RecommendationView(rec, case, "", 2, True, snoozed_until=rec.snoozed_until)
    assert "to 10.12. klo 8.00" in texts(recommendation_card(t, snoozed))
    over = RecommendationView(rec, case, "", 2, True, snoozed_until=None)
    assert t("rec.snoozed_until") not in texts(recommendation_card(t, over))
