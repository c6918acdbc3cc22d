"""The availability poll's card actions: set up, vote, overview, finalize, cancel."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time
from functools import cached_property
from typing import Any

from consultations import scheduling
from consultations.ballots import BallotBox
from consultations.calendar import BusinessCalendar
from consultations.consultation import Consultation
from consultations.errors import DomainError, InvalidInput
from consultations.model import Role, TeamSettings
from consultations.poll import Answer, suggest_slots
from dialogs.cards import poll as cards
from dialogs.cards.base import Card, Localizer
from dialogs.flow import Action, CardFlow
from dialogs.inputs import id_list, optional_date, positive_id

SLOT_ROWS = 4
_SLOT_INPUT = re.compile(r"slot_(\d{1,9})")


def _time(value: Any) -> time | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidInput()
    try:
        return time.fromisoformat(value[:5])
    except ValueError:
        raise InvalidInput() from None


def parse_setup(data: Mapping[str, Any], calendar: BusinessCalendar) -> dict[str, Any]:
    """The setup card's inputs, checked; times are Helsinki wall-clock times."""
    slots: list[tuple[datetime, int]] = []
    for row in range(1, SLOT_ROWS + 1):
        day, start = optional_date(data.get(f"slot{row}_date")), _time(data.get(f"slot{row}_time"))
        if day is None and start is None:
            continue
        if day is None or start is None:
            raise DomainError("error.slot_incomplete")
        minutes = data.get(f"slot{row}_minutes") or "60"
        try:
            duration = int(str(minutes))
        except ValueError:
            raise InvalidInput() from None
        slots.append((datetime.combine(day, start, tzinfo=calendar.tz), duration))
    deadline_day = optional_date(data.get("deadline_date"))
    deadline_time = _time(data.get("deadline_time")) or time(12)
    if deadline_day is None:
        raise DomainError("error.deadline_missing")
    place = data.get("place") or ""
    if not isinstance(place, str):
        raise InvalidInput()
    return {
        "slots": slots,
        "invitees": id_list(data.get("invitees")),
        "required": id_list(data.get("required")),
        "deadline": datetime.combine(deadline_day, deadline_time, tzinfo=calendar.tz),
        "place": place,
    }


def parse_votes(data: Mapping[str, Any]) -> dict[int, Answer]:
    """The vote card's answers, `slot_<id>`: <answer>; the poll checks the slot ids."""
    answers: dict[int, Answer] = {}
    for key, raw in data.items():
        match = _SLOT_INPUT.fullmatch(key)
        if match is None or raw in (None, ""):
            continue
        try:
            answers[int(match.group(1))] = Answer(raw)
        except (ValueError, TypeError):
            raise InvalidInput() from None
    if not answers:
        raise DomainError("error.no_answers")
    return answers


