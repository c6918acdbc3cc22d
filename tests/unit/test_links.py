"""Signed download links: what a link gives, until when, and nothing for a forged one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.links import LinkSigner

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KEY = bytes(range(32))


def test_a_link_gives_its_subject_until_it_expires() -> None:
    signer = LinkSigner(KEY, "https://bot.example.fi/")
    url = signer.url("report", "team:3", NOW + timedelta(hours=1), "raportti.xlsx")
    assert url.startswith("https://bot.example.fi/links/report/")
    assert url.endswith("/raportti.xlsx")
    token = url.split("/")[-2]
    assert signer.read("report", token, NOW) == "team:3"
    assert signer.read("report", token, NOW + timedelta(minutes=59)) == "team:3"
    assert signer.read("report", token, NOW + timedelta(hours=1)) is None


def test_a_link_is_refused_for_another_purpose_another_key_or_any_change() -> None:
    signer = LinkSigner(KEY, "https://bot.example.fi")
    token = signer.token("report", "team:3", NOW + timedelta(hours=1))
    assert signer.read("case-export", token, NOW) is None
    assert LinkSigner(bytes(32), "https://x").read("report", token, NOW) is None
    body, mac = token.split(".")
    for forged in (f"{body}x.{mac}", f"{body}.{mac[:-1]}A", body, f"{token}.x", "", "." * 3):
        assert signer.read("report", forged, NOW) is None


def test_a_short_key_or_a_naive_expiry_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        LinkSigner(b"short", "https://x")
    with pytest.raises(ValueError):
        LinkSigner(KEY, "https://x").token("report", "s", datetime(2026, 12, 1))  # noqa: DTZ001
