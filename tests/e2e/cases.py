"""Cases with a text in every free-text column the bot has, each text carrying one marker
word, made through the real app as users would make them: for the privacy tests
(retention, export, erasure), which then look for the marker everywhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import RunningBot
from tests.e2e.test_followup import add_rec, at, execute_with, press
from tests.e2e.test_intake import COORDINATOR, REQUESTER, SteppingClock, chat, click
from tests.e2e.test_poll import (
    MEMBER_A,
    MEMBER_B,
    fix_with_both_yes,
    member_id,
    open_thursday_poll,
)
from tests.support import activities as a
from tests.support.cards import inputs
from tests.support.connector import LoopbackConnector

ROSTER = [COORDINATOR, REQUESTER, MEMBER_A, MEMBER_B]


def request_texts(marker: str) -> dict[str, str]:
    return {
        "client_reference": f"{marker}-75",
        "urgent_timeframe": f"{marker}: kuukauden sisällä",
        "question": f"Miten {marker} pääsee takaisin työhön?",
        "situation": f"{marker} on ollut sairauslomalla yhdeksän kuukautta.",
        "history": f"{marker}: fysioterapiajakso 2025.",
        "work_capacity": f"{marker} jaksaa neljä tuntia päivässä.",
        "strengths": f"{marker} on sinnikäs ja oma-aloitteinen.",
        "goals": f"{marker} haluaa osa-aikatyön.",
    }


def every_text(marker: str) -> list[str]:
    """What closed_case writes for this marker, column by column."""
    return [
        *request_texts(marker).values(),
        f"Onko {marker} työterveyshuollon asiakas?",
        f"{marker} ei ole työterveyshuollossa.",
        f"Neuvotteluhuone {marker}",
        f"{marker}: kipu rajoittaa työkykyä.",
        f"{marker}: lähete kipupoliklinikalle",
        f"{marker}: työkokeilu kevyissä tehtävissä",
        f"{marker}: kipupoliklinikalla ei ole jonoa",
        f"{marker}: jatka työkokeilun seurantaa",
        f"{marker}: olen lomalla",
        f"{marker}: selkeä suunnitelma",
    ]


async def submitted(
    bot: RunningBot, fake: LoopbackConnector, url: str, marker: str
) -> dict[str, Any]:
    """A request with every field filled, submitted; returns the coordinator's triage card."""
    told = request_texts(marker)
    await bot.post(a.text(url, REQUESTER, "uusi"))
    page = fake.cards(chat(REQUESTER))[-1]
    team = inputs(page)["team_id"]["choices"][0]["value"]
    pages: list[dict[str, Any]] = [
        {
            "team_id": team,
            "client_reference": told["client_reference"],
            "consent": "obtained",
            "consent_date": "2026-11-20",
            "urgency": "urgent",
        },
        {"urgent_timeframe": told["urgent_timeframe"]},
        {k: told[k] for k in ("question", "situation", "history")},
        {
            "work_capacity": told["work_capacity"],
            "self_rating": "4",
            "strengths": told["strengths"],
            "goals": told["goals"],
        },
        {"services": "kela,employment_services", "barriers": "person.pain,skills.digital"},
        {"professions": "physician,social_worker", "client_attends": "yes"},
    ]
    for fields in pages:
        page = await click(bot, url, REQUESTER, page, "request.next", **fields)
    await click(bot, url, REQUESTER, page, "request.submit")
    await bot.components.dispatcher.tick()
    return fake.cards(chat(COORDINATOR))[-1]


async def declined_case(bot: RunningBot, fake: LoopbackConnector, url: str, marker: str) -> None:
    triage = await submitted(bot, fake, url, marker)
    await click(
        bot,
        url,
        COORDINATOR,
        triage,
        "triage.decline",
        reason=f"{marker}: ohjataan työterveyshuoltoon",
        route="occupational_health",
    )
    await bot.components.dispatcher.tick()


