"""Every list card and every people picker stays under Teams' size limit whatever the data:
pages anywhere in lists of up to 100 000, rows with the longest texts the bot stores, in
the characters that cost most as JSON, teams of thousands - and a page shortened to fit
still pages on from where it stopped."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.i18n import LANGUAGES, Texts
from consultations.case_manager import CasesSection, CasesView, ManagedCase, ReviewView
from consultations.consultation import CaseStatus, Consultation, RequestDetails, Urgency
from consultations.intake import QueueItem, QueueView
from consultations.lists import MAX_PAGE, Page
from consultations.model import (
    FailedDelivery,
    Profession,
    RecipientType,
    Role,
    Team,
    TeamSettings,
    User,
)
from consultations.poll import TimeSlot
from consultations.ports import HeldMeeting
from consultations.summaries import SummaryView
from consultations.summary import (
    MAX_RECOMMENDATION,
    HandOver,
    MeetingSummary,
    OutsideParty,
    Owner,
    Recommendation,
    SummaryState,
)
from dialogs.cards.base import MAX_CARD_BYTES, Card, card_bytes
from dialogs.cards.followup import cases_card, review_card
from dialogs.cards.people import ALL_SHOWN
from dialogs.cards.poll import poll_setup_card
from dialogs.cards.registry import deliveries_card, digest_card, roles_card
from dialogs.cards.request import drafts_card, my_requests_card
from dialogs.cards.summary import summary_editor_card
from dialogs.cards.triage import queue_card
from tests.support.cards import executes, inputs

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
NAME = 256  # users.name, teams.name
# What costs most as JSON (card_bytes counts every non-ASCII byte as its \\u escape).
FILLERS = ("ä", "a", '"', "€", "\u0001")

languages = st.sampled_from(LANGUAGES)
fillers = st.sampled_from(FILLERS)


@st.composite
def pages(draw: st.DrawFn) -> tuple[int, int, int]:
    """(rows on the page, where it starts, the list's total)."""
    rows = draw(st.integers(0, MAX_PAGE))
    total = draw(st.integers(rows, 100_000))
    offset = draw(st.integers(0, total - rows))
    return rows, offset, total


def case(i: int, filler: str, status: CaseStatus = CaseStatus.SUBMITTED) -> Consultation:
    details = RequestDetails(
        team_id=1,
        client_reference=filler * 40,
        question=filler * 2000,
        urgency=Urgency.URGENT,
        urgent_timeframe=filler * 200,
    )
    return Consultation(
        id=i + 1,
        requester_id=2,
        details=details,
        status=status,
        case_number=f"TK-2026-{i + 1:05d}",
        created_at=AT,
        submitted_at=AT,
    )


def fits(card: Card) -> None:
    assert card_bytes(card) <= MAX_CARD_BYTES


def more_offset(card: Card, verb: str) -> int | None:
    """Where the card's "Show more" goes on from (None: no such button)."""
    starts = [
        x["data"]["offset"] for x in executes(card) if x["verb"] == verb and x["data"].get("offset")
    ]
    return max(starts) if starts else None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(language=languages, filler=fillers, page=pages())
def test_the_request_lists_fit_and_page_on_from_where_they_stopped(
    language: str, filler: str, page: tuple[int, int, int]
) -> None:
    t = Texts(language)
    rows, offset, total = page
    cases = [case(offset + i, filler) for i in range(rows)]
    place = filler * 500
    meetings = {c.id or 0: (TimeSlot(1, AT, 120), place) for c in cases}
    queue = QueueView(
        Page([QueueItem(c, 999, True, filler * NAME) for c in cases], offset, total), total
    )
    for card, verb, row_verb in [
        (queue_card(t, queue), "request.queue", "triage.open"),
        (
            my_requests_card(t, Page(cases, offset, total), meetings=meetings),
            "request.my",
            "request.withdraw",
        ),
        (drafts_card(t, Page(cases, offset, total)), "request.drafts", "request.resume"),
    ]:
        fits(card)
        shown = sum(1 for x in executes(card) if x["verb"] == row_verb)
        following = more_offset(card, verb)
        if offset + shown < total:
            # Cut to fit or not, the next page begins right after the last row shown.
            assert following == offset + max(shown, 1)
        else:
            assert following is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(language=languages, filler=fillers, page=pages())
def test_undelivered_messages_fit(language: str, filler: str, page: tuple[int, int, int]) -> None:
    t = Texts(language)
    rows, offset, total = page
    failures = [
        FailedDelivery(
            i,
            "recommendation.escalation",
            RecipientType.USER,
            "5",
            filler * NAME,
            9,
            filler * 500,
            AT,
        )
        for i in range(rows)
    ]
    fits(deliveries_card(t, Page(failures, offset, total)))


def managed_case(i: int, filler: str) -> ManagedCase:
    recs = [
        Recommendation(
            100 * i + r,
            i,
            7,
            filler * MAX_RECOMMENDATION,
            Owner(user_id=r + 1) if r % 2 else Owner(party=OutsideParty.KELA),
            date(2026, 12, 1),
        )
        for r in range(15)
    ]
    handover = HandOver(i, i, 1, 2, filler * 2000, AT)
    return ManagedCase(case(i, filler, CaseStatus.FOLLOW_UP), date(2027, 1, 1), recs, handover)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    language=languages,
    filler=fillers,
    page=pages(),
    section=st.sampled_from(["", *CasesSection.ALL]),
)
def test_a_case_managers_list_fits_in_every_part(
    language: str, filler: str, page: tuple[int, int, int], section: str
) -> None:
    t = Texts(language)
    rows, offset, total = page
    if not section:
        offset = 0
    recommendation = managed_case(0, filler).recommendations[0]
    view = CasesView(
        managed=Page([managed_case(i, filler) for i in range(rows)], offset, total),
        owned=Page([(recommendation, f"TK-2026-{i:05d}") for i in range(rows)], offset, total),
        handovers=Page(
            [
                (HandOver(i, i, 1, 2, "", AT), f"TK-2026-{i:05d}", filler * NAME)
                for i in range(rows)
            ],
            offset,
            total,
        ),
        summaries_due=Page(
            [HeldMeeting(i, f"TK-2026-{i:05d}", 1, i, AT, 60, 1) for i in range(rows)],
            offset,
            total,
        ),
        names={u: filler * NAME for u in range(1, 20)},
        section=section,
    )
    card = cases_card(t, view, date(2026, 12, 7))
    fits(card)
    if total and offset + rows < total:
        assert more_offset(card, "cases.open") is not None


