"""The team registry, profile and roles, end to end through the real app and a loopback
Bot Connector."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from consultations.model import Profession, Role
from storage.tables import team_members, users
from tests.conftest import BotFactory, RunningBot
from tests.support import activities as a
from tests.support.connector import LoopbackConnector

ROSTER = [{**a.user(n), "userPrincipalName": f"user{n}@example.invalid"} for n in range(1, 6)]


async def _install_team(bot: RunningBot, fake: LoopbackConnector, url: str) -> dict[str, Any]:
    fake.roster = ROSTER
    fake.channels = [{"id": "19:team-general@thread.tacv2", "name": None}]
    response = await bot.post(a.team_installed(url, a.user(1, "Outi Koordinaattori")))
    assert response.status in (200, 201), await response.text()
    return fake.cards("19:team-general@thread.tacv2")[-1]


async def _user_id(bot: RunningBot, n: int) -> int:
    async with bot.components.uow_factory() as uow:
        user = await uow.users.by_teams_id(a.user(n)["id"])
    assert user is not None
    return user.id


def _buttons(card: dict[str, Any]) -> list[str]:
    found = [action["title"] for action in card.get("actions", [])]
    for block in card["body"]:
        for column in block.get("columns", []):
            for item in column["items"]:
                found += [action["title"] for action in item.get("actions", [])]
    return found


async def test_installing_in_a_team_records_the_paged_roster_and_greets_the_channel(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    greeting = await _install_team(bot, fake, url)
    # Teams follows the installation with a conversationUpdate: recorded, not greeted twice.
    await bot.post(a.bot_added_to_team(url, a.user(1), "19:team-general@thread.tacv2"))
    assert len(fake.cards("19:team-general@thread.tacv2")) == 1

    assert greeting["body"][0]["text"] == "Työkykytiimi on nyt tiimissä Työkykytiimi Pohjoinen"
    assert "Ryhdyn koordinaattoriksi" in _buttons(greeting)
    async with bot.components.engine.connect() as connection:
        members = (await connection.execute(select(team_members))).all()
    # Five people across three pages of the paged members API.
    assert len(members) == 5


async def test_the_installer_takes_the_coordinator_role_and_nobody_else_can(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    greeting = await _install_team(bot, fake, url)
    claim = next(x for x in greeting["actions"] if x["verb"] == "role.claim")

    other = await bot.invoke(a.execute(url, a.user(2), "role.claim", claim["data"]))
    assert other["type"] == "application/vnd.microsoft.activity.message"
    assert other["value"].startswith("Sinulla ei ole oikeutta tähän")

    mine = await bot.invoke(
        a.execute(url, a.user(1, "Outi Koordinaattori"), "role.claim", claim["data"])
    )
    assert mine["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Outi Koordinaattori on nyt tiimin" in mine["value"]["body"][1]["text"]

    async with bot.components.uow_factory() as uow:
        team = (await uow.teams.all())[0]
        holders = await uow.teams.holders(team.id, Role.COORDINATOR)
    assert [h.teams_user_id for h in holders] == [a.user(1)["id"]]


async def test_profile_card_saves_the_profession_and_comes_back_refreshed(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    await bot.post(a.text(url, a.user(3), "profiili"))
    card = fake.cards()[-1]
    assert card["body"][0]["text"] == "Profiili"
    save = card["actions"][0]
    assert save["type"] == "Action.Execute" and save["fallback"]["type"] == "Action.Submit"

    body = await bot.invoke(
        a.execute(url, a.user(3), save["verb"], {**save["data"], "profession": "psychologist"})
    )
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["body"][-1]["text"] == "Tallennettu: Psykologi."
    assert body["value"]["body"][2]["value"] == "psychologist"
    async with bot.components.uow_factory() as uow:
        user = await uow.users.by_teams_id(a.user(3)["id"])
    assert user is not None and user.profession is Profession.PSYCHOLOGIST


async def test_a_forged_profession_is_refused_and_changes_nothing(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    _fake, url = connector
    bot = await make_bot()
    body = await bot.invoke(
        a.execute(
            url, a.user(3), "profile.save", {"profession": "surgeon'; DROP TABLE"}, locale="en-US"
        )
    )
    assert body == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Choose a profession from the list.",
    }
    async with bot.components.uow_factory() as uow:
        user = await uow.users.by_teams_id(a.user(3)["id"])
    assert user is not None and user.profession is None


async def test_a_profile_dialog_survives_a_restart_between_card_and_answer(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], tmp_path: Any
) -> None:
    fake, url = connector
    database = f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}"
    first = await make_bot(database)
    await first.post(a.text(url, a.user(4), "profil", locale="sv-SE"))
    assert fake.cards()[-1]["body"][0]["text"] == "Profil"
    await first.close()

    second = await make_bot(database)
    # A client without Universal Actions submits the card: the dialog that was waiting
    # before the restart takes the answer.
    await second.post(
        a.submit(url, a.user(4), {"verb": "profile.save", "profession": "kela"}, locale="sv-SE")
    )
    assert fake.cards()[-1]["body"][-1]["text"] == "Sparat: FPA."
    async with second.components.uow_factory() as uow:
        user = await uow.users.by_teams_id(a.user(4)["id"])
    assert user is not None and user.profession is Profession.KELA


async def test_a_coordinator_grants_a_role_and_the_member_is_told_later(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    greeting = await _install_team(bot, fake, url)
    claim = next(x for x in greeting["actions"] if x["verb"] == "role.claim")
    await bot.invoke(a.execute(url, a.user(1), "role.claim", claim["data"]))

    await bot.post(a.text(url, a.user(1), "roolit"))
    roles = fake.cards()[-1]
    assert "Tee koordinaattoriksi" in _buttons(roles)
    member = await _user_id(bot, 2)
    team_id = claim["data"]["team_id"]

    # A member who is not a coordinator cannot grant, whatever the card says.
    refused = await bot.invoke(
        a.execute(
            url,
            a.user(3),
            "role.grant",
            {"team_id": team_id, "user_id": member, "role": "coordinator"},
        )
    )
    assert refused["type"] == "application/vnd.microsoft.activity.message"

    granted = await bot.invoke(
        a.execute(
            url,
            a.user(1),
            "role.grant",
            {"team_id": team_id, "user_id": member, "role": "coordinator"},
        )
    )
    assert granted["value"]["body"][1]["text"] == "Rooli päivitetty."

    sent_before = len(fake.sent)
    assert await bot.components.dispatcher.tick() == 1
    notice = fake.sent[sent_before:]
    assert len(notice) == 1
    # The member had never written to the bot: a 1:1 chat was created for the notice.
    assert fake.created and fake.created[0]["members"] == [{"id": a.user(2)["id"]}]
    assert notice[0].activity["attachments"][0]["content"]["body"][0]["text"] == "Sait uuden roolin"


async def test_an_identity_code_in_a_message_is_refused_and_stored_nowhere(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], tmp_path: Any
) -> None:
    fake, url = connector
    database = tmp_path / "privacy.db"
    bot = await make_bot(f"sqlite+aiosqlite:///{database}")
    await bot.post(a.text(url, a.user(5), "asiakas 131052-308T tarvitsee apua"))
    assert fake.texts()[-1].startswith("Viestissä näyttää olevan henkilötunnus")
    await bot.post(a.submit(url, a.user(5), {"verb": "profile.save", "profession": "131052-308T"}))
    await bot.close()
    for path in tmp_path.iterdir():
        if path.name.startswith("privacy.db"):
            assert b"131052-308T" not in path.read_bytes()
    async with (await make_bot(f"sqlite+aiosqlite:///{database}")).components.engine.connect() as c:
        assert (
            await c.execute(select(users).where(users.c.teams_user_id == a.user(5)["id"]))
        ).first() is None


async def test_a_failing_turn_gets_a_kind_message_and_logs_ids_not_text(
    make_bot: BotFactory,
    connector: tuple[LoopbackConnector, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, url = connector
    bot = await make_bot()
    await _install_team(bot, fake, url)
    # The database loses a table under the running bot: the next turns fail inside.
    async with bot.components.engine.begin() as connection:
        await connection.execute(text("DROP TABLE audit_events"))

    message = a.text(url, a.user(2), "roller", locale="sv-SE")
    response = await bot.post(message)
    assert response.status < 500
    assert fake.texts()[-1].startswith("Förlåt, något gick fel")

    invoke = a.execute(url, a.user(2), "profile.save", {"profession": "kela"}, locale="sv-SE")
    body = await bot.invoke(invoke)
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert body["value"].startswith("Förlåt, något gick fel")

    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("turn failed")]
    assert any(message["id"] in m for m in failures) and any(invoke["id"] in m for m in failures)
    assert not [m for m in failures if "roller" in m or "kela" in m]
    # Not even the tracebacks carry the values bound to the failed SQL statement.
    assert "kela" not in caplog.text
    assert "parameters hidden" in caplog.text
