"""The data subject's rights through an admin, end to end through the real app and the
loopback connector: a case's audit trail, its export (JSON and HTML behind links that
expire) and its erasure; coordinators see their own team's audit trails; everyone else
is refused, and every attempt is in the audit trail."""

from __future__ import annotations

import json
from datetime import timedelta
from html import escape
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from bot.i18n import texts_for
from storage.tables import audit_events, consultations, metadata
from tests.conftest import BotFactory, RunningBot
from tests.e2e.cases import ROSTER, closed_case, declined_case, every_text, submitted
from tests.e2e.test_intake import COORDINATOR, REQUESTER, SteppingClock, chat, click, setup
from tests.e2e.test_poll import MEMBER_A, MEMBER_B
from tests.e2e.test_retention import ADMIN, case_rows, everything, leftovers
from tests.support import activities as a
from tests.support.cards import actions, executes, inputs, open_urls, texts
from tests.support.connector import LoopbackConnector

FI = texts_for("fi-FI")
SV = texts_for("sv-SE")
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
OTHER_TEAM = "19:team-two@thread.tacv2"
OTHER_COORDINATOR = a.user(7, "Kalle Toinen")
# The tables whose rows belong to one case; every column of each must be exported.
CASE_TABLES = (
    "consultations",
    "case_transitions",
    "case_notes",
    "polls",
    "poll_slots",
    "poll_invitees",
    "poll_votes",
    "meeting_summaries",
    "recommendations",
    "recommendation_events",
    "case_managers",
    "handovers",
    "feedback",
    "audit_events",
    "outbox",
)


async def command(
    bot: RunningBot, fake: LoopbackConnector, url: str, user: dict[str, Any], words: str
) -> Any:
    """What the bot answers a typed command with in the user's 1:1 chat."""
    await bot.post(a.text(url, user, words))
    sent = fake.sent[-1]
    assert sent.conversation_id == chat(user)
    return sent.activity


async def act(
    bot: RunningBot, url: str, user: dict[str, Any], verb: str, **data: Any
) -> dict[str, Any]:
    return await bot.invoke(a.execute(url, user, verb, {"verb": verb, **data}))


async def audited(bot: RunningBot, action: str) -> list[tuple[Any, ...]]:
    async with bot.components.engine.connect() as connection:
        rows = await connection.execute(
            select(
                audit_events.c.actor_user_id,
                audit_events.c.subject_type,
                audit_events.c.subject_id,
                audit_events.c.details,
            )
            .where(audit_events.c.action == action)
            .order_by(audit_events.c.id)
        )
        return [tuple(r) for r in rows]


async def user_id(bot: RunningBot, user: dict[str, Any]) -> int:
    async with bot.components.uow_factory() as uow:
        found = await uow.users.by_teams_id(user["id"])
    assert found is not None
    return found.id


async def download(bot: RunningBot, link: str) -> Any:
    return await bot.client.get(urlsplit(link).path)


