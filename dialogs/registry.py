"""The team registry's commands and card actions: help, profile, roles, team settings and
failed deliveries."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from consultations import retention, services
from consultations.errors import DomainError, InvalidInput, NotAuthorised, NotFound
from consultations.lists import MAX_PAGE, page_window
from consultations.model import Role, User
from consultations.ports import UnitOfWork
from dialogs.cards import registry as cards
from dialogs.cards.base import Card, Localizer
from dialogs.flow import Action, CardFlow, CommandAction, Reply
from dialogs.inputs import page_offset, positive_id
from dialogs.settings import read_team_settings

# A person in many teams sees the first few; the card says so in the roles text.
MAX_TEAM_CARDS = 5


async def _user(uow: UnitOfWork, user_id: int) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFound()
    return user


class RegistryFlow(CardFlow):
    # Cards posted where a team works act there; none of them shows a client or a case:
    # - help.open: the command list (the help and welcome cards);
    # - profile.open, profile.save: the clicker's own profession (on the welcome card in
    #   the channel); the server changes the clicker's profile, whoever's card it was;
    # - role.claim: the installer takes the coordinator role from the channel's welcome;
    # - role.grant, role.revoke: the roles card (`roolit` in the channel) lists the
    #   team's members and roles; only a coordinator or an admin may change them;
    # - team.settings.save: the settings card (`asetukset`): regular times, tallies, the
    #   channel's language and the retention period; coordinators and admins only.
    # Not public: deliveries.open (failed messages name their recipients and kinds of
    # case messages: a coordinator's business, 1:1 only, like every other verb).
    public_verbs = frozenset(
        {
            "help.open",
            "profile.open",
            "profile.save",
            "role.claim",
            "role.grant",
            "role.revoke",
            "roles.open",
            "team.settings.save",
        }
    )

    def __init__(self, *, localize: Callable[[str | None], Localizer], **kwargs: Any) -> None:
        """`localize`: texts by language code, for the cards a whole team channel reads."""
        self.localize = localize
        super().__init__(**kwargs)

    def actions(self) -> dict[str, Action]:
        return {
            "help.open": self._help,
            "profile.open": self._profile_open,
            "profile.save": self._profile_save,
            "role.claim": self._role_claim,
            "role.grant": self._role_grant,
            "role.revoke": self._role_revoke,
            "roles.open": self._roles_open,
            "deliveries.open": self._deliveries,
            "team.settings.save": self._settings_save,
        }

    def commands(self) -> dict[str, CommandAction]:
        return {
            "help": lambda user_id, t, _args: self.help(user_id, t),
            "profile": lambda user_id, t, _args: self.profile(user_id, t),
            "roles": lambda user_id, t, _args: self.roles(user_id, t),
            "settings": lambda user_id, t, _args: self.settings(user_id, t),
            "deliveries": lambda user_id, t, _args: self.deliveries(user_id, t),
        }

    # --- commands ---------------------------------------------------------------------

    async def help(self, user_id: int, t: Localizer) -> Card:
        return cards.help_card(t)

    async def profile(self, user_id: int, t: Localizer) -> Card:
        async with self._read() as uow:
            user = await _user(uow, user_id)
        return cards.profile_card(t, user)

    async def roles(self, user_id: int, t: Localizer) -> Reply | Sequence[Reply]:
        async with self._read() as uow:
            user = await _user(uow, user_id)
            admin = services.is_admin(user, self._admins)
            teams = await uow.teams.all() if admin else await uow.teams.teams_of(user_id)
        if not teams:
            return t("roles.no_teams")
        found = [await self._roles_card(user, t, team.id) for team in teams[:MAX_TEAM_CARDS]]
        return [card for card in found if card is not None]

    async def settings(self, user_id: int, t: Localizer) -> Reply | Sequence[Reply]:
        async with self._read() as uow:
            user = await _user(uow, user_id)
            if services.is_admin(user, self._admins):
                teams = list(await uow.teams.all())
            else:
                teams = list(await uow.teams.coordinated_by(user_id))
            county = await uow.retention.policy()
        if not teams:
            return t("error.settings_coordinators_only")
        return [
            cards.team_settings_card(t, team, county_months=county.case_months)
            for team in teams[:MAX_TEAM_CARDS]
        ]

    async def deliveries(self, user_id: int, t: Localizer) -> Reply:
        try:
            return await self._deliveries_card(user_id, t, 0)
        except NotAuthorised:
            return t("error.deliveries_admins_only")

    # --- card actions -----------------------------------------------------------------

    async def _help(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self.help(user_id, t)

    async def _profile_open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self.profile(user_id, t)

    async def _profile_save(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        value = data.get("profession")
        if not isinstance(value, str):
            raise DomainError("error.unknown_profession")
        # The card acts for whoever clicked it: the server decides whose profile changes.
        profession = await services.set_profession(self._uow(), user_id, value, self._clock.now())
        async with self._read() as uow:
            user = await _user(uow, user_id)
        user.profession = profession
        return cards.profile_card(t, user, saved=True)

    async def _role_claim(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        team = await services.claim_coordinator(
            self._uow(), user_id, positive_id(data, "team_id"), self._admins, self._clock.now()
        )
        async with self._read() as uow:
            user = await _user(uow, user_id)
        # It replaces the welcome card in the team's channel: the team's language.
        return cards.coordinator_claimed_card(
            self.localize(team.settings.language), team, user.name
        )

    async def _role_grant(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self._role_change(user_id, t, data, grant=True)

    async def _role_revoke(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self._role_change(user_id, t, data, grant=False)

    async def _role_change(
        self, user_id: int, t: Localizer, data: Mapping[str, Any], *, grant: bool
    ) -> Card:
        team_id = positive_id(data, "team_id")
        target = positive_id(data, "user_id")
        if data.get("role") != Role.COORDINATOR.value:
            raise InvalidInput()
        change = services.grant_role if grant else services.revoke_role
        await change(
            self._uow(), user_id, team_id, target, Role.COORDINATOR, self._admins, self._clock.now()
        )
        async with self._read() as uow:
            user = await _user(uow, user_id)
        card = await self._roles_card(
            user, t, team_id, notice=t("roles.updated"), offset=page_offset(data)
        )
        if card is None:
            raise NotAuthorised()
        return card

    async def _roles_open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        """Another page of a team's roles card."""
        team_id, offset = positive_id(data, "team_id"), page_offset(data)
        async with self._read() as uow:
            user = await _user(uow, user_id)
        card = await self._roles_card(user, t, team_id, offset=offset)
        if card is None:
            raise NotAuthorised()
        return card

    async def _deliveries(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self._deliveries_card(user_id, t, page_offset(data))

    async def _settings_save(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        months = data.get("retention_months")
        if isinstance(months, bool) or not isinstance(months, int | float | str | None):
            raise InvalidInput()
        try:
            retention_months = int(float(months)) if months not in (None, "") else None
        except ValueError:
            raise InvalidInput() from None
        team = await retention.update_team_settings(
            self._uow(),
            user_id,
            positive_id(data, "team_id"),
            replace(read_team_settings(data), retention_months=retention_months),
            self._admins,
            self._clock.now(),
        )
        county = await retention.county_policy(self._uow())
        return cards.team_settings_card(
            t, team, notice=t("settings.saved"), county_months=county.case_months
        )

    # --- views ------------------------------------------------------------------------

    async def _roles_card(
        self, user: User, t: Localizer, team_id: int, notice: str = "", offset: int = 0
    ) -> Card | None:
        async with self._read() as uow:
            team = await uow.teams.get(team_id)
            if team is None:
                return None
            admin = services.is_admin(user, self._admins)
            if not admin and not await uow.teams.is_member(team_id, user.id):
                return None
            can_manage = admin or Role.COORDINATOR in await uow.teams.roles_of(team_id, user.id)
            offset, limit = page_window(offset, MAX_PAGE)
            members = await uow.teams.members_with_roles(team_id, limit=limit, offset=offset)
            await uow.audit.record(
                at=self._clock.now(),
                actor_user_id=user.id,
                action="roles.viewed",
                subject_type="team",
                subject_id=str(team_id),
                team_id=team_id,
            )
            await uow.commit()
        return cards.roles_card(t, team, members, can_manage=can_manage, notice=notice)

    async def _deliveries_card(self, user_id: int, t: Localizer, offset: int) -> Card:
        async with self._read() as uow:
            user = await _user(uow, user_id)
            team_ids: list[int] | None = None
            if not services.is_admin(user, self._admins):
                team_ids = [team.id for team in await uow.teams.coordinated_by(user_id)]
                if not team_ids:
                    raise NotAuthorised()
            offset, limit = page_window(offset, MAX_PAGE)
            failures = await uow.outbox.failures(team_ids, limit=limit, offset=offset)
        return cards.deliveries_card(t, failures)
