"""Cards after the meeting (SPEC §2.4–§2.6): the summary editor and the published summary,
follow-up cards for recommendations, the case manager's cases, review, hand-over, closing
and feedback.

Pure functions: views from the use cases + a localizer -> Adaptive Card dicts (schema
1.5). Long texts are shortened only when a card would otherwise grow past the size limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from consultations.consultation import CaseStatus, Consultation, Outcome
from consultations.followup import (
    CasesView,
    FeedbackView,
    FollowUpAction,
    HandOverView,
    RecommendationView,
    ReviewView,
    SummaryView,
)
from consultations.poll import TimeSlot
from consultations.summary import (
    MAX_FINDINGS,
    MAX_REASON,
    MAX_RECOMMENDATION,
    HandOverState,
    NotImplementedReason,
    OutsideParty,
    Owner,
    PlannedRecommendation,
    Recommendation,
    RecommendationStatus,
)
from dialogs.cards.base import (
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
from dialogs.cards.poll import slot_label
from dialogs.cards.registry import EMPTY

MAX_NOTE = 2000
MAX_COMMENT = 2000
# How hard a card is squeezed to fit: free texts are cut to the first number of
# characters and names to the second (None: whole).
_LIMITS: tuple[tuple[int | None, int | None], ...] = (
    (None, None),
    (600, 60),
    (300, 40),
    (160, 25),
    (80, 16),
    (40, 10),
)


@dataclass(frozen=True)
class Names:
    """How a card names people and owners."""

    t: Localizer
    names: Mapping[int, str]
    limit: int | None = None

    def person(self, user_id: int | None) -> str:
        if user_id is None:
            return EMPTY
        return clip_text(self.names.get(user_id) or "", self.limit) or EMPTY

    def owner(self, owner: Owner) -> str:
        if owner.party is not None:
            return self.t(f"party.{owner.party.value}")
        return self.person(owner.user_id)


def _yes_no(t: Localizer, value: bool | None) -> str:
    if value is None:
        return EMPTY
    return t("answer.yes") if value else t("answer.no")


def _date_text(t: Localizer, value: date | None) -> str:
    return t.date(value) if value else EMPTY


def _meeting(t: Localizer, slot: TimeSlot | None) -> str:
    return slot_label(t, slot) if slot else EMPTY


def status_name(t: Localizer, status: RecommendationStatus) -> str:
    return t(f"rec.status.{status.value}")


def outcome_name(t: Localizer, outcome: Outcome) -> str:
    return t(f"outcome.{outcome.value}")


def _date_input(input_id: str, label: str, value: date | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "Input.Date", "id": input_id, "label": label}
    if value is not None:
        block["value"] = value.isoformat()
    return block


def _text_input(input_id: str, label: str, limit: int, value: str = "") -> dict[str, Any]:
    return {
        "type": "Input.Text",
        "id": input_id,
        "label": label,
        "isMultiline": True,
        "maxLength": limit,
        "value": clip_text(value, limit),
    }


def _owner_choices(t: Localizer, view: SummaryView, names: Names) -> list[dict[str, str]]:
    people = [
        {"title": names.person(u), "value": Owner(user_id=u).token} for u in view.owner_choices
    ]
    parties = [
        {"title": t(f"party.{p.value}"), "value": Owner(party=p).token} for p in OutsideParty
    ]
    return [*people, *parties]


def _plan_line(
    t: Localizer,
    names: Names,
    line: PlannedRecommendation,
    live: Recommendation | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    status = live.status if live else RecommendationStatus.OPEN
    details = t(
        "summary.rec.details",
        owner=names.owner(line.owner),
        due=t.date(line.due),
        status=status_name(t, status),
    )
    text = clip_text(line.text, limit) or EMPTY
    if limit is not None and limit <= 80:
        # Squeezed hard: one block per line instead of two.
        return [paragraph(f"{text} · {details}")]
    return [paragraph(text), paragraph(details, subtle=True)]


# --- the summary ---------------------------------------------------------------------------


def summary_prompt_card(
    t: Localizer,
    *,
    case_id: int,
    case_number: str,
    meeting: TimeSlot | None,
    reminder: bool,
    done: bool,
) -> Card:
    """To the coordinator as the meeting ends (and a working day later if nothing came)."""
    body: list[dict[str, Any]] = []
    if reminder and not done:
        body.append(attention(t("reminder.summary_missing")))
    else:
        body.append(paragraph(t("summary.prompt.why"), subtle=True))
    body.append(heading(t("summary.prompt.title", case_number=case_number)))
    body.append(facts([(t("meeting.time"), _meeting(t, meeting))]))
    if done:
        body.append(good(t("summary.prompt.done")))
        return adaptive_card(body)
    body.append(paragraph(t("summary.prompt.body")))
    button = execute(t("summary.prompt.button"), "summary.open", {"case_id": case_id})
    button["style"] = "positive"
    return adaptive_card(body, [button])


def summary_editor_card(
    t: Localizer, view: SummaryView, *, errors: Sequence[str] = (), notice: str = ""
) -> Card:
    """The coordinator writes the summary: every button saves what has been typed."""
    summary = view.summary
    data = {"summary_id": summary.id}

    def build(step: tuple[int | None, int | None]) -> Card:
        limit, name_limit = step
        names = Names(t, view.names, name_limit)
        attendee_choices = [
            {"title": names.person(u), "value": str(u)} for u in view.attendee_choices
        ]
        manager_choices = [
            {"title": names.person(u), "value": str(u)}
            for u in dict.fromkeys([*view.attendee_choices, view.case.requester_id])
        ]
        body: list[dict[str, Any]] = [
            heading(
                t(
                    "summary.editor.title",
                    case_number=view.case.case_number or "",
                    version=summary.version,
                )
            )
        ]
        if notice:
            body.append(good(notice))
        body.extend(attention(t(code)) for code in errors)
        if summary.version > 1:
            body.append(paragraph(t("summary.editor.amending", version=summary.version)))
        body.append(facts([(t("meeting.time"), _meeting(t, view.meeting))]))
        body.append(paragraph(t("summary.editor.intro"), subtle=True))
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": "attendees",
                "label": t("summary.attendees"),
                "style": "compact",
                "isMultiSelect": True,
                "choices": attendee_choices,
                "value": ",".join(str(a) for a in summary.attendees),
            }
        )
        client: dict[str, Any] = {
            "type": "Input.ChoiceSet",
            "id": "client_attended",
            "label": t("summary.client_attended"),
            "style": "expanded",
            "choices": [
                {"title": t("answer.yes"), "value": "yes"},
                {"title": t("answer.no"), "value": "no"},
            ],
        }
        if summary.client_attended is not None:
            client["value"] = "yes" if summary.client_attended else "no"
        body.append(client)
        body.append(_text_input("findings", t("summary.findings"), MAX_FINDINGS, summary.findings))
        body.append(bold(t("summary.recommendations"), separator=True))
        if not summary.recommendations:
            body.append(paragraph(t("summary.recommendations.none"), subtle=True))
        for index, line in enumerate(summary.recommendations):
            live = view.recommendations.get(line.recommendation_id or -1)
            items = _plan_line(t, names, line, live, limit)
            items.append(
                buttons(
                    execute(
                        t("summary.rec.remove"),
                        "summary.remove_rec",
                        {**data, "index": index},
                        style="destructive",
                    )
                )
            )
            body.append(row(items))
        body.append(bold(t("summary.rec.new"), separator=True))
        body.append(_text_input("rec_text", t("summary.rec.text"), MAX_RECOMMENDATION))
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": "rec_owner",
                "label": t("summary.rec.owner"),
                "style": "compact",
                "choices": _owner_choices(t, view, names),
            }
        )
        body.append(paragraph(t("summary.rec.owner_hint"), subtle=True))
        body.append(_date_input("rec_due", t("summary.rec.due")))
        body.append(buttons(execute(t("summary.rec.add"), "summary.add_rec", data)))
        body.append(bold(t("summary.case_manager"), separator=True))
        body.append(paragraph(t("summary.case_manager.hint"), subtle=True))
        manager: dict[str, Any] = {
            "type": "Input.ChoiceSet",
            "id": "case_manager",
            "label": t("summary.case_manager"),
            "style": "compact",
            "choices": manager_choices,
        }
        if summary.case_manager_id is not None:
            manager["value"] = str(summary.case_manager_id)
        body.append(manager)
        body.append(_date_input("review_date", t("summary.review_date"), summary.review_date))
        body.append(paragraph(t("summary.editor.privacy"), subtle=True))
        return adaptive_card(
            body,
            [
                execute(t("summary.save"), "summary.save", data),
                execute(t("summary.preview"), "summary.preview", data, style="positive"),
            ],
        )

    return fit(build, _LIMITS)


def _summary_body(
    t: Localizer, view: SummaryView, limit: int | None, name_limit: int | None
) -> list[dict[str, Any]]:
    summary = view.summary
    names = Names(t, view.names, name_limit)
    body: list[dict[str, Any]] = [
        facts(
            [
                (t("meeting.time"), _meeting(t, view.meeting)),
                (t("summary.attendees"), ", ".join(names.person(a) for a in summary.attendees)),
                (t("summary.client_attended"), _yes_no(t, summary.client_attended)),
                (t("summary.case_manager"), names.person(summary.case_manager_id)),
                (t("summary.review_date"), _date_text(t, summary.review_date)),
            ]
        ),
        bold(t("summary.findings"), separator=True),
        paragraph(clip_text(summary.findings, limit) or EMPTY),
        bold(t("summary.recommendations"), separator=True),
    ]
    if not summary.recommendations:
        body.append(paragraph(t("summary.recommendations.none"), subtle=True))
    for line in summary.recommendations:
        live = view.recommendations.get(line.recommendation_id or -1)
        body.append(row(_plan_line(t, names, line, live, limit)))
    return body


def summary_preview_card(t: Localizer, view: SummaryView) -> Card:
    """What will be sent, with what still keeps it from being published."""
    data = {"summary_id": view.summary.id}

    def build(step: tuple[int | None, int | None]) -> Card:
        limit, name_limit = step
        body: list[dict[str, Any]] = [
            heading(
                t(
                    "summary.preview.title",
                    case_number=view.case.case_number or "",
                    version=view.summary.version,
                )
            )
        ]
        body.extend(attention(t(code)) for code in view.problems)
        if not view.problems:
            body.append(paragraph(t("summary.preview.recipients")))
        body.extend(_summary_body(t, view, limit, name_limit))
        actions = [execute(t("summary.edit"), "summary.edit", data)]
        if not view.problems:
            actions.append(execute(t("summary.publish"), "summary.publish", data, style="positive"))
        return adaptive_card(body, actions)

    return fit(build, _LIMITS)


def summary_card(
    t: Localizer,
    view: SummaryView,
    *,
    for_user: int,
    coordinator: bool = False,
    notice: str = "",
) -> Card:
    """A published version: to the requester, the case manager and the attendees."""
    summary = view.summary
    amended = summary.version > 1

    def build(step: tuple[int | None, int | None]) -> Card:
        limit, name_limit = step
        body: list[dict[str, Any]] = []
        if notice:
            body.append(good(notice))
        title = "summary.amended.title" if amended else "summary.title"
        body.append(heading(t(title, case_number=view.case.case_number or "")))
        if summary.published_at is not None:
            body.append(
                paragraph(
                    t(
                        "summary.version",
                        version=summary.version,
                        date=t.datetime(summary.published_at),
                    ),
                    subtle=True,
                )
            )
        if summary.case_manager_id == for_user:
            body.append(good(t("summary.you_are_case_manager")))
        if any(r.owner.user_id == for_user for r in summary.recommendations):
            body.append(paragraph(t("summary.you_own")))
        body.extend(_summary_body(t, view, limit, name_limit))
        body.append(paragraph(t("meeting.privacy"), subtle=True))
        actions = []
        if summary.case_manager_id == for_user or any(
            r.owner.user_id == for_user for r in summary.recommendations
        ):
            actions.append(execute(t("cases.open"), "cases.open"))
        if coordinator:
            actions.append(execute(t("summary.amend"), "summary.amend", {"case_id": view.case.id}))
        return adaptive_card(body, actions)

    return fit(build, _LIMITS)


def case_notice_card(t: Localizer, case_number: str, status: CaseStatus) -> Card:
    """The team channel's pseudonymous notice: the case number, status and next step."""
    return adaptive_card(
        [
            heading(t("notice.case.title", case_number=case_number)),
            facts([(t("notice.case.status"), t(f"status.{status.value}"))]),
            paragraph(t(f"status.{status.value}.next"), subtle=True),
        ]
    )