async def test_an_admin_sees_exports_and_erases_a_case(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], database_url: str
) -> None:
    """On SQLite and on PostgreSQL."""
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(database_url, clock=clock, admins=frozenset({ADMIN["aadObjectId"]}))
    await setup(bot, fake, url, [*ROSTER, ADMIN])
    await closed_case(bot, fake, url, clock, "Kuusama")  # TK-2026-0001
    await declined_case(bot, fake, url, "Pihlaja")  # TK-2026-0002
    other_before = await case_rows(bot, "TK-2026-0002")
    admin_id = await user_id(bot, ADMIN)

    # The admin's command opens the card: a case number and three actions, the periods.
    card = (await command(bot, fake, url, ADMIN, "ylläpito"))["attachments"][0]["content"]
    assert {"case_number", "case_months", "audit_years"} <= set(inputs(card))
    assert [x["title"] for x in executes(card)][:3] == [
        FI("privacy.audit.button"),
        FI("privacy.export.button"),
        FI("privacy.erase.button"),
    ]

    # The audit trail: who read or changed the case, newest first, a page at a time.
    trail = await click(bot, url, ADMIN, card, "privacy.audit", case_number=" tk-2026-1 ")
    assert FI("privacy.trail.title", case_number="TK-2026-0001") in texts(trail)
    pages = [trail]
    while FI("privacy.trail.older") in texts(pages[-1]):
        older = next(x for x in executes(pages[-1]) if x["title"] == FI("privacy.trail.older"))
        body = await bot.invoke(a.execute(url, ADMIN, "privacy.audit", older["data"]))
        pages.append(body["value"])
    assert len(pages) > 1, "the trail pages"
    assert FI("privacy.trail.newer") in texts(pages[-1])
    lines = "\n".join(texts(p) for p in pages)
    for who, what in (
        (REQUESTER["name"], "audit.action.consultation.submitted"),
        (COORDINATOR["name"], "audit.action.consultation.asked"),
        (MEMBER_A["name"], "audit.action.recommendation.not_implemented"),
        (REQUESTER["name"], "audit.action.feedback.given"),
    ):
        assert FI("privacy.trail.line", who=who, what=FI(what)) in lines, (who, what)
    closing = FI(
        "privacy.trail.transition", before=FI("status.follow_up"), after=FI("status.closed")
    )
    assert FI("privacy.trail.line", who=MEMBER_B["name"], what=closing) in lines
    assert "Kuusama" not in lines, "the trail shows who and when, never the texts"

    # The export: two links, a readable page and the JSON.
    exported = await click(bot, url, ADMIN, card, "privacy.export", case_number="TK-2026-0001")
    links = {x["title"]: x["url"] for x in open_urls(exported)}
    html_link = links[FI("privacy.export.html")]
    json_link = links[FI("privacy.export.json")]
    response = await download(bot, json_link)
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    raw = await response.read()
    data = json.loads(raw)
    assert data["case_number"] == "TK-2026-0001"
    tables = data["tables"]
    for name in CASE_TABLES:
        assert tables[name], f"the export has no {name}"
        columns = {c.name for c in metadata.tables[name].columns}
        assert all(set(row) == columns for row in tables[name]), name
    dumped = json.dumps(tables, ensure_ascii=False)
    assert all(text in dumped for text in every_text("Kuusama"))
    assert "Pihlaja" not in raw.decode(), "nothing of another case"
    assert [r["case_number"] for r in tables["consultations"]] == ["TK-2026-0001"]
    assert {p["name"] for p in tables["people"]} >= {REQUESTER["name"], COORDINATOR["name"]}

    page = await download(bot, html_link)
    assert page.status == 200 and page.content_type == "text/html"
    assert "script-src" not in page.headers["Content-Security-Policy"]
    html = await page.text()
    assert FI("export.title", case_number="TK-2026-0001") in html
    for text in every_text("Kuusama"):
        assert escape(text) in html, text
    assert "Pihlaja" not in html
    assert "export." not in html and "privacy." not in html, "no catalog key shows"
    assert len(await audited(bot, "consultation.exported")) == 2

    # Links expire in ten minutes, and a tampered one is refused alike.
    clock.current += timedelta(minutes=11)
    assert (await download(bot, json_link)).status == 404
    assert (await download(bot, json_link.replace("/case-export/", "/case-export/x"))).status == 404

    # Erasure: a reason, a confirmation that says what it does, then nothing is left.
    confirm = await click(bot, url, ADMIN, card, "privacy.erase", case_number="TK-2026-0001")
    assert FI("privacy.erase.title", case_number="TK-2026-0001") in texts(confirm)
    buttons = {x["title"]: x for x in executes(confirm)}
    assert buttons[FI("privacy.erase.confirm")]["style"] == "destructive"
    assert buttons[FI("privacy.erase.cancel")]["verb"] == "privacy.open"
    assert len(inputs(confirm)["reason"]["choices"]) == 4
    fresh = await click(bot, url, ADMIN, card, "privacy.export", case_number="TK-2026-0001")
    no_reason = await bot.invoke(
        a.execute(
            url, ADMIN, "privacy.erase.confirm", actions(confirm)["privacy.erase.confirm"]["data"]
        )
    )
    assert no_reason["type"] == MESSAGE and no_reason["value"] == FI("error.erasure_reason")
    erased = await click(
        bot, url, ADMIN, confirm, "privacy.erase.confirm", reason="data_subject_request"
    )
    assert "TK-2026-0001" in texts(erased)
    assert FI("privacy.erase.reason.data_subject_request") in texts(erased)
    assert await leftovers(bot, every_text("Kuusama")) == []
    assert await case_rows(bot, "TK-2026-0002") == other_before
    [record] = await audited(bot, "consultation.erased")
    assert record[:3] == (admin_id, "consultation", "1")
    assert record[3]["reason"] == "data_subject_request" and set(record[3]) == {"reason", "rows"}
    dump = repr(await everything(bot))
    assert "TK-2026-0001" not in dump, "not even the case number"
    # A link made before the erasure leads nowhere now.
    fresh_json = next(x["url"] for x in open_urls(fresh) if x["url"].endswith(".json"))
    assert (await download(bot, fresh_json)).status == 404
    again = await act(bot, url, ADMIN, "privacy.audit", case_number="TK-2026-0001")
    assert again["value"] == FI("error.case_number_unknown", case_number="TK-2026-0001")

    # In Swedish for an admin whose Teams is in Swedish.
    await bot.post(a.text(url, ADMIN, "admin", locale="sv-SE"))
    swedish = fake.sent[-1].activity["attachments"][0]["content"]
    assert SV("privacy.admin.title") in texts(swedish)


