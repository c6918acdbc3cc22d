"""Cards of triage (SPEC §2.2): the coordinator's card, the question to the requester and its
answer, the decision told to the requester, and the queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from consultations.consultation import (
    CaseStatus,
    Consultation,
    DeclineRoute,
    Urgency,
)
from consultations.intake import QueueView
from dialogs.cards.base import (
    Card,
    Localizer,
    adaptive_card,
    attention,
    bold,
    clip_text,
    execute,
    facts,
    fit,
    good,
    heading,
    paragraph,
)
from dialogs.cards.registry import EMPTY
from dialogs.cards.request import (
    CLIPS,
    EXCERPT,
    MAX_LIST,
    case_label,
    choice_set,
    details_sections,
    list_card,
    more_rows,
    or_empty,
    route_text,
    status_text,
    urgency_text,
)

DECISIONS = ("accepted", "declined", "withdrawn", "submitted_again")
MAX_NOTES = 6
NOTE_CLIP = 600


def triage_card(
    t: Localizer,
    case: Consultation,
    *,
    requester_name: str,
    team_name: str,
    notes: Sequence[tuple[str, str, datetime]],
    decided: str = "",
    reminder: str = "",
) -> Card:
    """The coordinator's card: the pseudonymous request, the Q&A so far, and the decision."""
    d = case.details
    data = {"case_id": case.id}
    shown_notes = list(notes)[-MAX_NOTES:]

    # What brought the case back to the coordinators comes first: the requester's answer
    # to their question, or the case manager's reason for a new round.
    latest = notes[-1] if notes else None
    back_with = latest if latest and case.status is CaseStatus.SUBMITTED else None
    back_kind = back_with[0] if back_with and back_with[0] in ("answer", "brought_back") else ""

    def build(clip: int | None) -> Card:
        body: list[dict[str, Any]] = []
        if reminder:
            body.append(attention(t(reminder)))
        number = case_label(t, case)
        body.append(heading(t(f"triage.title.{back_kind or 'new'}", case_number=number)))
        if back_with is not None and back_kind:
            asked = next((text for kind, text, _ in reversed(notes) if kind == "question"), "")
            body.append(bold(t(f"triage.note.{back_kind}")))
            body.append(paragraph(clip_text(back_with[1], min(clip or NOTE_CLIP, NOTE_CLIP))))
            if back_kind == "answer" and asked:
                body.append(
                    paragraph(
                        t("triage.answer_to", question=clip_text(asked, EXCERPT)), subtle=True
                    )
                )
        intro = t("triage.from", requester=requester_name or EMPTY, team=team_name or EMPTY)
        body.append(paragraph(intro))
        status = [
            (t("triage.case_number"), number),
            (t("triage.status"), status_text(t, case.status)),
        ]
        if case.submitted_at:
            status.append((t("triage.submitted"), t.datetime(case.submitted_at)))
        body.append(facts(status))
        if d.urgency is Urgency.URGENT:
            body.append(attention(t("triage.urgent", timeframe=or_empty(d.urgent_timeframe))))
        body.extend(details_sections(t, d, team_name, clip))
        if notes:
            title = paragraph(f"**{t('triage.notes')}**")
            title["separator"] = True
            body.append(title)
            body.extend(more_rows(t, len(shown_notes), len(notes)))
            for kind, text, at in shown_notes:
                label = {
                    "answer": t("triage.note.answer"),
                    "brought_back": t("triage.note.brought_back"),
                }.get(kind) or t("triage.note.question")
                body.append(paragraph(f"**{label}** ({t.datetime(at)})", subtle=True))
                body.append(paragraph(clip_text(text, min(clip or NOTE_CLIP, NOTE_CLIP))))
        if case.status is CaseStatus.NEEDS_INFO and not decided:
            body.append(paragraph(t("triage.waiting_answer"), subtle=True))
        if decided:
            block = paragraph(f"**{t(decided)}**")
            block["separator"] = True
            body.append(block)
            return adaptive_card(body)
        decision = paragraph(f"**{t('triage.decide')}**")
        decision["separator"] = True
        body.extend(
            [
                decision,
                {
                    "type": "Input.Text",
                    "id": "question",
                    "label": t("triage.question.label"),
                    "placeholder": t("triage.question.placeholder"),
                    "isMultiline": True,
                    "maxLength": 2000,
                },
                {
                    "type": "Input.Text",
                    "id": "reason",
                    "label": t("triage.reason.label"),
                    "placeholder": t("triage.reason.placeholder"),
                    "isMultiline": True,
                    "maxLength": 2000,
                },
                choice_set(
                    "route",
                    t("triage.route.label"),
                    [(r.value, route_text(t, r)) for r in DeclineRoute],
                    None,
                ),
                paragraph(t("triage.hint"), subtle=True),
            ]
        )
        actions = [
            execute(t("triage.accept.button"), "triage.accept", data, style="positive"),
            execute(t("triage.ask.button"), "triage.ask", data),
            execute(t("triage.decline.button"), "triage.decline", data, style="destructive"),
        ]
        return adaptive_card(body, actions)

    return fit(build, CLIPS)