class PollFlow(CardFlow):
    @cached_property
    def ballots(self) -> BallotBox:
        """Votes that arrive together are written in one transaction."""
        return BallotBox(uow_factory=self._uow, clock=self._clock)

    def actions(self) -> dict[str, Action]:
        return {
            "poll.setup": self._setup,
            "poll.open": self._open,
            "poll.vote": self._vote,
            cards.REFRESH_VERB: self._vote_refresh,
            "poll.refresh": self._refresh,
            "poll.finalize": self._finalize,
            "poll.cancel": self._cancel,
            "poll.reschedule": self._reschedule,
        }

    async def _team_settings(self, team_id: int | None) -> TeamSettings:
        async with self._read() as uow:
            team = await uow.teams.get(team_id) if team_id else None
        return team.settings if team else TeamSettings()

    async def _case_number(self, case_id: int) -> str:
        async with self._read() as uow:
            case = await uow.consultations.get(case_id)
        return case.case_number or "" if case else ""

    async def _setup_card(
        self,
        user_id: int,
        t: Localizer,
        case_id: int,
        errors: list[str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Card:
        case, members, suggested = await scheduling.setup_view(self._read(), user_id, case_id)
        settings = await self._team_settings(case.team_id)
        return self._render_setup(t, case, members, suggested, errors or [], values, settings)

    def _render_setup(
        self,
        t: Localizer,
        case: Consultation,
        members: list[tuple[int, str, Any]],
        suggested: frozenset[int],
        errors: list[str],
        values: Mapping[str, Any] | None,
        settings: TeamSettings,
    ) -> Card:
        assert case.id is not None
        return cards.poll_setup_card(
            t,
            case_id=case.id,
            case_number=case.case_number or "",
            suggestions=suggest_slots(self._clock.now(), self._calendar, settings.regular_times),
            members=members,
            wanted=case.details.professions,
            suggested_invitees=suggested,
            errors=errors,
            values=values,
        )

    async def _setup(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self._setup_card(user_id, t, positive_id(data, "case_id"))

    async def _open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        case_id = positive_id(data, "case_id")
        try:
            parsed = parse_setup(data, self._calendar)
            poll = await scheduling.open_poll(
                self._uow(),
                user_id,
                case_id,
                now=self._clock.now(),
                calendar=self._calendar,
                **parsed,
            )
        except DomainError as error:
            if error.code in ("error.not_coordinator", "error.case_not_accepted"):
                raise
            # A fixable mistake: the same card again, filled in, with what to fix.
            return await self._setup_card(user_id, t, case_id, [error.code], data)
        return cards.overview_card(
            t, poll, case_number=await self._case_number(case_id), notice=t("notice.poll_opened")
        )

    async def _vote(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        poll_id = positive_id(data, "poll_id")
        try:
            outcome = await self.ballots.cast(
                scheduling.Ballot(user_id, poll_id, parse_votes(data))
            )
        except DomainError as error:
            if error.code != "error.poll_closed":
                raise
            # Too late: the card as it is now, closed, saying why nothing was saved.
            return await self._vote_card(user_id, t, poll_id, refusal=t("error.poll_closed"))
        return cards.vote_card(
            t,
            outcome.poll,
            user_id=user_id,
            case_number=outcome.case_number,
            show_tallies=outcome.show_tallies,
            notice=t("notice.votes_saved"),
        )

    async def _vote_card(
        self, user_id: int, t: Localizer, poll_id: int, *, refusal: str = ""
    ) -> Card:
        poll = await scheduling.view_poll(self._read(), user_id, poll_id, self._clock.now())
        if poll.invitee(user_id) is None:
            # A coordinator who is not invited sees the overview instead.
            return await self.overview(user_id, t, poll_id)
        return cards.vote_card(
            t,
            poll,
            user_id=user_id,
            case_number=await self._case_number(poll.consultation_id),
            show_tallies=(await self._team_settings(poll.team_id)).show_tallies,
            refusal=refusal,
        )

    async def _vote_refresh(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        """Teams asks for the vote card as it is now (Universal Actions' refresh, trigger
        "automatic") when the invitee opens it: open with their answers, or closed."""
        return await self._vote_card(user_id, t, positive_id(data, "poll_id"))

    async def overview(self, user_id: int, t: Localizer, poll_id: int, notice: str = "") -> Card:
        """The team's coordinators see the overview; an invitee sees their own card."""
        poll = await scheduling.view_poll(self._read(), user_id, poll_id, self._clock.now())
        case_number = await self._case_number(poll.consultation_id)
        async with self._read() as uow:
            coordinator = Role.COORDINATOR in await uow.teams.roles_of(poll.team_id, user_id)
        if not coordinator:
            return cards.vote_card(
                t,
                poll,
                user_id=user_id,
                case_number=case_number,
                show_tallies=(await self._team_settings(poll.team_id)).show_tallies,
            )
        return cards.overview_card(t, poll, case_number=case_number, notice=notice)

    async def _refresh(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self.overview(user_id, t, positive_id(data, "poll_id"))

    async def _finalize(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        poll = await scheduling.finalize_poll(
            self._uow(),
            user_id,
            positive_id(data, "poll_id"),
            positive_id(data, "slot_id"),
            override=data.get("override") is True,
            now=self._clock.now(),
            calendar=self._calendar,
        )
        return cards.overview_card(
            t, poll, case_number=await self._case_number(poll.consultation_id)
        )

    async def _cancel(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        poll = await scheduling.cancel_poll(
            self._uow(), user_id, positive_id(data, "poll_id"), self._clock.now()
        )
        return cards.overview_card(
            t, poll, case_number=await self._case_number(poll.consultation_id)
        )

    async def _reschedule(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        """A new time by a new poll: the fixed meeting is cancelled (everyone told, a
        cancelling .ics) and the coordinator proposes new times."""
        poll = await scheduling.cancel_poll(
            self._uow(), user_id, positive_id(data, "poll_id"), self._clock.now()
        )
        return await self._setup_card(user_id, t, poll.consultation_id)
