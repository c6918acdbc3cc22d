"""A consultation request from the first message to an accepted case, end to end through the
real app, its outbox and a loopback Bot Connector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from consultations.consultation import CaseStatus
from storage.tables import consultations
from tests.conftest import BotFactory, RunningBot
from tests.support import activities as a
from tests.support.cards import actions, inputs, texts
from tests.support.connector import LoopbackConnector

COORDINATOR = a.user(1, "Outi Koordinaattori")
REQUESTER = a.user(2, "Reetta Pyytäjä")
OTHER = a.user(3, "Olli Ulkopuolinen")
TEAM_CHANNEL = "19:team-general@thread.tacv2"


class SteppingClock:
    def __init__(self) -> None:
        # Monday 23 November 2026, 10:00 in Helsinki.
        self.current = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


def chat(user: dict[str, Any]) -> str:
    return f"a:personal-{user['id']}"


async def click(
    bot: RunningBot, url: str, user: dict[str, Any], card: dict[str, Any], verb: str, **fields: Any
) -> dict[str, Any]:
    action = actions(card)[verb]
    body = await bot.invoke(a.execute(url, user, verb, {**action["data"], **fields}))
    assert body["type"] == "application/vnd.microsoft.card.adaptive", body
    return body["value"]  # type: ignore[no-any-return]


async def setup(
    bot: RunningBot,
    fake: LoopbackConnector,
    url: str,
    roster: list[dict[str, Any]] | None = None,
) -> None:
    fake.roster = roster or [COORDINATOR, REQUESTER, OTHER]
    await bot.post(a.team_installed(url, COORDINATOR))
    claim = actions(fake.cards(TEAM_CHANNEL)[-1])["role.claim"]
    await bot.invoke(a.execute(url, COORDINATOR, "role.claim", claim["data"]))


async def file_request(
    bot: RunningBot, fake: LoopbackConnector, url: str, question: str
) -> dict[str, Any]:
    await bot.post(a.text(url, REQUESTER, "uusi"))
    page = fake.cards(chat(REQUESTER))[-1]
    assert {"team_id", "client_reference", "consent", "consent_date", "urgency"} <= set(
        inputs(page)
    )
    page = await click(
        bot,
        url,
        REQUESTER,
        page,
        "request.next",
        team_id=inputs(page)["team_id"]["choices"][0]["value"],
        client_reference="RP-1978",
        consent="obtained",
        consent_date="2026-11-20",
        urgency="normal",
    )
    assert "question" in inputs(page)
    page = await click(
        bot,
        url,
        REQUESTER,
        page,
        "request.next",
        question=question,
        situation="Sairauslomaa 9 kk, TE-asiakkuus.",
        history="",
    )
    page = await click(
        bot, url, REQUESTER, page, "request.next", self_rating="4", goals="Osa-aikatyö"
    )
    page = await click(
        bot,
        url,
        REQUESTER,
        page,
        "request.next",
        services="kela,employment_services",
        barriers="person.pain",
    )
    page = await click(
        bot,
        url,
        REQUESTER,
        page,
        "request.next",
        professions="physician,social_worker",
        client_attends="yes",
    )
    assert "request.submit" in actions(page), "the last page shows the request for review"
    assert "RP-1978" in texts(page)
    return page


async def test_a_request_goes_from_first_message_to_an_accepted_case(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    await setup(bot, fake, url)

    review = await file_request(bot, fake, url, "Miten tukea paluuta työelämään?")
    submitted = await click(bot, url, REQUESTER, review, "request.submit")
    assert "TK-2026-0001" in texts(submitted)

    # The coordinator gets the triage card and asks for more information.
    await bot.components.dispatcher.tick()
    triage = fake.cards(chat(COORDINATOR))[-1]
    assert "TK-2026-0001" in texts(triage) and "Miten tukea paluuta työelämään?" in texts(triage)
    # Someone who is not a coordinator of the team cannot triage, whatever the card says.
    refused = await bot.invoke(
        a.execute(url, OTHER, "triage.accept", actions(triage)["triage.accept"]["data"])
    )
    assert refused["type"] == "application/vnd.microsoft.activity.message"
    asked = await click(
        bot, url, COORDINATOR, triage, "triage.ask", question="Onko työterveyshuolto mukana?"
    )
    assert "triage.ask" not in actions(asked)

    # The requester answers; the case returns to the coordinator.
    await bot.components.dispatcher.tick()
    question = fake.cards(chat(REQUESTER))[-1]
    assert "Onko työterveyshuolto mukana?" in texts(question)
    answered = await click(
        bot, url, REQUESTER, question, "request.answer", answer="Ei ole, työsuhde päättynyt."
    )
    assert "request.answer" not in actions(answered)
    await bot.components.dispatcher.tick()
    again = fake.cards(chat(COORDINATOR))[-1]
    assert "Ei ole, työsuhde päättynyt." in texts(again)

    accepted = await click(bot, url, COORDINATOR, again, "triage.accept")
    assert "triage.accept" not in actions(accepted)
    await bot.components.dispatcher.tick()
    assert "TK-2026-0001" in texts(fake.cards(chat(REQUESTER))[-1])

    await bot.post(a.text(url, REQUESTER, "omat"))
    mine = fake.cards(chat(REQUESTER))[-1]
    assert "TK-2026-0001" in texts(mine)
    async with bot.components.engine.connect() as connection:
        status = (await connection.execute(select(consultations.c.status))).scalar_one()
    assert status == CaseStatus.ACCEPTED.value


async def test_an_untriaged_request_reminds_the_coordinator_on_the_second_working_day(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    await setup(bot, fake, url)
    review = await file_request(bot, fake, url, "Kuntoutuksen suunta?")
    await click(bot, url, REQUESTER, review, "request.submit")
    await bot.components.dispatcher.tick()
    before = len(fake.cards(chat(COORDINATOR)))

    clock.current += timedelta(days=1, hours=23)  # Wednesday 09:00: not yet
    await bot.components.dispatcher.tick()
    assert len(fake.cards(chat(COORDINATOR))) == before
    clock.current += timedelta(hours=1, minutes=1)  # Wednesday 10:01: two working days
    await bot.components.dispatcher.tick()
    reminder = fake.cards(chat(COORDINATOR))[-1]
    assert len(fake.cards(chat(COORDINATOR))) == before + 1
    assert "triage.accept" in actions(reminder)


async def test_an_identity_code_in_the_question_is_refused_and_stored_nowhere(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], tmp_path: Path
) -> None:
    fake, url = connector
    database = tmp_path / "hetu.db"
    bot = await make_bot(f"sqlite+aiosqlite:///{database}", clock=SteppingClock())
    await setup(bot, fake, url)
    await bot.post(a.text(url, REQUESTER, "uusi"))
    page = fake.cards(chat(REQUESTER))[-1]
    page = await click(
        bot,
        url,
        REQUESTER,
        page,
        "request.next",
        team_id=inputs(page)["team_id"]["choices"][0]["value"],
        client_reference="RP-1978",
        consent="typ_exception",
        urgency="normal",
    )
    body = await bot.invoke(
        a.execute(
            url,
            REQUESTER,
            "request.next",
            {
                **actions(page)["request.next"]["data"],
                "question": "Asiakas 131052-308T tarvitsee apua",
            },
        )
    )
    # The question page again, the field named and emptied, nothing stored.
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Kentässä ”Konsultaatiokysymys (pakollinen)” näyttää olevan henkilötunnus" in texts(
        body["value"]
    )
    assert inputs(body["value"])["question"]["value"] == ""
    await bot.close()
    for path in tmp_path.iterdir():
        assert b"131052-308T" not in path.read_bytes()


async def test_a_request_without_consent_is_saved_as_a_draft_and_resumed_after_a_restart(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot(clock=SteppingClock())
    await setup(bot, fake, url)
    await bot.post(a.text(url, REQUESTER, "ny", locale="sv-FI"))
    page = fake.cards(chat(REQUESTER))[-1]
    explained = await click(
        bot,
        url,
        REQUESTER,
        page,
        "request.next",
        team_id=inputs(page)["team_id"]["choices"][0]["value"],
        client_reference="AB-1990",
        consent="not_yet",
        urgency="normal",
    )
    assert "request.next" not in actions(explained) and "request.submit" not in actions(explained)
    await click(bot, url, REQUESTER, explained, "request.save")

    # The bot restarts (same database) before the requester comes back to the draft.
    await bot.close()
    bot = await make_bot(clock=SteppingClock())
    await bot.post(a.text(url, REQUESTER, "utkast", locale="sv-FI"))
    drafts = fake.cards(chat(REQUESTER))[-1]
    resumed = await click(bot, url, REQUESTER, drafts, "request.resume")
    assert inputs(resumed)["client_reference"].get("value") == "AB-1990"