async def test_only_admins_export_or_erase_and_coordinators_see_their_own_teams_trails(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], database_url: str
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(database_url, clock=clock)
    await setup(bot, fake, url, ROSTER)
    await submitted(bot, fake, url, "Kataja")  # TK-2026-0001, waiting for triage
    fake.roster = [OTHER_COORDINATOR]
    await bot.post(a.team_installed(url, OTHER_COORDINATOR, OTHER_TEAM, "Työkykytiimi Etelä"))
    claim = actions(fake.cards(OTHER_TEAM)[-1])["role.claim"]
    await bot.invoke(a.execute(url, OTHER_COORDINATOR, "role.claim", claim["data"]))
    coordinator_id = await user_id(bot, COORDINATOR)

    # The help card lists both commands.
    help_card = (await command(bot, fake, url, REQUESTER, "apua"))["attachments"][0]["content"]
    assert FI("command.audit") in texts(help_card) and FI("command.admin") in texts(help_card)

    # The admin card is an admin's only.
    assert (await command(bot, fake, url, COORDINATOR, "ylläpito"))["text"] == FI(
        "error.admins_only"
    )

    # The team's coordinator sees the audit trail of the team's case.
    lookup = (await command(bot, fake, url, COORDINATOR, "loki"))["attachments"][0]["content"]
    assert set(inputs(lookup)) == {"case_number"}
    trail = await click(bot, url, COORDINATOR, lookup, "privacy.audit", case_number="TK-2026-0001")
    assert FI("audit.action.consultation.submitted") in texts(trail)
    assert "privacy.export" not in actions(trail) and "privacy.open" not in actions(trail)
    assert await audited(bot, "consultation.audit_trail_viewed") == [
        (coordinator_id, "consultation", "1", {"status": "submitted"})
    ]

    # Nobody else: not another team's coordinator, not a member, not the requester.
    other = await act(bot, url, OTHER_COORDINATOR, "privacy.audit", case_number="TK-2026-0001")
    assert other["value"] == FI("error.case_not_in_your_teams", case_number="TK-2026-0001")
    member = await act(bot, url, REQUESTER, "privacy.audit", case_number="TK-2026-0001")
    assert member["value"] == FI("error.audit_trail_refused")
    assert (await command(bot, fake, url, REQUESTER, "loki"))["text"] == FI(
        "error.audit_trail_refused"
    )

    # Export and erasure are refused to the coordinator, and recorded.
    before = await everything(bot)
    for verb, data in (
        ("privacy.export", {"case_number": "TK-2026-0001"}),
        ("privacy.erase", {"case_number": "TK-2026-0001"}),
        ("privacy.erase.confirm", {"case_id": 1, "reason": "data_subject_request"}),
    ):
        refused = await act(bot, url, COORDINATOR, verb, **data)
        assert refused["type"] == MESSAGE and refused["value"] == FI("error.admins_only"), verb
    refusals = [
        *await audited(bot, "consultation.export_refused"),
        *await audited(bot, "consultation.erase_refused"),
    ]
    assert refusals == [(coordinator_id, "consultation", "1", {})] * 3
    async with bot.components.engine.connect() as connection:
        still = (await connection.execute(select(consultations.c.case_number))).scalars().all()
    assert still == ["TK-2026-0001"]
    after = await everything(bot)
    assert {k: v for k, v in after.items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }
