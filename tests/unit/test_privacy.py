"""Behaviour of Finnish personal identity code detection and redaction."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consultations.privacy import (
    IdentityCodeMatch,
    contains_identity_code,
    find_identity_codes,
    redact_identity_codes,
)

_ALPHABET = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_SIGNS_BY_CENTURY = {1800: "+", 1900: "-YXWVU", 2000: "ABCDEF"}


def check_char(body: str) -> str:
    """Compute the check character of ``DDMMYY`` + ``ZZZ`` independently."""
    remainder = 0
    for digit in body:
        remainder = (remainder * 10 + int(digit)) % 31
    return _ALPHABET[remainder]


def make_code(ddmmyy: str, sign: str, individual: str) -> str:
    return f"{ddmmyy}{sign}{individual}{check_char(ddmmyy + individual)}"


# Check characters verified by hand (e.g. 131052308 = 31 * 4227493 + 25 -> T).
VALID_CODES = [
    pytest.param("150399+123L", id="1800s-plus"),
    pytest.param("131052-308T", id="1900s-hyphen-classic-example"),
    pytest.param("010594Y9021", id="1900s-Y"),
    pytest.param("290296X456T", id="1900s-X-leap-day-1996"),
    pytest.param("311299W789N", id="1900s-W"),
    pytest.param("070786V234W", id="1900s-V"),
    pytest.param("241275U901K", id="1900s-U-temporary-number"),
    pytest.param("010100A002H", id="2000s-A-lowest-individual-number"),
    pytest.param("290204B345F", id="2000s-B-leap-day-2004"),
    pytest.param("150623C999N", id="2000s-C-highest-temporary-number"),
    pytest.param("311210D6784", id="2000s-D-digit-check"),
    pytest.param("010101E555L", id="2000s-E"),
    pytest.param("280299F101F", id="2000s-F"),
    pytest.param("290200A1239", id="2000s-leap-day-2000"),
]


@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_code_with_any_century_sign_is_detected(code: str) -> None:
    assert check_char(code[:6] + code[7:10]) == code[10]
    assert find_identity_codes(code) == [IdentityCodeMatch(0, 11, code)]
    assert contains_identity_code(code)


@pytest.mark.parametrize("code", VALID_CODES)
def test_lowercase_code_is_detected(code: str) -> None:
    assert contains_identity_code(code.lower())
    assert redact_identity_codes(code.lower()) == "[HETU]"


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("131052-308U", id="classic-example-wrong-letter"),
        pytest.param("131052-3080", id="classic-example-digit-instead"),
        pytest.param("010594Y9022", id="new-sign-wrong-digit"),
        pytest.param("131052-308G", id="letter-outside-alphabet"),
        pytest.param("131052-308I", id="ambiguous-letter-I-never-used"),
    ],
)
def test_code_with_wrong_check_character_is_not_detected(code: str) -> None:
    assert not contains_identity_code(code)
    assert redact_identity_codes(code) == code


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(make_code("310299", "-", "123"), id="31-february"),
        pytest.param(make_code("290200", "-", "123"), id="29-february-1900"),
        pytest.param(make_code("290201", "A", "123"), id="29-february-2001"),
        pytest.param(make_code("310499", "-", "123"), id="31-april"),
        pytest.param(make_code("001099", "-", "123"), id="day-zero"),
        pytest.param(make_code("320199", "-", "123"), id="day-32"),
        pytest.param(make_code("011399", "-", "123"), id="month-13"),
        pytest.param(make_code("010099", "-", "123"), id="month-zero"),
    ],
)
def test_code_with_impossible_birth_date_is_not_detected(code: str) -> None:
    assert not contains_identity_code(code)


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(make_code("131052", "-", "000"), id="individual-000"),
        pytest.param(make_code("131052", "-", "001"), id="individual-001"),
    ],
)
def test_unissued_individual_numbers_are_not_codes(code: str) -> None:
    assert not contains_identity_code(code)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Asiakkaan hetu on 131052-308T.", "131052-308T"),
        ("hetu:131052-308T, kiitos", "131052-308T"),
        ("(010594Y9021)", "010594Y9021"),
        ("Tunnus\n241275U901K\n", "241275U901K"),
        ("lähetä tiedot: 010100a002h", "010100a002h"),
    ],
)
def test_code_embedded_in_a_sentence_is_found_with_its_span(text: str, expected: str) -> None:
    [match] = find_identity_codes(text)
    assert match.text == expected
    assert text[match.start : match.end] == expected


def test_several_codes_are_found_in_order() -> None:
    text = "Ensin 131052-308T ja sitten 010594Y9021."
    assert [m.text for m in find_identity_codes(text)] == [
        "131052-308T",
        "010594Y9021",
    ]


def test_redaction_replaces_every_code_and_keeps_the_rest() -> None:
    text = "Ensin 131052-308T ja sitten 010594y9021, ei 131052-308U."
    assert redact_identity_codes(text) == "Ensin [HETU] ja sitten [HETU], ei 131052-308U."


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("X131052-308T", id="letter-before"),
        pytest.param("9131052-308T", id="digit-before"),
        pytest.param("131052-308TX", id="letter-after"),
        pytest.param("131052-308T1", id="digit-after"),
        pytest.param("ref131052-308Tabc", id="inside-token"),
    ],
)
def test_code_inside_a_longer_alphanumeric_token_is_not_detected(text: str) -> None:
    assert not contains_identity_code(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Soita numeroon +358 40 1234567", id="international-phone"),
        pytest.param("Soita numeroon 040-1234567", id="mobile-phone"),
        pytest.param("puh. 09-123 4567", id="landline"),
        pytest.param("Syntynyt 12.03.1985", id="dotted-date"),
        pytest.param("Päivämäärä 2026-03-04", id="iso-date"),
        pytest.param("Tilausnumero 123456-7890", id="order-number-bad-date"),
        pytest.param("Tilaus 2024-000123", id="order-number"),
        pytest.param("1310523080", id="plain-digits"),
        pytest.param("131052 308T", id="space-instead-of-sign"),
        pytest.param("FI21 1234 5600 0007 85", id="iban"),
        pytest.param("Viite 13105-2308T", id="code-like-with-misplaced-sign"),
        pytest.param("", id="empty"),
    ],
)
def test_ordinary_numbers_are_not_mistaken_for_codes(text: str) -> None:
    assert find_identity_codes(text) == []
    assert redact_identity_codes(text) == text


# --- properties -------------------------------------------------------------


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    born = draw(st.dates(min_value=date(1800, 1, 1), max_value=date(2099, 12, 31)))
    sign = draw(st.sampled_from(_SIGNS_BY_CENTURY[born.year // 100 * 100]))
    individual = f"{draw(st.integers(min_value=2, max_value=999)):03d}"
    code = make_code(born.strftime("%d%m%y"), sign, individual)
    return code.lower() if draw(st.booleans()) else code


separators = st.sampled_from([" ", "\n", "\t", ".", ",", ":", ";", "(", ")", '"'])


@given(st.text(), separators, valid_codes(), separators, st.text())
def test_every_valid_code_is_found_inside_arbitrary_text(
    before: str, left: str, code: str, right: str, after: str
) -> None:
    text = before + left + code + right + after
    start = len(before + left)
    found = find_identity_codes(text)
    assert IdentityCodeMatch(start, start + len(code), code) in found
    assert code not in redact_identity_codes(text)


@given(valid_codes(), st.sampled_from(_ALPHABET))
def test_code_with_an_altered_check_character_is_never_found(code: str, replacement: str) -> None:
    if replacement == code[-1].upper():
        replacement = _ALPHABET[(_ALPHABET.index(replacement) + 1) % len(_ALPHABET)]
    altered = code[:-1] + replacement
    assert find_identity_codes(f"Hetu {altered} kirjattu.") == []


code_like_text = st.text(alphabet="0123456789-+AaBbCcFfUuYyHhTt .,\n", max_size=60)


@given(st.lists(st.one_of(code_like_text, valid_codes()), max_size=6).map(" ".join))
def test_redacted_text_contains_no_codes(text: str) -> None:
    redacted = redact_identity_codes(text)
    assert not contains_identity_code(redacted)
    assert redact_identity_codes(redacted) == redacted


@given(st.text())
def test_contains_agrees_with_find(text: str) -> None:
    assert contains_identity_code(text) == bool(find_identity_codes(text))
