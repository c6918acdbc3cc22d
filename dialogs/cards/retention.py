"""Cards of retention (SPEC §5): the requester's reminder of an idle draft, and the
admins' weekly privacy digest (numbers only)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consultations.consultation import CaseStatus, Consultation
from consultations.records import DRAFT_DAYS, DRAFT_WARNING_DAYS, RetentionPolicy
from dialogs.cards.base import (
    HELSINKI,
    Card,
    Localizer,
    adaptive_card,
    attention,
    execute,
    facts,
    heading,
    paragraph,
)
from dialogs.cards.registry import EMPTY


def draft_expiring_card(t: Localizer, draft: Consultation, deletes_at: datetime) -> Card:
    """Once, a week before an untouched draft goes: continue it, or let it go now."""
    if draft.status is not CaseStatus.DRAFT:
        return adaptive_card(
            [heading(t("draft.expiring.gone.title")), paragraph(t("draft.expiring.gone"))]
        )
    assert draft.id is not None
    day = t.date(deletes_at.astimezone(HELSINKI).date())
    details = draft.details
    pairs = [(t("request.field.client_reference"), details.client_reference or EMPTY)]
    if draft.created_at:
        pairs.append(
            (t("draft.expiring.started"), t.date(draft.created_at.astimezone(HELSINKI).date()))
        )
    body: list[dict[str, Any]] = [
        attention(t("draft.expiring.title", date=day)),
        paragraph(t("draft.expiring.body", days=DRAFT_DAYS)),
        facts(pairs),
        paragraph(t("draft.expiring.why", days=DRAFT_WARNING_DAYS), subtle=True),
    ]
    data = {"case_id": draft.id}
    return adaptive_card(
        body,
        [
            execute(t("draft.expiring.continue"), "request.resume", data, style="positive"),
            execute(t("draft.expiring.discard"), "request.cancel", data),
        ],
    )


DIGEST_LINES = (
    "anonymised",
    "late_texts_wiped",
    "drafts_reminded",
    "drafts_deleted",
    "exported",
    "erased",
    "outbox_pruned",
    "documents_pruned",
    "audit_pruned",
)


def privacy_digest_card(
    t: Localizer, week: str, policy: RetentionPolicy, counts: Mapping[str, int]
) -> Card:
    """What the daily job and the admins did to the county's data in the last week."""
    body: list[dict[str, Any]] = [
        heading(t("digest.privacy.title", week=week)),
        paragraph(t("digest.privacy.why"), subtle=True),
    ]
    if any(counts.get(key, 0) for key in DIGEST_LINES):
        body.append(
            facts(
                [
                    (t(f"digest.privacy.{key}"), str(counts.get(key, 0)))
                    for key in DIGEST_LINES
                    if counts.get(key, 0)
                ]
            )
        )
    else:
        body.append(paragraph(t("digest.privacy.nothing")))
    body.append(
        paragraph(
            t("digest.privacy.policy", months=policy.case_months, years=policy.audit_years),
            subtle=True,
        )
    )
    return adaptive_card(body, [execute(t("privacy.admin.open"), "privacy.open")])
