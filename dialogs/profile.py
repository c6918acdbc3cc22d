"""The profile dialog: show the profession card, wait for it to come back, save it.

The wait is dialog state in the database, so a restart between showing the card and
submitting it loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botbuilder.core import MessageFactory
from botbuilder.dialogs import Dialog, DialogContext, DialogReason, DialogTurnResult

from consultations import services
from consultations.errors import DomainError
from consultations.ports import Clock, UnitOfWork
from dialogs.cards.base import Localizer, attachment
from dialogs.cards.registry import profile_card

PROFILE_DIALOG = "profile"
HANDLED = "handled"


class ProfileDialog(Dialog):  # type: ignore[misc]
    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        texts: Callable[[str | None], Localizer],
    ) -> None:
        super().__init__(PROFILE_DIALOG)
        self._uow = uow_factory
        self._clock = clock
        self._texts = texts

    async def begin_dialog(
        self, dialog_context: DialogContext, options: Any = None
    ) -> DialogTurnResult:
        activity = dialog_context.context.activity
        texts = self._texts(activity.locale)
        async with self._uow() as uow:
            user = await uow.users.by_teams_id(activity.from_property.id)
        if user is None:
            return await dialog_context.end_dialog(None)
        await dialog_context.context.send_activity(
            MessageFactory.attachment(attachment(profile_card(texts, user)))
        )
        return Dialog.end_of_turn

    async def continue_dialog(self, dialog_context: DialogContext) -> DialogTurnResult:
        activity = dialog_context.context.activity
        value = activity.value if isinstance(activity.value, dict) else None
        if value is None or value.get("verb") != "profile.save":
            # Not ours: let the handler treat it as a command or another card's action.
            return await dialog_context.end_dialog(None)
        texts = self._texts(activity.locale)
        profession = value.get("profession")
        async with self._uow() as uow:
            user = await uow.users.by_teams_id(activity.from_property.id)
        if user is None:
            return await dialog_context.end_dialog(None)
        try:
            user.profession = await services.set_profession(
                self._uow(),
                user.id,
                profession if isinstance(profession, str) else "",
                self._clock.now(),
            )
        except DomainError as error:
            await dialog_context.context.send_activity(texts(error.code, **error.params))
            return Dialog.end_of_turn
        await dialog_context.context.send_activity(
            MessageFactory.attachment(attachment(profile_card(texts, user, saved=True)))
        )
        return await dialog_context.end_dialog(HANDLED)

    async def end_dialog(self, context: Any, instance: Any, reason: DialogReason) -> None:
        return None
