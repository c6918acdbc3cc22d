"""Storage against real SQLite and real PostgreSQL: schema, documents, registry, outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from consultations import services
from consultations.errors import DomainError, NotAuthorised
from consultations.model import (
    OutgoingMessage,
    RecipientType,
    Role,
    TeamInstallation,
    User,
    UserRef,
)
from storage.db import create_engine, session_factory
from storage.documents import ETagConflict, SqlAlchemyDocumentStore
from storage.migrate import alembic_config, current_revision, upgrade
from storage.tables import audit_events, channels, metadata, outbox, role_grants, team_members
from storage.uow import SqlAlchemyUnitOfWork

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
TENANT = "11111111-2222-3333-4444-555555555555"
ADMIN_AAD = "aaaaaaaa-0000-0000-0000-000000000001"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


def ref(n: int, **fields: Any) -> UserRef:
    values: dict[str, Any] = {
        "teams_user_id": f"29:user-{n}",
        "aad_object_id": f"00000000-0000-0000-0000-{n:012d}",
        "name": f"User {n}",
        "locale": "fi-FI",
        "tenant_id": TENANT,
        "service_url": "https://smba.example/emea/",
        "bot_id": "28:bot",
    }
    values.update(fields)
    return UserRef(**values)


def installation(roster: tuple[UserRef, ...], **fields: Any) -> TeamInstallation:
    values: dict[str, Any] = {
        "teams_team_id": "19:team@thread.tacv2",
        "name": "Työkykytiimi Pohjoinen",
        "tenant_id": TENANT,
        "service_url": "https://smba.example/emea/",
        "general_channel_id": "19:team@thread.tacv2",
        "channels": (("19:team@thread.tacv2", "General"), ("19:cases@thread.tacv2", "Cases")),
        "roster": roster,
    }
    values.update(fields)
    return TeamInstallation(**values)


async def count(sessions: async_sessionmaker[AsyncSession], query: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(query) or 0)


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """What an operator could see changing: grants, audit trail, outbox."""
    async with sessions() as session:
        grants = sorted(
            tuple(r)
            for r in await session.execute(select(role_grants.c.user_id, role_grants.c.role))
        )
        audits = await session.scalar(select(func.count()).select_from(audit_events))
        queued = await session.scalar(select(func.count()).select_from(outbox))
    return {"grants": grants, "audits": audits, "outbox": queued}


# --- schema -----------------------------------------------------------------------------


async def test_migrations_create_every_table_and_running_them_again_changes_nothing(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        first = await current_revision(engine)
        await upgrade(engine)
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert await current_revision(engine) == first == head
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            # The migrations build exactly the schema the code declares.
            drift = await connection.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
        assert drift == []
        assert set(metadata.tables) <= names
    finally:
        await engine.dispose()


# --- documents with e-tags ----------------------------------------------------------------


async def test_a_write_with_a_stale_etag_is_refused_and_the_document_stays_as_it_was(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlAlchemyDocumentStore(sessions)
    first = (await store.write({"conv/1": ('{"v":1}', None)}, NOW))["conv/1"]
    second = (await store.write({"conv/1": ('{"v":2}', first)}, NOW))["conv/1"]
    assert second != first

    with pytest.raises(ETagConflict) as refused:
        await store.write({"conv/1": ('{"v":"stale"}', first)}, NOW)

    assert refused.value.key == "conv/1"
    assert await store.read(["conv/1"]) == {"conv/1": ('{"v":2}', second)}


async def test_when_two_turns_create_the_same_document_only_one_wins(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlAlchemyDocumentStore(sessions)
    results = await asyncio.gather(
        store.write({"conv/new": ('"a"', None)}, NOW),
        store.write({"conv/new": ('"b"', None)}, NOW),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, ETagConflict)]
    assert len(winners) == 1 and len(losers) == 1, results
    document, etag = (await store.read(["conv/new"]))["conv/new"]
    assert etag == winners[0]["conv/new"]
    assert document in ('"a"', '"b"')


async def test_a_star_etag_overwrites_whatever_is_stored_or_creates_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlAlchemyDocumentStore(sessions)
    await store.write({"conv/1": ('"old"', None)}, NOW)
    await store.write({"conv/1": ('"forced"', "*"), "conv/2": ('"fresh"', "*")}, NOW)
    found = await store.read(["conv/1", "conv/2", "conv/missing"])
    assert {k: v[0] for k, v in found.items()} == {"conv/1": '"forced"', "conv/2": '"fresh"'}


async def test_a_failed_write_of_several_documents_writes_none_of_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlAlchemyDocumentStore(sessions)
    etag = (await store.write({"a": ('"a1"', None)}, NOW))["a"]
    await store.write({"a": ('"a2"', etag)}, NOW)
    with pytest.raises(ETagConflict):
        await store.write({"b": ('"b1"', None), "a": ('"a3"', etag)}, NOW)
    found = await store.read(["a", "b"])
    assert {k: v[0] for k, v in found.items()} == {"a": '"a2"'}


# --- users and teams ------------------------------------------------------------------------


async def test_a_user_keeps_what_teams_left_out_of_a_later_activity(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await services.record_user(
        SqlAlchemyUnitOfWork(sessions), ref(1, locale="sv-SE"), NOW, "a:personal-1"
    )
    # A roster entry: no locale, no AAD id, no bot id, a new display name.
    again = await services.record_user(
        SqlAlchemyUnitOfWork(sessions),
        ref(1, locale="", aad_object_id=None, bot_id="", name="User One"),
        NOW + timedelta(hours=1),
    )
    assert again.id == first.id
    assert again.name == "User One"
    assert again.locale == "sv-SE"
    assert again.aad_object_id == "00000000-0000-0000-0000-000000000001"
    assert again.bot_id == "28:bot"
    assert again.personal_conversation_id == "a:personal-1"


async def test_installing_into_a_team_records_its_channels_and_roster(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    team, installer, offer = await services.record_team_installation(
        SqlAlchemyUnitOfWork(sessions), installation((ref(2), ref(3))), ref(1), NOW
    )
    assert offer is True
    assert installer is not None
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        names = [m.name for m in await uow.teams.members(team.id)]
        assert await uow.teams.installer_id(team.id) == installer.id
    assert names == ["User 1", "User 2", "User 3"]
    async with sessions() as session:
        found = set(
            await session.execute(
                select(channels.c.channel_id, channels.c.name).where(channels.c.team_id == team.id)
            )
        )
    assert found == {("19:team@thread.tacv2", "General"), ("19:cases@thread.tacv2", "Cases")}


async def test_members_who_left_the_teams_team_become_inactive_and_can_come_back(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    team, _, _ = await services.record_team_installation(
        SqlAlchemyUnitOfWork(sessions), installation((ref(1), ref(2), ref(3))), None, NOW
    )
    await services.record_team_installation(
        SqlAlchemyUnitOfWork(sessions),
        installation((ref(1), ref(3)), channels=(("19:team@thread.tacv2", "General"),)),
        None,
        NOW,
    )
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        assert [m.name for m in await uow.teams.members(team.id)] == ["User 1", "User 3"]
        user2 = await uow.users.by_teams_id("29:user-2")
        assert user2 is not None
        assert not await uow.teams.is_member(team.id, user2.id)
        assert await uow.teams.teams_of(user2.id) == []
    assert await count(sessions, select(func.count()).where(channels.c.team_id == team.id)) == 1
    assert await count(sessions, select(func.count()).where(team_members.c.team_id == team.id)) == 3

    await services.record_team_installation(
        SqlAlchemyUnitOfWork(sessions), installation((ref(1), ref(2), ref(3))), None, NOW
    )
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        assert len(await uow.teams.members(team.id)) == 3


# --- roles ------------------------------------------------------------------------------


async def installed_team(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[int, User, User, User]:
    """A team installed by user 1 with members 2 and 3; nobody is coordinator yet."""
    team, installer, _ = await services.record_team_installation(
        SqlAlchemyUnitOfWork(sessions), installation((ref(2), ref(3))), ref(1), NOW
    )
    assert installer is not None
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        two = await uow.users.by_teams_id("29:user-2")
        three = await uow.users.by_teams_id("29:user-3")
    assert two is not None and three is not None
    return team.id, installer, two, three


async def test_the_installer_claims_the_coordinator_role_and_it_is_audited(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    team_id, installer, two, _ = await installed_team(sessions)

    with pytest.raises(NotAuthorised):
        await services.claim_coordinator(
            SqlAlchemyUnitOfWork(sessions), two.id, team_id, frozenset(), NOW
        )
    await services.claim_coordinator(
        SqlAlchemyUnitOfWork(sessions), installer.id, team_id, frozenset(), NOW
    )
    # Claiming again is harmless.
    await services.claim_coordinator(
        SqlAlchemyUnitOfWork(sessions), installer.id, team_id, frozenset(), NOW
    )

    async with SqlAlchemyUnitOfWork(sessions) as uow:
        assert [u.id for u in await uow.teams.holders(team_id, Role.COORDINATOR)] == [installer.id]
    async with sessions() as session:
        events = list(
            await session.execute(
                select(
                    audit_events.c.action,
                    audit_events.c.actor_user_id,
                    audit_events.c.subject_id,
                    audit_events.c.details,
                ).where(audit_events.c.action.like("role.%"))
            )
        )
    assert events == [("role.granted", installer.id, str(installer.id), {"role": "coordinator"})]


async def test_a_coordinator_grants_a_role_and_the_member_is_told(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    team_id, installer, two, _ = await installed_team(sessions)
    await services.claim_coordinator(
        SqlAlchemyUnitOfWork(sessions), installer.id, team_id, frozenset(), NOW
    )

    changed = await services.grant_role(
        SqlAlchemyUnitOfWork(sessions),
        installer.id,
        team_id,
        two.id,
        Role.COORDINATOR,
        frozenset(),
        NOW,
    )
    again = await services.grant_role(
        SqlAlchemyUnitOfWork(sessions),
        installer.id,
        team_id,
        two.id,
        Role.COORDINATOR,
        frozenset(),
        NOW,
    )

    assert (changed, again) == (True, False)
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        assert await uow.teams.roles_of(team_id, two.id) == {Role.COORDINATOR}
    async with sessions() as session:
        queued = list(
            await session.execute(
                select(outbox.c.kind, outbox.c.recipient_id, outbox.c.status, outbox.c.payload)
            )
        )
        granted = await session.scalar(
            select(func.count()).where(
                audit_events.c.action == "role.granted", audit_events.c.subject_id == str(two.id)
            )
        )
    assert queued == [
        ("role.granted", str(two.id), "pending", {"role": "coordinator", "team_id": team_id})
    ]
    assert granted == 1


async def test_a_member_who_is_not_coordinator_cannot_grant_roles_and_nothing_changes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    team_id, installer, two, three = await installed_team(sessions)
    await services.claim_coordinator(
        SqlAlchemyUnitOfWork(sessions), installer.id, team_id, frozenset(), NOW
    )
    before = await snapshot(sessions)

    with pytest.raises(NotAuthorised):
        await services.grant_role(
            SqlAlchemyUnitOfWork(sessions),
            two.id,
            team_id,
            three.id,
            Role.COORDINATOR,
            frozenset(),
            NOW,
        )
    with pytest.raises(NotAuthorised):
        await services.revoke_role(
            SqlAlchemyUnitOfWork(sessions),
            two.id,
            team_id,
            installer.id,
            Role.COORDINATOR,
            frozenset(),
            NOW,
        )
    assert await snapshot(sessions) == before


async def test_the_last_coordinator_cannot_be_removed_except_by_an_admin(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    team_id, installer, _, _ = await installed_team(sessions)
    await services.claim_coordinator(
        SqlAlchemyUnitOfWork(sessions), installer.id, team_id, frozenset(), NOW
    )
    before = await snapshot(sessions)

    with pytest.raises(DomainError) as refused:
        await services.revoke_role(
            SqlAlchemyUnitOfWork(sessions),
            installer.id,
            team_id,
            installer.id,
            Role.COORDINATOR,
            frozenset(),
            NOW,
        )
    assert refused.value.code == "error.last_coordinator"
    assert await snapshot(sessions) == before

    # A tenant admin (by AAD object id) may leave the team without a coordinator.
    admin = await services.record_user(
        SqlAlchemyUnitOfWork(sessions), ref(9, aad_object_id=ADMIN_AAD.upper()), NOW
    )
    removed = await services.revoke_role(
        SqlAlchemyUnitOfWork(sessions),
        admin.id,
        team_id,
        installer.id,
        Role.COORDINATOR,
        frozenset({ADMIN_AAD}),
        NOW,
    )
    assert removed is True
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        assert await uow.teams.holders(team_id, Role.COORDINATOR) == []
    async with sessions() as session:
        revoked = list(
            await session.execute(
                select(audit_events.c.actor_user_id, audit_events.c.subject_id).where(
                    audit_events.c.action == "role.revoked"
                )
            )
        )
    assert revoked == [(admin.id, str(installer.id))]


async def test_one_of_two_coordinators_can_step_down(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    team_id, installer, two, _ = await installed_team(sessions)
    await services.claim_coordinator(
        SqlAlchemyUnitOfWork(sessions), installer.id, team_id, frozenset(), NOW
    )
    await services.grant_role(
        SqlAlchemyUnitOfWork(sessions),
        installer.id,
        team_id,
        two.id,
        Role.COORDINATOR,
        frozenset(),
        NOW,
    )
    assert await services.revoke_role(
        SqlAlchemyUnitOfWork(sessions),
        installer.id,
        team_id,
        installer.id,
        Role.COORDINATOR,
        frozenset(),
        NOW,
    )
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        assert [u.id for u in await uow.teams.holders(team_id, Role.COORDINATOR)] == [two.id]


# --- outbox -----------------------------------------------------------------------------


def message(key: str, subject: str = "", recipient: str = "1") -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        kind="text",
        recipient_type=RecipientType.USER,
        recipient_id=recipient,
        due_at=NOW,
        payload={"message_id": "help.title"},
        subject=subject,
    )


async def test_queueing_the_same_message_twice_queues_it_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        assert await uow.outbox.add(message("nudge:1"), NOW) is True
        assert await uow.outbox.add(message("nudge:1"), NOW) is False
        await uow.commit()
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        assert await uow.outbox.add(message("nudge:1"), NOW) is False
        await uow.commit()
    assert await count(sessions, select(func.count()).select_from(outbox)) == 1


async def test_two_instances_queueing_one_key_at_once_make_one_row_and_no_error(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def queue(delay_before: float, delay_after: float) -> bool:
        await asyncio.sleep(delay_before)
        async with SqlAlchemyUnitOfWork(sessions) as uow:
            added = await uow.outbox.add(message("digest:1:2026-W48"), NOW)
            await asyncio.sleep(delay_after)
            await uow.commit()
            return added

    # The second insert starts while the first is still uncommitted: on PostgreSQL it
    # waits on the unique key and then does nothing; on SQLite the writers take turns.
    results = await asyncio.gather(queue(0, 0.3), queue(0.1, 0))
    assert sorted(results) == [False, True]
    assert await count(sessions, select(func.count()).select_from(outbox)) == 1


async def test_an_uncommitted_message_is_never_queued(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        await uow.outbox.add(message("nudge:1"), NOW)
    assert await count(sessions, select(func.count()).select_from(outbox)) == 0


async def test_cancelling_a_subject_cancels_only_its_pending_messages(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        for key, subject in (
            ("p1:a", "poll:1"),
            ("p1:b", "poll:1"),
            ("p1:sent", "poll:1"),
            ("p2:a", "poll:2"),
        ):
            await uow.outbox.add(message(key, subject), NOW)
        await uow.commit()
    async with sessions() as session, session.begin():
        await session.execute(
            outbox.update().where(outbox.c.idempotency_key == "p1:sent").values(status="sent")
        )

    async with SqlAlchemyUnitOfWork(sessions) as uow:
        assert await uow.outbox.cancel_subject("poll:1") == 2
        await uow.commit()

    async with sessions() as session:
        rows = await session.execute(select(outbox.c.idempotency_key, outbox.c.status))
        statuses = {key: status for key, status in rows}
    assert statuses == {
        "p1:a": "cancelled",
        "p1:b": "cancelled",
        "p1:sent": "sent",
        "p2:a": "pending",
    }
