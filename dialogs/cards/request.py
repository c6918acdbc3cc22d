"""Cards for a consultation request (SPEC §2.1): pages, review, drafts, the requester's lists.

Pure functions: domain objects + a localizer -> Adaptive Card dicts (schema 1.5). Every
user-visible text comes from the catalog; free text written by users is shown as is, but
long texts are shortened when a card would otherwise grow past `MAX_CARD_BYTES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from consultations.consultation import (
    DEFAULT_MAX_TEXT,
    MAX_TEXT,
    WITHDRAWABLE,
    Barrier,
    CaseStatus,
    Consent,
    Consultation,
    DeclineRoute,
    RequestDetails,
    Service,
    Urgency,
)
from consultations.errors import DomainError, IdentityCodeRefused
from consultations.lists import Page
from consultations.model import Profession
from consultations.poll import TimeSlot
from dialogs.cards.base import (
    HELSINKI,
    Card,
    Localizer,
    adaptive_card,
    attention,
    clip_text,
    execute,
    facts,
    fit,
    heading,
    paragraph,
)
from dialogs.cards.lists import paged_card, paging_buttons, range_line
from dialogs.cards.registry import EMPTY, profession_name, professions_text

PAGES = ("basics", "urgent", "consent", "question", "capacity", "services", "meeting", "review")
# Which RequestDetails fields each input page asks for ("consent" and "review" have none).
PAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "basics": ("team_id", "client_reference", "consent", "consent_date", "urgency"),
    "urgent": ("urgent_timeframe",),
    "consent": (),
    "question": ("question", "situation", "history"),
    "capacity": ("work_capacity", "self_rating", "strengths", "goals"),
    "services": ("services", "barriers"),
    "meeting": ("professions", "client_attends"),
    "review": (),
}
# Every RequestDetails field, in the order the request is read.
FIELDS = (
    "team_id",
    "client_reference",
    "consent",
    "consent_date",
    "urgency",
    "urgent_timeframe",
    "question",
    "situation",
    "history",
    "work_capacity",
    "self_rating",
    "strengths",
    "goals",
    "services",
    "barriers",
    "professions",
    "client_attends",
)
BARRIER_GROUPS = ("person", "skills", "environment", "other")
# Lists are cut so a card stays small; the card says how many were left out.
MAX_LIST = 25
EXCERPT = 120
_LONG_FIELDS = ("question", "situation", "history", "work_capacity", "strengths", "goals")
# Shortening steps for long free texts when a card would be too big (None: full text).
CLIPS: tuple[int | None, ...] = (None, 1500, 1000, 700, 400, 200)


def or_empty(text: str) -> str:
    return text.strip() or EMPTY


def _local_date(value: datetime | date) -> date:
    if isinstance(value, datetime):
        return value.astimezone(HELSINKI).date() if value.tzinfo else value.date()
    return value


def _no_inputs(action: dict[str, Any]) -> dict[str, Any]:
    """An action that neither validates nor sends the card's inputs (cancel)."""
    action["associatedInputs"] = "none"
    action["fallback"]["associatedInputs"] = "none"
    return action


def _label(t: Localizer, name: str) -> str:
    return t(f"request.field.{name}")


def case_label(t: Localizer, case: Consultation) -> str:
    return case.case_number or t("request.draft_label")


def _team_name(teams: Sequence[tuple[int, str]], team_id: int | None) -> str:
    for tid, name in teams:
        if tid == team_id:
            return name
    return EMPTY


def _join(values: Iterable[str]) -> str:
    return ", ".join(values) or EMPTY


# --- localized values ------------------------------------------------------------------


def consent_text(t: Localizer, consent: Consent | None) -> str:
    return t(f"consent.{consent.value}") if consent else EMPTY


def urgency_text(t: Localizer, urgency: Urgency) -> str:
    return t(f"urgency.{urgency.value}")


def service_text(t: Localizer, service: Service) -> str:
    return t(f"service.{service.value}")


def barrier_text(t: Localizer, barrier: Barrier) -> str:
    return t(f"barrier.{barrier.value}")


def barrier_group(t: Localizer, barrier: Barrier) -> str:
    group = barrier.value.split(".", 1)[0]
    return t(f"barrier_group.{group}")


def route_text(t: Localizer, route: DeclineRoute | None) -> str:
    return t(f"route.{route.value}") if route else EMPTY


