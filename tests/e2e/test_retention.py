"""Retention (SPEC §5) through the real app, on SQLite and PostgreSQL, with the clock
moved (never slept): a finished case past its period keeps no text anywhere - not in any
table, not in the SQLite file - while every figure the reports count stays; a case inside
its period is untouched; the job run twice changes nothing more; idle drafts are
reminded of and then deleted; delivered messages, old bot state and old audit records
are pruned."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from bot.app import finnish_calendar
from bot.i18n import texts_for
from consultations import retention
from consultations.retention import run_retention
from storage.tables import (
    audit_events,
    bot_state,
    case_notes,
    case_transitions,
    consultations,
    feedback,
    meeting_summaries,
    metadata,
    outbox,
    poll_slots,
    poll_votes,
    polls,
    recommendation_events,
    recommendations,
)
from tests.conftest import BotFactory, RunningBot
from tests.e2e.cases import ROSTER, closed_case, declined_case, every_text, request_texts
from tests.e2e.test_intake import COORDINATOR, REQUESTER, SteppingClock, chat, click, setup
from tests.support import activities as a
from tests.support.cards import actions, inputs, texts
from tests.support.connector import LoopbackConnector

HELSINKI = ZoneInfo("Europe/Helsinki")
FI = texts_for("fi-FI")
MESSAGE = "application/vnd.microsoft.activity.message"
ADMIN = a.user(9, "Aino Ylläpitäjä")


def helsinki(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HELSINKI).astimezone(UTC)


async def everything(bot: RunningBot) -> dict[str, list[Any]]:
    """Every row of every table, as stored."""
    found: dict[str, list[Any]] = {}
    async with bot.components.engine.connect() as connection:
        for table in metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            found[table.name] = [tuple(r) for r in await connection.execute(query)]
    return found


def file_bytes(bot: RunningBot) -> bytes:
    """The SQLite database as it lies on disk, its write-ahead log included."""
    path = bot.settings.sqlite_path()
    assert path is not None
    return b"".join(
        Path(f"{path}{suffix}").read_bytes()
        for suffix in ("", "-wal")
        if Path(f"{path}{suffix}").exists()
    )


async def leftovers(bot: RunningBot, words: list[str]) -> list[str]:
    """The words still found in some table, or in the SQLite file."""
    dump = repr(await everything(bot))
    found = [w for w in words if w in dump]
    if bot.settings.sqlite_path() is not None:
        raw = file_bytes(bot)
        found += [f"file:{w}" for w in words if w.encode() in raw]
    return found


async def figures(bot: RunningBot) -> dict[str, Any]:
    """What the reports count: statuses, dates, teams, categories, the plan's statuses and
    owner types, outcomes and ratings - everything but the texts."""
    async with bot.components.engine.connect() as connection:

        async def rows(query: Any) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in await connection.execute(query)]

        cases = await rows(
            select(
                consultations.c.id,
                consultations.c.case_number,
                consultations.c.team_id,
                consultations.c.status,
                consultations.c.created_at,
                consultations.c.submitted_at,
                consultations.c.outcome,
                consultations.c.decline_route,
                consultations.c.requester_id,
                consultations.c.details,
            ).order_by(consultations.c.id)
        )
        kept = ("team_id", "consent", "services", "barriers", "professions")
        categories = [
            (*row[:-1], {k: row[-1][k] for k in (*kept, "urgency", "client_attends")})
            for row in cases
        ]
        plans = await rows(
            select(meeting_summaries.c.id, meeting_summaries.c.recommendations).order_by(
                meeting_summaries.c.id
            )
        )
        return {
            "cases": categories,
            "transitions": await rows(select(case_transitions).order_by(case_transitions.c.id)),
            "notes": await rows(
                select(case_notes.c.id, case_notes.c.kind, case_notes.c.at).order_by(
                    case_notes.c.id
                )
            ),
            "recommendations": await rows(
                select(
                    recommendations.c.id,
                    recommendations.c.status,
                    recommendations.c.owner_user_id,
                    recommendations.c.owner_party,
                    recommendations.c.due,
                ).order_by(recommendations.c.id)
            ),
            "events": await rows(
                select(
                    recommendation_events.c.recommendation_id,
                    recommendation_events.c.from_status,
                    recommendation_events.c.to_status,
                    recommendation_events.c.at,
                    recommendation_events.c.due,
                ).order_by(recommendation_events.c.id)
            ),
            "plans": [
                (i, [(p["owner"], p["due"], p["recommendation_id"]) for p in plan])
                for i, plan in plans
            ],
            "ratings": await rows(
                select(feedback.c.consultation_id, feedback.c.rating, feedback.c.at)
            ),
            "polls": await rows(select(polls.c.id, polls.c.state, polls.c.chosen_slot_id)),
            "slots": await rows(select(poll_slots)),
            "votes": await rows(select(poll_votes)),
        }


async def case_rows(bot: RunningBot, case_number: str) -> dict[str, list[Any]]:
    """Every row that belongs to one case (its own table and the ones pointing at it)."""
    async with bot.components.engine.connect() as connection:
        case_id = (
            await connection.execute(
                select(consultations.c.id).where(consultations.c.case_number == case_number)
            )
        ).scalar_one()
        found = {
            "case": list(
                await connection.execute(select(consultations).where(consultations.c.id == case_id))
            )
        }
        for table in metadata.sorted_tables:
            if "consultation_id" in table.c:
                found[table.name] = list(
                    await connection.execute(
                        select(table).where(table.c.consultation_id == case_id)
                    )
                )
    return found


async def test_a_finished_case_past_its_period_keeps_no_text_and_the_figures_stay(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], database_url: str
) -> None:
    """On SQLite and on PostgreSQL."""
    fake, url = connector
    clock = SteppingClock()  # Monday 23.11.2026
    bot = await make_bot(database_url, clock=clock)
    await setup(bot, fake, url, ROSTER)
    await declined_case(bot, fake, url, "Katajisto")  # TK-2026-0001, declined 23.11.2026
    await closed_case(bot, fake, url, clock, "Kuusama")  # TK-2026-0002, closed 10.12.2026
    clock.current = helsinki(2027, 3, 1)
    await declined_case(bot, fake, url, "Pihlaja")  # TK-2027-0001, declined 1.3.2027
    expired = [*every_text("Kuusama"), *request_texts("Katajisto").values()]
    expired.append("Katajisto: ohjataan työterveyshuoltoon")
    assert await leftovers(bot, ["Kuusama", "Katajisto"]) == ["Kuusama", "Katajisto"] + (
        ["file:Kuusama", "file:Katajisto"] if bot.settings.sqlite_path() else []
    ), "the texts are there before the job: the test can fail"
    before = await figures(bot)
    young_before = await case_rows(bot, "TK-2027-0001")

    # 24 months after the first two ended, before the third's: the first two go.
    clock.current = helsinki(2029, 1, 15, 2, 30)
    report = await run_retention(bot.components.uow_factory, clock.now())
    assert (report.anonymised, report.skipped) == (2, False)
    assert await leftovers(bot, ["Kuusama", "Katajisto", *expired]) == []
    assert await figures(bot) == before
    assert await case_rows(bot, "TK-2027-0001") == young_before
    assert "Pihlaja" in repr(await everything(bot))

    # One audit record per case, ids and codes only; the cases are marked.
    async with bot.components.engine.connect() as connection:
        records = list(
            await connection.execute(
                select(audit_events.c.subject_id, audit_events.c.details)
                .where(audit_events.c.action == retention.ANONYMISED)
                .order_by(audit_events.c.subject_id)
            )
        )
        marked = list(
            await connection.execute(
                select(consultations.c.case_number, consultations.c.anonymised_at).order_by(
                    consultations.c.id
                )
            )
        )
    assert [d for _s, d in records] == [
        {"status": "declined", "months": 24},
        {"status": "closed", "months": 24},
    ]
    assert [(n, m is not None) for n, m in marked] == [
        ("TK-2026-0001", True),
        ("TK-2026-0002", True),
        ("TK-2027-0001", False),
    ]

    # The coordinator's views of the anonymised case still work, without the texts.
    await bot.post(a.text(url, REQUESTER, "omat"))
    mine = fake.cards(chat(REQUESTER))[-1]
    assert "TK-2026-0002" in texts(mine) and "Kuusama" not in texts(mine)

    # Run again: nothing more changes.
    snapshot = await everything(bot)
    again = await run_retention(bot.components.uow_factory, clock.now())
    assert not again.changed() and not again.skipped
    assert await everything(bot) == snapshot


async def test_a_team_may_keep_its_cases_for_a_shorter_time_than_the_county(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], database_url: str
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(database_url, clock=clock, admins=frozenset({ADMIN["aadObjectId"]}))
    await setup(bot, fake, url, [*ROSTER, ADMIN])
    await declined_case(bot, fake, url, "Haapala")  # declined Monday 23.11.2026

    # The coordinator's settings card offers at most the county's 24 months.
    await bot.post(a.text(url, COORDINATOR, "asetukset"))
    card = fake.cards(chat(COORDINATOR))[-1]
    field = inputs(card)["retention_months"]
    assert field["max"] == 24 and "value" not in field
    assert FI("settings.retention.hint", months=24) in texts(card)
    data = actions(card)["team.settings.save"]["data"]
    longer = await bot.invoke(
        a.execute(url, COORDINATOR, "team.settings.save", {**data, "retention_months": "36"})
    )
    assert longer["type"] == MESSAGE and longer["value"] == FI("error.team_retention", limit=24)
    saved = await click(bot, url, COORDINATOR, card, "team.settings.save", retention_months="6")
    assert FI("settings.saved") in texts(saved)
    assert inputs(saved)["retention_months"]["value"] == 6

    # Six months after the case ended it is still there; the day after, it is not.
    clock.current = helsinki(2027, 5, 23, 2, 30)
    assert (await run_retention(bot.components.uow_factory, clock.now())).anonymised == 0
    clock.current = helsinki(2027, 5, 24, 2, 30)
    assert (await run_retention(bot.components.uow_factory, clock.now())).anonymised == 1
    assert await leftovers(bot, ["Haapala"]) == []

    # The admin shortens the county's period below the team's: the shorter one rules.
    await bot.post(a.text(url, ADMIN, "ylläpito"))
    admin_card = fake.cards(chat(ADMIN))[-1]
    assert inputs(admin_card)["case_months"]["value"] == 24
    saved = await click(
        bot, url, ADMIN, admin_card, "privacy.retention.save", case_months="3", audit_years="5"
    )
    assert FI("privacy.retention.saved") in texts(saved)
    await declined_case(bot, fake, url, "Vaahtera")  # declined 24.5.2027
    clock.current = helsinki(2027, 8, 25, 2, 30)
    assert (await run_retention(bot.components.uow_factory, clock.now())).anonymised == 1
    # An audit trail kept for less time than the texts is refused.
    refused = await bot.invoke(
        a.execute(
            url,
            ADMIN,
            "privacy.retention.save",
            {"verb": "privacy.retention.save", "case_months": "60", "audit_years": "2"},
        )
    )
    assert refused["value"] == FI("error.retention_audit_shorter")


async def test_two_instances_running_the_job_at_once_do_it_once(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], pg_url: str
) -> None:
    """PostgreSQL: several instances share one database and each schedules the job."""
    fake, url = connector
    clock = SteppingClock()
    first = await make_bot(pg_url, clock=clock)
    second = await make_bot(pg_url, clock=clock)
    await setup(first, fake, url, ROSTER)
    for marker in ("Koivu", "Leppä", "Tammi"):
        await declined_case(first, fake, url, marker)
    clock.current = helsinki(2029, 1, 15, 2, 30)
    reports = await asyncio.gather(
        run_retention(first.components.uow_factory, clock.now()),
        run_retention(second.components.uow_factory, clock.now()),
    )
    assert sum(r.anonymised for r in reports) == 3
    async with first.components.engine.connect() as connection:
        subjects = list(
            (
                await connection.execute(
                    select(audit_events.c.subject_id).where(
                        audit_events.c.action == retention.ANONYMISED
                    )
                )
            ).scalars()
        )
    assert len(subjects) == 3 and len(set(subjects)) == 3
    assert await leftovers(first, ["Koivu", "Leppä", "Tammi"]) == []


async def test_an_idle_draft_is_reminded_of_a_week_before_it_is_deleted(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], database_url: str
) -> None:
    fake, url = connector
    clock = SteppingClock()  # Monday 23.11.2026 10:00
    bot = await make_bot(database_url, clock=clock)
    await setup(bot, fake, url, ROSTER)
    dispatcher = bot.components.dispatcher
    uows = bot.components.uow_factory

    async def draft(reference: str) -> dict[str, Any]:
        await bot.post(a.text(url, REQUESTER, "uusi"))
        page = fake.cards(chat(REQUESTER))[-1]
        return await click(bot, url, REQUESTER, page, "request.save", client_reference=reference)

    await draft("Mänty-61")
    await draft("Kuusi-62")
    # A draft thrown away is gone at the next run, without a reminder.
    saved = await draft("Koivu-63")
    thrown = await click(bot, url, REQUESTER, saved, "request.resume")
    confirm = await click(bot, url, REQUESTER, thrown, "request.cancel")
    await click(bot, url, REQUESTER, confirm, "request.discard")

    clock.current += timedelta(days=22, hours=20)
    report = await run_retention(uows, clock.now())
    assert (report.drafts_reminded, report.drafts_deleted) == (0, 1)

    # Three weeks and two days untouched: one reminder each, saying when and why.
    clock.current += timedelta(hours=5)
    report = await run_retention(uows, clock.now())
    assert report.drafts_reminded == 2
    assert (await run_retention(uows, clock.now())).drafts_reminded == 0, "only once"
    await dispatcher.tick()
    reminders = [c for c in fake.cards(chat(REQUESTER)) if "request.resume" in str(c)][-2:]
    deletion_day = FI.date((clock.now() + timedelta(days=7)).astimezone(HELSINKI).date())
    for reminder in reminders:
        assert FI("draft.expiring.title", date=deletion_day) in texts(reminder)
        assert FI("draft.expiring.why", days=7) in texts(reminder)
        assert {"request.resume", "request.cancel"} <= set(actions(reminder))
    kuusi = next(c for c in reminders if "Kuusi-62" in texts(c))

    # The requester goes on with one of them the next day.
    clock.current += timedelta(days=1)
    resumed = await click(bot, url, REQUESTER, kuusi, "request.resume")
    assert inputs(resumed)["client_reference"]["value"] == "Kuusi-62"

    # A month after the last touch, a week after the reminder: the other one goes.
    clock.current += timedelta(days=6, minutes=1)
    report = await run_retention(uows, clock.now())
    assert (report.drafts_deleted, report.drafts_reminded) == (1, 0)
    assert await leftovers(bot, ["Mänty-61"]) == []
    await bot.post(a.text(url, REQUESTER, "luonnokset"))
    drafts = fake.cards(chat(REQUESTER))[-1]
    assert "Kuusi-62" in texts(drafts) and "Mänty-61" not in texts(drafts)
    async with bot.components.engine.connect() as connection:
        expired = list(
            await connection.execute(
                select(audit_events.c.actor_user_id, audit_events.c.details).where(
                    audit_events.c.action == retention.DRAFT_EXPIRED
                )
            )
        )
    assert [tuple(r) for r in expired] == [(None, {}), (None, {})]


async def test_delivered_messages_old_state_and_old_audit_records_are_pruned(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], database_url: str
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(database_url, clock=clock)
    await setup(bot, fake, url, ROSTER)
    now = helsinki(2027, 1, 15, 2, 30)
    old, recent = now - timedelta(days=91), now - timedelta(days=89)
    base = {"kind": "text", "recipient_type": "user", "recipient_id": "1", "payload": {}}
    rows = [
        ("sent-old", "sent", old, old),
        ("sent-recent", "sent", recent, recent),
        ("dead-old", "dead", old, None),
        ("cancelled-old", "cancelled", old, None),
        ("pending-old", "pending", old, None),
    ]
    async with bot.components.engine.begin() as connection:
        await connection.execute(
            insert(outbox),
            [
                {**base, "idempotency_key": key, "status": status, "due_at": at_}
                | {"created_at": at_, "sent_at": sent, "attempts": 1}
                for key, status, at_, sent in rows
            ],
        )
        await connection.execute(
            insert(bot_state),
            [
                {"key": key, "document": "{}", "etag": "e", "updated_at": at_}
                for key, at_ in (
                    ("conversation/old", old),
                    ("conversation/recent", recent),
                    ("secret:old-key", old),
                )
            ],
        )
        await connection.execute(
            insert(audit_events),
            [
                {
                    "at": at_,
                    "action": "test.event",
                    "subject_type": "user",
                    "subject_id": key,
                    "details": {},
                }
                for key, at_ in (
                    ("older", now - timedelta(days=5 * 366)),
                    ("newer", now - timedelta(days=5 * 365 - 2)),
                )
            ],
        )
    clock.current = now
    report = await run_retention(bot.components.uow_factory, now)
    assert (report.outbox_pruned, report.documents_pruned, report.audit_pruned) == (3, 1, 1)
    async with bot.components.engine.connect() as connection:
        keys = set((await connection.execute(select(outbox.c.idempotency_key))).scalars())
        state = set((await connection.execute(select(bot_state.c.key))).scalars())
        audit = set(
            (
                await connection.execute(
                    select(audit_events.c.subject_id).where(audit_events.c.action == "test.event")
                )
            ).scalars()
        )
    assert {"sent-recent", "pending-old"} <= keys
    assert not {"sent-old", "dead-old", "cancelled-old"} & keys
    assert {"conversation/recent", "secret:old-key"} <= state
    assert "conversation/old" not in state
    assert audit == {"newer"}
    # What the job did is recorded once, in numbers.
    async with bot.components.engine.connect() as connection:
        runs = list(
            (
                await connection.execute(
                    select(audit_events.c.details).where(audit_events.c.action == retention.RUN)
                )
            ).scalars()
        )
    assert runs == [
        {
            "anonymised": 0,
            "late_texts_wiped": 0,
            "drafts_reminded": 0,
            "drafts_deleted": 0,
            "outbox_pruned": 3,
            "documents_pruned": 1,
            "audit_pruned": 1,
        }
    ]


async def test_text_written_to_an_anonymised_case_later_is_wiped_too_and_admins_hear_of_it(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock, admins=frozenset({ADMIN["aadObjectId"]}))
    await setup(bot, fake, url, [*ROSTER, ADMIN])
    await bot.post(a.text(url, ADMIN, "apua"))
    await declined_case(bot, fake, url, "Raita")
    clock.current = helsinki(2029, 1, 15, 2, 30)
    assert (await run_retention(bot.components.uow_factory, clock.now())).anonymised == 1

    # A late comment lands on the anonymised case (a stale card answered, say).
    async with bot.components.engine.begin() as connection:
        await connection.execute(
            update(consultations).values(decline_reason="Raita: myöhäinen teksti")
        )
    report = await run_retention(bot.components.uow_factory, clock.now())
    assert report.late_texts_wiped == 1
    assert await leftovers(bot, ["Raita"]) == []

    # Monday: the admin, who coordinates no team, gets the county's privacy digest.
    clock.current = helsinki(2029, 1, 15, 8, 0)
    queued = await retention.queue_admin_digest(
        bot.components.uow_factory(), clock.now(), finnish_calendar(), {ADMIN["aadObjectId"]}
    )
    assert queued == 1
    await bot.components.dispatcher.tick()
    digest = fake.cards(chat(ADMIN))[-1]
    assert FI("digest.privacy.title", week="2029-W03") in texts(digest)
    shown = texts(digest).splitlines()
    assert FI("digest.privacy.anonymised") in shown and "1" in shown
    assert FI("digest.privacy.late_texts_wiped") in shown
    assert FI("digest.privacy.policy", months=24, years=5) in texts(digest)
    assert "privacy.open" in actions(digest)
