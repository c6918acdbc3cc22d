"""Cards of the data subject's rights (SPEC §5): the admin's card, a case's audit trail,
its export links and its erasure. They show case details: personal chats only.

Pure functions: use-case views + a localizer -> Adaptive Card dicts (schema 1.5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from consultations.case_records import AuditTrail, ErasurePreview, ErasureReceipt
from consultations.records import (
    DRAFT_DAYS,
    HOUSEKEEPING_DAYS,
    MAX_AUDIT_YEARS,
    MAX_CASE_MONTHS,
    CaseHeader,
    ErasureReason,
    RetentionPolicy,
    TrailEntry,
)
from dialogs.cards.base import (
    Card,
    Localizer,
    adaptive_card,
    attention,
    bold,
    buttons,
    execute,
    facts,
    good,
    heading,
    paragraph,
    row,
)
from dialogs.cards.registry import EMPTY

CASE_NUMBER_EXAMPLE = "TK-2026-0042"
# Every audit action with a label of its own in the catalogs ("audit.action.<action>");
# anything else is shown by its code.
LABELLED_ACTIONS = (
    "consultation.viewed",
    "consultation.draft_started",
    "consultation.draft_saved",
    "consultation.draft_discarded",
    "consultation.submitted",
    "consultation.accepted",
    "consultation.asked",
    "consultation.answered",
    "consultation.declined",
    "consultation.withdrawn",
    "poll.opened",
    "poll.viewed",
    "poll.voted",
    "poll.finalized",
    "poll.cancelled",
    "summary.viewed",
    "summary.draft_saved",
    "summary.published",
    "summary.amendment_started",
    "recommendation.viewed",
    "recommendation.done",
    "recommendation.in_progress",
    "recommendation.not_implemented",
    "recommendation.snooze_day",
    "recommendation.snooze_week",
    "case.review_viewed",
    "case.closed",
    "case.brought_back",
    "handover.proposed",
    "handover.viewed",
    "handover.accepted",
    "handover.declined",
    "feedback.given",
    "consultation.anonymised",
    "consultation.draft_reminded",
    "consultation.audit_trail_viewed",
    "consultation.audit_trail_refused",
    "consultation.export_requested",
    "consultation.exported",
    "consultation.export_refused",
    "consultation.erase_previewed",
    "consultation.erase_refused",
)


def _case_input(t: Localizer, value: str = "", *, required: bool = False) -> dict[str, Any]:
    """The case number. Required only on a card whose every button needs it: Teams checks
    required inputs before any button of the card acts (a cancel included); the server
    checks again anyway."""
    field: dict[str, Any] = {
        "type": "Input.Text",
        "id": "case_number",
        "label": t("privacy.case_number"),
        "placeholder": CASE_NUMBER_EXAMPLE,
        "maxLength": 20,
        "value": value,
    }
    if required:
        field |= {"isRequired": True, "errorMessage": t("privacy.case_number.required")}
    return field


def admin_card(
    t: Localizer, policy: RetentionPolicy, *, case_number: str = "", notice: str = ""
) -> Card:
    """The admin's card: a case by its number (audit trail, export, erasure) and the
    county's retention periods."""
    body: list[dict[str, Any]] = [heading(t("privacy.admin.title"))]
    if notice:
        body.append(good(notice))
    body += [
        bold(t("privacy.rights.title")),
        paragraph(t("privacy.rights.intro")),
        _case_input(t, case_number),
        buttons(
            execute(t("privacy.audit.button"), "privacy.audit"),
            execute(t("privacy.export.button"), "privacy.export"),
            execute(t("privacy.erase.button"), "privacy.erase"),
        ),
        row(
            [
                bold(t("privacy.retention.title")),
                paragraph(t("privacy.retention.intro")),
                {
                    "type": "Input.Number",
                    "id": "case_months",
                    "label": t("privacy.retention.case_months"),
                    "min": 1,
                    "max": MAX_CASE_MONTHS,
                    "value": policy.case_months,
                },
                {
                    "type": "Input.Number",
                    "id": "audit_years",
                    "label": t("privacy.retention.audit_years"),
                    "min": 1,
                    "max": MAX_AUDIT_YEARS,
                    "value": policy.audit_years,
                },
                paragraph(
                    t("privacy.retention.fixed", drafts=DRAFT_DAYS, messages=HOUSEKEEPING_DAYS),
                    subtle=True,
                ),
                buttons(execute(t("privacy.retention.save"), "privacy.retention.save")),
            ]
        ),
    ]
    return adaptive_card(body)


def audit_lookup_card(t: Localizer, *, case_number: str = "") -> Card:
    """A coordinator's way to their team's cases' audit trails."""
    return adaptive_card(
        [
            heading(t("privacy.audit.lookup.title")),
            paragraph(t("privacy.audit.lookup.intro")),
            _case_input(t, case_number, required=True),
        ],
        [execute(t("privacy.audit.button"), "privacy.audit")],
    )


