"""Cards of the follow-up (SPEC §2.5–§2.6): a recommendation's reminder and answers, the
case manager's cases and review, the hand-over, closing, and the requester's feedback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from consultations.case_manager import CasesSection, CasesView, ReviewView
from consultations.consultation import Consultation, Outcome
from consultations.feedback import FeedbackView
from consultations.handovers import HandOverView
from consultations.lists import Page
from consultations.recommendations import FollowUpAction, RecommendationView
from consultations.summary import (
    MAX_REASON,
    HandOverState,
    NotImplementedReason,
)
from dialogs.cards.base import (
    MAX_CARD_BYTES,
    Card,
    Localizer,
    adaptive_card,
    attention,
    bold,
    buttons,
    card_bytes,
    clip_text,
    execute,
    facts,
    fit,
    good,
    heading,
    paragraph,
    row,
)
from dialogs.cards.lists import paged_card, paging_buttons, range_line
from dialogs.cards.people import PEOPLE, dataset, people_picker
from dialogs.cards.registry import EMPTY
from dialogs.cards.summary import (
    LIMITS,
    MAX_COMMENT,
    MAX_NOTE,
    Names,
    date_input,
    date_text,
    outcome_name,
    status_name,
    text_input,
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
        if view.snoozed_until is not None:
            pairs.append((t("rec.snoozed_until"), t.moment(view.snoozed_until)))
        body.append(facts(pairs))
        if rec.owner.party is not None:
            body.append(paragraph(t("rec.outside_owner"), subtle=True))
        if not view.can_update:
            body.append(paragraph(t("rec.closed"), subtle=True))
            return adaptive_card(body)
        body.append(bold(t("rec.update"), separator=True))
        body.append(date_input("new_due", t("rec.new_due")))
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
        body.append(text_input("reason", t("rec.reason_label"), MAX_REASON))
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

    return fit(build, LIMITS)


# --- the case manager's view ---------------------------------------------------------------

# A case's open recommendations listed under it; the rest are counted.
MAX_RECS_SHOWN = 4


def cases_card(t: Localizer, view: CasesView, today: date) -> Card:
    """`cases`/`asiakkaat`/`klienter`: hand-overs waiting for me, summaries I owe, cases I
    manage with their open recommendations, recommendations I own elsewhere. The first
    card shows the first few of each part with the part's true total; "Show more" under
    a part pages through that part alone."""
    section = view.section
    parts: list[tuple[str, Page[Any], Callable[[int | None, Names], list[dict[str, Any]]]]] = [
        (CasesSection.HANDOVERS, view.handovers, lambda _limit, _names: _handover_rows(t, view)),
        (CasesSection.SUMMARIES, view.summaries_due, lambda _limit, _names: _summary_rows(t, view)),
        (
            CasesSection.MANAGED,
            view.managed,
            lambda limit, names: _managed_rows(t, view, today, limit, names),
        ),
        (CasesSection.OWNED, view.owned, lambda limit, _names: _owned_rows(t, view, limit)),
    ]

    if view.empty and not section:
        return adaptive_card([heading(t("cases.title")), paragraph(t("cases.empty"))])
    head: list[dict[str, Any]] = [heading(t("cases.title"))]

    if section:
        part, page, rows_of = next(p for p in parts if p[0] == section)
        title = bold(t(f"cases.section.{part}", count=page.total), separator=True)
        back = [execute(t("cases.overview"), "cases.open")]

        def one_part(step: tuple[int | None, int | None]) -> Card:
            rows = rows_of(step[0], Names(t, view.names, step[1]))

            def paged(shown: int) -> Card:
                footer = [
                    *range_line(t, page.offset, shown, page.total),
                    *paging_buttons(
                        t, "cases.open", {"section": part}, page.offset, shown, page.total
                    ),
                ]
                return adaptive_card([*head, title, *rows[:shown], *footer], back)

            return paged_card(paged, len(rows))

        return fit(one_part, LIMITS)

    def overview(step: tuple[int | None, int | None], cap: int | None) -> Card:
        body = list(head)
        for part, page, rows_of in parts:
            if not page.total:
                continue
            if part in (CasesSection.MANAGED, CasesSection.OWNED):
                body.append(bold(t(f"cases.section.{part}", count=page.total), separator=True))
            rows = rows_of(step[0], Names(t, view.names, step[1]))[:cap]
            body.extend(rows)
            body.extend(range_line(t, 0, len(rows), page.total))
            body.extend(
                paging_buttons(t, "cases.open", {"section": part}, 0, len(rows), page.total)
            )
        return adaptive_card(body)

    card = fit(lambda step: overview(step, None), LIMITS)
    if card_bytes(card) > MAX_CARD_BYTES:
        # Even the shortest texts are too many: fewer rows of each part, each pages on.
        longest = max(len(page.items) for _part, page, _rows in parts)
        card = paged_card(lambda cap: overview(LIMITS[-1], cap), longest)
    return card


def _handover_rows(t: Localizer, view: CasesView) -> list[dict[str, Any]]:
    return [
        row(
            [
                attention(
                    t(
                        "cases.handover_waiting",
                        case_number=case_number,
                        name=clip_text(sender, 80) or EMPTY,
                    )
                ),
                buttons(execute(t("handover.open"), "handover.open", {"handover_id": handover.id})),
            ]
        )
        for handover, case_number, sender in view.handovers.items
    ]


def _summary_rows(t: Localizer, view: CasesView) -> list[dict[str, Any]]:
    return [
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
        for meeting in view.summaries_due.items
    ]


def _managed_rows(
    t: Localizer, view: CasesView, today: date, limit: int | None, names: Names
) -> list[dict[str, Any]]:
    rows = []
    for managed in view.managed.items:
        case = managed.case
        items: list[dict[str, Any]] = [
            paragraph(
                t(
                    "cases.case",
                    case_number=case.case_number or "",
                    status=t(f"status.{case.status.value}"),
                    review=date_text(t, managed.review_date),
                )
            )
        ]
        for rec in managed.recommendations[:MAX_RECS_SHOWN]:
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
        hidden = len(managed.recommendations) - MAX_RECS_SHOWN
        if hidden > 0:
            items.append(paragraph(t.n("cases.recs_more", hidden), subtle=True))
        if managed.handover is not None:
            items.append(paragraph(t("cases.handover_pending"), subtle=True))
        actions = [execute(t("cases.review"), "case.review", {"case_id": case.id})]
        actions.extend(
            execute(
                t("cases.rec_open", number=index + 1),
                "rec.open",
                {"recommendation_id": rec.id},
            )
            for index, rec in enumerate(managed.recommendations[:MAX_RECS_SHOWN])
        )
        items.append(buttons(*actions))
        rows.append(row(items))
    return rows


def _owned_rows(t: Localizer, view: CasesView, limit: int | None) -> list[dict[str, Any]]:
    return [
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
        for rec, case_number in view.owned.items
    ]


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
    open_count = len(managed.recommendations)
    pairs = [
        (t("notice.case.status"), t(f"status.{case.status.value}")),
        (t("summary.review_date"), date_text(t, managed.review_date)),
    ]
    if view.can_act:
        pairs.append((t("review.open_recommendations"), str(open_count)))
    body.append(facts(pairs))
    if case.outcome is not None:
        body.append(good(t("review.closed", outcome=outcome_name(t, case.outcome))))
        if open_count:
            # Closing ends their follow-up: say so, rather than a bare count.
            body.append(paragraph(t.n("review.closed.open_recommendations", open_count)))
    if not view.can_act:
        return adaptive_card(body)
    body.append(bold(t("review.close"), separator=True))
    if open_count:
        body.append(paragraph(t.n("review.close.open_recommendations", open_count), subtle=True))
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
    body.append(text_input("bring_back_reason", t("review.bring_back.reason"), MAX_NOTE))
    body.append(buttons(execute(t("review.bring_back.button"), "case.bring_back", data)))
    body.append(bold(t("handover.title.short"), separator=True))
    if managed.handover is not None and managed.handover.state is HandOverState.PROPOSED:
        body.append(paragraph(t("cases.handover_pending"), subtle=True))
        return adaptive_card(body)
    body.append(paragraph(t("handover.hint"), subtle=True))
    suggested = {str(uid) for uid in view.suggested if uid != view.case_manager_id}

    def with_names(step: tuple[int | None, int | None]) -> Card:
        # Names as long as they come, shortened only when the card would be too big.
        limit = step[1] or 80
        picker = people_picker(
            t,
            input_id="successor",
            label=t("handover.successor"),
            candidates=[
                (clip_text(name, limit) or EMPTY, str(uid)) for uid, name in view.candidates
            ],
            suggested=suggested,
            search=dataset(PEOPLE, case.id),
        )
        ending = [
            picker,
            text_input("note", t("handover.note"), MAX_NOTE),
            buttons(execute(t("handover.propose"), "handover.propose", data)),
        ]
        return adaptive_card([*body, *ending])

    return fit(with_names, LIMITS)


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
        body.append(text_input("reason", t("handover.decline.reason"), MAX_REASON))
        return adaptive_card(
            body,
            [
                execute(t("handover.accept"), "handover.accept", data, style="positive"),
                execute(t("handover.decline"), "handover.decline", data),
            ],
        )

    return fit(build, LIMITS)


def handover_result_card(t: Localizer, view: HandOverView, *, for_user: int) -> Card:
    """The answer to a hand-over, to the previous case manager, the coordinator and (when
    accepted) the requester. Only the one who still manages the case after a decline
    gets a button: back to the case, to hand it to someone else."""
    handover = view.handover
    accepted = handover.state is HandOverState.ACCEPTED
    key = "handover.accepted.body" if accepted else "handover.declined.body"
    body: list[dict[str, Any]] = [
        heading(t("handover.title", case_number=view.case.case_number or "")),
        (good if accepted else attention)(t(key, name=view.to_name or EMPTY)),
    ]
    if handover.reason:
        body.append(paragraph(t("handover.decline_reason", reason=clip_text(handover.reason, 500))))
    actions = []
    if not accepted and for_user == handover.from_user_id:
        actions.append(
            execute(t("handover.result.review"), "case.review", {"case_id": view.case.id})
        )
    return adaptive_card(body, actions)


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
    body.append(text_input("comment", t("feedback.comment"), MAX_COMMENT))
    body.append(paragraph(t("feedback.privacy"), subtle=True))
    return adaptive_card(
        body,
        [execute(t("feedback.send"), "feedback.give", {"case_id": case.id}, style="positive")],
    )