def status_text(t: Localizer, status: CaseStatus) -> str:
    return t(f"status.{status.value}")


def attends_text(t: Localizer, attends: bool | None) -> str:
    key = {True: "yes", False: "no", None: "unknown"}[attends]
    return t(f"attends.{key}")


def _services(t: Localizer, values: frozenset[Service]) -> str:
    return _join(service_text(t, s) for s in Service if s in values)


def _barriers(t: Localizer, values: frozenset[Barrier]) -> str:
    return _join(barrier_text(t, b) for b in Barrier if b in values)


# --- inputs ------------------------------------------------------------------------------


def _text_input(
    t: Localizer,
    name: str,
    value: str,
    *,
    multiline: bool = False,
    max_length: int | None = None,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "Input.Text",
        "id": name,
        "label": _label(t, name),
        "value": value,
        "placeholder": t(f"request.placeholder.{name}"),
    }
    if multiline:
        block["isMultiline"] = True
    if max_length:
        block["maxLength"] = max_length
    return block


def choice_set(
    name: str,
    label: str,
    choices: list[tuple[str, str]],
    value: str | None,
    *,
    multi: bool = False,
    expanded: bool = False,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "id": name,
        "label": label,
        "style": "expanded" if expanded or multi else "compact",
        "choices": [{"title": title, "value": v} for v, title in choices],
    }
    if multi:
        block["isMultiSelect"] = True
    if value is not None:
        block["value"] = value
    return block


def _field_inputs(
    t: Localizer, name: str, d: RequestDetails, teams: Sequence[tuple[int, str]]
) -> list[dict[str, Any]]:
    limit = MAX_TEXT.get(name, DEFAULT_MAX_TEXT)
    if name == "team_id":
        choices = [(str(tid), team) for tid, team in teams]
        return [
            choice_set(
                name,
                _label(t, name),
                choices,
                str(d.team_id) if d.team_id is not None else None,
            )
        ]
    if name == "client_reference":
        return [
            _text_input(t, name, d.client_reference, max_length=limit),
            paragraph(t("request.help.client_reference"), subtle=True),
        ]
    if name == "consent":
        return [
            choice_set(
                name,
                _label(t, name),
                [(c.value, consent_text(t, c)) for c in Consent],
                d.consent.value if d.consent else None,
                expanded=True,
            ),
            paragraph(t("request.help.consent"), subtle=True),
        ]
    if name == "consent_date":
        block: dict[str, Any] = {"type": "Input.Date", "id": name, "label": _label(t, name)}
        if d.consent_date:
            block["value"] = d.consent_date.isoformat()
        return [block]
    if name == "urgency":
        return [
            choice_set(
                name,
                _label(t, name),
                [(u.value, urgency_text(t, u)) for u in Urgency],
                d.urgency.value,
                expanded=True,
            )
        ]
    if name == "question":
        # Not isRequired: the client would then block Back and Save draft while it is
        # empty. Next checks it on the server and shows the page again with the error.
        return [_text_input(t, name, d.question, multiline=True, max_length=limit)]
    if name == "self_rating":
        # No min/max: clients clamp an out-of-range number silently (12 became 10).
        # The server refuses it instead and says why, keeping the rest of the page.
        number: dict[str, Any] = {
            "type": "Input.Number",
            "id": name,
            "label": _label(t, name),
            "placeholder": t("request.placeholder.self_rating"),
        }
        if d.self_rating is not None:
            number["value"] = d.self_rating
        return [number]
    if name == "services":
        return [
            choice_set(
                name,
                _label(t, name),
                [(s.value, service_text(t, s)) for s in Service],
                ",".join(s.value for s in Service if s in d.services),
                multi=True,
            )
        ]
    if name == "barriers":
        choices = [(b.value, f"{barrier_group(t, b)}: {barrier_text(t, b)}") for b in Barrier]
        return [
            choice_set(
                name,
                _label(t, name),
                choices,
                ",".join(b.value for b in Barrier if b in d.barriers),
                multi=True,
            )
        ]
    if name == "professions":
        return [
            choice_set(
                name,
                _label(t, name),
                [(p.value, profession_name(t, p)) for p in Profession],
                ",".join(p.value for p in Profession if p in d.professions),
                multi=True,
            )
        ]
    if name == "client_attends":
        current = {True: "yes", False: "no", None: ""}[d.client_attends]
        return [
            choice_set(
                name,
                _label(t, name),
                [("yes", t("attends.yes")), ("no", t("attends.no")), ("", t("attends.unknown"))],
                current,
                expanded=True,
            )
        ]
    value = getattr(d, name)
    assert isinstance(value, str)
    return [_text_input(t, name, value, multiline=name in _LONG_FIELDS, max_length=limit)]