def _when(t: Localizer, moment: datetime | None) -> str:
    return t.datetime(moment) if moment else EMPTY


def case_facts(t: Localizer, case: CaseHeader) -> dict[str, Any]:
    pairs = [
        (t("privacy.case.team"), case.team_name or EMPTY),
        (t("privacy.case.status"), t(f"status.{case.status.value}")),
        (t("privacy.case.submitted"), _when(t, case.submitted_at)),
    ]
    if case.ended_at:
        pairs.append((t("privacy.case.ended"), _when(t, case.ended_at)))
    if case.anonymised_at:
        pairs.append((t("privacy.case.anonymised"), _when(t, case.anonymised_at)))
    return facts(pairs)


def action_label(t: Localizer, entry: TrailEntry) -> str:
    if entry.is_transition:
        before = t(f"status.{entry.from_status}") if entry.from_status else EMPTY
        return t("privacy.trail.transition", before=before, after=t(f"status.{entry.to_status}"))
    key = f"audit.action.{entry.action}"
    label = t(key)
    return entry.action if label == key else label


def audit_trail_card(t: Localizer, trail: AuditTrail) -> Card:
    """Who read or changed the case and when, newest first, a page at a time."""
    case = trail.case
    body: list[dict[str, Any]] = [
        heading(t("privacy.trail.title", case_number=case.case_number)),
        case_facts(t, case),
    ]
    if not trail.entries:
        body.append(paragraph(t("privacy.trail.empty")))
    else:
        first, last = trail.offset + 1, trail.offset + len(trail.entries)
        body.append(
            paragraph(t("privacy.trail.showing", first=first, last=last, total=trail.total))
        )
        body.append(
            facts(
                [
                    (
                        t.datetime(entry.at),
                        t(
                            "privacy.trail.line",
                            who=entry.actor_name or t("privacy.trail.system"),
                            what=action_label(t, entry),
                        ),
                    )
                    for entry in trail.entries
                ]
            )
        )
    body.append(paragraph(t("privacy.trail.note"), subtle=True))
    data = {"case_number": case.case_number}
    actions = []
    if trail.offset + len(trail.entries) < trail.total:
        actions.append(
            execute(
                t("privacy.trail.older"),
                "privacy.audit",
                {**data, "offset": trail.offset + len(trail.entries)},
            )
        )
    if trail.offset > 0:
        actions.append(
            execute(
                t("privacy.trail.newer"),
                "privacy.audit",
                {**data, "offset": max(trail.offset - len(trail.entries), 0)},
            )
        )
    if trail.admin:
        actions.append(execute(t("privacy.admin.back"), "privacy.open", data))
    return adaptive_card(body, actions)


def export_card(
    t: Localizer, case: CaseHeader, json_url: str, html_url: str, expires: datetime
) -> Card:
    """Two downloads of everything stored about the case, valid for minutes."""
    body = [
        heading(t("privacy.export.title", case_number=case.case_number)),
        case_facts(t, case),
        paragraph(t("privacy.export.body")),
        attention(t("privacy.export.expires", time=t.datetime(expires))),
        paragraph(t("privacy.export.care"), subtle=True),
    ]
    return adaptive_card(
        body,
        [
            {"type": "Action.OpenUrl", "title": t("privacy.export.html"), "url": html_url},
            {"type": "Action.OpenUrl", "title": t("privacy.export.json"), "url": json_url},
            execute(t("privacy.admin.back"), "privacy.open", {"case_number": case.case_number}),
        ],
    )


def erase_confirm_card(t: Localizer, preview: ErasurePreview) -> Card:
    """Are you sure, and why: the reason is a code, chosen here."""
    case = preview.case
    body = [
        heading(t("privacy.erase.title", case_number=case.case_number)),
        case_facts(t, case),
        paragraph(t("privacy.erase.what", rows=sum(preview.rows.values()))),
        attention(t("privacy.erase.irreversible")),
        paragraph(t("privacy.erase.teams")),
        paragraph(t("privacy.erase.trace"), subtle=True),
        {
            "type": "Input.ChoiceSet",
            "id": "reason",
            "label": t("privacy.erase.reason"),
            # Not isRequired: Teams would then refuse the cancel button too.
            "style": "expanded",
            "choices": [
                {"title": t(f"privacy.erase.reason.{r.value}"), "value": r.value}
                for r in ErasureReason
            ],
        },
    ]
    return adaptive_card(
        body,
        [
            execute(
                t("privacy.erase.confirm"),
                "privacy.erase.confirm",
                {"case_id": case.id},
                style="destructive",
            ),
            execute(t("privacy.erase.cancel"), "privacy.open", {"case_number": case.case_number}),
        ],
    )


def erased_card(t: Localizer, receipt: ErasureReceipt, policy: RetentionPolicy) -> Card:
    return admin_card(
        t,
        policy,
        notice=t(
            "privacy.erased",
            case_number=receipt.case_number,
            time=t.datetime(receipt.at),
            reason=t(f"privacy.erase.reason.{receipt.reason.value}"),
        ),
    )