async def closed_case(
    bot: RunningBot, fake: LoopbackConnector, url: str, clock: SteppingClock, marker: str
) -> datetime:
    """The whole life of a case from Monday 23.11.2026: a question and its answer, a poll,
    the summary with two recommendations (one not implemented, with a reason), a declined
    hand-over, closing, and feedback with a comment on 28.12. Returns when it closed."""
    texts = every_text(marker)
    dispatcher = bot.components.dispatcher
    triage = await submitted(bot, fake, url, marker)
    await click(bot, url, COORDINATOR, triage, "triage.ask", question=texts[8])
    await dispatcher.tick()
    question = fake.cards(chat(REQUESTER))[-1]
    await click(bot, url, REQUESTER, question, "request.answer", answer=texts[9])
    await dispatcher.tick()
    accepted = await click(
        bot, url, COORDINATOR, fake.cards(chat(COORDINATOR))[-1], "triage.accept"
    )

    overview = await open_thursday_poll(bot, url, accepted, place=texts[10])
    await fix_with_both_yes(bot, fake, url, overview)
    await dispatcher.tick()
    a_id, b_id = await member_id(bot, MEMBER_A), await member_id(bot, MEMBER_B)

    clock.current = at(26, 11, 14, 1)
    await dispatcher.tick()
    editor = await click(bot, url, COORDINATOR, fake.cards(chat(COORDINATOR))[-1], "summary.open")
    form = {
        "attendees": f"{a_id},{b_id}",
        "client_attended": "yes",
        "findings": texts[11],
        "case_manager": str(b_id),
        "review_date": "2026-12-14",
    }
    for text in (texts[12], texts[13]):
        editor = await add_rec(bot, url, editor, form, text, f"user:{a_id}", "2026-12-03")
    preview = await click(bot, url, COORDINATOR, editor, "summary.preview", **form)
    await click(bot, url, COORDINATOR, preview, "summary.publish")
    await dispatcher.tick()

    clock.current = at(3, 12, 8, 1)
    await dispatcher.tick()
    due = [c for c in fake.cards(chat(MEMBER_A)) if "rec.update" in str(c)]
    first = next(c for c in due if texts[12] in str(c))
    await press(
        bot,
        url,
        MEMBER_A,
        first,
        "rec.update",
        {"action": "not_implemented"},
        reason=texts[14],
        reason_category="service_unavailable",
    )
    await press(
        bot,
        url,
        MEMBER_A,
        next(c for c in due if texts[13] in str(c)),
        "rec.update",
        {"action": "done"},
    )

    clock.current = at(4, 12, 10)
    await bot.post(a.text(url, MEMBER_B, "asiakkaat"))
    review = await click(bot, url, MEMBER_B, fake.cards(chat(MEMBER_B))[-1], "case.review")
    await click(bot, url, MEMBER_B, review, "handover.propose", successor=str(a_id), note=texts[15])
    await dispatcher.tick()
    offer = fake.cards(chat(MEMBER_A))[-1]
    await click(bot, url, MEMBER_A, offer, "handover.decline", reason=texts[16])
    await dispatcher.tick()

    clock.current = at(10, 12, 10)
    await bot.post(a.text(url, MEMBER_B, "asiakkaat"))
    review = await click(bot, url, MEMBER_B, fake.cards(chat(MEMBER_B))[-1], "case.review")
    await click(bot, url, MEMBER_B, review, "case.close", outcome="rehabilitation")
    closed_at = clock.now()
    await dispatcher.tick()

    clock.current = at(28, 12, 8, 1)
    await dispatcher.tick()
    feedback = fake.cards(chat(REQUESTER))[-1]
    give = execute_with(feedback, "feedback.give")
    await bot.invoke(
        a.execute(
            url, REQUESTER, "feedback.give", {**give["data"], "rating": "4", "comment": texts[17]}
        )
    )
    await dispatcher.tick()
    return closed_at
