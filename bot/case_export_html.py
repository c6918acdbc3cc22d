"""The readable half of a case's export: one self-contained HTML page in the admin's
language, section by section as the case went, every value escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from html import escape
from typing import Any

from bot.i18n import Texts
from consultations.case_records import CaseExport

EMPTY = "—"
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.45}table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}"
    "th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#eee}.note{color:#555}td{white-space:pre-wrap}"
)
# The request's fields in the order of the form (SPEC §2.1); values of the multi-selects
# and choices are shown by their catalog names.
REQUEST_FIELDS: tuple[tuple[str, str], ...] = (
    ("client_reference", ""),
    ("consent", "consent"),
    ("consent_date", ""),
    ("question", ""),
    ("situation", ""),
    ("history", ""),
    ("work_capacity", ""),
    ("self_rating", ""),
    ("strengths", ""),
    ("goals", ""),
    ("services", "service"),
    ("barriers", "barrier"),
    ("professions", "profession"),
    ("client_attends", ""),
    ("urgency", "urgency"),
    ("urgent_timeframe", ""),
)


class _Page:
    def __init__(self, t: Texts, export: CaseExport) -> None:
        self.t = t
        self.tables = export.tables
        self.people = {p["id"]: p["name"] or f"#{p['id']}" for p in self.tables.get("people", [])}
        self.parts: list[str] = []

    def rows(self, name: str) -> list[dict[str, Any]]:
        return self.tables.get(name, [])

    def who(self, user_id: Any) -> str:
        if user_id is None:
            return self.t("privacy.trail.system")
        return self.people.get(user_id, f"#{user_id}")

    def when(self, value: Any) -> str:
        if not value:
            return EMPTY
        text = str(value)
        if len(text) == 10:
            return self.t.date(date.fromisoformat(text))
        return self.t.datetime(datetime.fromisoformat(text))

    def named(self, prefix: str, value: Any) -> str:
        if value in (None, ""):
            return EMPTY
        key = f"{prefix}.{value}"
        label = self.t(key)
        return str(value) if label == key else label

    def yes_no(self, value: Any) -> str:
        if value is None:
            return EMPTY
        return self.t("export.yes") if value else self.t("export.no")

    def heading(self, key: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{escape(self.t(key))}</h{level}>")

    def note(self, text: str) -> None:
        self.parts.append(f'<p class="note">{escape(text)}</p>')

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        body = [
            "<tr>" + "".join(f"<td>{escape(str(cell or EMPTY))}</td>" for cell in row) + "</tr>"
            for row in rows
        ]
        if not body:
            self.note(self.t("export.none"))
            return
        head = "".join(f"<th>{escape(self.t(h))}</th>" for h in headers)
        self.parts.append(f"<table><tr>{head}</tr>{''.join(body)}</table>")

    def pairs(self, pairs: Iterable[tuple[str, Any]]) -> None:
        self.table(("export.col.field", "export.col.value"), ((self.t(k), v) for k, v in pairs))


def _request(page: _Page, details: Mapping[str, Any], team: str) -> None:
    page.heading("export.section.request")
    pairs: list[tuple[str, Any]] = [("request.field.team_id", team)]
    for name, prefix in REQUEST_FIELDS:
        value = details.get(name)
        if isinstance(value, list):
            shown = ", ".join(page.named(prefix, v) for v in value) or EMPTY
        elif name == "client_attends":
            shown = page.yes_no(value)
        elif name == "consent_date":
            shown = page.when(value)
        elif prefix:
            shown = page.named(prefix, value)
        else:
            shown = "" if value is None else str(value)
        pairs.append((f"request.field.{name}", shown))
    page.pairs(pairs)


def _case(page: _Page, case: Mapping[str, Any], team: str) -> None:
    page.heading("export.section.case")
    page.pairs(
        [
            ("privacy.case_number", case["case_number"]),
            ("privacy.case.team", team),
            ("privacy.case.status", page.named("status", case["status"])),
            ("export.requester", page.who(case["requester_id"])),
            ("export.created", page.when(case["created_at"])),
            ("privacy.case.submitted", page.when(case["submitted_at"])),
            ("export.outcome", page.named("outcome", case["outcome"])),
            ("export.decline_reason", case["decline_reason"]),
            ("export.decline_route", page.named("route", case["decline_route"])),
            ("export.pending_question", case["pending_question"]),
            ("privacy.case.anonymised", page.when(case["anonymised_at"])),
        ]
    )


def _history(page: _Page) -> None:
    page.heading("export.section.transitions")
    page.table(
        ("export.col.time", "export.col.from", "export.col.to", "export.col.who"),
        (
            (
                page.when(r["at"]),
                page.named("status", r["from_status"]),
                page.named("status", r["to_status"]),
                page.who(r["actor_user_id"]),
            )
            for r in page.rows("case_transitions")
        ),
    )
    page.heading("export.section.notes")
    page.table(
        ("export.col.time", "export.col.kind", "export.col.who", "export.col.text"),
        (
            (
                page.when(r["at"]),
                page.named("export.note", r["kind"]),
                page.who(r["author_user_id"]),
                r["text"],
            )
            for r in page.rows("case_notes")
        ),
    )


def _meetings(page: _Page) -> None:
    page.heading("export.section.polls")
    slots = {s["id"]: s for s in page.rows("poll_slots")}
    for poll in page.rows("polls"):
        chosen = slots.get(poll["chosen_slot_id"])
        page.pairs(
            [
                ("poll.state", page.named("poll.state", poll["state"])),
                ("export.place", poll["place"]),
                ("export.deadline", page.when(poll["deadline"])),
                ("export.chosen", page.when(chosen["start"]) if chosen else EMPTY),
                ("export.created_by", page.who(poll["created_by"])),
            ]
        )
        page.table(
            ("export.col.who", "export.col.profession", "export.col.required"),
            (
                (
                    page.who(i["user_id"]),
                    page.named("profession", i["profession"]),
                    page.yes_no(i["required"]),
                )
                for i in page.rows("poll_invitees")
                if i["poll_id"] == poll["id"]
            ),
        )
        page.table(
            ("export.col.who", "export.col.time", "export.col.answer"),
            (
                (
                    page.who(v["user_id"]),
                    page.when(slots[v["slot_id"]]["start"]) if v["slot_id"] in slots else EMPTY,
                    page.named("answer", v["answer"]),
                )
                for v in page.rows("poll_votes")
                if v["poll_id"] == poll["id"]
            ),
        )
    if not page.rows("polls"):
        page.note(page.t("export.none"))


def _owner(page: _Page, owner: Any) -> str:
    text = str(owner or "")
    if text.startswith("user:") and text[5:].isdigit():
        return page.who(int(text[5:]))
    if text.startswith("party:"):
        return page.named("party", text[6:])
    return text or EMPTY


def _summaries(page: _Page) -> None:
    page.heading("export.section.summaries")
    for summary in page.rows("meeting_summaries"):
        page.heading("export.summary", 3)
        page.pairs(
            [
                (
                    "export.version",
                    f"{summary['round']}.{summary['version']} "
                    f"({page.named('export.summary_state', summary['state'])})",
                ),
                ("summary.attendees", ", ".join(page.who(a) for a in summary["attendees"] or ())),
                ("summary.client_attended", page.yes_no(summary["client_attended"])),
                ("summary.findings", summary["findings"]),
                ("summary.case_manager", page.who(summary["case_manager_id"])),
                ("summary.review_date", page.when(summary["review_date"])),
                ("export.published", page.when(summary["published_at"])),
            ]
        )
        page.table(
            ("export.col.text", "export.col.owner", "export.col.due"),
            (
                (item.get("text"), _owner(page, item.get("owner")), page.when(item.get("due")))
                for item in summary["recommendations"] or ()
            ),
        )
    if not page.rows("meeting_summaries"):
        page.note(page.t("export.none"))


def _recommendations(page: _Page) -> None:
    page.heading("export.section.recommendations")
    for rec in page.rows("recommendations"):
        owner = page.who(rec["owner_user_id"]) if rec["owner_user_id"] else None
        page.pairs(
            [
                ("export.col.text", rec["text"]),
                ("export.col.owner", owner or page.named("party", rec["owner_party"])),
                ("export.col.due", page.when(rec["due"])),
                ("rec.status", page.named("rec.status", rec["status"])),
                ("export.col.reason", rec["reason"]),
            ]
        )
        page.table(
            (
                "export.col.time",
                "export.col.from",
                "export.col.to",
                "export.col.who",
                "export.col.reason",
                "export.col.due",
            ),
            (
                (
                    page.when(e["at"]),
                    page.named("rec.status", e["from_status"]),
                    page.named("rec.status", e["to_status"]),
                    page.who(e["actor_user_id"]),
                    e["reason"],
                    page.when(e["due"]),
                )
                for e in page.rows("recommendation_events")
                if e["recommendation_id"] == rec["id"]
            ),
        )
    if not page.rows("recommendations"):
        page.note(page.t("export.none"))


def _people_around(page: _Page) -> None:
    page.heading("export.section.case_managers")
    page.table(
        ("export.col.who", "export.col.since", "export.col.until", "export.col.by"),
        (
            (
                page.who(m["user_id"]),
                page.when(m["since"]),
                page.when(m["until"]),
                page.who(m["assigned_by"]),
            )
            for m in page.rows("case_managers")
        ),
    )
    page.heading("export.section.handovers")
    page.table(
        (
            "export.col.from",
            "export.col.to",
            "export.col.note",
            "export.col.state",
            "export.col.time",
            "export.col.reason",
        ),
        (
            (
                page.who(h["from_user_id"]),
                page.who(h["to_user_id"]),
                h["note"],
                page.named("handover.state", h["state"]),
                page.when(h["proposed_at"]),
                h["reason"],
            )
            for h in page.rows("handovers")
        ),
    )
    page.heading("export.section.feedback")
    page.table(
        ("export.col.time", "export.col.rating", "export.col.text"),
        ((page.when(f["at"]), f["rating"], f["comment"]) for f in page.rows("feedback")),
    )


def _records(page: _Page) -> None:
    page.heading("export.section.audit")
    page.table(
        ("export.col.time", "export.col.who", "export.col.what"),
        (
            (
                page.when(r["at"]),
                page.who(r["actor_user_id"]),
                page.named("audit.action", r["action"]),
            )
            for r in sorted(page.rows("audit_events"), key=lambda r: (r["at"], r["id"]))
        ),
    )
    page.heading("export.section.messages")
    page.table(
        ("export.col.kind", "export.col.who", "export.col.due", "export.col.state"),
        (
            (
                m["kind"],
                page.who(int(m["recipient_id"]))
                if m["recipient_type"] == "user" and str(m["recipient_id"]).isdigit()
                else page.t("export.channel"),
                page.when(m["due_at"]),
                page.named("export.message_status", m["status"]),
            )
            for m in page.rows("outbox")
        ),
    )


def render_html(export: CaseExport, t: Texts) -> str:
    page = _Page(t, export)
    case = page.rows("consultations")[0]
    team = ", ".join(str(team["name"]) for team in page.rows("teams")) or EMPTY
    title = t("export.title", case_number=export.case.case_number)
    page.parts.append(f"<h1>{escape(title)}</h1>")
    page.note(
        t(
            "export.intro",
            time=t.datetime(export.exported_at),
            name=page.who(export.exported_by),
        )
    )
    page.note(t("export.sensitive"))
    _case(page, case, team)
    _request(page, case["details"] or {}, team)
    _history(page)
    _meetings(page)
    _summaries(page)
    _recommendations(page)
    _people_around(page)
    _records(page)
    return (
        f'<!DOCTYPE html><html lang="{t.language}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(page.parts)}</body></html>"
    )
