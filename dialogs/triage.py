"""Triage, driven by Adaptive Card actions: the coordinator opens a request from the queue
(`jono`), accepts it, asks the requester a question or declines it with a route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consultations import intake
from consultations.consultation import CaseStatus
from consultations.lists import MAX_PAGE
from dialogs.cards import triage as triage_cards
from dialogs.cards.base import Card, Localizer, execute
from dialogs.flow import Action, CardFlow, CommandAction
from dialogs.inputs import page_offset, positive_id

# What a triage card says of a case no longer open for triage.
DECIDED = {
    CaseStatus.NEEDS_INFO: "triage.decided.asked",
    CaseStatus.DECLINED: "triage.decided.declined",
    CaseStatus.WITHDRAWN: "triage.decided.withdrawn",
}


class TriageFlow(CardFlow):
    def actions(self) -> dict[str, Action]:
        return {
            "request.queue": self._queue,
            "triage.open": self._triage_open,
            "triage.accept": self._accept,
            "triage.ask": self._ask,
            "triage.decline": self._decline,
        }

    def commands(self) -> dict[str, CommandAction]:
        return {"queue": lambda user_id, t, _args: self.queue(user_id, t)}

    async def triage_card(
        self, user_id: int, t: Localizer, case_id: int, *, decided: str = "", reminder: str = ""
    ) -> Card:
        case, requester, team, notes = await intake.view_for_triage(
            self._read(), user_id, case_id, self._clock.now()
        )
        if not decided and not case.is_open_for_triage():
            decided = DECIDED.get(case.status, "triage.decided.accepted")
        card = triage_cards.triage_card(
            t,
            case,
            requester_name=requester,
            team_name=team,
            notes=notes,
            decided=decided,
            reminder=reminder,
        )
        if case.status is CaseStatus.ACCEPTED:
            # The next step from an accepted request: find the meeting time.
            card.setdefault("actions", []).append(
                execute(t("triage.schedule.button"), "poll.setup", {"case_id": case_id})
            )
        return card

    async def queue(self, user_id: int, t: Localizer, offset: int = 0) -> Card:
        view = await intake.triage_queue(
            self._read(),
            user_id,
            self._clock.now(),
            self._calendar,
            limit=MAX_PAGE,
            offset=offset,
        )
        return triage_cards.queue_card(t, view)

    async def _queue(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self.queue(user_id, t, offset=page_offset(data))

    async def _triage_open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self.triage_card(user_id, t, positive_id(data, "case_id"))

    async def _accept(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        case = await intake.accept_request(
            self._uow(), user_id, positive_id(data, "case_id"), self._clock.now()
        )
        assert case.id is not None
        return await self.triage_card(user_id, t, case.id, decided="triage.decided.accepted")

    async def _ask(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        case = await intake.ask_for_information(
            self._uow(),
            user_id,
            positive_id(data, "case_id"),
            data.get("question"),
            self._clock.now(),
            self._calendar,
        )
        assert case.id is not None
        return await self.triage_card(user_id, t, case.id, decided="triage.decided.asked")

    async def _decline(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        case = await intake.decline_request(
            self._uow(),
            user_id,
            positive_id(data, "case_id"),
            data.get("reason"),
            data.get("route"),
            self._clock.now(),
        )
        assert case.id is not None
        return await self.triage_card(user_id, t, case.id, decided="triage.decided.declined")