# --- following a recommendation up ---------------------------------------------------------


def recommendation_card(
    t: Localizer,
    view: RecommendationView,
    *,
    reason: str = "",
    notice: str = "",
    owner_label: str = "",
) -> Card:
    """At the due date (or when opened): done / in progress with a new date / not
    implemented with a reason / snooze. `reason` is a catalog key saying why it came."""
    rec = view.recommendation
    data = {"recommendation_id": rec.id}

    def build(step: tuple[int | None, int | None]) -> Card:
        limit, _names = step
        body: list[dict[str, Any]] = []
        if reason and view.can_update:
            body.append(attention(t(reason)))
        if notice:
            body.append(good(notice))
        body.append(heading(t("rec.title", case_number=view.case.case_number or "")))
        body.append(paragraph(clip_text(rec.text, limit) or EMPTY))
        owner = owner_label or (
            t(f"party.{rec.owner.party.value}") if rec.owner.party else view.owner_name or EMPTY
        )
        pairs = [
            (t("summary.rec.owner"), owner),
            (t("summary.rec.due"), t.date(rec.due)),
            (t("rec.status"), status_name(t, rec.status)),
        ]
        if rec.reason_category is not None:
            pairs.append(
                (t("rec.reason_category"), t(f"rec.reason_category.{rec.reason_category.value}"))
            )
        if rec.reason:
            pairs.append((t("rec.reason"), clip_text(rec.reason, limit)))
        if rec.snoozed_until is not None:
            pairs.append((t("rec.snoozed_until"), t.datetime(rec.snoozed_until)))
        body.append(facts(pairs))
        if rec.owner.party is not None:
            body.append(paragraph(t("rec.outside_owner"), subtle=True))
        if not view.can_update:
            body.append(paragraph(t("rec.closed"), subtle=True))
            return adaptive_card(body)
        body.append(bold(t("rec.update"), separator=True))
        body.append(_date_input("new_due", t("rec.new_due")))
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": "reason_category",
                "label": t("rec.reason_category_label"),
                "style": "compact",
                "choices": [
                    {"title": t(f"rec.reason_category.{c.value}"), "value": c.value}
                    for c in NotImplementedReason
                ],
            }
        )
        body.append(_text_input("reason", t("rec.reason_label"), MAX_REASON))
        body.append(paragraph(t("rec.update_hint"), subtle=True))

        def act(key: str, action: str, style: str = "") -> dict[str, Any]:
            return execute(t(key), "rec.update", {**data, "action": action}, style=style)

        body.append(
            buttons(
                act("rec.action.done", FollowUpAction.DONE, "positive"),
                act("rec.action.in_progress", FollowUpAction.IN_PROGRESS),
                act("rec.action.not_implemented", FollowUpAction.NOT_IMPLEMENTED),
            )
        )
        return adaptive_card(
            body,
            [
                act("rec.action.snooze_day", FollowUpAction.SNOOZE_DAY),
                act("rec.action.snooze_week", FollowUpAction.SNOOZE_WEEK),
            ],
        )

    return fit(build, _LIMITS)