# --- the request dialog ----------------------------------------------------------------


def _error_blocks(
    t: Localizer, errors: Sequence[str], refused: Sequence[DomainError] = ()
) -> list[dict[str, Any]]:
    blocks = []
    for error in errors:
        # A field name, or (for anything else) a catalog key of its own.
        text = t(f"request.error.{error}") if error in FIELDS else t(error)
        blocks.append(attention(text))
    for refusal in refused:
        label = _label(t, refusal.field) if refusal.field in FIELDS else ""
        if isinstance(refusal, IdentityCodeRefused):
            text = t("request.error.identity_code", field=label)
        elif label:
            text = t(
                "request.error.in_field", field=label, message=t(refusal.code, **refusal.params)
            )
        else:
            text = t(refusal.code, **refusal.params)
        blocks.append(attention(text))
    return blocks


def details_sections(
    t: Localizer, d: RequestDetails, team_name: str, clip: int | None
) -> list[dict[str, Any]]:
    """The whole request as FactSets, one per part of the dialog."""

    def long(name: str) -> str:
        return or_empty(clip_text(str(getattr(d, name)), clip))

    consent = consent_text(t, d.consent)
    rating = str(d.self_rating) if d.self_rating is not None else EMPTY
    sections: list[tuple[str, list[tuple[str, str]]]] = [
        (
            "basics",
            [
                (_label(t, "team_id"), team_name or EMPTY),
                (_label(t, "client_reference"), or_empty(d.client_reference)),
                (_label(t, "consent"), consent),
                # A consent date belongs to an obtained consent, a timeframe to an urgent
                # request: for anything else they do not apply and are not shown.
                *(
                    [
                        (
                            _label(t, "consent_date"),
                            t.date(d.consent_date) if d.consent_date else EMPTY,
                        )
                    ]
                    if d.consent is Consent.OBTAINED
                    else []
                ),
                (_label(t, "urgency"), urgency_text(t, d.urgency)),
                *(
                    [(_label(t, "urgent_timeframe"), or_empty(d.urgent_timeframe))]
                    if d.urgency is Urgency.URGENT
                    else []
                ),
            ],
        ),
        (
            "question",
            [(_label(t, n), long(n)) for n in ("question", "situation", "history")],
        ),
        (
            "capacity",
            [
                (_label(t, "work_capacity"), long("work_capacity")),
                (_label(t, "self_rating"), rating),
                (_label(t, "strengths"), long("strengths")),
                (_label(t, "goals"), long("goals")),
            ],
        ),
        (
            "services",
            [
                (_label(t, "services"), _services(t, d.services)),
                (_label(t, "barriers"), _barriers(t, d.barriers)),
            ],
        ),
        (
            "meeting",
            [
                (_label(t, "professions"), professions_text(t, d.professions)),
                (_label(t, "client_attends"), attends_text(t, d.client_attends)),
            ],
        ),
    ]
    body: list[dict[str, Any]] = []
    for page, pairs in sections:
        title = paragraph(f"**{t(f'request.page.{page}')}**")
        title["separator"] = True
        body.extend([title, facts(pairs)])
    if clip is not None:
        body.append(paragraph(t("card.shortened"), subtle=True))
    return body


