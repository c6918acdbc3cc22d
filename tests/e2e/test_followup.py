"""After the meeting, end to end through the real app, its outbox and a loopback Bot
Connector: the summary card arrives as the meeting ends, the coordinator publishes the
summary, every recommendation is followed up at its due date (the clock is moved, never
slept), overdue items escalate, the case manager hands over, the case closes with an
outcome, and the requester answers the feedback card four weeks later."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import finnish_calendar
from bot.i18n import texts_for
from consultations import services
from consultations.consultation import CaseStatus
from consultations.model import Role
from storage.tables import (
    audit_events,
    case_managers,
    consultations,
    meeting_summaries,
    outbox,
    recommendations,
)
from tests.conftest import BotFactory, RunningBot
from tests.e2e.test_intake import COORDINATOR, REQUESTER, TEAM_CHANNEL, SteppingClock, chat, click
from tests.e2e.test_poll import (
    MEMBER_A,
    MEMBER_B,
    accepted_case,
    fix_with_both_yes,
    member_id,
    open_thursday_poll,
)
from tests.support import activities as a
from tests.support.cards import executes, inputs, texts
from tests.support.connector import LoopbackConnector

HELSINKI = ZoneInfo("Europe/Helsinki")
FI = texts_for("fi-FI")
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
FINDINGS = "Työkyky riittää osa-aikatyöhön, kun kipu on hallinnassa."
REC_1 = "Kipupoliklinikan lähete"
REC_2 = "Työkokeilu kevyissä tehtävissä"
REC_KELA = "Ammatillisen kuntoutuksen hakemus Kelaan"


def at(day: int, month: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HELSINKI).astimezone(UTC)


def execute_with(card: dict[str, Any], verb: str, **match: Any) -> dict[str, Any]:
    """The card's Action.Execute with this verb whose data carries `match`."""
    found = [
        x
        for x in executes(card)
        if x["verb"] == verb and all(x["data"].get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, (verb, match, [x["data"] for x in executes(card)])
    return found[0]


async def press(
    bot: RunningBot,
    url: str,
    user: dict[str, Any],
    card: dict[str, Any],
    verb: str,
    match: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Click `verb` on `card` with `fields` typed in; return the whole invoke response."""
    action = execute_with(card, verb, **(match or {}))
    return await bot.invoke(a.execute(url, user, verb, {**action["data"], **fields}))


async def scheduled_case(bot: RunningBot, fake: LoopbackConnector, url: str) -> tuple[int, int]:
    """An accepted case whose poll fixed Thursday 26.11.2026 13:00-14:00 with both members."""
    accepted = await accepted_case(bot, fake, url)
    overview = await open_thursday_poll(bot, url, accepted)
    body = await fix_with_both_yes(bot, fake, url, overview)
    assert body["type"] == CARD, body
    await bot.components.dispatcher.tick()
    return await member_id(bot, MEMBER_A), await member_id(bot, MEMBER_B)


async def add_rec(
    bot: RunningBot,
    url: str,
    editor: dict[str, Any],
    form: dict[str, str],
    text: str,
    owner: str,
    due: str,
) -> dict[str, Any]:
    """The coordinator adds one recommendation to the draft (saving `form` with it)."""
    return await click(
        bot,
        url,
        COORDINATOR,
        editor,
        "summary.add_rec",
        **form,
        rec_text=text,
        rec_owner=owner,
        rec_due=due,
    )


async def outbox_rows(bot: RunningBot, kind: str) -> list[Any]:
    async with bot.components.engine.connect() as connection:
        rows = await connection.execute(
            select(outbox.c.recipient_id, outbox.c.status, outbox.c.due_at)
            .where(outbox.c.kind == kind)
            .order_by(outbox.c.id)
        )
        return list(rows)


async def case_status(bot: RunningBot) -> str:
    async with bot.components.engine.connect() as connection:
        return str((await connection.execute(select(consultations.c.status))).scalar_one())


async def test_the_life_after_the_meeting_from_summary_to_feedback(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], database_url: str
) -> None:
    """On SQLite and on PostgreSQL."""
    fake, url = connector
    clock = SteppingClock()  # Monday 23.11.2026 10:00 in Helsinki
    bot = await make_bot(database_url, clock=clock)
    dispatcher = bot.components.dispatcher
    a_id, b_id = await scheduled_case(bot, fake, url)
    coordinator_id, requester_id = (
        await member_id(bot, COORDINATOR),
        await member_id(bot, REQUESTER),
    )

    # Before the meeting ends the coordinator is not asked for anything.
    prompts_before = len(fake.cards(chat(COORDINATOR)))
    clock.current = at(26, 11, 13, 59)
    await dispatcher.tick()
    assert len(fake.cards(chat(COORDINATOR))) == prompts_before

    # As it ends, the summary card arrives, saying why.
    clock.current = at(26, 11, 14, 1)
    await dispatcher.tick()
    prompt = fake.cards(chat(COORDINATOR))[-1]
    assert FI("summary.prompt.title", case_number="TK-2026-0001") in texts(prompt)
    assert FI("summary.prompt.why") in texts(prompt)

    # The editor: the poll's attendees (and the coordinator) are ticked already.
    editor = await click(bot, url, COORDINATOR, prompt, "summary.open")
    assert set(inputs(editor)["attendees"]["value"].split(",")) == {
        str(a_id),
        str(b_id),
        str(coordinator_id),
    }
    owners = {c["value"] for c in inputs(editor)["rec_owner"]["choices"]}
    assert {f"user:{a_id}", f"user:{requester_id}", "party:kela"} <= owners
    managers = {c["value"] for c in inputs(editor)["case_manager"]["choices"]}
    assert {str(a_id), str(b_id), str(requester_id)} <= managers

    # Publishing is not offered while something is missing; the preview says what.
    preview = await click(bot, url, COORDINATOR, editor, "summary.preview")
    assert "summary.publish" not in {x["verb"] for x in executes(preview)}
    assert FI("error.summary_no_findings") in texts(preview)
    assert FI("error.summary_case_manager") in texts(preview)

    # A personal identity code in the findings is refused and nothing is saved.
    editor = await click(bot, url, COORDINATOR, preview, "summary.edit")
    refused = await press(
        bot, url, COORDINATOR, editor, "summary.save", findings="Asiakas 131052-308T"
    )
    assert refused["type"] == MESSAGE and refused["value"] == FI("error.identity_code")

    # Three recommendations, one at a time: two for member A, one for Kela.
    form = {
        "attendees": f"{a_id},{b_id},{coordinator_id}",
        "client_attended": "yes",
        "findings": FINDINGS,
        "case_manager": str(b_id),
        "review_date": "2027-01-15",
    }
    editor = await add_rec(bot, url, editor, form, REC_1, f"user:{a_id}", "2026-12-03")
    assert FI("summary.rec.added") in texts(editor) and REC_1 in texts(editor)
    assert inputs(editor)["findings"]["value"] == FINDINGS
    editor = await add_rec(bot, url, editor, form, REC_2, f"user:{a_id}", "2026-12-03")
    # A due date in the past is refused with the reason.
    late = await press(
        bot,
        url,
        COORDINATOR,
        editor,
        "summary.add_rec",
        **form,
        rec_text=REC_KELA,
        rec_owner="party:kela",
        rec_due="2026-11-20",
    )
    assert late["type"] == MESSAGE and late["value"] == FI("error.due_date")
    editor = await add_rec(bot, url, editor, form, REC_KELA, "party:kela", "2026-12-03")
    assert len([x for x in executes(editor) if x["verb"] == "summary.remove_rec"]) == 3

    # Someone else cannot publish; the coordinator can, after the preview.
    preview = await click(bot, url, COORDINATOR, editor, "summary.preview", **form)
    refused = await press(bot, url, MEMBER_A, preview, "summary.publish")
    assert refused["type"] == MESSAGE and refused["value"] == FI("error.not_coordinator")
    published = await click(bot, url, COORDINATOR, preview, "summary.publish")
    assert FI("summary.published_notice") in texts(published)
    assert "summary.amend" in {x["verb"] for x in executes(published)}
    assert await case_status(bot) == CaseStatus.FOLLOW_UP.value

    # The requester, the case manager and the attendees get the summary; the channel a
    # notice with the case number and status only.
    await dispatcher.tick()
    for person in (REQUESTER, MEMBER_A, MEMBER_B):
        summary = fake.cards(chat(person))[-1]
        assert FINDINGS in texts(summary) and REC_KELA in texts(summary), person
    assert FI("summary.you_are_case_manager") in texts(fake.cards(chat(MEMBER_B))[-1])
    assert FI("summary.you_own") in texts(fake.cards(chat(MEMBER_A))[-1])
    notice = fake.cards(TEAM_CHANNEL)[-1]
    assert "TK-2026-0001" in texts(notice)
    assert FINDINGS not in texts(notice) and REC_1 not in texts(notice)

    # Nothing more until the due date; then member A gets two cards and the case manager
    # the outside owner's one.
    clock.current = at(3, 12, 8, 1)
    await dispatcher.tick()
    due_a = [c for c in fake.cards(chat(MEMBER_A)) if "rec.update" in str(c)]
    assert len(due_a) == 2
    assert all(FI("reminder.recommendation_due") in texts(c) for c in due_a)
    card_1 = next(c for c in due_a if REC_1 in texts(c))
    card_2 = next(c for c in due_a if REC_2 in texts(c))
    kela = fake.cards(chat(MEMBER_B))[-1]
    assert REC_KELA in texts(kela) and FI("rec.outside_owner") in texts(kela)

    # The requester owns none of them and cannot touch them.
    tampered = await press(bot, url, REQUESTER, card_1, "rec.update", {"action": "done"})
    assert tampered["type"] == MESSAGE
    assert tampered["value"] == FI("error.not_recommendation_owner")

    # Member A marks one done and snoozes the other for a week.
    done = await press(bot, url, MEMBER_A, card_1, "rec.update", {"action": "done"})
    assert done["type"] == CARD and FI("rec.updated.done") in texts(done["value"])
    assert "rec.update" not in str(done["value"]), "a done recommendation offers no buttons"
    snoozed = await press(bot, url, MEMBER_A, card_2, "rec.update", {"action": "snooze_week"})
    assert FI("rec.updated.snooze_week") in texts(snoozed["value"])
    # "In progress" needs a new date.
    no_date = await press(bot, url, MEMBER_B, kela, "rec.update", {"action": "in_progress"})
    assert no_date["type"] == MESSAGE and no_date["value"] == FI("error.due_date")
    moved = await press(
        bot, url, MEMBER_B, kela, "rec.update", {"action": "in_progress"}, new_due="2026-12-18"
    )
    assert FI("rec.updated.in_progress") in texts(moved["value"])

    # Five working days overdue (Thursday 10.12 08:00): the snoozed item escalates to the
    # coordinator; the done one and the rescheduled one do not. A's snooze ends too.
    coordinator_before = len(fake.cards(chat(COORDINATOR)))
    clock.current = at(10, 12, 8, 2)
    await dispatcher.tick()
    escalations = fake.cards(chat(COORDINATOR))[coordinator_before:]
    assert len(escalations) == 1, [texts(c) for c in escalations]
    assert REC_2 in texts(escalations[0])
    assert FI("reminder.recommendation_overdue") in texts(escalations[0])
    assert REC_2 in texts(fake.cards(chat(MEMBER_A))[-1])

    # The case manager's view lists the case and its open recommendations.
    await bot.post(a.text(url, MEMBER_B, "asiakkaat"))
    cases = fake.cards(chat(MEMBER_B))[-1]
    assert "TK-2026-0001" in texts(cases) and REC_2 in texts(cases)
    assert REC_1 not in texts(cases), "done items are not listed"

    # Hand-over saattaen vaihtaen: B proposes A with a note; A accepts.
    review = await click(bot, url, MEMBER_B, cases, "case.review")
    assert {"outcome", "successor", "note", "bring_back_reason"} <= set(inputs(review))
    proposed = await click(
        bot,
        url,
        MEMBER_B,
        review,
        "handover.propose",
        successor=str(a_id),
        note="Työkokeilu jatkuu, olet lähin.",
    )
    assert FI("handover.proposed_notice") in texts(proposed)
    await dispatcher.tick()
    offer = fake.cards(chat(MEMBER_A))[-1]
    assert "Työkokeilu jatkuu, olet lähin." in texts(offer)
    stranger = await press(bot, url, REQUESTER, offer, "handover.accept")
    assert stranger["type"] == MESSAGE and stranger["value"] == FI("error.not_successor")
    accepted = await click(bot, url, MEMBER_A, offer, "handover.accept")
    assert FI("handover.accepted_notice") in texts(accepted)
    await dispatcher.tick()
    accepted_text = FI("handover.accepted.body", name=MEMBER_A["name"])
    for person in (MEMBER_B, COORDINATOR, REQUESTER):
        told = fake.cards(chat(person))[-1]
        assert accepted_text in texts(told), person
        # None of them manages the case now: nothing to click.
        assert executes(told) == [], person
    async with bot.components.engine.connect() as connection:
        history = list(
            await connection.execute(
                select(case_managers.c.user_id, case_managers.c.until).order_by(case_managers.c.id)
            )
        )
    assert [(u, until is None) for u, until in history] == [(b_id, False), (a_id, True)]

    # The new case manager closes the case with its outcome.
    await bot.post(a.text(url, MEMBER_A, "asiakkaat"))
    review = await click(bot, url, MEMBER_A, fake.cards(chat(MEMBER_A))[-1], "case.review")
    closed = await click(bot, url, MEMBER_A, review, "case.close", outcome="employment")
    assert FI("review.closed", outcome=FI("outcome.employment")) in texts(closed)
    # Two recommendations were still open: the card says their follow-up ended.
    assert FI.n("review.closed.open_recommendations", 2) in texts(closed)
    assert FI("review.open_recommendations") not in texts(closed)
    assert await case_status(bot) == CaseStatus.CLOSED.value
    await dispatcher.tick()
    assert FI("outcome.employment") in texts(fake.cards(chat(REQUESTER))[-1])
    assert "TK-2026-0001" in texts(fake.cards(TEAM_CHANNEL)[-1])
    # Every reminder still waiting for the case stopped with it.
    assert {r.status for r in await outbox_rows(bot, "review.due")} == {"cancelled"}
    assert {r.status for r in await outbox_rows(bot, "recommendation.escalation")} <= {
        "sent",
        "cancelled",
    }

    # Four weeks after the summary (Christmas Eve: the next working morning, 28.12).
    clock.current = at(23, 12, 12)
    await dispatcher.tick()
    assert not [c for c in fake.cards(chat(REQUESTER)) if "feedback.give" in str(c)]
    clock.current = at(28, 12, 8, 1)
    await dispatcher.tick()
    feedback = fake.cards(chat(REQUESTER))[-1]
    assert FI("feedback.title", case_number="TK-2026-0001") in texts(feedback)
    thanks = await click(
        bot, url, REQUESTER, feedback, "feedback.give", rating="4", comment="Selkeä suunnitelma."
    )
    assert FI("feedback.thanks") in texts(thanks)
    again = await press(bot, url, REQUESTER, feedback, "feedback.give", rating="1")
    assert again["type"] == MESSAGE and again["value"] == FI("error.feedback_given")

    # Who did what is in the audit trail, without the texts.
    async with bot.components.engine.connect() as connection:
        actions_done = set(
            (await connection.execute(select(audit_events.c.action))).scalars().all()
        )
        rows = await connection.execute(select(recommendations.c.text, recommendations.c.status))
        statuses = {text: status for text, status in rows}
    assert {
        "summary.published",
        "recommendation.done",
        "recommendation.snooze_week",
        "handover.proposed",
        "handover.accepted",
        "case.closed",
        "feedback.given",
    } <= actions_done
    assert statuses == {REC_1: "done", REC_2: "open", REC_KELA: "in_progress"}


async def test_a_held_meeting_without_a_summary_reminds_the_coordinator_and_counts_in_the_digest(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    await scheduled_case(bot, fake, url)
    clock.current = at(26, 11, 14, 1)
    await bot.components.dispatcher.tick()
    before = len(fake.cards(chat(COORDINATOR)))
    # One working day after the meeting ended: Friday 27.11 14:00.
    clock.current = at(27, 11, 13, 59)
    await bot.components.dispatcher.tick()
    assert len(fake.cards(chat(COORDINATOR))) == before
    clock.current = at(27, 11, 14, 1)
    await bot.components.dispatcher.tick()
    reminder = fake.cards(chat(COORDINATOR))[-1]
    assert FI("reminder.summary_missing") in texts(reminder)
    assert "summary.open" in {x["verb"] for x in executes(reminder)}

    # Monday's digest counts the meeting without a summary.
    clock.current = at(30, 11, 8)
    await services.queue_weekly_digest(
        bot.components.uow_factory(), clock.current, finnish_calendar()
    )
    await bot.components.dispatcher.tick()
    digest = fake.cards(chat(COORDINATOR))[-1]
    assert FI("digest.no_summary", count=1) in texts(digest)
    assert "cases.open" in {x["verb"] for x in executes(digest)}

    # The coordinator's cases view offers the summary too.
    await bot.post(a.text(url, COORDINATOR, "asiakkaat"))
    cases = fake.cards(chat(COORDINATOR))[-1]
    assert FI("cases.summary_due", case_number="TK-2026-0001") in texts(cases)


async def test_two_coordinators_publishing_at_once_publish_once(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], pg_url: str
) -> None:
    """Two coordinators press Publish on the same draft at the same moment (PostgreSQL):
    one publishes, the other is told it is published already; the plan exists once."""
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(pg_url, clock=clock)
    fake.roster = [COORDINATOR, REQUESTER, MEMBER_A, MEMBER_B]
    a_id, b_id = await scheduled_case(bot, fake, url)
    async with bot.components.uow_factory() as uow:
        team = (await uow.teams.all())[0]
        coordinator = await uow.users.by_teams_id(COORDINATOR["id"])
        assert coordinator is not None
        await uow.teams.grant(team.id, a_id, Role.COORDINATOR, coordinator.id, clock.now())
        await uow.commit()
    clock.current = at(26, 11, 14, 1)
    await bot.components.dispatcher.tick()
    editor = await click(bot, url, COORDINATOR, fake.cards(chat(COORDINATOR))[-1], "summary.open")
    form = {
        "attendees": f"{a_id},{b_id}",
        "client_attended": "no",
        "findings": FINDINGS,
        "case_manager": str(b_id),
        "review_date": "2027-01-15",
    }
    editor = await add_rec(bot, url, editor, form, REC_1, f"user:{a_id}", "2026-12-03")
    preview = await click(bot, url, COORDINATOR, editor, "summary.preview", **form)
    data = execute_with(preview, "summary.publish")["data"]
    first, second = await asyncio.gather(
        bot.invoke(a.execute(url, COORDINATOR, "summary.publish", data)),
        bot.invoke(a.execute(url, MEMBER_A, "summary.publish", data)),
    )
    kinds = sorted([first["type"], second["type"]])
    assert kinds == [MESSAGE, CARD], (first, second)
    refused = first if first["type"] == MESSAGE else second
    assert refused["value"] in (FI("error.summary_published_already"), FI("error.conflict"))
    async with bot.components.engine.connect() as connection:
        plan = (await connection.execute(select(recommendations.c.text))).scalars().all()
        managers = (await connection.execute(select(case_managers.c.user_id))).scalars().all()
    assert plan == [REC_1] and managers == [b_id]
    assert len(await outbox_rows(bot, "recommendation.due")) == 1


async def published(
    bot: RunningBot, fake: LoopbackConnector, url: str, clock: SteppingClock
) -> tuple[int, int, dict[str, Any]]:
    """A summary with REC_1 (member A, due Thu 3.12) and REC_2 (member A, due Fri 4.12),
    member B as case manager, published on Thursday 26.11 at 14:01; returns the ids of
    A and B and the coordinator's published card."""
    a_id, b_id = await scheduled_case(bot, fake, url)
    clock.current = at(26, 11, 14, 1)
    await bot.components.dispatcher.tick()
    editor = await click(bot, url, COORDINATOR, fake.cards(chat(COORDINATOR))[-1], "summary.open")
    form = {
        "attendees": f"{a_id},{b_id}",
        "client_attended": "no",
        "findings": FINDINGS,
        "case_manager": str(b_id),
        "review_date": "2026-12-14",
    }
    for text, due in ((REC_1, "2026-12-03"), (REC_2, "2026-12-04")):
        editor = await add_rec(bot, url, editor, form, text, f"user:{a_id}", due)
    preview = await click(bot, url, COORDINATOR, editor, "summary.preview", **form)
    card = await click(bot, url, COORDINATOR, preview, "summary.publish")
    await bot.components.dispatcher.tick()
    return a_id, b_id, card


async def test_an_amended_summary_is_a_new_version_and_the_plan_follows_it(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    a_id, b_id, card = await published(bot, fake, url, clock)

    # Version 2 drops REC_2 and moves REC_1 a week later.
    editor = await click(bot, url, COORDINATOR, card, "summary.amend")
    assert FI("summary.editor.amending", version=2) in texts(editor)
    remove = execute_with(editor, "summary.remove_rec", index=1)
    form = {
        "attendees": f"{a_id},{b_id}",
        "client_attended": "no",
        "findings": FINDINGS + " Täydennetty.",
        "case_manager": str(b_id),
        "review_date": "2026-12-14",
    }
    body = await bot.invoke(
        a.execute(url, COORDINATOR, "summary.remove_rec", {**remove["data"], **form})
    )
    editor = body["value"]
    assert REC_2 not in texts(editor) and REC_1 in texts(editor)
    preview = await click(bot, url, COORDINATOR, editor, "summary.preview", **form)
    await click(bot, url, COORDINATOR, preview, "summary.publish")
    # The requester's Teams is in Swedish by now: the amendment reaches them in Swedish.
    await bot.post(a.text(url, REQUESTER, "hjälp", locale="sv-SE"))
    await bot.components.dispatcher.tick()
    amended = fake.cards(chat(REQUESTER))[-1]
    sv = texts_for("sv-SE")
    assert sv("summary.amended.title", case_number="TK-2026-0001") in texts(amended)
    assert sv("summary.findings") in texts(amended)
    assert "Täydennetty." in texts(amended)

    async with bot.components.engine.connect() as connection:
        versions = list(
            await connection.execute(
                select(
                    meeting_summaries.c.version,
                    meeting_summaries.c.state,
                    meeting_summaries.c.findings,
                ).order_by(meeting_summaries.c.version)
            )
        )
        rows = await connection.execute(select(recommendations.c.text, recommendations.c.status))
        statuses = {text: status for text, status in rows}
    # Version 1 is kept exactly as it was published.
    assert [(v, s, f) for v, s, f in versions] == [
        (1, "published", FINDINGS),
        (2, "published", FINDINGS + " Täydennetty."),
    ]
    assert statuses == {REC_1: "open", REC_2: "removed"}
    # The removed item's reminders are gone; REC_1's due reminder still waits.
    due = await outbox_rows(bot, "recommendation.due")
    assert sorted(r.status for r in due) == ["cancelled", "pending"]


async def test_a_declined_hand_over_reminders_and_bringing_the_case_back(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    dispatcher = bot.components.dispatcher
    a_id, b_id, _card = await published(bot, fake, url, clock)

    # Friday 27.11 at 15:00 B proposes A; A is reminded after 2 working days (Tue 1.12
    # 15:00), the coordinator after 5 (Fri 4.12 15:00).
    clock.current = at(27, 11, 15)
    await bot.post(a.text(url, MEMBER_B, "asiakkaat"))
    review = await click(bot, url, MEMBER_B, fake.cards(chat(MEMBER_B))[-1], "case.review")
    await click(bot, url, MEMBER_B, review, "handover.propose", successor=str(a_id), note="Ota?")
    [reminder] = await outbox_rows(bot, "handover.reminder")
    [escalation] = await outbox_rows(bot, "handover.escalation")
    assert reminder.due_at == at(1, 12, 15) and escalation.due_at == at(4, 12, 15)
    # A second proposal while one waits is refused.
    again = await press(
        bot, url, MEMBER_B, review, "handover.propose", successor=str(a_id), note="Ota?"
    )
    assert again["type"] == MESSAGE and again["value"] == FI("error.handover_pending")

    clock.current = at(1, 12, 15, 1)
    await dispatcher.tick()
    nudge = fake.cards(chat(MEMBER_A))[-1]
    assert FI("reminder.handover") in texts(nudge)

    # Monday's digest: one hand-over waiting; after the due dates, overdue items too.
    clock.current = at(7, 12, 8)
    await services.queue_weekly_digest(
        bot.components.uow_factory(), clock.now(), finnish_calendar()
    )
    await dispatcher.tick()
    digest = fake.cards(chat(COORDINATOR))[-1]
    assert FI("digest.handovers_waiting", count=1) in texts(digest)
    assert FI("digest.overdue_recommendations", count=2) in texts(digest)

    declined = await click(bot, url, MEMBER_A, nudge, "handover.decline", reason="Lomalla")
    assert FI("handover.declined_notice") in texts(declined)
    await dispatcher.tick()
    told = fake.cards(chat(MEMBER_B))[-1]
    assert FI("handover.declined.body", name=MEMBER_A["name"]) in texts(told)
    assert "Lomalla" in texts(told)
    # B still manages the case: the one button takes B back to it.
    assert [x["verb"] for x in executes(told)] == ["case.review"]
    # The coordinator had heard of the waiting hand-over on Friday 4.12.
    assert {r.status for r in await outbox_rows(bot, "handover.escalation")} == {"sent"}
    assert any(
        FI("reminder.handover_escalation") in texts(c) for c in fake.cards(chat(COORDINATOR))
    )
    async with bot.components.engine.connect() as connection:
        managers = (await connection.execute(select(case_managers.c.user_id))).scalars().all()
    assert managers == [b_id]

    # The review date (Mon 14.12) comes: B brings the case back to the team.
    clock.current = at(14, 12, 8, 1)
    await dispatcher.tick()
    review = fake.cards(chat(MEMBER_B))[-1]
    assert FI("reminder.review_due") in texts(review)
    no_reason = await press(bot, url, MEMBER_B, review, "case.bring_back")
    assert no_reason["type"] == MESSAGE and no_reason["value"] == FI("error.reason_missing")
    back = await click(
        bot,
        url,
        MEMBER_B,
        review,
        "case.bring_back",
        bring_back_reason="Työkokeilu ei onnistunut, tarvitaan uusi arvio.",
    )
    assert FI("review.brought_back") in texts(back)
    assert await case_status(bot) == CaseStatus.SUBMITTED.value
    await dispatcher.tick()
    triage = fake.cards(chat(COORDINATOR))[-1]
    assert "triage.accept" in {x["verb"] for x in executes(triage)}
    assert "Työkokeilu ei onnistunut" in texts(triage)
    assert FI("brought_back.title", case_number="TK-2026-0001") in texts(
        fake.cards(chat(REQUESTER))[-1]
    )
    # The second round is accepted like the first; its requester is told again.
    before = len(fake.cards(chat(REQUESTER)))
    await click(bot, url, COORDINATOR, triage, "triage.accept")
    await dispatcher.tick()
    assert len(fake.cards(chat(REQUESTER))) == before + 1


async def test_a_hand_over_re_addresses_reminders_and_never_repeats_an_escalation(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    """Kela's recommendation is overdue and B, the case manager, has snoozed it; the
    coordinator hears of it once. A snooze after that, and a hand-over to A, send the
    coordinator nothing more; A gets the reminder as their own, without B's snooze."""
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    dispatcher = bot.components.dispatcher
    a_id, b_id = await scheduled_case(bot, fake, url)
    clock.current = at(26, 11, 14, 1)
    await dispatcher.tick()
    editor = await click(bot, url, COORDINATOR, fake.cards(chat(COORDINATOR))[-1], "summary.open")
    form = {
        "attendees": f"{a_id},{b_id}",
        "client_attended": "yes",
        "findings": FINDINGS,
        "case_manager": str(b_id),
        "review_date": "2027-01-15",
    }
    editor = await add_rec(bot, url, editor, form, REC_KELA, "party:kela", "2026-12-03")
    preview = await click(bot, url, COORDINATOR, editor, "summary.preview", **form)
    await click(bot, url, COORDINATOR, preview, "summary.publish")
    await dispatcher.tick()

    def escalations() -> list[dict[str, Any]]:
        return [
            c
            for c in fake.cards(chat(COORDINATOR))
            if FI("reminder.recommendation_overdue") in texts(c)
        ]

    def kela_cards(user: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            c for c in fake.cards(chat(user)) if REC_KELA in texts(c) and "rec.update" in str(c)
        ]

    # Thursday 3.12: B is reminded and snoozes for a week (until Thursday 10.12).
    clock.current = at(3, 12, 8, 1)
    await dispatcher.tick()
    snoozed = await press(
        bot, url, MEMBER_B, kela_cards(MEMBER_B)[-1], "rec.update", {"action": "snooze_week"}
    )
    assert FI("rec.snoozed_until") in texts(snoozed["value"])

    # Five working days overdue (Thursday 10.12 08:00): the coordinator hears of it, once.
    clock.current = at(10, 12, 8, 2)
    await dispatcher.tick()
    assert len(escalations()) == 1
    # B snoozes again after the escalation: the coordinator is not told a second time.
    clock.current = at(10, 12, 8, 30)
    await press(
        bot, url, MEMBER_B, kela_cards(MEMBER_B)[-1], "rec.update", {"action": "snooze_day"}
    )
    await dispatcher.tick()
    assert len(escalations()) == 1

    # B hands the case over to A, who accepts.
    clock.current = at(10, 12, 9)
    await bot.post(a.text(url, MEMBER_B, "asiakkaat"))
    review = await click(bot, url, MEMBER_B, fake.cards(chat(MEMBER_B))[-1], "case.review")
    await click(bot, url, MEMBER_B, review, "handover.propose", successor=str(a_id), note="Ota?")
    await dispatcher.tick()
    offer = fake.cards(chat(MEMBER_A))[-1]
    await click(bot, url, MEMBER_A, offer, "handover.accept")
    before_a = len(kela_cards(MEMBER_A))
    await dispatcher.tick()

    # The coordinator still has the one escalation; A has Kela's overdue item as their own,
    # with nothing of B's snooze on it; B's snoozed reminder will not come.
    assert len(escalations()) == 1
    [reminder] = kela_cards(MEMBER_A)[before_a:]
    assert FI("reminder.recommendation_due") in texts(reminder)
    assert FI("rec.snoozed_until") not in texts(reminder)
    clock.current = at(11, 12, 9)
    before_b = len(kela_cards(MEMBER_B))
    await dispatcher.tick()
    assert len(kela_cards(MEMBER_B)) == before_b
    assert len(escalations()) == 1
    sent = [r for r in await outbox_rows(bot, "recommendation.escalation") if r.status == "sent"]
    assert len(sent) == 1


async def test_the_channel_hears_the_teams_language_not_the_installers_nor_the_senders(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    dispatcher = bot.components.dispatcher
    _a_id, _b_id, _card = await published(bot, fake, url, clock)
    sv = texts_for("sv")
    # Finnish until the team chooses otherwise.
    first = texts(fake.cards(TEAM_CHANNEL)[-1])
    assert FI("notice.case.title", case_number="TK-2026-0001") in first
    assert FI("status.follow_up") in first

    # The coordinator (whose Teams is in English) makes the channel Swedish.
    await bot.post(a.text(url, COORDINATOR, "settings", locale="en-US"))
    settings = fake.cards(chat(COORDINATOR))[-1]
    language = inputs(settings)["language"]
    assert language["value"] == "fi"
    assert [c["value"] for c in language["choices"]] == ["fi", "sv", "en"]
    assert [c["title"] for c in language["choices"]] == ["suomi", "svenska", "English"]
    kept = {k: v.get("value", "") for k, v in inputs(settings).items()}
    saved = await click(
        bot, url, COORDINATOR, settings, "team.settings.save", **{**kept, "language": "sv"}
    )
    assert inputs(saved)["language"]["value"] == "sv"

    # The case manager, in Finnish, closes the case: the channel hears it in Swedish.
    await bot.post(a.text(url, MEMBER_B, "asiakkaat"))
    review = await click(bot, url, MEMBER_B, fake.cards(chat(MEMBER_B))[-1], "case.review")
    await click(bot, url, MEMBER_B, review, "case.close", outcome="employment")
    await dispatcher.tick()
    notice = texts(fake.cards(TEAM_CHANNEL)[-1])
    assert sv("notice.case.title", case_number="TK-2026-0001") in notice
    assert sv("status.closed") in notice and sv("status.closed.next") in notice
    assert FI("status.closed") not in notice