# --- the case manager's view ---------------------------------------------------------------


def cases_card(t: Localizer, view: CasesView, today: date) -> Card:
    """`cases`/`asiakkaat`/`klienter`: cases I manage with their open recommendations,
    recommendations I own elsewhere, hand-overs waiting for me, summaries I owe."""

    def build(step: tuple[int | None, int | None]) -> Card:
        limit, name_limit = step
        names = Names(t, view.names, name_limit)
        body: list[dict[str, Any]] = [heading(t("cases.title"))]
        empty = not (view.managed or view.owned or view.handovers or view.summaries_due)
        if empty:
            body.append(paragraph(t("cases.empty")))
            return adaptive_card(body)
        for handover, case_number, sender in view.handovers:
            body.append(
                row(
                    [
                        attention(
                            t("cases.handover_waiting", case_number=case_number, name=sender)
                        ),
                        buttons(
                            execute(
                                t("handover.open"), "handover.open", {"handover_id": handover.id}
                            )
                        ),
                    ]
                )
            )
        for meeting in view.summaries_due:
            body.append(
                row(
                    [
                        attention(t("cases.summary_due", case_number=meeting.case_number)),
                        buttons(
                            execute(
                                t("summary.prompt.button"),
                                "summary.open",
                                {"case_id": meeting.consultation_id},
                            )
                        ),
                    ]
                )
            )
        if view.managed:
            body.append(bold(t("cases.managed"), separator=True))
        for managed in view.managed[:10]:
            case = managed.case
            items: list[dict[str, Any]] = [
                paragraph(
                    t(
                        "cases.case",
                        case_number=case.case_number or "",
                        status=t(f"status.{case.status.value}"),
                        review=_date_text(t, managed.review_date),
                    )
                )
            ]
            for rec in managed.recommendations[:8]:
                items.append(
                    paragraph(
                        t(
                            "cases.rec",
                            text=clip_text(rec.text, limit or 200),
                            owner=names.owner(rec.owner),
                            due=t.date(rec.due),
                        ),
                        subtle=not rec.overdue(today),
                    )
                )
            if managed.handover is not None:
                items.append(paragraph(t("cases.handover_pending"), subtle=True))
            actions = [execute(t("cases.review"), "case.review", {"case_id": case.id})]
            actions.extend(
                execute(
                    t("cases.rec_open", number=index + 1),
                    "rec.open",
                    {"recommendation_id": rec.id},
                )
                for index, rec in enumerate(managed.recommendations[:4])
            )
            items.append(buttons(*actions))
            body.append(row(items))
        if view.owned:
            body.append(bold(t("cases.owned"), separator=True))
        for rec, case_number in view.owned[:10]:
            body.append(
                row(
                    [
                        paragraph(
                            t(
                                "cases.owned_rec",
                                case_number=case_number,
                                text=clip_text(rec.text, limit or 200),
                                due=t.date(rec.due),
                            )
                        ),
                        buttons(execute(t("rec.open"), "rec.open", {"recommendation_id": rec.id})),
                    ]
                )
            )
        return adaptive_card(body)

    return fit(build, _LIMITS)


