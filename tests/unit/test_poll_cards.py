"""Availability poll and meeting cards read the way a user reads them, in fi, sv and en."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, Texts, texts_for
from consultations.model import Profession
from consultations.poll import (
    DURATIONS,
    MAX_INVITEES,
    MAX_SLOTS,
    Answer,
    AvailabilityPoll,
    Invitee,
    PollState,
    TimeSlot,
)
from dialogs.cards import poll as poll_cards
from dialogs.cards.base import MAX_CARD_BYTES, Card, card_bytes
from dialogs.cards.poll import (
    meeting_confirmation_card,
    overview_card,
    poll_setup_card,
    slot_label,
    vote_card,
)

LOCALES = ("fi-FI", "sv-FI", "en-US")
CASE = "TK-2026-0042"
ICS = "https://bot.example.fi/ics/abc123.ics"
# 08:00 UTC is 10:00 in Helsinki in March (UTC+2).
S11 = TimeSlot(11, datetime(2026, 3, 10, 8, 0, tzinfo=UTC), 60)
S12 = TimeSlot(12, datetime(2026, 3, 11, 8, 0, tzinfo=UTC), 90)
S13 = TimeSlot(13, datetime(2026, 3, 12, 11, 30, tzinfo=UTC), 45)
ANNA = Invitee(1, "Anna Aaltonen", Profession.PHYSICIAN, required=True)
BERTIL = Invitee(2, "Bertil Björklund", Profession.SOCIAL_WORKER, required=True)
CECILIA = Invitee(3, "Cecilia Carlsson", Profession.NURSE, required=False)
DAAVID = Invitee(4, "Daavid Dahl", Profession.PSYCHOLOGIST, required=False)


def make_poll(state: PollState = PollState.OPEN, chosen: int | None = None) -> AvailabilityPoll:
    return AvailabilityPoll(
        id=99,
        consultation_id=7,
        team_id=1,
        created_by=50,
        slots=[S11, S12, S13],
        invitees=[ANNA, BERTIL, CECILIA, DAAVID],
        deadline=datetime(2026, 3, 9, 10, 0, tzinfo=UTC),
        place="Neuvotteluhuone Koli, 2. krs",
        state=state,
        wanted=frozenset({Profession.PHYSICIAN, Profession.SOCIAL_WORKER, Profession.NURSE}),
        votes={
            1: {11: Answer.YES, 12: Answer.YES, 13: Answer.YES},
            2: {11: Answer.NO, 12: Answer.YES, 13: Answer.IF_NEED_BE},
            3: {11: Answer.YES, 12: Answer.IF_NEED_BE},
        },
        chosen_slot_id=chosen,
    )


# --- reading a card ----------------------------------------------------------------------


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def inputs(card: Card) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in walk(card) if str(e.get("type", "")).startswith("Input.")}


def executes(card: Card) -> list[dict[str, Any]]:
    """Every Action.Execute, checking its Action.Submit fallback carries the same data."""
    found = []
    for e in walk(card):
        if e.get("type") == "Action.Execute":
            assert e["fallback"]["type"] == "Action.Submit"
            assert e["fallback"]["data"] == e["data"]
            assert e["data"]["verb"] == e["verb"]
            found.append(e)
    return found


def verbs(card: Card) -> list[str]:
    return [a["verb"] for a in executes(card)]


def data_of(action: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in action["data"].items() if k != "verb"}


def texts(card: Card) -> str:
    parts = []
    for e in walk(card):
        for key in ("text", "title", "value", "label", "placeholder"):
            if isinstance(e.get(key), str):
                parts.append(e[key])
    return "\n".join(parts)


def red(card: Card) -> list[str]:
    return [e["text"] for e in walk(card) if e.get("color") == "Attention"]


@pytest.fixture(params=LOCALES)
def t(request: pytest.FixtureRequest) -> Texts:
    return texts_for(request.param)


# --- setup -------------------------------------------------------------------------------

MEMBERS = [
    (1, "Anna Aaltonen", Profession.PHYSICIAN),
    (2, "Bertil Björklund", Profession.SOCIAL_WORKER),
    (3, "Cecilia Carlsson", Profession.NURSE),
    (5, "Eero Eskola", None),
]


def setup(t: Texts, **kwargs: Any) -> Card:
    params: dict[str, Any] = {
        "case_id": 5,
        "case_number": CASE,
        "suggestions": [S11.start, S13.start],
        "members": MEMBERS,
        "wanted": frozenset({Profession.PHYSICIAN, Profession.NURSE}),
        "suggested_invitees": frozenset({3, 1}),
    }
    params.update(kwargs)
    return poll_setup_card(t, **params)


def test_setup_is_prefilled_from_the_regular_times(t: Texts) -> None:
    card = setup(t)
    fields = inputs(card)
    assert fields["slot1_date"]["type"] == "Input.Date"
    assert fields["slot1_date"]["value"] == "2026-03-10"
    assert fields["slot1_time"]["type"] == "Input.Time"
    assert fields["slot1_time"]["value"] == "10:00"  # Helsinki time
    assert fields["slot2_date"]["value"] == "2026-03-12"
    assert fields["slot2_time"]["value"] == "13:30"
    for i in (3, 4):
        assert "value" not in fields[f"slot{i}_date"]
        assert "value" not in fields[f"slot{i}_time"]
    for i in range(1, 5):
        minutes = fields[f"slot{i}_minutes"]
        assert minutes["value"] == "60"
        assert [c["value"] for c in minutes["choices"]] == [str(m) for m in DURATIONS]
    assert "slot5_date" not in fields
    assert t("poll.setup.suggested") in texts(card)
    assert CASE in texts(card)


def test_setup_offers_members_as_invitees_and_required(t: Texts) -> None:
    card = setup(t)
    fields = inputs(card)
    invitees, required = fields["invitees"], fields["required"]
    assert invitees["isMultiSelect"] and required["isMultiSelect"]
    assert invitees["value"] == "1,3"  # the suggested ones, in member order
    assert required.get("value", "") == ""
    assert required["label"] == t("poll.setup.required")
    titles = {c["value"]: c["title"] for c in invitees["choices"]}
    assert titles["1"] == f"Anna Aaltonen · {t('profession.physician')}"
    assert titles["5"] == "Eero Eskola"
    assert required["choices"] == invitees["choices"]
    assert fields["deadline_date"]["type"] == "Input.Date"
    assert fields["deadline_time"]["type"] == "Input.Time"
    assert fields["deadline_time"]["value"] == "12:00"
    assert fields["place"]["type"] == "Input.Text"
    assert t("profession.nurse") in texts(card)  # the wanted professions are named
    (button,) = executes(card)
    assert button["verb"] == "poll.open"
    assert data_of(button) == {"case_id": 5}
    assert button["style"] == "positive"


def test_setup_refills_values_and_shows_errors_in_red(t: Texts) -> None:
    values = {
        "slot1_date": "2026-04-01",
        "slot1_time": "09:15",
        "slot1_minutes": "90",
        "slot3_date": "2026-04-02",
        "invitees": "2,5",
        "required": "2",
        "deadline_date": "2026-03-30",
        "deadline_time": "15:00",
        "place": "Teams",
    }
    card = setup(t, values=values, errors=["error.slot_in_past", "error.too_many_slots"])
    fields = inputs(card)
    for key, value in values.items():
        assert fields[key]["value"] == value, key
    assert fields["slot2_date"]["value"] == "2026-03-12"  # untouched suggestion stays
    assert red(card) == [t("error.slot_in_past"), t("error.too_many_slots", limit=MAX_SLOTS)]
    assert str(MAX_SLOTS) in red(card)[1]


def test_setup_names_each_suggested_slot_and_gives_its_date_the_whole_width(t: Texts) -> None:
    card = setup(t)
    headings = [e["text"] for e in walk(card) if e.get("type") == "TextBlock"]
    assert f"**{t('poll.setup.slot', number=1)} · {slot_label(t, S11)}**" in headings
    assert f"**{t('poll.setup.slot', number=3)}**" in headings  # empty: no time to name
    # The date input is not squeezed into a column beside the time and the duration.
    in_columns = {
        item.get("id")
        for e in walk(card)
        if e.get("type") == "Column"
        for item in e.get("items", [])
    }
    assert "slot1_date" not in in_columns
    assert {"slot1_time", "slot1_minutes"} <= in_columns
    if t.language == "fi":
        assert any("Aika 1 · ti 10.3. klo 10.00–11.00" in h for h in headings)


def test_setup_without_regular_times_says_so(t: Texts) -> None:
    card = setup(t, suggestions=[], suggested_invitees=frozenset())
    fields = inputs(card)
    assert all("value" not in fields[f"slot{i}_date"] for i in range(1, 5))
    assert fields["invitees"]["value"] == ""
    assert t("poll.setup.no_suggestions") in texts(card)
    assert t("poll.setup.suggested") not in texts(card)


# --- the invitee's card ------------------------------------------------------------------


def test_slot_label_is_helsinki_time_with_end() -> None:
    fi = texts_for("fi")
    assert slot_label(fi, S11) == "ti 10.3. klo 10.00–11.00"
    assert slot_label(texts_for("sv"), S11) == "tis 10.3 kl. 10.00–11.00"
    assert slot_label(texts_for("en"), S11) == "Tue 10 Mar, 10:00–11:00"


def test_vote_card_shows_current_answers(t: Texts) -> None:
    card = vote_card(t, make_poll(), user_id=3, case_number=CASE, show_tallies=False)
    fields = inputs(card)
    assert set(fields) == {"slot_11", "slot_12", "slot_13"}
    for slot in (S11, S12, S13):
        choice = fields[f"slot_{slot.id}"]
        assert choice["type"] == "Input.ChoiceSet"
        assert choice["style"] == "expanded"
        assert t.span(slot.start, slot.end) in choice["label"]
        assert [c["value"] for c in choice["choices"]] == ["yes", "if_need_be", "no"]
        assert [c["title"] for c in choice["choices"]] == [
            t("answer.yes"),
            t("answer.if_need_be"),
            t("answer.no"),
        ]
    assert fields["slot_11"]["value"] == "yes"
    assert fields["slot_12"]["value"] == "if_need_be"
    assert "value" not in fields["slot_13"]
    (button,) = executes(card)
    assert button["verb"] == "poll.vote"
    assert data_of(button) == {"poll_id": 99}
    body = texts(card)
    assert CASE in body
    # The deadline is written like the slots, with its weekday.
    assert t.moment(make_poll().deadline) in body
    assert t.datetime(make_poll().deadline) not in body
    assert "Neuvotteluhuone Koli" in body
    assert t("poll.tally", yes=2, if_need_be=0, no=1) not in body
    assert t("reminder.poll_nudge") not in body


def test_vote_card_shows_tallies_when_the_team_allows(t: Texts) -> None:
    card = vote_card(t, make_poll(), user_id=4, case_number=CASE, show_tallies=True)
    body = texts(card)
    assert t("poll.tally", yes=2, if_need_be=0, no=1) in body
    assert t("poll.tally", yes=2, if_need_be=1, no=0) in body
    assert t("poll.tally", yes=1, if_need_be=1, no=0) in body
    assert all("value" not in f for f in inputs(card).values())


def test_vote_card_notice_reminder_and_required(t: Texts) -> None:
    notice = t("notice.votes_saved")
    card = vote_card(
        t,
        make_poll(),
        user_id=1,
        case_number=CASE,
        show_tallies=False,
        notice=notice,
        reminder=True,
    )
    body = texts(card)
    assert notice in body
    assert t("reminder.poll_nudge") in body
    assert t("poll.vote.required") in body
    assert card["body"][0]["text"] == t("reminder.poll_nudge")


def test_vote_card_asks_teams_to_refresh_it_for_its_invitee(t: Texts) -> None:
    poll = make_poll()
    poll.invitees[2] = Invitee(3, "Cecilia Carlsson", Profession.NURSE, False, "29:cecilia")
    for state in (PollState.OPEN, PollState.FINALIZED):
        poll.state, poll.chosen_slot_id = state, 12 if state is PollState.FINALIZED else None
        card = vote_card(t, poll, user_id=3, case_number=CASE, show_tallies=False)
        assert card["refresh"] == {
            "action": {
                "type": "Action.Execute",
                "verb": "poll.vote.refresh",
                "data": {"verb": "poll.vote.refresh", "poll_id": 99},
            },
            "userIds": ["29:cecilia"],
        }


def test_a_vote_too_late_is_shown_as_a_refusal_not_a_success(t: Texts) -> None:
    poll = make_poll(PollState.FINALIZED, chosen=12)
    card = vote_card(
        t, poll, user_id=3, case_number=CASE, show_tallies=False, refusal=t("error.poll_closed")
    )
    assert red(card)[0] == t("error.poll_closed")
    assert t("error.poll_closed") not in [e["text"] for e in walk(card) if e.get("color") == "Good"]
    assert inputs(card) == {}


@pytest.mark.parametrize("state", [PollState.CLOSED, PollState.FINALIZED, PollState.CANCELLED])
def test_vote_card_has_no_inputs_once_closed(t: Texts, state: PollState) -> None:
    poll = make_poll(state, chosen=12 if state is PollState.FINALIZED else None)
    card = vote_card(t, poll, user_id=3, case_number=CASE, show_tallies=True, reminder=True)
    assert inputs(card) == {}
    assert executes(card) == []
    assert "actions" not in card
    body = texts(card)
    assert t("reminder.poll_nudge") not in body
    expected = {
        PollState.CLOSED: t("poll.outcome.closed"),
        PollState.FINALIZED: t("poll.outcome.finalized", slot=slot_label(t, S12)),
        PollState.CANCELLED: t("poll.outcome.cancelled"),
    }[state]
    assert expected in body
    # Their own answers, slot by slot.
    answers = {
        f["title"]: f["value"] for e in walk(card) if e.get("type") == "FactSet" for f in e["facts"]
    }
    assert answers[slot_label(t, S11)] == t("answer.yes")
    assert answers[slot_label(t, S12)] == t("answer.if_need_be")
    assert answers[slot_label(t, S13)] == t("poll.answer.none")


# --- the coordinator's overview ----------------------------------------------------------


def finalize_buttons(card: Card) -> dict[int, dict[str, Any]]:
    return {a["data"]["slot_id"]: a for a in executes(card) if a["verb"] == "poll.finalize"}


def test_overview_names_the_recommended_slot_and_offers_override(t: Texts) -> None:
    poll = make_poll()
    card = overview_card(t, poll, case_number=CASE)
    body = texts(card)
    assert poll.recommended() is not None and poll.recommended().slot.id == 12  # type: ignore[union-attr]
    assert t("poll.overview.recommended", slot=slot_label(t, S12)) in body
    assert t("poll.overview.no_recommendation") not in body
    choose = finalize_buttons(card)
    assert set(choose) == {11, 12, 13}
    assert data_of(choose[12]) == {"poll_id": 99, "slot_id": 12}
    # Short titles: the slot is named just above each button.
    assert choose[12]["title"] == t("poll.overview.choose")
    assert choose[12]["style"] == "positive"
    assert data_of(choose[13]) == {"poll_id": 99, "slot_id": 13}
    # Bertil (required) said no to slot 11: choosing it is an explicit override.
    assert data_of(choose[11]) == {"poll_id": 99, "slot_id": 11, "override": True}
    assert choose[11]["title"] == t("poll.overview.choose_override")
    assert t("poll.overview.override_warning") in red(card)
    assert t("poll.overview.required_no", names="Bertil Björklund") in red(card)
    # Tallies and coverage per slot.
    assert t("poll.tally", yes=2, if_need_be=0, no=1) in body
    assert t("profession.nurse") in body
    # Who has not answered every slot: said, but not as a warning.
    assert not [x for x in red(card) if "Daavid" in x]
    assert t("poll.overview.not_answered", names="Cecilia Carlsson, Daavid Dahl") in body
    verbs_ = verbs(card)
    assert "poll.refresh" in verbs_ and "poll.cancel" in verbs_
    (cancel,) = [a for a in executes(card) if a["verb"] == "poll.cancel"]
    assert cancel["style"] == "destructive"
    assert data_of(cancel) == {"poll_id": 99}
    assert CASE in body


def test_overview_warns_when_no_slot_has_every_required_invitee(t: Texts) -> None:
    poll = make_poll()
    poll.votes[1] = {11: Answer.NO, 12: Answer.YES, 13: Answer.NO}
    poll.votes[2] = {11: Answer.YES, 12: Answer.NO, 13: Answer.YES}
    assert poll.recommended() is None
    card = overview_card(t, poll, case_number=CASE)
    assert t("poll.overview.no_recommendation") in red(card)
    assert all(a["data"].get("override") is True for a in finalize_buttons(card).values())
    assert red(card).count(t("poll.overview.override_warning")) == 3


def test_a_fresh_poll_waits_for_answers_without_warnings(t: Texts) -> None:
    poll = make_poll()
    poll.votes = {}
    card = overview_card(t, poll, case_number=CASE, notice="notice.poll_opened")
    body = texts(card)
    # Nobody has said no: nothing is red, and the card says whose answers it waits for.
    assert red(card) == []
    assert t("poll.overview.no_recommendation") not in body
    assert t("poll.overview.override_warning") not in body
    assert t("poll.overview.waiting") in body
    names = "Anna Aaltonen, Bertil Björklund, Cecilia Carlsson, Daavid Dahl"
    assert t("poll.overview.nobody_yet", names=names) in body
    assert t("poll.overview.required_pending", names="Anna Aaltonen, Bertil Björklund") in body
    choose = finalize_buttons(card)
    assert {a["title"] for a in choose.values()} == {t("poll.overview.choose")}
    # Choosing before the required invitees answer does not wait for them.
    assert all(a["data"]["override"] is True for a in choose.values())


def test_override_titles_fit_a_button(t: Texts) -> None:
    for key in ("poll.overview.choose", "poll.overview.choose_override"):
        assert len(t(key)) <= 20, t(key)


def test_overview_says_why_it_came(t: Texts) -> None:
    poll = make_poll(PollState.CLOSED)
    poll.votes[3][13] = Answer.NO
    poll.votes[4] = {11: Answer.NO, 12: Answer.YES, 13: Answer.YES}
    card = overview_card(
        t,
        poll,
        case_number=CASE,
        reason="reminder.poll_deadline_passed",
        notice="notice.poll_everyone_answered",
    )
    assert card["body"][0]["text"] == t("reminder.poll_deadline_passed")
    body = texts(card)
    assert t("notice.poll_everyone_answered") in body
    assert t("poll.overview.everyone_answered") in body
    assert t("poll.overview.closed") in body
    assert set(finalize_buttons(card)) == {11, 12, 13}


def test_finalized_overview_only_offers_reschedule(t: Texts) -> None:
    card = overview_card(t, make_poll(PollState.FINALIZED, chosen=13), case_number=CASE)
    assert t("poll.outcome.finalized", slot=slot_label(t, S13)) in texts(card)
    (button,) = executes(card)
    assert button["verb"] == "poll.reschedule"
    assert data_of(button) == {"poll_id": 99}


def test_cancelled_overview_has_no_buttons(t: Texts) -> None:
    card = overview_card(t, make_poll(PollState.CANCELLED), case_number=CASE)
    assert executes(card) == []
    assert t("poll.outcome.cancelled") in texts(card)


# --- the confirmation --------------------------------------------------------------------


def open_urls(card: Card) -> list[dict[str, Any]]:
    return [e for e in walk(card) if e.get("type") == "Action.OpenUrl"]


def test_confirmation_has_time_place_and_calendar_file(t: Texts) -> None:
    poll = make_poll(PollState.FINALIZED, chosen=12)
    card = meeting_confirmation_card(t, poll, case_number=CASE, ics_url=ICS)
    body = texts(card)
    assert t("meeting.confirmed.title", case_number=CASE) in body
    assert slot_label(t, S12) in body
    assert "Neuvotteluhuone Koli, 2. krs" in body
    (ics,) = open_urls(card)
    assert ics["url"] == ICS
    assert ics["title"] == t("meeting.ics.button")
    # Pseudonymous: no invitee names, only the case number.
    assert not any(i.name in body for i in poll.invitees)


def test_confirmation_with_an_online_link_offers_to_open_it(t: Texts) -> None:
    poll = make_poll(PollState.FINALIZED, chosen=12)
    poll.place = "https://teams.microsoft.com/l/meetup-join/abc"
    card = meeting_confirmation_card(t, poll, case_number=CASE, ics_url=ICS)
    assert [a["url"] for a in open_urls(card)] == [ICS, poll.place]


def test_cancelled_and_rescheduled_confirmations(t: Texts) -> None:
    poll = make_poll(PollState.CANCELLED, chosen=12)
    poll.place = "https://teams.microsoft.com/l/meetup-join/abc"
    cancelled = meeting_confirmation_card(t, poll, case_number=CASE, ics_url=ICS, cancelled=True)
    assert t("meeting.cancelled.title", case_number=CASE) in texts(cancelled)
    assert t("meeting.cancelled.body", slot=slot_label(t, S12)) in red(cancelled)
    (ics,) = open_urls(cancelled)
    assert ics["url"] == ICS
    assert ics["title"] == t("meeting.ics.cancel_button")
    moved = meeting_confirmation_card(
        t,
        make_poll(PollState.FINALIZED, chosen=13),
        case_number=CASE,
        ics_url=ICS,
        rescheduled=True,
    )
    assert t("meeting.rescheduled.title", case_number=CASE) in texts(moved)
    assert t("meeting.rescheduled.body", slot=slot_label(t, S13)) in red(moved)
    assert open_urls(moved)[0]["url"] == ICS


def test_languages_differ() -> None:
    cards = {
        lang: texts(
            vote_card(texts_for(lang), make_poll(), user_id=1, case_number=CASE, show_tallies=True)
        )
        for lang in ("fi", "sv", "en")
    }
    assert len(set(cards.values())) == 3
    assert "Sopii tarvittaessa" in cards["fi"]
    assert "Passar vid behov" in cards["sv"]
    assert "If need be" in cards["en"]


# --- size --------------------------------------------------------------------------------


def big_poll(state: PollState = PollState.OPEN) -> AvailabilityPoll:
    start = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)
    slots = [
        TimeSlot(100 + i, start + timedelta(days=i, hours=i % 3), 120) for i in range(MAX_SLOTS)
    ]
    professions = list(Profession)
    invitees = [
        Invitee(
            1000 + n,
            f"Äänekoski-Hämäläinen-Öhrnberg Maria-Liisa Ålander {n:02d} " + "ä" * 60,
            professions[n % len(professions)],
            required=n % 2 == 0,
        )
        for n in range(MAX_INVITEES)
    ]
    votes = {
        i.user_id: {s.id: Answer.NO for s in slots if s.id is not None}
        for i in invitees[: MAX_INVITEES - 10]
    }
    return AvailabilityPoll(
        id=1,
        consultation_id=1,
        team_id=1,
        created_by=1,
        slots=slots,
        invitees=invitees,
        deadline=start - timedelta(days=1),
        place="https://teams.microsoft.com/l/meetup-join/" + "ä" * 480,
        state=state,
        wanted=frozenset(Profession),
        votes=votes,
        chosen_slot_id=slots[0].id if state is PollState.FINALIZED else None,
    )


def test_every_card_fits_at_maximum_size(t: Texts) -> None:
    poll = big_poll()
    members = [(i.user_id, i.name, i.profession) for i in poll.invitees]
    values = {f"slot{i}_date": "2026-03-10" for i in range(1, 5)} | {"place": "ö" * 600}
    cards = {
        "setup": poll_setup_card(
            t,
            case_id=1,
            case_number=CASE,
            suggestions=[s.start for s in poll.slots],
            members=members,
            wanted=frozenset(Profession),
            suggested_invitees=frozenset(m[0] for m in members),
            errors=["error.slot_in_past", "error.deadline_after_slot", "error.no_invitees"],
            values=values,
        ),
        "vote": vote_card(
            t,
            poll,
            user_id=1000,
            case_number=CASE,
            show_tallies=True,
            notice=t("notice.votes_saved"),
            reminder=True,
        ),
        "overview": overview_card(
            t,
            poll,
            case_number=CASE,
            notice="notice.poll_opened",
            reason="reminder.poll_deadline_passed",
        ),
        "vote_closed": vote_card(
            t, big_poll(PollState.FINALIZED), user_id=1000, case_number=CASE, show_tallies=True
        ),
        "overview_final": overview_card(t, big_poll(PollState.FINALIZED), case_number=CASE),
        "confirmation": meeting_confirmation_card(
            t, big_poll(PollState.FINALIZED), case_number=CASE, ics_url=ICS
        ),
    }
    for name, card in cards.items():
        assert card_bytes(card) <= MAX_CARD_BYTES, (name, card_bytes(card))
    # Squeezed, not emptied: every slot and every member is still there.
    assert len(finalize_buttons(cards["overview"])) == MAX_SLOTS
    assert len(inputs(cards["setup"])["invitees"]["choices"]) == MAX_INVITEES
    assert len([k for k in inputs(cards["vote"]) if k.startswith("slot_")]) == MAX_SLOTS


def test_realistic_cards_are_not_squeezed(t: Texts) -> None:
    card = overview_card(t, make_poll(), case_number=CASE)
    assert "…" not in texts(card)
    assert "Cecilia Carlsson, Daavid Dahl" in texts(card)


# --- the catalog -------------------------------------------------------------------------

# Keys the handlers and other cards use for the poll (not written in dialogs/cards/poll.py).
HANDLER_KEYS = [
    "error.poll_closed",
    "error.not_invited",
    "error.required_unavailable",
    "error.slot_duration",
    "error.slot_in_past",
    "error.slot_not_working_day",
    "error.slot_outside_hours",
    "error.no_slots",
    "error.too_many_slots",
    "error.duplicate_slots",
    "error.deadline_in_past",
    "error.deadline_after_slot",
    "error.no_invitees",
    "error.required_not_invited",
    "error.case_not_accepted",
    "error.not_team_member_invitee",
    "reminder.poll_nudge",
    "reminder.poll_deadline_passed",
    "notice.poll_everyone_answered",
    "notice.votes_saved",
    "notice.poll_opened",
    "triage.schedule.button",
    *(f"answer.{a.value}" for a in Answer),
    *(f"poll.state.{s.value}" for s in PollState),
]
_LITERAL = re.compile(r"""\bt\(\s*(["'])([a-z_][a-z0-9_.]*)\1""")
_FSTRING = re.compile(r"""\bt\(\s*f(["'])(.+?)\1""")


def po(language: str) -> dict[str, str]:
    with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle, locale=language) if m.id}


def fields_of(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_poll_key_is_translated_in_every_language() -> None:
    source = Path(poll_cards.__file__).read_text(encoding="utf-8")
    # Only literal keys: the request card test reads every card module's t(f"...").
    assert not _FSTRING.findall(source)
    keys = {m.group(2) for m in _LITERAL.finditer(source)} | set(HANDLER_KEYS)
    assert "poll.overview.override_warning" in keys and "meeting.ics.button" in keys
    catalogs = {language: po(language) for language in ("fi", "sv", "en")}
    for language, catalog in catalogs.items():
        missing = sorted(k for k in keys if not catalog.get(k, "").strip())
        assert not missing, f"{language}: {missing}"
    for key in keys:
        fields = fields_of(catalogs["fi"][key])
        for language in ("sv", "en"):
            assert fields_of(catalogs[language][key]) == fields, (language, key)
    assert fields_of(catalogs["fi"]["error.too_many_slots"]) == {"limit"}
    assert catalogs["fi"]["triage.schedule.button"] == "Aloita ajan sopiminen"


def test_every_error_formats_with_the_limit(t: Texts) -> None:
    for key in HANDLER_KEYS:
        assert "{" not in t(key, limit=MAX_SLOTS), key
