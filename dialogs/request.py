"""The consultation request flow, driven by Adaptive Card actions (triage: dialogs.triage).

Each card action is one turn: the flow reads the inputs, calls one use case, and returns
the card that replaces the one clicked (Action.Execute) - the next page, the same page
with what is missing, or a confirmation. The dialog's state is the draft itself, saved
in the database on every page, so a restart loses nothing and `luonnokset` resumes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consultations import intake
from consultations.batches import Batcher
from consultations.consultation import (
    CaseStatus,
    Consent,
    Consultation,
    RequestDetails,
    Urgency,
    check_fields,
)
from consultations.errors import DomainError, InvalidInput
from consultations.lists import MAX_PAGE
from dialogs.cards import request as cards
from dialogs.cards import triage as triage_cards
from dialogs.cards.base import Card, Localizer
from dialogs.cards.request import PAGE_FIELDS
from dialogs.flow import Action, CardFlow, CommandAction
from dialogs.inputs import page_offset, positive_id

# What must be right before leaving a page forward.
REQUIRED_ON_PAGE: dict[str, tuple[str, ...]] = {
    "basics": ("team_id", "client_reference", "consent", "consent_date"),
    "urgent": ("urgent_timeframe",),
    "question": ("question",),
}
MAIN_LINE = ("basics", "urgent", "question", "capacity", "services", "meeting", "review")


def _applies(page: str, details: RequestDetails) -> bool:
    return page != "urgent" or details.urgency is Urgency.URGENT


def next_page(page: str, details: RequestDetails) -> str:
    """Where Next leads: the form adapts to the answers (SPEC §2.1)."""
    if page == "basics" and details.consent is Consent.NOT_YET:
        # Without consent the team cannot be asked: explain, and allow a draft only.
        return "consent"
    if page not in MAIN_LINE:
        return "basics"
    for candidate in MAIN_LINE[MAIN_LINE.index(page) + 1 :]:
        if _applies(candidate, details):
            return candidate
    return "review"


def previous_page(page: str, details: RequestDetails) -> str:
    if page == "consent" or page not in MAIN_LINE:
        return "basics"
    for candidate in reversed(MAIN_LINE[: MAIN_LINE.index(page)]):
        if _applies(candidate, details):
            return candidate
    return "basics"


def _missing(page: str, details: RequestDetails) -> list[str]:
    missing = set(details.missing_for_submit())
    return [name for name in REQUIRED_ON_PAGE.get(page, ()) if name in missing]


def _case_id(data: Mapping[str, Any]) -> int:
    return positive_id(data, "case_id")


def _page(data: Mapping[str, Any]) -> str:
    page = data.get("page")
    if not isinstance(page, str) or page not in PAGE_FIELDS:
        raise InvalidInput()
    return page


def _values(data: Mapping[str, Any], page: str) -> dict[str, Any]:
    return {name: data[name] for name in PAGE_FIELDS[page] if name in data}


def _saved_case_id(data: Mapping[str, Any]) -> int | None:
    """The draft a page belongs to; None for a new request not saved yet."""
    return None if data.get("case_id") in (None, "") else _case_id(data)


class RequestFlow(CardFlow):
    # "New request" on the help card in a channel opens the form in the 1:1 chat. Every
    # other verb here shows or changes a case and is refused outside 1:1 chats; none of
    # their buttons is ever posted anywhere else, so there is nothing to redirect.
    redirect_verbs = frozenset({"request.new"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # People open their lists in bursts (the start of the day, a digest just sent):
        # the lists asked for together are read in one statement and audited in one
        # commit instead of one round each.
        # Two at once: while one batch waits for its database round, the next gathers.
        self._own_lists: Batcher[intake.OwnList, intake.RequestsView] = Batcher(
            self._read_own_lists, workers=2
        )

    async def _read_own_lists(self, asks: list[intake.OwnList]) -> Sequence[intake.RequestsView]:
        return await intake.own_lists(self._read(), asks, self._clock.now())

    def actions(self) -> dict[str, Action]:
        return {
            "request.new": self._new,
            "request.resume": self._resume,
            "request.next": self._next,
            "request.back": self._back,
            "request.save": self._save,
            "request.cancel": self._cancel,
            "request.delete": self._delete,
            "request.discard": self._discard,
            "request.submit": self._submit,
            "request.my": self._my,
            "request.drafts": self._drafts,
            "request.withdraw": self._withdraw_confirm,
            "request.withdraw.confirm": self._withdraw,
            "request.answer": self._answer,
        }

    def commands(self) -> dict[str, CommandAction]:
        return {
            "new": lambda user_id, t, _args: self.start(user_id, t),
            "my": lambda user_id, t, _args: self.my_requests(user_id, t),
            "drafts": lambda user_id, t, _args: self.drafts(user_id, t),
        }

    async def _teams(self) -> list[tuple[int, str]]:
        async with self._read() as uow:
            return [(team.id, team.name) for team in await uow.teams.all()]

    async def _page_card(
        self,
        t: Localizer,
        details: RequestDetails,
        page: str,
        case_id: int | None,
        errors: list[str] | None = None,
        refused: Sequence[DomainError] = (),
    ) -> Card:
        return cards.request_page_card(
            t,
            page,
            details,
            case_id=case_id,
            teams=await self._teams(),
            errors=errors or [],
            refused=refused,
            first=page == "basics",
        )

    async def _show(
        self, t: Localizer, case: Consultation, page: str, errors: list[str] | None = None
    ) -> Card:
        assert case.id is not None
        return await self._page_card(t, case.details, page, case.id, errors)

    async def start(self, user_id: int, t: Localizer) -> Card:
        """A new request's first page. Nothing is stored until it is saved with something
        in it; before the bot is in any team there is nobody to ask, and the card says so."""
        if not await self._teams():
            return cards.no_teams_card(t)
        details = await intake.request_defaults(self._read(), user_id)
        return await self._page_card(t, details, "basics", None)

    async def _new(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self.start(user_id, t)

    async def _resume(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        case = await intake.open_draft(self._read(), user_id, _case_id(data), self._clock.now())
        page = case.draft_page if case.draft_page in PAGE_FIELDS else "basics"
        if page == "consent":
            # Back where consent is asked: the likely reason to come back is to give it.
            page = "basics"
        return await self._show(t, case, page)

    async def refused_inputs(self, verb: str, t: Localizer, data: Mapping[str, Any]) -> Card | None:
        """The page again when some of its inputs are refused (an identity code, a rating
        of 12, a consent date to come): every other input as typed, each refused one
        emptied and named. Nothing is stored. None when the action is not a page's or
        nothing on it is refused.

        Also for the dispatcher, which screens every card for identity codes before any
        flow runs: for a request page it answers with this card instead of a bare
        message, which would leave the requester's other inputs lost."""
        if verb not in ("request.next", "request.back", "request.save"):
            return None
        page = _page(data)
        case_id = _saved_case_id(data)
        today = self._clock.now().astimezone(self._calendar.tz).date()
        changes, refused = check_fields(_values(data, page), today)
        if not refused:
            return None
        return await self._page_card(
            t, RequestDetails().merged(changes), page, case_id, [], refused
        )

    async def _store(self, user_id: int, data: Mapping[str, Any], page: str) -> Consultation | None:
        """Save the page into its draft, or start the draft with it; None when a new
        request's page holds nothing worth keeping (no draft is made)."""
        case_id = _saved_case_id(data)
        if case_id is not None:
            return await intake.update_draft(
                self._uow(), user_id, case_id, _values(data, page), page, self._clock.now()
            )
        try:
            return await intake.start_request(
                self._uow(), user_id, _values(data, page), page, self._clock.now()
            )
        except DomainError as error:
            if error.code != "error.draft_empty":
                raise
            return None

    async def _next(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        page = _page(data)
        refused = await self.refused_inputs("request.next", t, data)
        if refused is not None:
            return refused
        case = await self._store(user_id, data, page)
        if case is None:
            # Nothing written yet: the same page, saying what it needs.
            details = await intake.request_defaults(self._read(), user_id)
            return await self._page_card(t, details, page, None, _missing(page, details))
        missing = _missing(page, case.details)
        if missing and not (page == "basics" and case.details.consent is Consent.NOT_YET):
            return await self._show(t, case, page, missing)
        target = next_page(page, case.details)
        if target == "review":
            still_missing = case.details.missing_for_submit()
            if still_missing:
                return await self._show(t, case, "review", still_missing)
        assert case.id is not None
        case = await intake.update_draft(
            self._uow(), user_id, case.id, {}, target, self._clock.now()
        )
        return await self._show(t, case, target)

    async def _back(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        page = _page(data)
        refused = await self.refused_inputs("request.back", t, data)
        if refused is not None:
            return refused
        case = await self._store(user_id, data, page)
        if case is None:
            return await self.start(user_id, t)
        target = previous_page(page, case.details)
        assert case.id is not None
        case = await intake.update_draft(
            self._uow(), user_id, case.id, {}, target, self._clock.now()
        )
        return await self._show(t, case, target)

    async def _save(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        page = _page(data)
        refused = await self.refused_inputs("request.save", t, data)
        if refused is not None:
            return refused
        case = await self._store(user_id, data, page)
        if case is None:
            details = await intake.request_defaults(self._read(), user_id)
            return await self._page_card(t, details, page, None, ["error.draft_empty"])
        assert case.id is not None
        return cards.draft_saved_card(t, case.id)

    async def _own_case(self, user_id: int, case_id: int) -> Consultation:
        """The requester's own case, for a confirmation question (nothing changes yet)."""
        async with self._read() as uow:
            case = await uow.consultations.get(case_id)
        if case is None or case.requester_id != user_id:
            raise DomainError("error.not_requester")
        return case

    async def _discard_question(self, user_id: int, t: Localizer, case_id: int, keep: str) -> Card:
        case = await self._own_case(user_id, case_id)
        if case.status is not CaseStatus.DRAFT:
            raise DomainError("error.case_not_editable")
        return cards.confirm_card(
            t,
            "request.discard.confirm.title",
            "request.discard.confirm.body",
            yes=("request.discard.confirm.yes", "request.discard"),
            no=("request.discard.confirm.no", keep),
            data={"case_id": case_id},
            draft=cards.draft_title(t, case),
        )

    async def _cancel(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        case_id = _saved_case_id(data)
        if case_id is None:
            # A new request left before anything was saved: there is nothing to delete.
            return cards.request_not_saved_card(t)
        return await self._discard_question(user_id, t, case_id, keep="request.resume")

    async def _delete(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        """Delete from the drafts list: one question, and keeping it returns to the list."""
        return await self._discard_question(user_id, t, _case_id(data), keep="request.drafts")

    async def _discard(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        await intake.discard_draft(self._uow(), user_id, _case_id(data), self._clock.now())
        return cards.request_discarded_card(t)

    async def _submit(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        case_id = _case_id(data)
        try:
            case = await intake.submit_request(
                self._uow(), user_id, case_id, self._clock.now(), self._calendar
            )
        except DomainError as error:
            if error.code != "error.request_incomplete":
                raise
            draft = await intake.open_draft(self._read(), user_id, case_id, self._clock.now())
            return await self._show(t, draft, "review", draft.details.missing_for_submit())
        assert case.case_number is not None
        team_name = dict(await self._teams()).get(case.team_id or 0, "")
        return cards.request_submitted_card(t, case.case_number, team_name)

    # --- the requester's own requests -------------------------------------------------

    async def my_requests(
        self, user_id: int, t: Localizer, notice: str = "", offset: int = 0
    ) -> Card:
        view = await self._own_lists.submit(intake.OwnList(user_id, False, MAX_PAGE, offset))
        return cards.my_requests_card(t, view.page, notice=notice, meetings=view.meetings)

    async def drafts(self, user_id: int, t: Localizer, offset: int = 0) -> Card:
        view = await self._own_lists.submit(intake.OwnList(user_id, True, MAX_PAGE, offset))
        return cards.drafts_card(t, view.page)

    async def _my(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self.my_requests(user_id, t, offset=page_offset(data))

    async def _drafts(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self.drafts(user_id, t, offset=page_offset(data))

    async def _withdraw_confirm(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        case_id = _case_id(data)
        case = await self._own_case(user_id, case_id)
        return cards.confirm_card(
            t,
            "request.withdraw.confirm.title",
            "request.withdraw.confirm.body",
            yes=("request.withdraw.confirm.yes", "request.withdraw.confirm"),
            no=("request.withdraw.confirm.no", "request.my"),
            data={"case_id": case_id},
            case_number=case.case_number or "",
        )

    async def _withdraw(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        await intake.withdraw_request(self._uow(), user_id, _case_id(data), self._clock.now())
        return await self.my_requests(user_id, t, notice=t("notice.request.withdrawn"))

    async def _answer(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        case = await intake.answer_question(
            self._uow(),
            user_id,
            _case_id(data),
            data.get("answer"),
            self._clock.now(),
            self._calendar,
        )
        assert case.id is not None
        exchange = await intake.question_view(self._read(), user_id, case.id, self._clock.now())
        return triage_cards.question_card(t, case, exchange.question, answer=exchange.answer)
