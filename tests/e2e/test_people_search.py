"""People pickers on a team of 240: the cards list the people they suggest and find
anyone else by name (Teams' typeahead: invoke application/search), answered from the
team's roster, for members of the team the card is about only, a handful at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dialogs.cards.base import MAX_CARD_BYTES, card_bytes
from tests.conftest import BotFactory, RunningBot
from tests.support import activities as a
from tests.support.cards import executes, inputs, texts
from tests.support.connector import LoopbackConnector
from tests.support.crowd import accepted, followed_up, name_of, people, seed

NORTH, SOUTH = 1, 2
COORDINATOR, REQUESTER, OUTSIDER, SOUTH_COORDINATOR = 1, 2, 3, 4
MEMBERS = range(100, 340)  # 240 members of the north team
SEARCH = "application/vnd.microsoft.search.searchResponse"
NOW = datetime.now(UTC)


async def team_of_hundreds(bot: RunningBot) -> None:
    lives = [
        accepted(NORTH, REQUESTER, NOW - timedelta(days=1)),  # case 1: a poll to set up
        followed_up(NORTH, REQUESTER, COORDINATOR, NOW - timedelta(days=5), invited=[100, 101]),
        accepted(SOUTH, REQUESTER, NOW - timedelta(days=1)),  # case 3: the south's
    ]
    await seed(
        bot.components.engine,
        lives,
        teams={NORTH: "Työkykytiimi Pohjoinen", SOUTH: "Työkykytiimi Etelä"},
        people=people([COORDINATOR, REQUESTER, OUTSIDER, SOUTH_COORDINATOR, *MEMBERS]),
        coordinators=[(NORTH, COORDINATOR), (SOUTH, SOUTH_COORDINATOR)],
        members=[(NORTH, m) for m in MEMBERS],
    )


def search(
    url: str, user: int, dataset: str, text: str, locale: str = "fi-FI", **options: Any
) -> dict[str, Any]:
    return a.personal(
        url,
        a.user(user),
        locale=locale,
        type="invoke",
        name="application/search",
        value={
            "queryText": text,
            "queryOptions": {"skip": 0, "top": 15, **options},
            "dataset": dataset,
        },
    )


async def found(bot: RunningBot, activity: dict[str, Any]) -> list[dict[str, str]]:
    body = await bot.invoke(activity)
    assert (body["statusCode"], body["type"]) == (200, SEARCH), body
    results: list[dict[str, str]] = body["value"]["results"]
    return results


async def card(bot: RunningBot, url: str, user: int, verb: str, data: dict[str, Any]) -> Any:
    body = await bot.invoke(a.execute(url, a.user(user), verb, data))
    assert body["type"] == "application/vnd.microsoft.card.adaptive", body
    return body["value"]


@pytest.fixture
async def north(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> tuple[RunningBot, str]:
    _fake, url = connector
    bot = await make_bot()
    await team_of_hundreds(bot)
    return bot, url


async def test_the_poll_set_up_card_lists_the_suggested_and_finds_anyone_else_by_name(
    north: tuple[RunningBot, str],
) -> None:
    bot, url = north
    setup = await card(bot, url, COORDINATOR, "poll.setup", {"case_id": 1})
    invitees = inputs(setup)["invitees"]
    # Not 240 choices: the card stays small, and typing a name asks the bot.
    assert len(invitees["choices"]) <= 30
    assert invitees["style"] == "filtered" and invitees["isMultiSelect"] is True
    assert invitees["choices.data"] == {"type": "Data.Query", "dataset": "people.members:1"}
    assert invitees["placeholder"] == "Hae nimellä"

    koskinen = await found(bot, search(url, COORDINATOR, "people.members:1", "koskinen"))
    wanted = sorted(m for m in MEMBERS if name_of(m).endswith("Koskinen"))
    assert 0 < len(koskinen) <= 15
    assert {r["value"] for r in koskinen} <= {str(m) for m in wanted}
    assert all("Koskinen" in r["title"] for r in koskinen)
    # Two words, any case, in any order; the profession beside the name as on the card.
    helmi = await found(bot, search(url, COORDINATOR, "people.members:1", "mäkinen HELMI"))
    assert [r["value"] for r in helmi] == [str(m) for m in MEMBERS if name_of(m) == "Helmi Mäkinen"]


async def test_a_search_never_answers_more_than_fifteen_whatever_is_asked(
    north: tuple[RunningBot, str],
) -> None:
    bot, url = north
    everyone = await found(bot, search(url, COORDINATOR, "people.members:1", "", top=500))
    assert len(everyone) == 15
    later = await found(bot, search(url, COORDINATOR, "people.members:1", "", skip=15))
    assert not {r["value"] for r in everyone} & {r["value"] for r in later}


@pytest.mark.parametrize(
    ("who", "dataset"),
    [
        (OUTSIDER, "people.members:1"),  # not in the team
        (SOUTH_COORDINATOR, "people.members:1"),  # another team's coordinator
        (COORDINATOR, "people.members:3"),  # the south's case
        (COORDINATOR, "people.members:-1"),  # tampered
        (COORDINATOR, "people.members:1 OR 1=1"),
        (COORDINATOR, "people.members"),
        (COORDINATOR, "people.everyone:1"),  # no such dataset
        (COORDINATOR, "poll.open:1"),
    ],
)
async def test_a_search_from_outside_the_team_or_tampered_finds_nobody(
    north: tuple[RunningBot, str], who: int, dataset: str
) -> None:
    bot, url = north
    assert await found(bot, search(url, who, dataset, "")) == []


async def test_an_identity_code_typed_into_a_search_finds_nobody(
    north: tuple[RunningBot, str],
) -> None:
    bot, url = north
    assert await found(bot, search(url, COORDINATOR, "people.members:1", "131052-308T")) == []


@pytest.mark.parametrize(
    ("locale", "placeholder", "physician"),
    [
        ("fi-FI", "Hae nimellä", "Lääkäri"),
        ("sv-FI", "Sök efter namn", "Läkare"),
        ("en-US", "Search by name", "Physician"),
    ],
)
async def test_pickers_and_their_results_speak_the_users_language(
    north: tuple[RunningBot, str], locale: str, placeholder: str, physician: str
) -> None:
    bot, url = north
    body = await bot.invoke(
        a.execute(url, a.user(COORDINATOR), "poll.setup", {"case_id": 1}, locale)
    )
    assert inputs(body["value"])["required"]["placeholder"] == placeholder
    doctors = [m for m in MEMBERS if people([m])[m][1] == "physician"]
    hit = await found(
        bot, search(url, COORDINATOR, "people.members:1", name_of(doctors[0]), locale)
    )
    assert f"{name_of(doctors[0])} · {physician}" in {r["title"] for r in hit}


async def test_the_summary_editor_and_the_review_card_search_the_team_and_the_requester(
    north: tuple[RunningBot, str],
) -> None:
    bot, url = north
    review = await card(bot, url, COORDINATOR, "case.review", {"case_id": 2})
    successor = inputs(review)["successor"]
    assert successor["choices.data"]["dataset"] == "people.case:2"
    # Suggested: those at the meeting and the requester, not the whole team.
    assert {c["value"] for c in successor["choices"]} == {"100", "101", str(REQUESTER)}
    # The requester is no member of the team, and may still take the role over.
    requester = await found(bot, search(url, COORDINATOR, "people.case:2", name_of(REQUESTER)))
    assert str(REQUESTER) in {r["value"] for r in requester}
    members_only = await found(bot, search(url, COORDINATOR, "people.members:2", name_of(2)))
    assert str(REQUESTER) not in {r["value"] for r in members_only}

    summary = await card(bot, url, COORDINATOR, "summary.amend", {"case_id": 2})
    owner = inputs(summary)["rec_owner"]
    assert owner["choices.data"]["dataset"] == "people.owners:2"
    # Outside parties are always there to choose; people beyond those suggested are found.
    assert "party:kela" in {c["value"] for c in owner["choices"]}
    assert len(owner["choices"]) <= 30
    owners = await found(bot, search(url, COORDINATOR, "people.owners:2", name_of(150)))
    assert "user:150" in {r["value"] for r in owners}
    assert inputs(summary)["case_manager"]["choices.data"]["dataset"] == "people.case:2"
    assert name_of(339) not in texts(summary)


async def test_the_roles_card_of_a_team_of_hundreds_pages_coordinators_first(
    north: tuple[RunningBot, str], connector: tuple[LoopbackConnector, str]
) -> None:
    bot, url = north
    fake, _url = connector
    await bot.post(a.text(url, a.user(COORDINATOR), "roolit"))
    first = fake.cards(f"a:personal-29:user-{COORDINATOR}")[-1]
    assert card_bytes(first) <= MAX_CARD_BYTES
    shown = texts(first)
    assert "Näytetään 1–25/241." in shown
    # The coordinator first; then members by name, each with the button to grant the role.
    assert shown.index("Koordinaattori") < shown.index("Jäsen")
    grants = [x["data"] for x in executes(first) if x["verb"] == "role.grant"]
    assert len(grants) == 24 and all(g["offset"] == 0 for g in grants)
    more = next(x for x in executes(first) if x["verb"] == "roles.open")
    body = await bot.invoke(a.execute(url, a.user(COORDINATOR), "roles.open", more["data"]))
    second = body["value"]
    assert "Näytetään 26–50/241." in texts(second)
    # Granting from the second page answers with the second page.
    grant = next(x for x in executes(second) if x["verb"] == "role.grant")
    body = await bot.invoke(a.execute(url, a.user(COORDINATOR), "role.grant", grant["data"]))
    assert "Näytetään 26–50/241." in texts(body["value"])
    # An outsider sees no team's roles page.
    refused = await bot.invoke(a.execute(url, a.user(OUTSIDER), "roles.open", more["data"]))
    assert refused["type"] == "application/vnd.microsoft.activity.message"
