"""A team's settings card: what coordinators choose, and the language its channel speaks."""

from __future__ import annotations

import pytest

from bot.i18n import team_texts
from consultations.errors import DomainError, InvalidInput
from consultations.model import Team, TeamSettings
from dialogs.cards.registry import team_settings_card
from dialogs.settings import read_team_settings
from tests.support.cards import inputs, texts

TEAM = Team(1, "19:team", "Työkykytiimi Pohjoinen", "tenant", "https://smba", "19:team")


def test_the_settings_card_offers_the_channel_language_each_by_its_own_name() -> None:
    for language in ("fi", "sv", "en"):
        t = team_texts(TeamSettings(language=language))
        card = team_settings_card(t, TEAM)
        chosen = inputs(card)["language"]
        assert chosen["value"] == "fi"  # Finnish until chosen
        assert [(c["value"], c["title"]) for c in chosen["choices"]] == [
            ("fi", "suomi"),
            ("sv", "svenska"),
            ("en", "English"),
        ]
        assert t("settings.language.hint") in texts(card)


def test_the_card_is_read_back_into_settings_with_the_language() -> None:
    data = {
        "regular1_day": "3",
        "regular1_time": "09:00",
        "regular2_day": "",
        "regular2_time": "",
        "show_tallies": "false",
        "language": "sv",
    }
    settings = read_team_settings(data)
    assert settings == TeamSettings(regular_times=((3, 9, 0),), show_tallies=False, language="sv")
    assert TeamSettings.from_json(settings.to_json()) == settings
    # Stored settings from before the language existed read as Finnish.
    assert TeamSettings.from_json({"regular_times": [], "show_tallies": True}).language == "fi"
    assert team_texts(settings)("status.closed") == "Avslutad"


@pytest.mark.parametrize("language", ["de", "", 5, ["sv"]])
def test_a_tampered_language_is_refused(language: object) -> None:
    if language == "":
        # An empty choice keeps the default rather than failing the whole card.
        assert read_team_settings({"language": language}).language == "fi"
        return
    with pytest.raises(InvalidInput):
        read_team_settings({"language": language})


def test_an_unreadable_time_says_so() -> None:
    with pytest.raises(DomainError) as refused:
        read_team_settings({"regular1_day": "1", "regular1_time": "kello"})
    assert refused.value.code == "error.regular_time"