def review_card(
    t: Localizer, view: ReviewView, *, reason: str = "", notice: str = "", closed: str = ""
) -> Card:
    """The case manager decides: close with an outcome, bring back to the team, or hand
    the role over. `reason` is a catalog key saying why the card came."""
    managed = view.managed
    case = managed.case
    data = {"case_id": case.id}
    body: list[dict[str, Any]] = []
    if reason and view.can_act:
        body.append(attention(t(reason)))
    if notice:
        body.append(good(notice))
    body.append(heading(t("review.title", case_number=case.case_number or "")))
    body.append(
        facts(
            [
                (t("notice.case.status"), t(f"status.{case.status.value}")),
                (t("summary.review_date"), _date_text(t, managed.review_date)),
                (t("review.open_recommendations"), str(len(managed.recommendations))),
            ]
        )
    )
    if case.outcome is not None:
        body.append(good(t("review.closed", outcome=outcome_name(t, case.outcome))))
    if not view.can_act:
        return adaptive_card(body)
    body.append(bold(t("review.close"), separator=True))
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": "outcome",
            "label": t("review.outcome"),
            "style": "compact",
            "choices": [{"title": outcome_name(t, o), "value": o.value} for o in Outcome],
        }
    )
    body.append(buttons(execute(t("review.close.button"), "case.close", data, style="positive")))
    body.append(bold(t("review.bring_back"), separator=True))
    body.append(paragraph(t("review.bring_back.hint"), subtle=True))
    body.append(_text_input("bring_back_reason", t("review.bring_back.reason"), MAX_NOTE))
    body.append(buttons(execute(t("review.bring_back.button"), "case.bring_back", data)))
    body.append(bold(t("handover.title.short"), separator=True))
    if managed.handover is not None and managed.handover.state is HandOverState.PROPOSED:
        body.append(paragraph(t("cases.handover_pending"), subtle=True))
        return adaptive_card(body)
    body.append(paragraph(t("handover.hint"), subtle=True))
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": "successor",
            "label": t("handover.successor"),
            "style": "compact",
            "choices": [
                {"title": name or EMPTY, "value": str(uid)} for uid, name in view.candidates
            ],
        }
    )
    body.append(_text_input("note", t("handover.note"), MAX_NOTE))
    body.append(buttons(execute(t("handover.propose"), "handover.propose", data)))
    return adaptive_card(body)


