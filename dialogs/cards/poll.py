"""Cards for the availability poll and the meeting it fixes (SPEC §2.3, §2.6).

Pure functions: domain objects + a localizer -> Adaptive Card dicts (schema 1.5). Every
user-visible text comes from the catalog; dates and times are formatted by the localizer
in Europe/Helsinki. Names and the meeting place are shortened, and long name lists cut,
only when a card would otherwise grow past `MAX_CARD_BYTES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from consultations.model import Profession
from consultations.poll import (
    DURATIONS,
    MAX_SLOTS,
    Answer,
    AvailabilityPoll,
    Invitee,
    PollState,
    SlotTally,
    TimeSlot,
)
from dialogs.cards.base import (
    HELSINKI,
    Card,
    Localizer,
    adaptive_card,
    attention,
    bold,
    buttons,
    clip_text,
    execute,
    facts,
    fit,
    good,
    heading,
    paragraph,
    row,
)
from dialogs.cards.people import MEMBERS, dataset, people_picker
from dialogs.cards.registry import EMPTY, profession_name, professions_text

# How many slots the coordinator can propose on the setup card (the poll allows MAX_SLOTS).
SETUP_SLOTS = 4
DEFAULT_MINUTES = 60
DEFAULT_DEADLINE_TIME = "12:00"
MAX_PLACE = 500


# --- fitting a card under the size limit -------------------------------------------------


@dataclass(frozen=True)
class _Squeeze:
    """How hard a card is squeezed: None leaves names, lists and the place whole."""

    name: int | None = None
    names: int | None = None
    text: int | None = None


_STEPS = (
    _Squeeze(),
    _Squeeze(name=60, text=500),
    _Squeeze(name=40, names=12, text=300),
    _Squeeze(name=25, names=6, text=200),
    _Squeeze(name=16, names=3, text=120),
    _Squeeze(name=12, names=1, text=80),
)


def _name(name: str, squeeze: _Squeeze) -> str:
    return clip_text(name.strip(), squeeze.name) or EMPTY


def _names(t: Localizer, names: Iterable[str], squeeze: _Squeeze) -> str:
    listed = [_name(n, squeeze) for n in names]
    if squeeze.names is not None and len(listed) > squeeze.names:
        more = len(listed) - squeeze.names
        listed = [*listed[: squeeze.names], t.n("poll.names.more", more)]
    return ", ".join(listed) or EMPTY


# --- small pieces ------------------------------------------------------------------------


def slot_label(t: Localizer, slot: TimeSlot) -> str:
    """ "ti 1.12. klo 13.00–14.00": the weekday, the date and the hours as the language
    writes them."""
    return t.span(slot.start, slot.end)


def answer_text(t: Localizer, answer: Answer | None) -> str:
    if answer is None:
        return t("poll.answer.none")
    return {
        Answer.YES: t("answer.yes"),
        Answer.IF_NEED_BE: t("answer.if_need_be"),
        Answer.NO: t("answer.no"),
    }[answer]


def state_text(t: Localizer, state: PollState) -> str:
    return {
        PollState.OPEN: t("poll.state.open"),
        PollState.CLOSED: t("poll.state.closed"),
        PollState.FINALIZED: t("poll.state.finalized"),
        PollState.CANCELLED: t("poll.state.cancelled"),
    }[state]


def _tally_text(t: Localizer, tally: SlotTally) -> str:
    return t("poll.tally", yes=tally.yes, if_need_be=tally.if_need_be, no=tally.no)


def _place(t: Localizer, poll: AvailabilityPoll, squeeze: _Squeeze) -> str:
    return clip_text(poll.place.strip(), squeeze.text) or t("poll.place.none")


def _outcome(t: Localizer, poll: AvailabilityPoll) -> dict[str, Any]:
    """What became of a poll that is no longer open."""
    if poll.state is PollState.FINALIZED:
        chosen = poll.chosen_slot
        return good(t("poll.outcome.finalized", slot=slot_label(t, chosen) if chosen else EMPTY))
    if poll.state is PollState.CANCELLED:
        return attention(t("poll.outcome.cancelled"))
    if poll.state is PollState.CLOSED:
        return bold(t("poll.outcome.closed"))
    return bold(t("poll.outcome.open"))


# --- the coordinator proposes times ------------------------------------------------------


def _value(values: Mapping[str, Any] | None, key: str, default: str) -> str:
    if values is None or key not in values or values[key] is None:
        return default
    raw = values[key]
    if isinstance(raw, list | tuple | set | frozenset):
        return ",".join(str(v) for v in raw)
    return str(raw)


def _proposed(day: str, clock: str, minutes: str) -> TimeSlot | None:
    """The slot a row of the setup card proposes, when its inputs can be read."""
    try:
        start = datetime.combine(
            date.fromisoformat(day[:10]), time.fromisoformat(clock[:5]), tzinfo=HELSINKI
        )
        return TimeSlot(None, start, int(minutes))
    except ValueError:
        return None


def _member_title(t: Localizer, name: str, profession: Profession | None, sq: _Squeeze) -> str:
    if profession is None:
        return _name(name, sq)
    return f"{_name(name, sq)} · {profession_name(t, profession)}"


def poll_setup_card(
    t: Localizer,
    *,
    case_id: int,
    case_number: str,
    suggestions: Sequence[datetime],
    members: Sequence[tuple[int, str, Profession | None]],
    wanted: frozenset[Profession],
    suggested_invitees: frozenset[int],
    errors: Sequence[str] = (),
    values: Mapping[str, Any] | None = None,
) -> Card:
    """The coordinator proposes up to four times, picks invitees, a deadline and a place.

    Slots 1..n are pre-filled from `suggestions` (the team's regular consultation times);
    `values` (what was submitted) re-fills every input after a validation error, and
    `errors` are catalog keys shown in red.
    """
    minutes_choices = [{"title": t("poll.minutes", minutes=m), "value": str(m)} for m in DURATIONS]
    default_invitees = ",".join(str(uid) for uid, _, _ in members if uid in suggested_invitees)

    def build(sq: _Squeeze) -> Card:
        body: list[dict[str, Any]] = [
            heading(t("poll.setup.title", case_number=case_number)),
            paragraph(t("poll.setup.intro")),
        ]
        body.extend(attention(t(error, limit=MAX_SLOTS)) for error in errors)
        if suggestions:
            body.append(paragraph(t("poll.setup.suggested"), subtle=True))
        else:
            body.append(paragraph(t("poll.setup.no_suggestions"), subtle=True))
        for i in range(1, SETUP_SLOTS + 1):
            date_value = time_value = ""
            if i <= len(suggestions):
                local = suggestions[i - 1].astimezone(HELSINKI)
                date_value = local.date().isoformat()
                time_value = local.strftime("%H:%M")
            date_value = _value(values, f"slot{i}_date", date_value)
            time_value = _value(values, f"slot{i}_time", time_value)
            minutes_value = _value(values, f"slot{i}_minutes", str(DEFAULT_MINUTES))
            date_input: dict[str, Any] = {
                "type": "Input.Date",
                "id": f"slot{i}_date",
                "label": t("poll.setup.date"),
            }
            time_input: dict[str, Any] = {
                "type": "Input.Time",
                "id": f"slot{i}_time",
                "label": t("poll.setup.time"),
            }
            if date_value:
                date_input["value"] = date_value
            if time_value:
                time_input["value"] = time_value
            minutes_input = {
                "type": "Input.ChoiceSet",
                "id": f"slot{i}_minutes",
                "label": t("poll.setup.minutes"),
                "style": "compact",
                "choices": minutes_choices,
                "value": minutes_value,
            }
            # The slot as invitees will read it ("ti 1.12. klo 13.00–14.00"), and the date
            # on a line of its own: in a third of the card the client cut it short
            # ("1. joulukuut…").
            proposed = _proposed(date_value, time_value, minutes_value)
            title = t("poll.setup.slot", number=i)
            if proposed is not None:
                title = f"{title} · {slot_label(t, proposed)}"
            body.append(bold(title, separator=True))
            body.append(date_input)
            body.append(
                {
                    "type": "ColumnSet",
                    "columns": [
                        {"type": "Column", "width": "stretch", "items": [time_input]},
                        {"type": "Column", "width": "stretch", "items": [minutes_input]},
                    ],
                }
            )
        body.append(paragraph(t("poll.setup.slots_hint"), subtle=True))
        candidates = [
            (_member_title(t, name, profession, sq), str(uid)) for uid, name, profession in members
        ]
        suggested = {str(uid) for uid in suggested_invitees}
        invitees = _value(values, "invitees", default_invitees)
        body.append(bold(t("poll.setup.people"), separator=True))
        if wanted:
            body.append(paragraph(t("poll.setup.wanted", professions=professions_text(t, wanted))))
        # On a team of hundreds the suggested people are listed and anyone else is found
        # by name: the card stays small whatever the team's size.
        body.append(
            people_picker(
                t,
                input_id="invitees",
                label=t("poll.setup.invitees"),
                candidates=candidates,
                suggested=suggested,
                search=dataset(MEMBERS, case_id),
                value=invitees,
                multi=True,
            )
        )
        body.append(
            people_picker(
                t,
                input_id="required",
                label=t("poll.setup.required"),
                candidates=candidates,
                suggested={*suggested, *invitees.split(",")},
                search=dataset(MEMBERS, case_id),
                value=_value(values, "required", ""),
                multi=True,
            )
        )
        body.append(paragraph(t("poll.setup.required_hint"), subtle=True))
        deadline_date: dict[str, Any] = {
            "type": "Input.Date",
            "id": "deadline_date",
            "label": t("poll.setup.deadline_date"),
        }
        if deadline := _value(values, "deadline_date", ""):
            deadline_date["value"] = deadline
        body.append(bold(t("poll.setup.deadline"), separator=True))
        body.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {"type": "Column", "width": "stretch", "items": [deadline_date]},
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [
                            {
                                "type": "Input.Time",
                                "id": "deadline_time",
                                "label": t("poll.setup.deadline_time"),
                                "value": _value(values, "deadline_time", DEFAULT_DEADLINE_TIME),
                            }
                        ],
                    },
                ],
            }
        )
        body.append(
            {
                "type": "Input.Text",
                "id": "place",
                "label": t("poll.setup.place"),
                "placeholder": t("poll.setup.place_placeholder"),
                "maxLength": MAX_PLACE,
                "value": clip_text(_value(values, "place", ""), MAX_PLACE),
            }
        )
        body.append(paragraph(t("poll.setup.privacy"), subtle=True))
        button = execute(t("poll.setup.open"), "poll.open", {"case_id": case_id}, style="positive")
        return adaptive_card(body, [button])

    return fit(build, _STEPS)


# --- the invitee answers -----------------------------------------------------------------


REFRESH_VERB = "poll.vote.refresh"


def _refresh(poll: AvailabilityPoll, invitee: Invitee | None) -> dict[str, Any] | None:
    """Universal Actions' refresh: when the invitee opens the chat, Teams asks the bot for
    the card as it is now (`REFRESH_VERB`, trigger "automatic"), so a card of a poll
    finalized since shows it closed instead of offering answers. userIds: the invitee's
    Teams id (at most 60 may be listed; a vote card has one reader)."""
    if invitee is None or not invitee.teams_user_id:
        return None
    data = {"verb": REFRESH_VERB, "poll_id": poll.id}
    return {
        "action": {"type": "Action.Execute", "verb": REFRESH_VERB, "data": data},
        "userIds": [invitee.teams_user_id],
    }


def vote_card(
    t: Localizer,
    poll: AvailabilityPoll,
    *,
    user_id: int,
    case_number: str,
    show_tallies: bool,
    notice: str = "",
    refusal: str = "",
    reminder: bool = False,
) -> Card:
    """An invitee's card: yes / if need be / no per slot while the poll is open; afterwards
    the outcome and the invitee's own answers. `notice` (done) and `refusal` (not done)
    are catalog keys or already localized texts; `reminder` says why the card came (the
    deadline is near). The card asks Teams to refresh it when opened."""
    mine = poll.votes.get(user_id, {})
    me = poll.invitee(user_id)
    tallies = {tally.slot.id: tally for tally in poll.tallies()} if show_tallies else {}
    is_open = poll.state is PollState.OPEN
    refresh = _refresh(poll, me)
    answers = [
        {"title": answer_text(t, a), "value": a.value}
        for a in (Answer.YES, Answer.IF_NEED_BE, Answer.NO)
    ]

    def build(sq: _Squeeze) -> Card:
        body: list[dict[str, Any]] = []
        if reminder and is_open:
            body.append(attention(t("reminder.poll_nudge")))
        if refusal:
            body.append(attention(t(refusal)))
        if notice:
            body.append(good(t(notice)))
        body.append(heading(t("poll.vote.title", case_number=case_number)))
        body.append(
            facts(
                [
                    (t("poll.state"), state_text(t, poll.state)),
                    (t("poll.deadline"), t.moment(poll.deadline)),
                    (t("poll.place"), _place(t, poll, sq)),
                ]
            )
        )
        if not is_open:
            body.append(_outcome(t, poll))
            body.append(bold(t("poll.vote.your_answers"), separator=True))
            body.append(
                facts([(slot_label(t, s), answer_text(t, mine.get(_sid(s)))) for s in poll.slots])
            )
            return _refreshing(adaptive_card(body), refresh)
        body.append(paragraph(t("poll.vote.intro")))
        if me is not None and me.required:
            body.append(paragraph(t("poll.vote.required"), subtle=True))
        for slot in poll.slots:
            slot_id = _sid(slot)
            choice: dict[str, Any] = {
                "type": "Input.ChoiceSet",
                "id": f"slot_{slot_id}",
                "label": slot_label(t, slot),
                "style": "expanded",
                "choices": answers,
            }
            if slot_id in mine:
                choice["value"] = mine[slot_id].value
            items: list[dict[str, Any]] = [choice]
            if slot_id in tallies:
                items.append(paragraph(_tally_text(t, tallies[slot_id]), subtle=True))
            body.append(row(items))
        body.append(paragraph(t("poll.vote.changeable"), subtle=True))
        button = execute(t("poll.vote.button"), "poll.vote", {"poll_id": poll.id}, style="positive")
        return _refreshing(adaptive_card(body, [button]), refresh)

    return fit(build, _STEPS)


def _refreshing(card: Card, refresh: dict[str, Any] | None) -> Card:
    if refresh is not None:
        card["refresh"] = refresh
    return card


def _sid(slot: TimeSlot) -> int:
    if slot.id is None:
        raise ValueError("a poll's slots must be saved (have ids) before they are shown")
    return slot.id


# --- the coordinator follows and decides -------------------------------------------------


def overview_card(
    t: Localizer,
    poll: AvailabilityPoll,
    *,
    case_number: str,
    notice: str = "",
    reason: str = "",
) -> Card:
    """The coordinator's live view: tallies per slot, who has not answered, the
    recommended slot, and a Choose button per slot (with `override` where a required
    invitee is not available). `reason` is a catalog key saying why the card came."""
    tallies = poll.tallies()
    recommended = poll.recommended()
    best_id = recommended.slot.id if recommended else None
    by_user: dict[int, Invitee] = {i.user_id: i for i in poll.invitees}
    missing = poll.not_answered()
    deciding = poll.state in (PollState.OPEN, PollState.CLOSED)
    data = {"poll_id": poll.id}

    def who(user_ids: Iterable[int], sq: _Squeeze) -> str:
        return _names(t, (by_user[u].name for u in user_ids if u in by_user), sq)

    def build(sq: _Squeeze) -> Card:
        body: list[dict[str, Any]] = []
        if reason:
            body.append(attention(t(reason)))
        if notice:
            body.append(good(t(notice)))
        body.append(heading(t("poll.overview.title", case_number=case_number)))
        answered = len(poll.invitees) - len(missing)
        body.append(
            facts(
                [
                    (t("poll.state"), state_text(t, poll.state)),
                    (t("poll.deadline"), t.moment(poll.deadline)),
                    (t("poll.place"), _place(t, poll, sq)),
                    (
                        t("poll.overview.answered"),
                        t(
                            "poll.overview.answered_count",
                            answered=answered,
                            total=len(poll.invitees),
                        ),
                    ),
                ]
            )
        )
        if not deciding:
            body.append(_outcome(t, poll))
            if poll.state is PollState.FINALIZED:
                reschedule = execute(t("poll.overview.reschedule"), "poll.reschedule", data)
                return adaptive_card(body, [reschedule])
            return adaptive_card(body)
        if poll.state is PollState.CLOSED:
            body.append(bold(t("poll.overview.closed")))
        if recommended is not None:
            label = slot_label(t, recommended.slot)
            body.append(good(t("poll.overview.recommended", slot=label)))
        elif tallies and all(tally.required_no for tally in tallies):
            # Said no, at every time: only then is it a warning.
            body.append(attention(t("poll.overview.no_recommendation")))
        else:
            # Not answered is not a no: the recommendation waits for the answers.
            body.append(paragraph(t("poll.overview.waiting")))
        if wanted := poll.wanted:
            body.append(
                paragraph(
                    t("poll.overview.wanted", professions=professions_text(t, wanted)), subtle=True
                )
            )
        for tally in tallies:
            slot = tally.slot
            label = slot_label(t, slot)
            title = label
            if slot.id == best_id:
                title = f"{label} · {t('poll.overview.best')}"
            items: list[dict[str, Any]] = [
                bold(title),
                paragraph(_tally_text(t, tally)),
                paragraph(
                    t(
                        "poll.overview.professions",
                        professions=professions_text(t, tally.professions),
                    ),
                    subtle=True,
                ),
            ]
            pending = [u for u in tally.required_missing if u not in tally.required_no]
            if pending:
                items.append(
                    paragraph(
                        t("poll.overview.required_pending", names=who(pending, sq)), subtle=True
                    )
                )
            slot_data = {"poll_id": poll.id, "slot_id": _sid(slot)}
            # The slot is named just above: the buttons stay short enough to be read whole.
            if tally.required_no:
                items.append(
                    attention(t("poll.overview.required_no", names=who(tally.required_no, sq)))
                )
                items.append(attention(t("poll.overview.override_warning")))
                choose = execute(
                    t("poll.overview.choose_override"),
                    "poll.finalize",
                    {**slot_data, "override": True},
                )
            else:
                choose = execute(
                    t("poll.overview.choose"),
                    "poll.finalize",
                    # Chosen before a required invitee has answered: their answer is not
                    # waited for (the card says who it is, above).
                    {**slot_data, "override": True} if pending else slot_data,
                    style="positive" if slot.id == best_id else "",
                )
            items.append(buttons(choose))
            body.append(row(items))
        if not missing:
            body.append(good(t("poll.overview.everyone_answered")))
        elif answered == 0:
            body.append(
                paragraph(
                    t("poll.overview.nobody_yet", names=_names(t, (i.name for i in missing), sq))
                )
            )
        else:
            names = _names(t, (i.name for i in missing), sq)
            body.append(paragraph(t("poll.overview.not_answered", names=names)))
        actions = [
            execute(t("poll.overview.refresh"), "poll.refresh", data),
            execute(t("poll.overview.cancel"), "poll.cancel", data, style="destructive"),
        ]
        return adaptive_card(body, actions)

    return fit(build, _STEPS)


# --- the meeting is fixed, moved or cancelled --------------------------------------------


def meeting_confirmation_card(
    t: Localizer,
    poll: AvailabilityPoll,
    *,
    case_number: str,
    ics_url: str,
    cancelled: bool = False,
    rescheduled: bool = False,
) -> Card:
    """To every attendee and the requester: the time, the place and an .ics invitation.

    Pseudonymous: only the case number identifies the consultation."""
    chosen = poll.chosen_slot
    when = slot_label(t, chosen) if chosen else EMPTY

    def build(sq: _Squeeze) -> Card:
        if cancelled:
            title = t("meeting.cancelled.title", case_number=case_number)
            lead: dict[str, Any] = attention(t("meeting.cancelled.body", slot=when))
            ics_title = t("meeting.ics.cancel_button")
        elif rescheduled:
            title = t("meeting.rescheduled.title", case_number=case_number)
            lead = attention(t("meeting.rescheduled.body", slot=when))
            ics_title = t("meeting.ics.button")
        else:
            title = t("meeting.confirmed.title", case_number=case_number)
            lead = paragraph(t("meeting.confirmed.body"))
            ics_title = t("meeting.ics.button")
        body: list[dict[str, Any]] = [
            heading(title),
            lead,
            facts(
                [
                    (t("meeting.case"), case_number),
                    (t("meeting.time"), when),
                    (t("meeting.place"), _place(t, poll, sq)),
                ]
            ),
        ]
        if not cancelled:
            body.append(paragraph(t("meeting.ics.hint"), subtle=True))
        body.append(paragraph(t("meeting.privacy"), subtle=True))
        actions: list[dict[str, Any]] = [
            {"type": "Action.OpenUrl", "title": ics_title, "url": ics_url}
        ]
        place = poll.place.strip()
        if not cancelled and place.startswith("https://") and " " not in place:
            actions.append({"type": "Action.OpenUrl", "title": t("meeting.join"), "url": place})
        return adaptive_card(body, actions)

    return fit(build, _STEPS)
