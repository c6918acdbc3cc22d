"""Teams: installations, settings, rosters, roles and the coordinators who run them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, case, delete, exists, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from consultations.lists import Page
from consultations.model import (
    Role,
    Team,
    TeamInstallation,
    TeamSettings,
    User,
)
from storage.paging import TOTAL, page_rows
from storage.tables import (
    channels,
    role_grants,
    team_members,
    teams,
    users,
)
from storage.users import SqlAlchemyUserRepository, user_from_row


def team_from_row(row: RowMapping) -> Team:
    return Team(
        id=row["id"],
        teams_team_id=row["teams_team_id"],
        name=row["name"],
        tenant_id=row["tenant_id"],
        service_url=row["service_url"],
        general_channel_id=row["general_channel_id"],
        settings=TeamSettings.from_json(row["settings"]),
    )


class SqlAlchemyTeamRepository:
    def __init__(self, session: AsyncSession, users_repo: SqlAlchemyUserRepository) -> None:
        self._s = session
        self._users = users_repo

    async def save_installation(
        self, installation: TeamInstallation, installer_id: int | None, now: datetime
    ) -> Team:
        row = (
            (
                await self._s.execute(
                    select(teams).where(teams.c.teams_team_id == installation.teams_team_id)
                )
            )
            .mappings()
            .first()
        )
        values = {
            "name": installation.name,
            "tenant_id": installation.tenant_id,
            "service_url": installation.service_url,
            "general_channel_id": installation.general_channel_id,
            "installed": True,
            "updated_at": now,
        }
        if row is None:
            inserted = await self._s.execute(
                insert(teams)
                .returning(teams.c.id)
                .values(
                    teams_team_id=installation.teams_team_id,
                    installed_by=installer_id,
                    created_at=now,
                    **values,
                )
            )
            team_id = inserted.scalar_one()
        else:
            team_id = int(row["id"])
            if row["installed_by"] is None and installer_id is not None:
                values["installed_by"] = installer_id
            await self._s.execute(update(teams).where(teams.c.id == team_id).values(**values))

        await self._s.execute(delete(channels).where(channels.c.team_id == team_id))
        if installation.channels:
            await self._s.execute(
                insert(channels),
                [
                    {"team_id": team_id, "channel_id": cid, "name": name}
                    for cid, name in dict(installation.channels).items()
                ],
            )

        member_ids: set[int] = set()
        for ref in installation.roster:
            member_ids.add((await self._users.upsert(ref, now)).id)
        if installer_id is not None:
            member_ids.add(installer_id)
        known = set(
            (
                await self._s.execute(
                    select(team_members.c.user_id).where(team_members.c.team_id == team_id)
                )
            ).scalars()
        )
        new = member_ids - known
        if new:
            await self._s.execute(
                insert(team_members),
                [{"team_id": team_id, "user_id": uid, "active": True} for uid in sorted(new)],
            )
        if installation.roster:
            # Someone no longer in the Teams team is no longer on the roster.
            await self._s.execute(
                update(team_members)
                .where(team_members.c.team_id == team_id)
                .values(active=team_members.c.user_id.in_(member_ids))
            )
        team = await self.get(int(team_id))
        assert team is not None
        return team

    async def get(self, team_id: int) -> Team | None:
        row = (await self._s.execute(select(teams).where(teams.c.id == team_id))).mappings().first()
        return team_from_row(row) if row else None

    async def by_teams_id(self, teams_team_id: str) -> Team | None:
        row = (
            (await self._s.execute(select(teams).where(teams.c.teams_team_id == teams_team_id)))
            .mappings()
            .first()
        )
        return team_from_row(row) if row else None

    async def teams_of(self, user_id: int) -> Sequence[Team]:
        rows = (
            await self._s.execute(
                select(teams)
                .join(team_members, team_members.c.team_id == teams.c.id)
                .where(team_members.c.user_id == user_id, team_members.c.active.is_(True))
                .order_by(teams.c.name, teams.c.id)
            )
        ).mappings()
        return [team_from_row(r) for r in rows]

    async def coordinated_by(self, user_id: int) -> Sequence[Team]:
        rows = (
            await self._s.execute(
                select(teams)
                .join(team_members, team_members.c.team_id == teams.c.id)
                .join(
                    role_grants,
                    and_(
                        role_grants.c.team_id == teams.c.id,
                        role_grants.c.user_id == team_members.c.user_id,
                    ),
                )
                .where(
                    team_members.c.user_id == user_id,
                    team_members.c.active.is_(True),
                    role_grants.c.role == Role.COORDINATOR.value,
                )
                .order_by(teams.c.name, teams.c.id)
            )
        ).mappings()
        return [team_from_row(r) for r in rows]

    async def members(self, team_id: int) -> Sequence[User]:
        rows = (
            await self._s.execute(
                select(users)
                .join(team_members, team_members.c.user_id == users.c.id)
                .where(team_members.c.team_id == team_id, team_members.c.active.is_(True))
                .order_by(users.c.name, users.c.id)
            )
        ).mappings()
        return [user_from_row(r) for r in rows]

    async def members_with_roles(
        self, team_id: int, *, limit: int, offset: int = 0
    ) -> Page[tuple[User, frozenset[Role]]]:
        coordinator = exists().where(
            role_grants.c.team_id == team_id,
            role_grants.c.user_id == users.c.id,
            role_grants.c.role == Role.COORDINATOR.value,
        )
        query = (
            select(users)
            .join(team_members, team_members.c.user_id == users.c.id)
            .where(team_members.c.team_id == team_id, team_members.c.active.is_(True))
            .order_by(case((coordinator, 0), else_=1), users.c.name, users.c.id)
        )
        rows, totals = await page_rows(self._s, query, limit, offset)
        held: dict[int, set[Role]] = {row["id"]: set() for row in rows}
        if held:
            grants = await self._s.execute(
                select(role_grants.c.user_id, role_grants.c.role).where(
                    role_grants.c.team_id == team_id, role_grants.c.user_id.in_(list(held))
                )
            )
            for user_id, role in grants:
                held[user_id].add(Role(role))
        items = [(user_from_row(row), frozenset(held[row["id"]])) for row in rows]
        return Page(items, offset, totals[TOTAL])

    async def is_member(self, team_id: int, user_id: int) -> bool:
        found = await self._s.scalar(
            select(func.count()).where(
                team_members.c.team_id == team_id,
                team_members.c.user_id == user_id,
                team_members.c.active.is_(True),
            )
        )
        return bool(found)

    async def installer_id(self, team_id: int) -> int | None:
        value = await self._s.scalar(select(teams.c.installed_by).where(teams.c.id == team_id))
        return int(value) if value is not None else None

    async def holders(self, team_id: int, role: Role) -> Sequence[User]:
        rows = (
            await self._s.execute(
                select(users)
                .join(role_grants, role_grants.c.user_id == users.c.id)
                .where(role_grants.c.team_id == team_id, role_grants.c.role == role.value)
                .order_by(users.c.name, users.c.id)
            )
        ).mappings()
        return [user_from_row(r) for r in rows]

    async def roles_of(self, team_id: int, user_id: int) -> frozenset[Role]:
        values = (
            await self._s.execute(
                select(role_grants.c.role).where(
                    role_grants.c.team_id == team_id, role_grants.c.user_id == user_id
                )
            )
        ).scalars()
        return frozenset(Role(v) for v in values)

    async def grant(
        self, team_id: int, user_id: int, role: Role, granted_by: int | None, now: datetime
    ) -> bool:
        if role in await self.roles_of(team_id, user_id):
            return False
        await self._s.execute(
            insert(role_grants).values(
                team_id=team_id,
                user_id=user_id,
                role=role.value,
                granted_by=granted_by,
                granted_at=now,
            )
        )
        return True

    async def revoke(self, team_id: int, user_id: int, role: Role) -> bool:
        result = await self._s.execute(
            delete(role_grants).where(
                role_grants.c.team_id == team_id,
                role_grants.c.user_id == user_id,
                role_grants.c.role == role.value,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def save_settings(self, team_id: int, settings: TeamSettings, now: datetime) -> None:
        await self._s.execute(
            update(teams)
            .where(teams.c.id == team_id)
            .values(settings=settings.to_json(), updated_at=now)
        )

    async def all(self) -> Sequence[Team]:
        rows = (
            await self._s.execute(
                select(teams).where(teams.c.installed.is_(True)).order_by(teams.c.id)
            )
        ).mappings()
        return [team_from_row(r) for r in rows]