def question_card(
    t: Localizer,
    case: Consultation,
    question: str,
    *,
    answer: str | None = None,
    reminder: bool = False,
) -> Card:
    """The coordinator's question to the requester, with a field for the answer; once
    answered (`answer`), the question and the answer that was sent."""
    number = case_label(t, case)
    waiting = answer is None and case.status is CaseStatus.NEEDS_INFO
    body: list[dict[str, Any]] = []
    if reminder and waiting:
        body.append(attention(t("reminder.question")))
    body.extend(
        [
            heading(t("question.title", case_number=number)),
            paragraph(t("question.intro", case_number=number)),
            paragraph(f"**{t('question.asked')}**"),
            paragraph(clip_text(question, NOTE_CLIP) or EMPTY),
        ]
    )
    if answer is not None:
        body.append(paragraph(f"**{t('question.your_answer')}**"))
        body.append(paragraph(clip_text(answer, NOTE_CLIP) or EMPTY))
        body.append(good(t("question.answered")))
        return adaptive_card(body)
    if case.status is not CaseStatus.NEEDS_INFO:
        # Decided meanwhile without an answer (declined, withdrawn): nothing to answer.
        body.append(paragraph(t("question.no_longer_open")))
        body.append(paragraph(t(f"status.{case.status.value}.next"), subtle=True))
        return adaptive_card(body)
    body.append(
        {
            "type": "Input.Text",
            "id": "answer",
            "label": t("question.answer.label"),
            "isMultiline": True,
            "isRequired": True,
            "errorMessage": t("question.answer.required"),
            "maxLength": 2000,
        }
    )
    body.append(paragraph(t("help.privacy"), subtle=True))
    return adaptive_card(
        body,
        [
            execute(
                t("question.answer.button"),
                "request.answer",
                {"case_id": case.id},
                style="positive",
            )
        ],
    )


def decision_card(t: Localizer, case: Consultation, decision: str) -> Card:
    """Tell the requester what happened to their request."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    number = case_label(t, case)
    body: list[dict[str, Any]] = [
        heading(t(f"decision.{decision}.title", case_number=number)),
        paragraph(t(f"decision.{decision}.body", case_number=number)),
    ]
    actions: list[dict[str, Any]] = []
    if decision == "declined":
        body.append(
            facts(
                [
                    (t("decision.reason"), or_empty(case.decline_reason)),
                    (t("decision.route"), route_text(t, case.decline_route)),
                ]
            )
        )
        actions.append(execute(t("request.new.button"), "request.new"))
    body.append(paragraph(t(f"status.{case.status.value}.next"), subtle=True))
    return adaptive_card(body, actions)


def queue_card(t: Localizer, view: QueueView) -> Card:
    """Open requests of the coordinator's teams, overdue first, then oldest first; the
    counts are of the whole queue, the rows one page of it."""
    page = view.page
    body: list[dict[str, Any]] = [heading(t("queue.title"))]
    if not page.total:
        body.append(paragraph(t("queue.empty")))
    else:
        body.append(paragraph(t.n("queue.total", page.total)))
    if view.overdue:
        body.append(attention(t.n("queue.overdue_count", view.overdue)))
    rows: list[dict[str, Any]] = []
    for item in page.items[:MAX_LIST]:
        case, days = item.case, item.working_days_waiting
        waiting = t.n("queue.waiting", days) if days else t("queue.waiting_today")
        requester = clip_text(item.requester_name, 80) or EMPTY
        lines: list[dict[str, Any]] = [
            paragraph(f"**{case_label(t, case)}** · {status_text(t, case.status)}"),
            paragraph(f"{requester} · {waiting}", subtle=True),
        ]
        markers = []
        if item.overdue:
            markers.append(t("queue.overdue"))
        if case.details.urgency is Urgency.URGENT:
            markers.append(urgency_text(t, Urgency.URGENT))
        if markers:
            lines.append(attention(" · ".join(markers)))
        rows.append(
            {
                "type": "ColumnSet",
                "separator": True,
                "columns": [
                    {"type": "Column", "width": "stretch", "items": lines},
                    {
                        "type": "Column",
                        "width": "auto",
                        "verticalContentAlignment": "Center",
                        "items": [
                            {
                                "type": "ActionSet",
                                "actions": [
                                    execute(
                                        t("queue.open.button"),
                                        "triage.open",
                                        {"case_id": case.id},
                                    )
                                ],
                            }
                        ],
                    },
                ],
            }
        )
    return list_card(t, body, rows, page, "request.queue")
