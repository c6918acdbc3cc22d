"""Cards of the meeting summary (SPEC §2.4): the prompt, the coordinator's editor and its
preview, the published summary as each reader sees it, and the channel's notice; and the
pieces the follow-up cards share with them.

Pure functions: views from the use cases + a localizer -> Adaptive Card dicts (schema
1.5). Long texts are shortened only when a card would otherwise grow past the size limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from consultations.consultation import CaseStatus, Outcome
from consultations.poll import TimeSlot
from consultations.summaries import SummaryView
from consultations.summary import (
    MAX_FINDINGS,
    MAX_RECOMMENDATION,
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
from dialogs.cards.people import MEMBERS, OWNERS, PEOPLE, dataset, people_picker
from dialogs.cards.poll import slot_label
from dialogs.cards.registry import EMPTY

MAX_NOTE = 2000
MAX_COMMENT = 2000
# How hard a card is squeezed to fit: free texts are cut to the first number of
# characters and names to the second (None: whole).
LIMITS: tuple[tuple[int | None, int | None], ...] = (
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


def yes_no(t: Localizer, value: bool | None) -> str:
    """Did the client attend: yes or no (not the poll's "Sopii" / "Ei sovi")."""
    if value is None:
        return EMPTY
    return t("attends.yes") if value else t("attends.no")


def date_text(t: Localizer, value: date | None) -> str:
    return t.date(value) if value else EMPTY


def meeting_text(t: Localizer, slot: TimeSlot | None) -> str:
    return slot_label(t, slot) if slot else EMPTY


def status_name(t: Localizer, status: RecommendationStatus) -> str:
    return t(f"rec.status.{status.value}")


def outcome_name(t: Localizer, outcome: Outcome) -> str:
    return t(f"outcome.{outcome.value}")


def date_input(input_id: str, label: str, value: date | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "Input.Date", "id": input_id, "label": label}
    if value is not None:
        block["value"] = value.isoformat()
    return block


def text_input(input_id: str, label: str, limit: int, value: str = "") -> dict[str, Any]:
    return {
        "type": "Input.Text",
        "id": input_id,
        "label": label,
        "isMultiline": True,
        "maxLength": limit,
        "value": clip_text(value, limit),
    }


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
    body.append(facts([(t("meeting.time"), meeting_text(t, meeting))]))
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
        case_id = view.case.id
        people = [(names.person(u), str(u)) for u in view.attendee_choices]
        # Suggested on a team of hundreds: who was invited, who was there, the requester.
        there = {str(u) for u in [*view.invited, *summary.attendees]}
        requester = str(view.case.requester_id)
        with_requester = [
            (names.person(u), str(u))
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
        body.append(facts([(t("meeting.time"), meeting_text(t, view.meeting))]))
        body.append(paragraph(t("summary.editor.intro"), subtle=True))
        body.append(
            people_picker(
                t,
                input_id="attendees",
                label=t("summary.attendees"),
                candidates=people,
                suggested=there,
                search=dataset(MEMBERS, case_id),
                value=",".join(str(a) for a in summary.attendees),
                multi=True,
            )
        )
        client: dict[str, Any] = {
            "type": "Input.ChoiceSet",
            "id": "client_attended",
            "label": t("summary.client_attended"),
            "style": "expanded",
            "choices": [
                {"title": yes_no(t, True), "value": "yes"},
                {"title": yes_no(t, False), "value": "no"},
            ],
        }
        if summary.client_attended is not None:
            client["value"] = "yes" if summary.client_attended else "no"
        body.append(client)
        body.append(text_input("findings", t("summary.findings"), MAX_FINDINGS, summary.findings))
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
        body.append(text_input("rec_text", t("summary.rec.text"), MAX_RECOMMENDATION))
        owners = [(names.person(u), Owner(user_id=u).token) for u in view.owner_choices]
        planned = {r.owner.token for r in summary.recommendations}
        body.append(
            people_picker(
                t,
                input_id="rec_owner",
                label=t("summary.rec.owner"),
                candidates=owners,
                suggested={
                    *planned,
                    *(Owner(user_id=int(u)).token for u in [*there, requester]),
                },
                search=dataset(OWNERS, case_id),
                extra=[(t(f"party.{p.value}"), Owner(party=p).token) for p in OutsideParty],
            )
        )
        body.append(paragraph(t("summary.rec.owner_hint"), subtle=True))
        body.append(date_input("rec_due", t("summary.rec.due")))
        body.append(buttons(execute(t("summary.rec.add"), "summary.add_rec", data)))
        body.append(bold(t("summary.case_manager"), separator=True))
        body.append(paragraph(t("summary.case_manager.hint"), subtle=True))
        body.append(
            people_picker(
                t,
                input_id="case_manager",
                label=t("summary.case_manager"),
                candidates=with_requester,
                suggested={*there, requester},
                search=dataset(PEOPLE, case_id),
                value=str(summary.case_manager_id or ""),
            )
        )
        body.append(date_input("review_date", t("summary.review_date"), summary.review_date))
        body.append(paragraph(t("summary.editor.privacy"), subtle=True))
        return adaptive_card(
            body,
            [
                execute(t("summary.save"), "summary.save", data),
                execute(t("summary.preview"), "summary.preview", data, style="positive"),
            ],
        )

    return fit(build, LIMITS)


def _summary_body(
    t: Localizer, view: SummaryView, limit: int | None, name_limit: int | None
) -> list[dict[str, Any]]:
    summary = view.summary
    names = Names(t, view.names, name_limit)
    body: list[dict[str, Any]] = [
        facts(
            [
                (t("meeting.time"), meeting_text(t, view.meeting)),
                (t("summary.attendees"), ", ".join(names.person(a) for a in summary.attendees)),
                (t("summary.client_attended"), yes_no(t, summary.client_attended)),
                (t("summary.case_manager"), names.person(summary.case_manager_id)),
                (t("summary.review_date"), date_text(t, summary.review_date)),
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

    return fit(build, LIMITS)


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
                        date=t.moment(summary.published_at),
                    ),
                    subtle=True,
                )
            )
        if summary.case_manager_id == for_user:
            body.append(good(t("summary.you_are_case_manager")))
        if any(r.owner.user_id == for_user for r in summary.recommendations):
            body.append(paragraph(t("summary.you_own")))
        body.extend(_summary_body(t, view, limit, name_limit))
        body.append(paragraph(t("summary.privacy"), subtle=True))
        actions = []
        if summary.case_manager_id == for_user or any(
            r.owner.user_id == for_user for r in summary.recommendations
        ):
            actions.append(execute(t("cases.open"), "cases.open"))
        if coordinator:
            actions.append(execute(t("summary.amend"), "summary.amend", {"case_id": view.case.id}))
        return adaptive_card(body, actions)

    return fit(build, LIMITS)


def case_notice_card(t: Localizer, case_number: str, status: CaseStatus) -> Card:
    """The team channel's pseudonymous notice: the case number, status and next step."""
    return adaptive_card(
        [
            heading(t("notice.case.title", case_number=case_number)),
            facts([(t("notice.case.status"), t(f"status.{status.value}"))]),
            paragraph(t(f"status.{status.value}.next"), subtle=True),
        ]
    )
