"""Card actions of the meeting summary: the coordinator's draft, preview, publication and
amendments, and reading a published version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from consultations import summaries
from consultations.casework import is_coordinator
from consultations.errors import DomainError, InvalidInput
from consultations.summary import (
    MAX_FINDINGS,
    MAX_RECOMMENDATION,
    Owner,
    PlannedRecommendation,
    check_future_date,
    clean_text,
)
from dialogs.cards import summary as cards
from dialogs.cards.base import Card, Localizer
from dialogs.flow import Action, CardFlow
from dialogs.inputs import id_list, optional_date, positive_id


def _ids(value: Any) -> tuple[int, ...]:
    return tuple(dict.fromkeys(id_list(value)))


def _optional_id(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) in (None, "") else positive_id(data, key)


def parse_summary_edit(data: Mapping[str, Any], today: date) -> summaries.SummaryEdit:
    """The editor card's inputs, checked; a new recommendation only when one was typed."""
    attended = data.get("client_attended")
    if attended not in (None, "", "yes", "no"):
        raise InvalidInput()
    review = optional_date(data.get("review_date"))
    if review is not None:
        check_future_date(review, today, "error.summary_review_date")
    return summaries.SummaryEdit(
        attendees=_ids(data.get("attendees")),
        client_attended=None if attended in (None, "") else attended == "yes",
        findings=clean_text(data.get("findings"), MAX_FINDINGS),
        case_manager_id=_optional_id(data, "case_manager"),
        review_date=review,
    )


def parse_new_recommendation(data: Mapping[str, Any], today: date) -> PlannedRecommendation:
    text = clean_text(
        data.get("rec_text"), MAX_RECOMMENDATION, required_code="error.recommendation_text"
    )
    if data.get("rec_owner") in (None, ""):
        raise DomainError("error.recommendation_owner")
    owner = Owner.parse(data.get("rec_owner"))
    due = optional_date(data.get("rec_due"))
    if due is None:
        raise DomainError("error.due_date")
    return PlannedRecommendation(text, owner, check_future_date(due, today, "error.due_date"))


class SummaryFlow(CardFlow):
    def actions(self) -> dict[str, Action]:
        return {
            "summary.open": self._open,
            "summary.save": self._save,
            "summary.add_rec": self._add,
            "summary.remove_rec": self._remove,
            "summary.preview": self._preview,
            "summary.edit": self._edit,
            "summary.publish": self._publish,
            "summary.amend": self._amend,
            "summary.view": self._view,
        }

    def _today(self) -> date:
        return self._clock.now().astimezone(self._calendar.tz).date()

    # --- the summary ---------------------------------------------------------------------

    def _summary_card(
        self, t: Localizer, view: summaries.SummaryView, user_id: int, notice: str = ""
    ) -> Card:
        if view.summary.is_draft:
            return cards.summary_editor_card(t, view, notice=notice)
        return cards.summary_card(t, view, for_user=user_id, coordinator=True, notice=notice)

    async def _open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await summaries.open_summary(
            self._uow(), user_id, positive_id(data, "case_id"), self._clock.now(), self._today()
        )
        return self._summary_card(t, view, user_id)

    async def _edit_with(
        self,
        user_id: int,
        data: Mapping[str, Any],
        *,
        add: PlannedRecommendation | None = None,
        remove: int | None = None,
    ) -> summaries.SummaryView:
        edit = parse_summary_edit(data, self._today())
        if add is not None or remove is not None:
            edit = replace(edit, add=add, remove=remove)
        return await summaries.edit_summary(
            self._uow(),
            user_id,
            positive_id(data, "summary_id"),
            edit,
            self._clock.now(),
            self._today(),
        )

    async def _save(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await self._edit_with(user_id, data)
        return cards.summary_editor_card(t, view, notice=t("summary.saved"))

    async def _add(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        planned = parse_new_recommendation(data, self._today())
        view = await self._edit_with(user_id, data, add=planned)
        return cards.summary_editor_card(t, view, notice=t("summary.rec.added"))

    async def _remove(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        index = data.get("index")
        if isinstance(index, bool) or not isinstance(index, int | str):
            raise InvalidInput()
        try:
            position = int(index)
        except ValueError:
            raise InvalidInput() from None
        view = await self._edit_with(user_id, data, remove=position)
        return cards.summary_editor_card(t, view, notice=t("summary.rec.removed"))

    async def _preview(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await self._edit_with(user_id, data)
        return cards.summary_preview_card(t, view)

    async def _edit(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await self._draft_view(user_id, positive_id(data, "summary_id"))
        return self._summary_card(t, view, user_id)

    async def _draft_view(self, user_id: int, summary_id: int) -> summaries.SummaryView:
        return await summaries.view_summary(
            self._read(), user_id, summary_id, self._clock.now(), self._today()
        )

    async def _publish(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await summaries.publish_summary(
            self._uow(), user_id, positive_id(data, "summary_id"), self._clock.now(), self._calendar
        )
        return cards.summary_card(
            t, view, for_user=user_id, coordinator=True, notice=t("summary.published_notice")
        )

    async def _amend(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await summaries.amend_summary(
            self._uow(), user_id, positive_id(data, "case_id"), self._clock.now(), self._today()
        )
        return cards.summary_editor_card(t, view)

    async def _view(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await self._draft_view(user_id, positive_id(data, "summary_id"))
        async with self._read() as uow:
            coordinator = await is_coordinator(uow, view.case.team_id, user_id)
        if view.summary.is_draft:
            return cards.summary_editor_card(t, view)
        return cards.summary_card(t, view, for_user=user_id, coordinator=coordinator)