def request_page_card(
    t: Localizer,
    page: str,
    details: RequestDetails,
    *,
    case_id: int | None,
    teams: Sequence[tuple[int, str]],
    errors: Sequence[str] = (),
    refused: Sequence[DomainError] = (),
    first: bool = False,
) -> Card:
    """One page of the request dialog, pre-filled with what the draft holds.

    `case_id` is None for a new request not saved yet: nothing is stored until its first
    page is saved with something in it. `refused` are refusals of single inputs (an
    identity code, a rating of 12): named, with the page's other inputs kept."""
    if page not in PAGES:
        raise ValueError(f"unknown request page {page!r}")
    data: dict[str, Any] = {"page": page}
    if case_id is not None:
        data["case_id"] = case_id

    def build(clip: int | None) -> Card:
        body: list[dict[str, Any]] = [heading(t("request.title"))]
        if first:
            body.append(paragraph(t("request.intro")))
            body.append(paragraph(t("help.privacy"), subtle=True))
        body.append(paragraph(f"**{t(f'request.page.{page}')}**"))
        body.append(paragraph(t(f"request.page.{page}.intro"), subtle=True))
        body.extend(_error_blocks(t, errors, refused))
        back = execute(t("request.button.back"), "request.back", data)
        save = execute(t("request.button.save"), "request.save", data)
        # A saved draft is deleted (after a question); a request never saved just ends.
        cancel = _no_inputs(
            execute(t("request.button.cancel"), "request.cancel", data)
            if case_id is None
            else execute(t("request.button.delete"), "request.cancel", data, style="destructive")
        )
        if page == "consent":
            body.append(paragraph(t("request.consent.explain")))
            body.append(paragraph(t("request.consent.how")))
            body.append(paragraph(t("request.consent.typ")))
            body.append(paragraph(t("request.consent.save", command=t("command.drafts"))))
            return adaptive_card(body, [back, save])
        if page == "review":
            team_name = _team_name(teams, details.team_id)
            body.extend(details_sections(t, details, team_name, clip))
            submit = execute(
                t("request.button.submit"), "request.submit", {"case_id": case_id}, style="positive"
            )
            return adaptive_card(body, [submit, back, save, cancel])
        for name in PAGE_FIELDS[page]:
            body.extend(_field_inputs(t, name, details, teams))
        next_ = execute(t("request.button.next"), "request.next", data, style="positive")
        actions = (
            [next_, save, cancel] if first or page == PAGES[0] else [back, next_, save, cancel]
        )
        return adaptive_card(body, actions)

    return fit(build, CLIPS)


def no_teams_card(t: Localizer) -> Card:
    """`uusi` before the bot is in any team: there is no one to send a request to yet."""
    return adaptive_card(
        [
            heading(t("request.no_teams.title")),
            paragraph(t("request.no_teams.body")),
            paragraph(t("request.no_teams.how")),
        ],
        [execute(t("help.open"), "help.open")],
    )


def request_submitted_card(t: Localizer, case_number: str, team_name: str) -> Card:
    return adaptive_card(
        [
            heading(t("request.submitted.title", case_number=case_number)),
            paragraph(t("request.submitted.body", case_number=case_number, team=team_name)),
            paragraph(t("status.submitted.next")),
            paragraph(t("request.submitted.follow", command=t("command.my")), subtle=True),
        ]
    )


def draft_saved_card(t: Localizer, case_id: int) -> Card:
    return adaptive_card(
        [
            heading(t("request.draft_saved.title")),
            paragraph(t("request.draft_saved.body", command=t("command.drafts"))),
        ],
        [execute(t("request.button.resume"), "request.resume", {"case_id": case_id})],
    )


def request_discarded_card(t: Localizer) -> Card:
    return adaptive_card(
        [heading(t("request.discarded.title")), paragraph(t("request.discarded.body"))],
        [
            execute(t("request.new.button"), "request.new"),
            execute(t("drafts.open"), "request.drafts"),
        ],
    )


def request_not_saved_card(t: Localizer) -> Card:
    """A new request left before anything was saved: nothing was stored."""
    return adaptive_card(
        [heading(t("request.not_saved.title")), paragraph(t("request.not_saved.body"))],
        [execute(t("request.new.button"), "request.new")],
    )


def confirm_card(
    t: Localizer,
    title_id: str,
    body_id: str,
    *,
    yes: tuple[str, str],
    no: tuple[str, str],
    data: dict[str, Any],
    **params: object,
) -> Card:
    """Are you sure? `yes` and `no` are (catalog key of the button, verb): each button says
    what it does ("Poista luonnos" / "Säilytä luonnos"). `title_id` and `body_id` are
    catalog keys formatted with `params`."""
    return adaptive_card(
        [heading(t(title_id, **params)), paragraph(t(body_id, **params))],
        [
            execute(t(yes[0], **params), yes[1], data, style="destructive"),
            execute(t(no[0], **params), no[1], data),
        ],
    )


def more_rows(t: Localizer, shown: int, total: int) -> list[dict[str, Any]]:
    if total <= shown:
        return []
    return [paragraph(t("list.more", shown=shown, total=total), subtle=True)]