def roster(count: int, filler: str) -> list[tuple[int, str, Profession | None]]:
    professions = list(Profession)
    return [
        (i, f"{filler * 200} {i}", professions[i % len(professions)]) for i in range(1, count + 1)
    ]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(language=languages, filler=fillers, members=st.integers(0, 3000))
def test_people_pickers_fit_on_a_team_of_thousands(
    language: str, filler: str, members: int
) -> None:
    t = Texts(language)
    people = roster(members, filler)
    ids = [uid for uid, _, _ in people]
    setup = poll_setup_card(
        t,
        case_id=5,
        case_number="TK-2026-00005",
        suggestions=[AT + timedelta(days=7)],
        members=people,
        wanted=frozenset(Profession),
        suggested_invitees=frozenset(ids[:30]),
    )
    fits(setup)
    invitees = inputs(setup)["invitees"]
    assert len(invitees["choices"]) <= max(ALL_SHOWN, 30)
    assert invitees["choices.data"]["dataset"] == "people.members:5"

    summary = MeetingSummary(
        id=7,
        consultation_id=5,
        poll_id=3,
        round=1,
        version=1,
        created_by=1,
        state=SummaryState.DRAFT,
        attendees=tuple(ids[:40]),
        case_manager_id=ids[0] if ids else None,
    )
    editor = summary_editor_card(
        t,
        SummaryView(
            case=case(4, filler, CaseStatus.SCHEDULED),
            summary=summary,
            meeting=TimeSlot(1, AT, 60),
            names={uid: name for uid, name, _ in people},
            attendee_choices=ids,
            owner_choices=[*ids, 2],
            recommendations={},
            case_manager_id=None,
            invited=ids[:30],
        ),
    )
    fits(editor)
    review = review_card(
        t,
        ReviewView(
            managed=ManagedCase(case(4, filler, CaseStatus.FOLLOW_UP), None, [], None),
            case_manager_id=1,
            candidates=[(uid, name) for uid, name, _ in people],
            can_act=True,
            suggested=frozenset(ids[:40]),
        ),
    )
    fits(review)


@settings(max_examples=20, deadline=None)
@given(language=languages, filler=fillers, count=st.integers(0, 5000))
def test_the_digest_names_a_few_unreachable_and_counts_the_rest(
    language: str, filler: str, count: int
) -> None:
    t = Texts(language)
    card = digest_card(
        t,
        filler * NAME,
        100_000,
        [filler * NAME for _ in range(count)],
        waiting=100_000,
        overdue=99_999,
        no_summary=5000,
        overdue_recommendations=20_000,
        handovers_waiting=300,
    )
    fits(card)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(language=languages, filler=fillers, page=pages(), manage=st.booleans())
def test_a_teams_roles_page_fits(
    language: str, filler: str, page: tuple[int, int, int], manage: bool
) -> None:
    t = Texts(language)
    rows, offset, total = page
    team = Team(1, "19:team@thread.tacv2", filler * NAME, "", "", "", TeamSettings())
    members = [
        (
            User(
                i,
                f"29:user-{i}",
                None,
                filler * NAME,
                "fi-FI",
                Profession.PHYSICIAN,
                "",
                "",
                None,
                None,
            ),
            frozenset({Role.COORDINATOR}) if i % 5 == 0 else frozenset(),
        )
        for i in range(offset, offset + rows)
    ]
    card = roles_card(t, team, Page(members, offset, total), can_manage=manage)
    fits(card)
    if offset + rows < total:
        assert more_offset(card, "roles.open") is not None