def handover_card(
    t: Localizer, view: HandOverView, *, for_user: int, reason: str = "", notice: str = ""
) -> Card:
    """To the proposed successor (accept / decline), and for everyone concerned after."""
    handover = view.handover
    data = {"handover_id": handover.id}
    waiting = handover.state is HandOverState.PROPOSED

    def build(step: tuple[int | None, int | None]) -> Card:
        limit, _names = step
        body: list[dict[str, Any]] = []
        if reason and waiting:
            body.append(attention(t(reason)))
        if notice:
            body.append(good(notice))
        body.append(heading(t("handover.title", case_number=view.case.case_number or "")))
        body.append(paragraph(t("handover.body", name=view.from_name or EMPTY, to=view.to_name)))
        body.append(bold(t("handover.note"), separator=True))
        body.append(paragraph(clip_text(handover.note, limit) or EMPTY))
        body.append(
            facts(
                [
                    (t("review.open_recommendations"), str(len(view.recommendations))),
                    (t("handover.state"), t(f"handover.state.{handover.state.value}")),
                ]
            )
        )
        if handover.reason:
            body.append(
                paragraph(t("handover.decline_reason", reason=clip_text(handover.reason, limit)))
            )
        if not waiting or for_user != handover.to_user_id:
            return adaptive_card(body)
        body.append(paragraph(t("handover.accept.hint"), subtle=True))
        body.append(_text_input("reason", t("handover.decline.reason"), MAX_REASON))
        return adaptive_card(
            body,
            [
                execute(t("handover.accept"), "handover.accept", data, style="positive"),
                execute(t("handover.decline"), "handover.decline", data),
            ],
        )

    return fit(build, _LIMITS)


