"""The admin's flow (SPEC §5): a case by its number - its audit trail, an export of
everything stored about it, its erasure - and the county's retention periods.

Every card here shows case details: the dispatcher answers these verbs and commands in
personal chats only. Who may do what is decided by the use cases, on the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from consultations import case_records, retention
from consultations.casework import is_coordinator
from consultations.errors import DomainError, InvalidInput, NotFound
from consultations.records import CaseHeader, RetentionPolicy
from consultations.services import is_admin
from dialogs.cards import admin as cards
from dialogs.cards.base import Card, Localizer
from dialogs.flow import Action, CardFlow, CommandAction
from dialogs.inputs import positive_id

MAX_OFFSET = 1_000_000


class ExportLinks(Protocol):
    def __call__(self, case: CaseHeader, admin_id: int, language: str) -> tuple[str, str, datetime]:
        """(JSON link, HTML link, when both expire) for one admin's export of the case."""
        ...


def _number(value: Any) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput()
    try:
        number = int(float(value))
    except ValueError:
        raise InvalidInput() from None
    return number


class AdminFlow(CardFlow):
    """Answers the privacy.* verbs with the card that replaces the one clicked."""

    def __init__(self, *, export_links: ExportLinks, **kwargs: Any) -> None:
        self._links = export_links
        super().__init__(**kwargs)

    def actions(self) -> dict[str, Action]:
        return {
            "privacy.open": self._open,
            "privacy.audit": self._audit,
            "privacy.export": self._export,
            "privacy.erase": self._erase,
            "privacy.erase.confirm": self._erase_confirm,
            "privacy.retention.save": self._save_retention,
        }

    def commands(self) -> dict[str, CommandAction]:
        # "ylläpito TK-2026-0042" opens the card with the case number filled in.
        return {
            "admin": lambda user_id, t, args: self.admin_card(
                user_id, t, case_records.normal_case_number(args) or ""
            ),
            "audit": lambda user_id, t, _args: self.audit_card(user_id, t),
        }

    # --- commands ------------------------------------------------------------------------

    async def _require_admin(self, user_id: int) -> None:
        async with self._read() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise NotFound()
        if not is_admin(user, self._admins):
            raise DomainError("error.admins_only")

    async def admin_card(self, user_id: int, t: Localizer, case_number: str = "") -> Card:
        """The admin command: refused (DomainError) to anyone who is not an admin."""
        await self._require_admin(user_id)
        policy = await retention.county_policy(self._read())
        return cards.admin_card(t, policy, case_number=case_number)

    async def audit_card(self, user_id: int, t: Localizer) -> Card:
        """The audit-trail command: the admin's card for admins, a case-number card for
        coordinators, a refusal for everyone else."""
        async with self._read() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound()
            if is_admin(user, self._admins):
                policy = await uow.retention.policy()
                return cards.admin_card(t, policy)
            for team in await uow.teams.teams_of(user_id):
                if await is_coordinator(uow, team.id, user_id):
                    return cards.audit_lookup_card(t)
        raise DomainError("error.audit_trail_refused")

    # --- card actions --------------------------------------------------------------------

    async def _open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        number = case_records.normal_case_number(data.get("case_number")) or ""
        return await self.admin_card(user_id, t, number)

    async def _audit(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        offset = _number(data.get("offset"))
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidInput()
        trail = await case_records.audit_trail(
            self._uow(),
            user_id,
            data.get("case_number"),
            self._admins,
            self._clock.now(),
            offset=offset,
        )
        return cards.audit_trail_card(t, trail)

    async def _export(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        case = await case_records.request_export(
            self._uow(), user_id, data.get("case_number"), self._admins, self._clock.now()
        )
        json_url, html_url, expires = self._links(case, user_id, t.language)
        return cards.export_card(t, case, json_url, html_url, expires)

    async def _erase(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        preview = await case_records.erasure_preview(
            self._uow(), user_id, data.get("case_number"), self._admins, self._clock.now()
        )
        return cards.erase_confirm_card(t, preview)

    async def _erase_confirm(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        receipt = await case_records.erase_case(
            self._uow(),
            user_id,
            positive_id(data, "case_id"),
            data.get("reason"),
            self._admins,
            self._clock.now(),
        )
        policy = await retention.county_policy(self._uow())
        return cards.erased_card(t, receipt, policy)

    async def _save_retention(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        policy = RetentionPolicy(
            case_months=_number(data.get("case_months")),
            audit_years=_number(data.get("audit_years")),
        )
        saved = await retention.set_county_policy(
            self._uow(), user_id, policy, self._admins, self._clock.now()
        )
        return cards.admin_card(t, saved, notice=t("privacy.retention.saved"))
