"""The consultation aggregate: its life cycle, the request's fields and their parsing."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consultations.consultation import (
    FINISHED,
    MAX_TEXT,
    TEXT_FIELDS,
    TRANSITIONS,
    Barrier,
    CaseStatus,
    Consent,
    Consultation,
    RequestDetails,
    Service,
    Transition,
    Urgency,
    check_fields,
    format_case_number,
    parse_case_number,
    parse_fields,
)
from consultations.errors import DomainError, IdentityCodeRefused, InvalidInput
from consultations.model import Profession
from consultations.privacy import contains_identity_code

S = CaseStatus
AT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
ACTOR = 7
HETU = "131052-308T"

ALL_PAIRS = [(a, b) for a in CaseStatus for b in CaseStatus]
LEGAL = [pytest.param(a, b, id=f"{a}->{b}") for a, b in ALL_PAIRS if b in TRANSITIONS[a]]
ILLEGAL = [pytest.param(a, b, id=f"{a}->{b}") for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]


def case_in(status: CaseStatus) -> Consultation:
    earlier = Transition(None, S.DRAFT, 1, AT - timedelta(days=1), "created")
    return Consultation(
        id=1, requester_id=1, details=RequestDetails(), status=status, history=[earlier]
    )


COMPLETE = RequestDetails(
    team_id=1,
    client_reference="AB-1980",
    consent=Consent.OBTAINED,
    consent_date=date(2026, 11, 1),
    question="Mikä auttaisi paluussa työhön?",
)


# --- transitions --------------------------------------------------------------------------


def test_every_status_has_a_rule_and_every_target_is_a_status() -> None:
    assert set(TRANSITIONS) == set(CaseStatus)
    assert all(targets <= set(CaseStatus) for targets in TRANSITIONS.values())
    assert len(LEGAL) + len(ILLEGAL) == len(CaseStatus) ** 2


@pytest.mark.parametrize(("source", "target"), LEGAL)
def test_a_legal_transition_moves_the_case_and_is_recorded(
    source: CaseStatus, target: CaseStatus
) -> None:
    case = case_in(source)
    before = list(case.history)

    step = case.transition(target, ACTOR, AT, "why")

    assert case.status is target
    assert step == Transition(source, target, ACTOR, AT, "why")
    assert case.history == [*before, step]


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_an_illegal_transition_is_refused_and_changes_nothing(
    source: CaseStatus, target: CaseStatus
) -> None:
    case = case_in(source)
    before = copy.deepcopy(case)

    with pytest.raises(DomainError) as refused:
        case.transition(target, ACTOR, AT)

    assert refused.value.code == "error.illegal_transition"
    assert refused.value.params == {"status": source.value, "target": target.value}
    assert case == before
    assert case.status is source
    assert case.history == before.history


@pytest.mark.parametrize("terminal", sorted(FINISHED))
def test_a_finished_case_has_no_way_out(terminal: CaseStatus) -> None:
    assert TRANSITIONS[terminal] == frozenset()
    case = case_in(terminal)
    for target in CaseStatus:
        with pytest.raises(DomainError, match=r"error\.illegal_transition"):
            case.transition(target, ACTOR, AT)
    assert case.status is terminal and len(case.history) == 1


def test_no_status_moves_to_itself() -> None:
    assert all(status not in TRANSITIONS[status] for status in CaseStatus)


def test_the_main_path_from_draft_to_closed_is_recorded_step_by_step() -> None:
    path = [
        S.SUBMITTED,
        S.NEEDS_INFO,
        S.SUBMITTED,
        S.ACCEPTED,
        S.SCHEDULING,
        S.SCHEDULED,
        S.CONSULTED,
        S.FOLLOW_UP,
        S.CLOSED,
    ]
    case = Consultation(id=1, requester_id=1, details=COMPLETE)
    for n, target in enumerate(path):
        case.transition(target, n, AT + timedelta(hours=n))
    assert case.status is S.CLOSED
    assert [(t.from_status, t.to_status) for t in case.history] == list(
        zip([S.DRAFT, *path[:-1]], path, strict=True)
    )
    assert [t.actor_user_id for t in case.history] == list(range(len(path)))
    assert [t.at for t in case.history] == [AT + timedelta(hours=n) for n in range(len(path))]


def test_a_case_in_follow_up_can_be_brought_back_to_the_team() -> None:
    case = case_in(S.FOLLOW_UP)
    case.transition(S.SUBMITTED, ACTOR, AT, "brought_back")
    assert case.status is S.SUBMITTED
    assert case.is_open_for_triage()
    case.transition(S.ACCEPTED, ACTOR, AT)
    assert case.status is S.ACCEPTED


def test_only_submitted_and_waiting_cases_are_open_for_triage() -> None:
    assert {s for s in CaseStatus if case_in(s).is_open_for_triage()} == {
        S.SUBMITTED,
        S.NEEDS_INFO,
    }


# --- what a submission needs ----------------------------------------------------------------


def test_a_complete_request_can_be_submitted() -> None:
    assert COMPLETE.missing_for_submit() == []
    assert COMPLETE.can_submit()


def test_an_empty_draft_lacks_everything_mandatory() -> None:
    assert RequestDetails().missing_for_submit() == [
        "team_id",
        "client_reference",
        "consent",
        "question",
    ]
    assert not RequestDetails().can_submit()


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        pytest.param({"consent": Consent.NOT_YET}, ["consent"], id="consent-not-yet"),
        pytest.param({"consent": None, "consent_date": None}, ["consent"], id="consent-unset"),
        pytest.param(
            {"consent": Consent.TYP_EXCEPTION, "consent_date": None}, [], id="typ-without-date"
        ),
        pytest.param({"consent_date": None}, ["consent_date"], id="obtained-without-date"),
        pytest.param({"urgency": Urgency.URGENT}, ["urgent_timeframe"], id="urgent-no-frame"),
        pytest.param(
            {"urgency": Urgency.URGENT, "urgent_timeframe": "   "},
            ["urgent_timeframe"],
            id="urgent-blank-frame",
        ),
        pytest.param(
            {"urgency": Urgency.URGENT, "urgent_timeframe": "2 viikkoa"}, [], id="urgent-framed"
        ),
        pytest.param({"question": ""}, ["question"], id="no-question"),
        pytest.param({"question": " \n "}, ["question"], id="blank-question"),
        pytest.param({"client_reference": ""}, ["client_reference"], id="no-reference"),
        pytest.param({"client_reference": "  "}, ["client_reference"], id="blank-reference"),
        pytest.param({"team_id": None}, ["team_id"], id="no-team"),
    ],
)
def test_what_blocks_a_submission(changes: dict[str, Any], missing: list[str]) -> None:
    details = COMPLETE.merged(changes)
    assert details.missing_for_submit() == missing
    assert details.can_submit() is (not missing)


# --- parsing untrusted card inputs -----------------------------------------------------------


def limit_of(name: str) -> int:
    return MAX_TEXT.get(name, 2000)


def test_the_text_limits_are_40_for_the_reference_and_2000_for_the_long_texts() -> None:
    assert limit_of("client_reference") == 40
    for name in ("question", "situation", "history", "work_capacity", "strengths", "goals"):
        assert limit_of(name) == 2000
    # The urgency timeframe is a short phrase: the code allows 200.
    assert limit_of("urgent_timeframe") == 200


@pytest.mark.parametrize("name", TEXT_FIELDS)
def test_a_text_at_its_limit_is_taken_and_one_more_character_is_refused(name: str) -> None:
    limit = limit_of(name)
    assert parse_fields({name: "a" * limit}, TODAY) == {name: "a" * limit}
    # Surrounding white space is trimmed before counting.
    assert parse_fields({name: f"  {'b' * limit}\n"}, TODAY) == {name: "b" * limit}
    with pytest.raises(DomainError) as refused:
        parse_fields({name: "a" * (limit + 1)}, TODAY)
    assert refused.value.code == "error.field_too_long"
    assert refused.value.params == {"limit": limit}


@pytest.mark.parametrize("name", TEXT_FIELDS)
@pytest.mark.parametrize(
    "text",
    [
        pytest.param(HETU, id="bare"),
        pytest.param(HETU.lower(), id="lowercase"),
        pytest.param(f"Asiakas {HETU}, ks. taustat", id="embedded"),
        pytest.param(f"hetu:{HETU.lower()}.", id="embedded-lowercase"),
        pytest.param("010594Y9021", id="new-century-sign"),
    ],
)
def test_an_identity_code_in_any_text_field_is_refused(name: str, text: str) -> None:
    with pytest.raises(IdentityCodeRefused) as refused:
        parse_fields({"question": "ok", name: text[: limit_of(name)]}, TODAY)
    assert refused.value.code == "error.identity_code"
    assert isinstance(refused.value, InvalidInput)


def test_numbers_that_are_not_identity_codes_are_fine_in_texts() -> None:
    text = "Puh. 040 123 4567, tilaus 131052-308U, syntynyt 1980"
    assert parse_fields({"situation": text}, TODAY) == {"situation": text}


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"question": 42}, id="number-for-text"),
        pytest.param({"client_reference": ["AB"]}, id="list-for-text"),
        pytest.param({"situation": {"x": 1}}, id="object-for-text"),
        pytest.param({"question": True}, id="bool-for-text"),
        pytest.param({"team_id": [1]}, id="list-for-team"),
        pytest.param({"team_id": {"id": 1}}, id="object-for-team"),
        pytest.param({"team_id": True}, id="bool-for-team"),
        pytest.param({"team_id": 1.5}, id="float-for-team"),
        pytest.param({"team_id": "1 OR 1=1"}, id="sql-for-team"),
        pytest.param({"team_id": "abc"}, id="word-for-team"),
        pytest.param({"consent": "maybe"}, id="unknown-consent"),
        pytest.param({"consent": 5}, id="number-for-consent"),
        pytest.param({"consent": ["obtained"]}, id="list-for-consent"),
        pytest.param({"consent_date": "yesterday"}, id="word-for-date"),
        pytest.param({"consent_date": 20261101}, id="number-for-date"),
        pytest.param({"consent_date": "2026-02-30"}, id="impossible-date"),
        pytest.param({"self_rating": True}, id="bool-for-rating"),
        pytest.param({"self_rating": [5]}, id="list-for-rating"),
        pytest.param({"services": "kela,1 OR 1=1"}, id="sql-in-services"),
        pytest.param({"services": "teleportation"}, id="unknown-service"),
        pytest.param({"services": 3}, id="number-for-services"),
        pytest.param({"services": {"kela": True}}, id="object-for-services"),
        pytest.param({"services": [["kela"]]}, id="nested-list-for-services"),
        pytest.param({"barriers": "person.pain,person.tired"}, id="unknown-barrier"),
        pytest.param({"professions": ["physician", 7]}, id="number-in-professions"),
        pytest.param({"client_attends": "maybe"}, id="unknown-attends"),
        pytest.param({"client_attends": 1}, id="number-for-attends"),
        pytest.param({"client_attends": ["yes"]}, id="list-for-attends"),
        pytest.param({"urgency": "asap"}, id="unknown-urgency"),
        pytest.param({"urgency": 1}, id="number-for-urgency"),
        pytest.param({"urgency": ["urgent"]}, id="list-for-urgency"),
    ],
)
def test_wrong_types_and_unknown_values_are_invalid_input(values: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_fields(values, TODAY)
    assert type(refused.value) is InvalidInput


@pytest.mark.parametrize("name", ["consent", "urgency"])
def test_falsy_values_of_the_wrong_type_are_invalid_input_too(name: str) -> None:
    for wrong in (0, False, [], {}):
        with pytest.raises(InvalidInput):
            parse_fields({name: wrong}, TODAY)


def test_unknown_fields_are_ignored() -> None:
    assert parse_fields({"requester_id": 99, "status": "accepted", "question": "q"}, TODAY) == {
        "question": "q"
    }


def test_team_id_is_read_from_a_number_or_a_string() -> None:
    assert parse_fields({"team_id": 3}, TODAY) == {"team_id": 3}
    assert parse_fields({"team_id": " 12 "}, TODAY) == {"team_id": 12}
    assert parse_fields({"team_id": ""}, TODAY) == {"team_id": None}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("kela,typ", frozenset({Service.KELA, Service.TYP})),
        (" kela , typ ,", frozenset({Service.KELA, Service.TYP})),
        (["kela", "typ"], frozenset({Service.KELA, Service.TYP})),
        (["kela", "kela"], frozenset({Service.KELA})),
        ("", frozenset()),
        ([], frozenset()),
        (None, frozenset()),
    ],
)
def test_a_multi_select_is_read_from_a_comma_string_or_a_list(
    raw: Any, expected: frozenset[Service]
) -> None:
    assert parse_fields({"services": raw}, TODAY) == {"services": expected}


def test_barriers_and_professions_are_multi_selects_too() -> None:
    parsed = parse_fields(
        {
            "barriers": "person.pain,environment.no_public_transport",
            "professions": ["physician", "social_worker"],
        },
        TODAY,
    )
    assert parsed == {
        "barriers": frozenset({Barrier.PAIN, Barrier.NO_PUBLIC_TRANSPORT}),
        "professions": frozenset({Profession.PHYSICIAN, Profession.SOCIAL_WORKER}),
    }


@pytest.mark.parametrize(
    ("raw", "expected"), [(0, 0), (10, 10), ("7", 7), ("", None), (None, None)]
)
def test_a_self_rating_from_0_to_10_is_taken(raw: Any, expected: int | None) -> None:
    assert parse_fields({"self_rating": raw}, TODAY) == {"self_rating": expected}


@pytest.mark.parametrize("raw", [-1, 11, "11", "-1", 100, 12.0, 5.5, "6,5", "five", "1 OR 1=1"])
def test_a_self_rating_that_is_not_a_whole_number_from_0_to_10_is_refused(raw: Any) -> None:
    """Never clamped or rounded: the requester is told, with the field named."""
    with pytest.raises(DomainError) as refused:
        parse_fields({"self_rating": raw}, TODAY)
    assert refused.value.code == "error.self_rating_range"
    assert refused.value.field == "self_rating"


def test_each_field_is_checked_on_its_own_so_the_others_can_be_kept() -> None:
    changes, refused = check_fields(
        {
            "client_reference": "AB-1980",
            "consent": "obtained",
            "consent_date": "2026-11-02",
            "situation": "Asiakas 131052-308T, sairauslomalla",
            "self_rating": "12",
        },
        TODAY,
    )
    assert changes == {
        "client_reference": "AB-1980",
        "consent": Consent.OBTAINED,
        "consent_date": date(2026, 11, 2),
    }
    assert [(type(e), e.field) for e in refused] == [
        (IdentityCodeRefused, "situation"),
        (DomainError, "self_rating"),
    ]


def test_a_consent_date_today_or_earlier_is_taken_and_a_future_one_refused() -> None:
    assert parse_fields({"consent_date": "2026-11-23"}, TODAY) == {"consent_date": TODAY}
    assert parse_fields({"consent_date": "2025-01-31"}, TODAY) == {
        "consent_date": date(2025, 1, 31)
    }
    assert parse_fields({"consent_date": ""}, TODAY) == {"consent_date": None}
    with pytest.raises(DomainError) as refused:
        parse_fields({"consent_date": "2026-11-24"}, TODAY)
    assert refused.value.code == "error.consent_date_future"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("yes", True), ("no", False), ("", None), (True, True), (False, False), (None, None)],
)
def test_whether_the_client_attends(raw: Any, expected: bool | None) -> None:
    assert parse_fields({"client_attends": raw}, TODAY) == {"client_attends": expected}


def test_consent_and_urgency_choices() -> None:
    assert parse_fields({"consent": "typ_exception", "urgency": "urgent"}, TODAY) == {
        "consent": Consent.TYP_EXCEPTION,
        "urgency": Urgency.URGENT,
    }
    assert parse_fields({"consent": "", "urgency": ""}, TODAY) == {
        "consent": None,
        "urgency": Urgency.NORMAL,
    }


def test_nothing_is_parsed_when_one_field_is_refused() -> None:
    values = {"question": "q", "situation": "ok", "self_rating": 99}
    with pytest.raises(DomainError):
        parse_fields(values, TODAY)
    assert values == {"question": "q", "situation": "ok", "self_rating": 99}


# --- storage form ------------------------------------------------------------------------


def _text(limit: int) -> st.SearchStrategy[str]:
    return (
        st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=min(limit, 60))
        .map(str.strip)
        .filter(lambda t: not contains_identity_code(t))
    )


valid_details = st.builds(
    RequestDetails,
    team_id=st.none() | st.integers(1, 2**31 - 1),
    client_reference=_text(40),
    consent=st.none() | st.sampled_from(Consent),
    consent_date=st.none() | st.dates(min_value=date(2000, 1, 1), max_value=TODAY),
    question=_text(2000),
    situation=_text(2000),
    history=_text(2000),
    work_capacity=_text(2000),
    self_rating=st.none() | st.integers(0, 10),
    strengths=_text(2000),
    goals=_text(2000),
    services=st.frozensets(st.sampled_from(Service)),
    barriers=st.frozensets(st.sampled_from(Barrier)),
    professions=st.frozensets(st.sampled_from(Profession)),
    client_attends=st.none() | st.booleans(),
    urgency=st.sampled_from(Urgency),
    urgent_timeframe=_text(200),
)


@given(valid_details)
def test_details_survive_a_round_trip_through_json(details: RequestDetails) -> None:
    stored = json.dumps(details.to_json(), ensure_ascii=False, sort_keys=True)
    assert RequestDetails.from_json(json.loads(stored)) == details


@given(valid_details)
def test_what_to_json_writes_parses_back_as_card_input(details: RequestDetails) -> None:
    card = details.to_json()
    # A card sends an unchosen team as "" (a bare null is refused as a wrong type).
    card["team_id"] = "" if details.team_id is None else str(details.team_id)
    assert RequestDetails().merged(parse_fields(card, TODAY)) == details


def test_an_empty_stored_document_reads_as_an_empty_draft() -> None:
    assert RequestDetails.from_json({}) == RequestDetails()


# --- case numbers -------------------------------------------------------------------------


def test_case_numbers_are_padded_to_four_digits_and_grow_beyond() -> None:
    assert format_case_number(2026, 1) == "TK-2026-0001"
    assert format_case_number(2026, 42) == "TK-2026-0042"
    assert format_case_number(2026, 9999) == "TK-2026-9999"
    assert format_case_number(2027, 10000) == "TK-2027-10000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TK-2026-0042", (2026, 42)),
        ("tk-2026-0042", (2026, 42)),
        ("  TK-2026-0001 ", (2026, 1)),
        ("TK-2027-12345", (2027, 12345)),
        ("TK-2026-042", None),
        ("TK-26-0042", None),
        ("XX-2026-0042", None),
        ("TK-2026-0042x", None),
        ("TK 2026 0042", None),
        ("", None),
    ],
)
def test_parsing_a_case_number(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_case_number(text) == expected


@given(st.integers(2000, 9999), st.integers(1, 10**6))
def test_a_formatted_case_number_parses_back(year: int, sequence: int) -> None:
    assert parse_case_number(format_case_number(year, sequence)) == (year, sequence)