def handover_result_card(t: Localizer, view: HandOverView) -> Card:
    accepted = view.handover.state is HandOverState.ACCEPTED
    key = "handover.accepted.body" if accepted else "handover.declined.body"
    body: list[dict[str, Any]] = [
        heading(t("handover.title", case_number=view.case.case_number or "")),
        (good if accepted else attention)(t(key, name=view.to_name or EMPTY)),
    ]
    if view.handover.reason:
        body.append(
            paragraph(t("handover.decline_reason", reason=clip_text(view.handover.reason, 500)))
        )
    return adaptive_card(body, [execute(t("cases.open"), "cases.open")])


def case_closed_card(t: Localizer, case: Consultation) -> Card:
    outcome = outcome_name(t, case.outcome) if case.outcome else EMPTY
    return adaptive_card(
        [
            heading(t("closed.title", case_number=case.case_number or "")),
            good(t("review.closed", outcome=outcome)),
            paragraph(t("closed.body"), subtle=True),
        ]
    )


def brought_back_card(t: Localizer, case: Consultation) -> Card:
    return adaptive_card(
        [
            heading(t("brought_back.title", case_number=case.case_number or "")),
            paragraph(t("brought_back.body")),
        ],
        [execute(t("my.open"), "request.my")],
    )


def feedback_card(t: Localizer, view: FeedbackView, *, notice: str = "") -> Card:
    """Some weeks after the summary: how useful was the consultation (1–5, a comment)."""
    case = view.case
    body: list[dict[str, Any]] = [heading(t("feedback.title", case_number=case.case_number or ""))]
    if notice:
        body.append(good(notice))
    if view.given is not None:
        body.append(
            paragraph(t("feedback.given", rating=view.given.rating, date=t.datetime(view.given.at)))
        )
        return adaptive_card(body)
    body.append(paragraph(t("feedback.why"), subtle=True))
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": "rating",
            "label": t("feedback.rating"),
            "style": "expanded",
            "choices": [{"title": t(f"feedback.rating.{n}"), "value": str(n)} for n in range(1, 6)],
        }
    )
    body.append(_text_input("comment", t("feedback.comment"), MAX_COMMENT))
    body.append(paragraph(t("feedback.privacy"), subtle=True))
    return adaptive_card(
        body,
        [execute(t("feedback.send"), "feedback.give", {"case_id": case.id}, style="positive")],
    )
