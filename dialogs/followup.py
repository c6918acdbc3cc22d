"""Card actions after the meeting: the summary, follow-up, review, hand-over, feedback."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from consultations import followup
from consultations.casework import is_coordinator
from consultations.consultation import Outcome
from consultations.errors import DomainError, InvalidInput
from consultations.summary import (
    MAX_FINDINGS,
    MAX_REASON,
    MAX_RECOMMENDATION,
    NotImplementedReason,
    Owner,
    PlannedRecommendation,
    check_future_date,
    clean_text,
    parse_rating,
)
from dialogs.cards import followup as cards
from dialogs.cards.base import Card, Localizer
from dialogs.flow import Action, CardFlow
from dialogs.inputs import id_list, optional_date, positive_id

MAX_NOTE = cards.MAX_NOTE


def _ids(value: Any) -> tuple[int, ...]:
    return tuple(dict.fromkeys(id_list(value)))


def _optional_id(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) in (None, "") else positive_id(data, key)


def parse_summary_edit(data: Mapping[str, Any], today: date) -> followup.SummaryEdit:
    """The editor card's inputs, checked; a new recommendation only when one was typed."""
    attended = data.get("client_attended")
    if attended not in (None, "", "yes", "no"):
        raise InvalidInput()
    review = optional_date(data.get("review_date"))
    if review is not None:
        check_future_date(review, today, "error.summary_review_date")
    return followup.SummaryEdit(
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


def parse_reason_category(value: Any) -> NotImplementedReason | None:
    """The recommendation card's reason category: empty is none chosen (refused by the
    domain only when "not implemented" is the answer), anything unknown is refused."""
    if value in (None, ""):
        return None
    try:
        return NotImplementedReason(value)
    except (ValueError, TypeError):
        raise InvalidInput() from None


class FollowUpFlow(CardFlow):
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
            "rec.open": self._rec_open,
            "rec.update": self._rec_update,
            "cases.open": self._cases,
            "case.review": self._review,
            "case.close": self._close,
            "case.bring_back": self._bring_back,
            "handover.propose": self._propose,
            "handover.open": self._handover_open,
            "handover.accept": self._accept,
            "handover.decline": self._decline,
            "feedback.open": self._feedback_open,
            "feedback.give": self._feedback_give,
        }

    def _today(self) -> date:
        return self._clock.now().astimezone(self._calendar.tz).date()

    # --- the summary ---------------------------------------------------------------------

    def _summary_card(
        self, t: Localizer, view: followup.SummaryView, user_id: int, notice: str = ""
    ) -> Card:
        if view.summary.is_draft:
            return cards.summary_editor_card(t, view, notice=notice)
        return cards.summary_card(t, view, for_user=user_id, coordinator=True, notice=notice)

    async def _open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await followup.open_summary(
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
    ) -> followup.SummaryView:
        edit = parse_summary_edit(data, self._today())
        if add is not None or remove is not None:
            edit = replace(edit, add=add, remove=remove)
        return await followup.edit_summary(
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

    async def _draft_view(self, user_id: int, summary_id: int) -> followup.SummaryView:
        return await followup.view_summary(
            self._uow(), user_id, summary_id, self._clock.now(), self._today()
        )

    async def _publish(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await followup.publish_summary(
            self._uow(), user_id, positive_id(data, "summary_id"), self._clock.now(), self._calendar
        )
        return cards.summary_card(
            t, view, for_user=user_id, coordinator=True, notice=t("summary.published_notice")
        )

    async def _amend(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await followup.amend_summary(
            self._uow(), user_id, positive_id(data, "case_id"), self._clock.now(), self._today()
        )
        return cards.summary_editor_card(t, view)

    async def _view(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await self._draft_view(user_id, positive_id(data, "summary_id"))
        async with self._uow() as uow:
            coordinator = await is_coordinator(uow, view.case.team_id, user_id)
        if view.summary.is_draft:
            return cards.summary_editor_card(t, view)
        return cards.summary_card(t, view, for_user=user_id, coordinator=coordinator)

    # --- recommendations -----------------------------------------------------------------

    async def _rec_open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await followup.view_recommendation(
            self._uow(), user_id, positive_id(data, "recommendation_id"), self._clock.now()
        )
        return cards.recommendation_card(t, view)

    async def _rec_update(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        action = data.get("action")
        if not isinstance(action, str) or action not in followup.FollowUpAction.ALL:
            raise InvalidInput()
        due = optional_date(data.get("new_due"))
        if action == followup.FollowUpAction.IN_PROGRESS:
            if due is None:
                raise DomainError("error.due_date")
            check_future_date(due, self._today(), "error.due_date")
        reason = clean_text(data.get("reason"), MAX_REASON)
        category = parse_reason_category(data.get("reason_category"))
        view = await followup.update_recommendation(
            self._uow(),
            user_id,
            positive_id(data, "recommendation_id"),
            action,
            due=due,
            reason=reason,
            now=self._clock.now(),
            calendar=self._calendar,
            reason_category=category,
        )
        return cards.recommendation_card(t, view, notice=t(f"rec.updated.{action}"))

    # --- the case manager ----------------------------------------------------------------

    async def cases(self, user_id: int, t: Localizer) -> Card:
        view = await followup.my_cases(self._uow(), user_id, self._clock.now())
        return cards.cases_card(t, view, self._today())

    async def _cases(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self.cases(user_id, t)

    async def _review_card(
        self, user_id: int, t: Localizer, case_id: int, notice: str = ""
    ) -> Card:
        view = await followup.review_view(self._uow(), user_id, case_id, self._clock.now())
        return cards.review_card(t, view, notice=notice)

    async def _review(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self._review_card(user_id, t, positive_id(data, "case_id"))

    async def _close(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        raw = data.get("outcome")
        if raw in (None, ""):
            raise DomainError("error.outcome_missing")
        try:
            outcome = Outcome(raw)
        except (ValueError, TypeError):
            raise InvalidInput() from None
        case_id = positive_id(data, "case_id")
        await followup.close_case(self._uow(), user_id, case_id, outcome, self._clock.now())
        return await self._review_card(user_id, t, case_id)

    async def _bring_back(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        reason = clean_text(data.get("bring_back_reason"), MAX_NOTE)
        case_id = positive_id(data, "case_id")
        await followup.bring_back(
            self._uow(), user_id, case_id, reason, self._clock.now(), self._calendar
        )
        return await self._review_card(user_id, t, case_id, t("review.brought_back"))

    # --- hand-over -----------------------------------------------------------------------

    async def _propose(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        if data.get("successor") in (None, ""):
            raise DomainError("error.handover_successor")
        case_id = positive_id(data, "case_id")
        await followup.propose_handover(
            self._uow(),
            user_id,
            case_id,
            positive_id(data, "successor"),
            clean_text(data.get("note"), MAX_NOTE),
            self._clock.now(),
            self._calendar,
        )
        return await self._review_card(user_id, t, case_id, t("handover.proposed_notice"))

    async def _handover_open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await followup.view_handover(
            self._uow(), user_id, positive_id(data, "handover_id"), self._clock.now()
        )
        return cards.handover_card(t, view, for_user=user_id)

    async def _answer(
        self, user_id: int, data: Mapping[str, Any], accept: bool
    ) -> followup.HandOverView:
        return await followup.answer_handover(
            self._uow(),
            user_id,
            positive_id(data, "handover_id"),
            accept,
            clean_text(data.get("reason"), MAX_REASON),
            self._clock.now(),
            self._calendar,
        )

    async def _accept(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await self._answer(user_id, data, True)
        return cards.handover_card(t, view, for_user=user_id, notice=t("handover.accepted_notice"))

    async def _decline(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await self._answer(user_id, data, False)
        return cards.handover_card(t, view, for_user=user_id, notice=t("handover.declined_notice"))

    # --- feedback ------------------------------------------------------------------------

    async def _feedback_open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await followup.view_feedback(self._uow(), user_id, positive_id(data, "case_id"))
        return cards.feedback_card(t, view)

    async def _feedback_give(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        if data.get("rating") in (None, ""):
            raise DomainError("error.rating")
        view = await followup.give_feedback(
            self._uow(),
            user_id,
            positive_id(data, "case_id"),
            parse_rating(data.get("rating")),
            clean_text(data.get("comment"), cards.MAX_COMMENT),
            self._clock.now(),
        )
        return cards.feedback_card(t, view, notice=t("feedback.thanks"))
