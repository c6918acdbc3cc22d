"""Welcome, coordinator and delivery cards read as the people who get them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.i18n import LANGUAGES, Texts
from consultations.lists import Page
from consultations.model import FailedDelivery, RecipientType, Team
from dialogs.cards.registry import (
    coordinator_claimed_card,
    deliveries_card,
    help_card,
    personal_welcome_card,
)
from tests.support.cards import texts

TEAM = Team(1, "19:team", "Työkykytiimi Pohjoinen", "tenant", "https://smba", "19:team")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_greeting_without_a_name_never_reads_welcome_comma(language: str) -> None:
    t = Texts(language)
    for nameless in ("", "  "):
        title = personal_welcome_card(t, nameless)["body"][0]["text"]
        assert title == t("welcome.title")
        assert ", !" not in title and ",!" not in title
    named = personal_welcome_card(t, "Alex Wilber")["body"][0]["text"]
    assert named == t("welcome.personal.title", name="Alex Wilber")
    claimed = texts(coordinator_claimed_card(t, TEAM, ""))
    assert t("role.claim.done_unnamed", team=TEAM.name) in claimed


@pytest.mark.parametrize("language", LANGUAGES)
def test_undelivered_messages_are_named_in_words_not_codes(language: str) -> None:
    t = Texts(language)
    failure = FailedDelivery(
        1,
        "poll.nudge",
        RecipientType.USER,
        "5",
        "Anna",
        6,
        "recipient unreachable",
        datetime(2026, 12, 1, 10, tzinfo=UTC),
    )
    shown = texts(deliveries_card(t, Page([failure], 0, 1)))
    assert t("deliveries.kind.poll") in shown
    assert "poll.nudge" not in shown
    assert t("deliveries.intro") in shown


def test_the_words_a_social_worker_uses() -> None:
    fi = Texts("fi")
    assert fi("deliveries.title") == "Perille menemättömät viestit"
    assert "toimitukset" not in fi("help.command.deliveries").lower()
    assert fi("profile.open") == "Valitse ammattisi"
    assert (
        fi("notice.role_granted.body", team="T", role="Jäsen") == "Uusi roolisi tiimissä T: Jäsen."
    )
    assert fi("status.cancelled") == "Konsultaatio peruttu"
    assert fi("rec.updated.in_progress").startswith("Merkitty käynnissä olevaksi")
    assert fi("handover.open") == "Avaa asiakasvastaavan vaihto"
    assert "pseudonyymejä" not in fi("welcome.team.body")
    assert ".ics" not in fi("meeting.ics.hint") and "kalenterikutsu" in fi("meeting.ics.hint")
    assert Texts("sv")("status.declined") == "Avböjd"


@pytest.mark.parametrize("language", LANGUAGES)
def test_employment_services_are_no_longer_te_offices(language: str) -> None:
    t = Texts(language)
    for key in (
        "profession.employment_services",
        "service.employment_services",
        "route.employment_services",
        "party.employment_services",
    ):
        assert "TE" not in t(key).split(), (key, t(key))
        assert "TE-" not in t(key)
    assert t("service.kela") in ("Kela", "FPA") and "TYP" in t("service.typ")


def test_swedish_calls_the_bot_by_its_one_name_and_the_requester_beställare() -> None:
    sv = Texts("sv")
    assert sv("help.title") == "Työkykytiimi – hjälp"
    assert "Arbetsförmågeteamet" not in texts(help_card(sv))
    for key in ("error.not_requester", "triage.waiting_answer", "triage.decided.asked"):
        assert "beställare" in sv(key).lower() and "den som gjort" not in sv(key), key
