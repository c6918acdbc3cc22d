"""Users as the bot knows them: who they are, their language, whether Teams still reaches them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from consultations.model import (
    Profession,
    User,
    UserRef,
)
from storage.tables import (
    users,
)


def user_from_row(row: RowMapping | Mapping[str, Any]) -> User:
    return User(
        id=row["id"],
        teams_user_id=row["teams_user_id"],
        aad_object_id=row["aad_object_id"],
        name=row["name"],
        locale=row["locale"],
        profession=Profession(row["profession"]) if row["profession"] else None,
        tenant_id=row["tenant_id"],
        service_url=row["service_url"],
        personal_conversation_id=row["personal_conversation_id"],
        unreachable_since=row["unreachable_since"],
        bot_id=row["bot_id"],
        language=row["language"],
    )


class SqlAlchemyUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def upsert(self, ref: UserRef, now: datetime) -> User:
        existing = (
            (await self._s.execute(select(users).where(users.c.teams_user_id == ref.teams_user_id)))
            .mappings()
            .first()
        )
        values: dict[str, Any] = {"updated_at": now}
        # Keep what we knew when Teams leaves a field out (rosters carry no locale).
        for column, value in (
            ("aad_object_id", (ref.aad_object_id or "").lower() or None),
            ("name", ref.name),
            ("locale", ref.locale),
            ("tenant_id", ref.tenant_id),
            ("service_url", ref.service_url),
            ("bot_id", ref.bot_id),
        ):
            if value:
                values[column] = value
        if existing is None:
            inserted = await self._s.execute(
                insert(users)
                .returning(users.c.id)
                .values(
                    teams_user_id=ref.teams_user_id,
                    created_at=now,
                    **{
                        "name": "",
                        "locale": "",
                        "tenant_id": "",
                        "service_url": "",
                        "bot_id": "",
                        **values,
                    },
                )
            )
            user_id = inserted.scalar_one()
        else:
            changed = {k: v for k, v in values.items() if k != "updated_at" and existing[k] != v}
            # Most turns come from someone the bot knows as they are: write nothing then.
            if changed:
                await self._s.execute(
                    update(users).where(users.c.id == existing["id"]).values(**values)
                )
            return user_from_row({**existing, **changed})
        user = await self.get(int(user_id))
        assert user is not None
        return user

    async def get(self, user_id: int) -> User | None:
        row = (await self._s.execute(select(users).where(users.c.id == user_id))).mappings().first()
        return user_from_row(row) if row else None

    async def get_many(self, user_ids: Sequence[int]) -> dict[int, User]:
        rows = (
            await self._s.execute(select(users).where(users.c.id.in_(list(user_ids))))
        ).mappings()
        return {row["id"]: user_from_row(row) for row in rows}

    async def by_teams_id(self, teams_user_id: str) -> User | None:
        row = (
            (await self._s.execute(select(users).where(users.c.teams_user_id == teams_user_id)))
            .mappings()
            .first()
        )
        return user_from_row(row) if row else None

    async def changed_since(self, since: datetime) -> list[User]:
        rows = (await self._s.execute(select(users).where(users.c.updated_at > since))).mappings()
        return [user_from_row(row) for row in rows]

    async def set_personal_conversation(
        self, user_id: int, conversation_id: str, now: datetime
    ) -> None:
        await self._s.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                personal_conversation_id=conversation_id, unreachable_since=None, updated_at=now
            )
        )

    async def set_language(self, user_id: int, language: str | None, now: datetime) -> None:
        await self._s.execute(
            update(users).where(users.c.id == user_id).values(language=language, updated_at=now)
        )

    async def set_profession(self, user_id: int, profession: Profession, now: datetime) -> None:
        await self._s.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(profession=profession.value, updated_at=now)
        )

    async def mark_unreachable(self, user_id: int, now: datetime) -> bool:
        result = await self._s.execute(
            update(users)
            .where(users.c.id == user_id, users.c.unreachable_since.is_(None))
            .values(unreachable_since=now, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def clear_unreachable(self, user_id: int, now: datetime) -> None:
        await self._s.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(unreachable_since=None, updated_at=now)
        )