def list_card(
    t: Localizer,
    head: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    page: Page[Any],
    verb: str,
    actions: list[dict[str, Any]] | None = None,
    data: dict[str, Any] | None = None,
) -> Card:
    """Head + as many of the page's rows as fit + which of how many they are + Show
    more (the same verb at the next offset) and back to the first page."""

    def build(shown: int) -> Card:
        footer = [
            *range_line(t, page.offset, shown, page.total),
            *paging_buttons(t, verb, data or {}, page.offset, shown, page.total),
        ]
        return adaptive_card([*head, *rows[:shown], *footer], actions)

    return paged_card(build, len(rows))


def my_requests_card(
    t: Localizer,
    page: Page[Consultation],
    *,
    notice: str = "",
    meetings: Mapping[int, tuple[TimeSlot, str]] | None = None,
) -> Card:
    """The requester's own requests with status, the next step and a Withdraw button;
    a scheduled one with its meeting's time and place (`meetings` by case id)."""
    body: list[dict[str, Any]] = [heading(t("my.title"))]
    if notice:
        # A catalog key or an already localized text (an unknown id comes back as is).
        body.append(paragraph(t(notice)))
    if not page.total:
        body.append(paragraph(t("my.empty")))
    rows: list[dict[str, Any]] = []
    for case in page.items[:MAX_LIST]:
        items: list[dict[str, Any]] = [
            paragraph(f"**{case_label(t, case)}** · {status_text(t, case.status)}"),
        ]
        reference = case.details.client_reference.strip()
        if reference:
            items.append(paragraph(f"{_label(t, 'client_reference')}: {reference}", subtle=True))
        if case.submitted_at:
            submitted = t.date(_local_date(case.submitted_at))
            items.append(paragraph(t("my.submitted", date=submitted), subtle=True))
        meeting = (meetings or {}).get(case.id or 0)
        if meeting is not None and case.status is CaseStatus.SCHEDULED:
            slot, place = meeting
            items.append(
                facts(
                    [
                        (t("meeting.time"), t.span(slot.start, slot.end)),
                        (
                            t("meeting.place"),
                            clip_text(place.strip(), EXCERPT) or t("poll.place.none"),
                        ),
                    ]
                )
            )
        items.append(paragraph(t(f"status.{case.status.value}.next")))
        if case.status in WITHDRAWABLE:
            items.append(
                {
                    "type": "ActionSet",
                    "actions": [
                        execute(
                            t("request.button.withdraw"),
                            "request.withdraw",
                            {"case_id": case.id},
                        )
                    ],
                }
            )
        rows.append({"type": "Container", "separator": True, "items": items})
    new = execute(t("request.new.button"), "request.new")
    return list_card(t, body, rows, page, "request.my", [new])


def draft_title(t: Localizer, draft: Consultation) -> str:
    """ "MK-1985 · aloitettu 2.3.2026": the requester's own client reference and the day
    the draft was started."""
    started = t.date(_local_date(draft.created_at)) if draft.created_at else EMPTY
    reference = draft.details.client_reference.strip()
    if reference:
        return t("drafts.item", reference=reference, date=started)
    return t("drafts.item_unnamed", date=started)


def drafts_card(t: Localizer, page: Page[Consultation]) -> Card:
    body: list[dict[str, Any]] = [heading(t("drafts.title"))]
    if not page.total:
        body.append(paragraph(t("drafts.empty")))
    rows: list[dict[str, Any]] = []
    for draft in page.items[:MAX_LIST]:
        d = draft.details
        items: list[dict[str, Any]] = [paragraph(f"**{clip_text(draft_title(t, draft), 300)}**")]
        if d.question.strip():
            items.append(paragraph(clip_text(d.question.strip(), EXCERPT), subtle=True))
        items.append(
            {
                "type": "ActionSet",
                "actions": [
                    execute(t("request.button.resume"), "request.resume", {"case_id": draft.id}),
                    execute(
                        t("request.button.delete"),
                        "request.delete",
                        {"case_id": draft.id},
                        style="destructive",
                    ),
                ],
            }
        )
        rows.append({"type": "Container", "separator": True, "items": items})
    new = execute(t("request.new.button"), "request.new")
    return list_card(t, body, rows, page, "request.drafts", [new])
