"""Card actions after the summary: following recommendations up, the case manager's cases
and review, closing, bringing back, the hand-over, and the requester's feedback."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from consultations import case_manager, feedback, handovers, recommendations
from consultations.consultation import Outcome
from consultations.errors import DomainError, InvalidInput
from consultations.lists import MAX_PAGE
from consultations.summary import (
    MAX_REASON,
    NotImplementedReason,
    check_future_date,
    clean_text,
    parse_rating,
)
from dialogs.cards import followup as cards
from dialogs.cards.base import Card, Localizer
from dialogs.cards.summary import MAX_COMMENT, MAX_NOTE
from dialogs.flow import Action, CardFlow, CommandAction
from dialogs.inputs import id_list, one_of, optional_date, page_offset, positive_id


def _ids(value: Any) -> tuple[int, ...]:
    return tuple(dict.fromkeys(id_list(value)))


def _optional_id(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) in (None, "") else positive_id(data, key)


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

    def commands(self) -> dict[str, CommandAction]:
        return {"cases": lambda user_id, t, _args: self.cases(user_id, t)}

    def _today(self) -> date:
        return self._clock.now().astimezone(self._calendar.tz).date()

    # --- recommendations -----------------------------------------------------------------

    async def _rec_open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        view = await recommendations.view_recommendation(
            self._read(), user_id, positive_id(data, "recommendation_id"), self._clock.now()
        )
        return cards.recommendation_card(t, view)

    async def _rec_update(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        action = data.get("action")
        if not isinstance(action, str) or action not in recommendations.FollowUpAction.ALL:
            raise InvalidInput()
        due = optional_date(data.get("new_due"))
        if action == recommendations.FollowUpAction.IN_PROGRESS:
            if due is None:
                raise DomainError("error.due_date")
            check_future_date(due, self._today(), "error.due_date")
        reason = clean_text(data.get("reason"), MAX_REASON)
        category = parse_reason_category(data.get("reason_category"))
        view = await recommendations.update_recommendation(
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

    async def cases(self, user_id: int, t: Localizer, section: str = "", offset: int = 0) -> Card:
        today = self._today()
        view = await case_manager.my_cases(
            self._read(),
            user_id,
            self._clock.now(),
            today,
            section=section,
            limit=MAX_PAGE,
            offset=offset,
        )
        return cards.cases_card(t, view, today)

    async def _cases(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        section = one_of(data, "section", case_manager.CasesSection.ALL)
        return await self.cases(user_id, t, section, page_offset(data))

    async def _review_card(
        self, user_id: int, t: Localizer, case_id: int, notice: str = ""
    ) -> Card:
        view = await case_manager.review_view(self._read(), user_id, case_id, self._clock.now())
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
        await case_manager.close_case(self._uow(), user_id, case_id, outcome, self._clock.now())
        return await self._review_card(user_id, t, case_id)

    async def _bring_back(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        reason = clean_text(data.get("bring_back_reason"), MAX_NOTE)
        case_id = positive_id(data, "case_id")
        await case_manager.bring_back(
            self._uow(), user_id, case_id, reason, self._clock.now(), self._calendar
        )
        return await self._review_card(user_id, t, case_id, t("review.brought_back"))

    # --- hand-over -----------------------------------------------------------------------

    async def _propose(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        if data.get("successor") in (None, ""):
            raise DomainError("error.handover_successor")
        case_id = positive_id(data, "case_id")
        await handovers.propose_handover(
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
        view = await handovers.view_handover(
            self._read(), user_id, positive_id(data, "handover_id"), self._clock.now()
        )
        return cards.handover_card(t, view, for_user=user_id)

    async def _answer(
        self, user_id: int, data: Mapping[str, Any], accept: bool
    ) -> handovers.HandOverView:
        return await handovers.answer_handover(
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
        view = await feedback.view_feedback(self._read(), user_id, positive_id(data, "case_id"))
        return cards.feedback_card(t, view)

    async def _feedback_give(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        if data.get("rating") in (None, ""):
            raise DomainError("error.rating")
        view = await feedback.give_feedback(
            self._uow(),
            user_id,
            positive_id(data, "case_id"),
            parse_rating(data.get("rating")),
            clean_text(data.get("comment"), MAX_COMMENT),
            self._clock.now(),
        )
        return cards.feedback_card(t, view, notice=t("feedback.thanks"))
