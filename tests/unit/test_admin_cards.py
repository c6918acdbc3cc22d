"""The privacy cards read as an admin, a coordinator and a requester would read them, in
every language, under Teams' size limit; the readable export names everything in the
reader's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.case_export_html import render_html
from bot.i18n import LANGUAGES, Texts, catalog
from consultations.case_records import AuditTrail, CaseExport, ErasurePreview, ErasureReceipt
from consultations.consultation import CaseStatus, Consultation, RequestDetails
from consultations.records import CaseHeader, ErasureReason, RetentionPolicy, TrailEntry
from dialogs.cards.admin import (
    LABELLED_ACTIONS,
    admin_card,
    audit_lookup_card,
    audit_trail_card,
    erase_confirm_card,
    erased_card,
    export_card,
)
from dialogs.cards.base import MAX_CARD_BYTES, card_bytes
from dialogs.cards.retention import DIGEST_LINES, draft_expiring_card, privacy_digest_card
from tests.support.cards import executes, inputs, open_urls, texts

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)
CASE = CaseHeader(
    id=42,
    case_number="TK-2026-0042",
    team_id=1,
    team_name="Työkykytiimi Pohjoinen",
    status=CaseStatus.CLOSED,
    requester_id=2,
    created_at=NOW - timedelta(days=90),
    submitted_at=NOW - timedelta(days=90),
    ended_at=NOW - timedelta(days=10),
    anonymised_at=None,
)


@pytest.fixture(params=LANGUAGES)
def t(request: pytest.FixtureRequest) -> Texts:
    return Texts(request.param)


def test_every_label_the_privacy_cards_choose_at_run_time_is_translated() -> None:
    keys = [f"audit.action.{a}" for a in LABELLED_ACTIONS]
    keys += [f"privacy.erase.reason.{r.value}" for r in ErasureReason]
    keys += [f"digest.privacy.{line}" for line in DIGEST_LINES]
    keys += [f"export.note.{kind}" for kind in ("question", "answer", "brought_back")]
    keys += [f"export.message_status.{s}" for s in ("pending", "sent", "cancelled", "dead")]
    for language in LANGUAGES:
        missing = [k for k in keys if not catalog(language).messages.get(k)]
        assert missing == [], language


def test_the_admin_card_asks_for_a_case_number_and_shows_the_county_s_periods(t: Texts) -> None:
    card = admin_card(t, RetentionPolicy(case_months=18, audit_years=6))
    fields = inputs(card)
    # One card, several buttons that each need other inputs: none may block the others.
    assert not any(f.get("isRequired") for f in fields.values())
    assert fields["case_number"]["placeholder"] == "TK-2026-0042"
    assert (fields["case_months"]["value"], fields["audit_years"]["value"]) == (18, 6)
    assert [(x["title"], x["verb"]) for x in executes(card)] == [
        (t("privacy.audit.button"), "privacy.audit"),
        (t("privacy.export.button"), "privacy.export"),
        (t("privacy.erase.button"), "privacy.erase"),
        (t("privacy.retention.save"), "privacy.retention.save"),
    ]
    assert t("privacy.retention.fixed", drafts=30, messages=90) in texts(card)


def test_a_coordinator_s_card_offers_the_audit_trail_only(t: Texts) -> None:
    card = audit_lookup_card(t)
    assert set(inputs(card)) == {"case_number"} and inputs(card)["case_number"]["isRequired"]
    assert [x["verb"] for x in executes(card)] == ["privacy.audit"]


def trail(count: int, offset: int, total: int, *, admin: bool) -> AuditTrail:
    name = "Å" * 120  # the longest names Teams allows, escaped six bytes a letter
    entries = [
        TrailEntry(NOW - timedelta(minutes=n), n, name, "consultation.viewed")
        if n % 2
        else TrailEntry(NOW - timedelta(minutes=n), n, name, "answered", "needs_info", "submitted")
        for n in range(count)
    ]
    return AuditTrail(CASE, entries, total, offset, admin)


def test_a_full_page_of_the_audit_trail_fits_and_pages_both_ways(t: Texts) -> None:
    card = audit_trail_card(t, trail(20, 20, 60, admin=True))
    assert card_bytes(card) <= MAX_CARD_BYTES
    assert t("privacy.trail.showing", first=21, last=40, total=60) in texts(card)
    pages = {x["title"]: x["data"].get("offset") for x in executes(card)}
    assert pages[t("privacy.trail.older")] == 40 and pages[t("privacy.trail.newer")] == 0
    moved = t(
        "privacy.trail.transition", before=t("status.needs_info"), after=t("status.submitted")
    )
    assert moved in texts(card)
    assert t("audit.action.consultation.viewed") in texts(card)
    # An action without a label of its own shows its code rather than a catalog key.
    odd = AuditTrail(CASE, [TrailEntry(NOW, None, "", "future.thing")], 1, 0, False)
    shown = texts(audit_trail_card(t, odd))
    assert "future.thing" in shown and t("privacy.trail.system") in shown
    assert "privacy.open" not in {x["verb"] for x in executes(audit_trail_card(t, odd))}


def test_the_export_card_links_both_files_and_says_until_when(t: Texts) -> None:
    card = export_card(t, CASE, "https://bot/j", "https://bot/h", NOW)
    assert {x["url"] for x in open_urls(card)} == {"https://bot/j", "https://bot/h"}
    assert t("privacy.export.expires", time=t.datetime(NOW)) in texts(card)


def test_erasing_asks_for_a_reason_and_the_buttons_say_what_they_do(t: Texts) -> None:
    card = erase_confirm_card(t, ErasurePreview(CASE, {"consultations": 1, "case_notes": 4}))
    assert t("privacy.erase.what", rows=5) in texts(card)
    assert t("privacy.erase.teams") in texts(card)
    reason = inputs(card)["reason"]
    # Required on the server only: Teams would otherwise block "cancel" until one is chosen.
    assert "isRequired" not in reason and [c["value"] for c in reason["choices"]] == [
        r.value for r in ErasureReason
    ]
    [erase, cancel] = executes(card)
    assert (erase["title"], erase["style"], erase["data"]["case_id"]) == (
        t("privacy.erase.confirm"),
        "destructive",
        42,
    )
    assert (cancel["title"], cancel["verb"]) == (t("privacy.erase.cancel"), "privacy.open")
    receipt = ErasureReceipt("TK-2026-0042", NOW, ErasureReason.ENTERED_IN_ERROR, 5)
    done = erased_card(t, receipt, RetentionPolicy())
    assert "TK-2026-0042" in texts(done)
    assert t("privacy.erase.reason.entered_in_error") in texts(done)


def test_the_draft_reminder_says_when_and_offers_to_continue(t: Texts) -> None:
    draft = Consultation(
        id=5,
        requester_id=2,
        details=RequestDetails(client_reference="MK-80"),
        created_at=NOW - timedelta(days=23),
    )
    card = draft_expiring_card(t, draft, NOW + timedelta(days=7))
    assert t("draft.expiring.title", date=t.date((NOW + timedelta(days=7)).date())) in texts(card)
    assert "MK-80" in texts(card)
    assert [(x["verb"], x["data"]["case_id"]) for x in executes(card)] == [
        ("request.resume", 5),
        ("request.cancel", 5),
    ]
    draft.status = CaseStatus.SUBMITTED
    sent = draft_expiring_card(t, draft, NOW)
    assert texts(sent).splitlines()[0] == t("draft.expiring.gone.title") and not executes(sent)


def test_the_privacy_digest_lists_only_what_happened(t: Texts) -> None:
    card = privacy_digest_card(t, "2027-W09", RetentionPolicy(), {"anonymised": 3, "erased": 1})
    lines = texts(card).splitlines()
    assert t("digest.privacy.anonymised") in lines and "3" in lines
    assert t("digest.privacy.erased") in lines
    assert t("digest.privacy.drafts_deleted") not in lines
    quiet = privacy_digest_card(t, "2027-W09", RetentionPolicy(), {})
    assert t("digest.privacy.nothing") in texts(quiet)


def test_the_readable_export_is_escaped_and_speaks_the_reader_s_language(t: Texts) -> None:
    tables = {
        "consultations": [
            {
                "id": 42,
                "case_number": "TK-2026-0042",
                "status": "closed",
                "requester_id": 2,
                "created_at": NOW.isoformat(),
                "submitted_at": NOW.isoformat(),
                "outcome": "employment",
                "decline_reason": "",
                "decline_route": None,
                "pending_question": "",
                "anonymised_at": None,
                "details": {
                    "question": "<script>alert(1)</script>",
                    "services": ["kela"],
                    "client_attends": True,
                },
            }
        ],
        "case_notes": [
            {"at": NOW.isoformat(), "kind": "question", "author_user_id": 1, "text": "Q & A"}
        ],
        "people": [{"id": 1, "name": "Outi", "profession": None}, {"id": 2, "name": "Reetta"}],
        "teams": [{"id": 1, "name": "Pohjoinen"}],
    }
    page = render_html(CaseExport(CASE, tables, NOW, 1), t)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Q &amp; A" in page
    assert t("service.kela") in page and t("outcome.employment") in page
    assert t("export.note.question") in page and "Outi" in page
    assert f'lang="{t.language}"' in page
    assert "export." not in page and "privacy." not in page and "request.field" not in page
