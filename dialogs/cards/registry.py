"""Cards for the team registry: welcome, help, profile, roles, deliveries, notices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from consultations.lists import Page
from consultations.model import LANGUAGES, FailedDelivery, Profession, Role, Team, User
from consultations.records import DEFAULT_CASE_MONTHS
from dialogs.cards.base import (
    Card,
    Localizer,
    adaptive_card,
    bold,
    clip_text,
    execute,
    facts,
    heading,
    paragraph,
)
from dialogs.cards.lists import names_with_more, paged_card, paging_buttons, range_line
from dialogs.commands import COMMANDS, Audience

EMPTY = "—"


def profession_name(t: Localizer, profession: Profession | None) -> str:
    if profession is None:
        return t("profile.not_set")
    return t(f"profession.{profession.value}")


def professions_text(t: Localizer, values: Iterable[Profession]) -> str:
    """The professions in the catalog's order, or a dash when there are none."""
    present = set(values)
    return ", ".join(profession_name(t, p) for p in Profession if p in present) or EMPTY


def help_card(t: Localizer) -> Card:
    """Every command from the command table, in the reader's language: what everyone may
    use first, then coordinators' and administrators' own."""
    body: list[dict[str, Any]] = [heading(t("help.title")), paragraph(t("help.intro"))]
    for audience, title in (
        (Audience.EVERYONE, ""),
        (Audience.COORDINATORS, "help.for_coordinators"),
        (Audience.ADMINS, "help.for_admins"),
    ):
        shown = [c for c in COMMANDS if c.audience is audience]
        if not shown:
            continue
        if title:
            body.append(bold(t(title), separator=True))
        body.append(facts([(t(c.word_key), t(c.help_key)) for c in shown]))
    body.append(paragraph(t("help.privacy"), subtle=True))
    return adaptive_card(
        body,
        [
            execute(t("request.new.button"), "request.new"),
            execute(t("profile.open"), "profile.open"),
        ],
    )


def personal_welcome_card(t: Localizer, name: str) -> Card:
    # Teams does not always give a name (an installation event has none): no "Welcome, !".
    title = t("welcome.personal.title", name=name.strip()) if name.strip() else t("welcome.title")
    body = [
        heading(title),
        paragraph(t("welcome.personal.body")),
        paragraph(t("help.privacy"), subtle=True),
    ]
    return adaptive_card(
        body,
        [
            execute(t("request.new.button"), "request.new"),
            execute(t("profile.open"), "profile.open"),
            execute(t("help.open"), "help.open"),
        ],
    )


def team_welcome_card(t: Localizer, team: Team, offer_coordinator: bool) -> Card:
    body = [
        heading(t("welcome.team.title", team=team.name)),
        paragraph(t("welcome.team.body")),
    ]
    actions = []
    if offer_coordinator:
        body.append(paragraph(t("welcome.team.offer")))
        actions.append(execute(t("role.claim.button"), "role.claim", {"team_id": team.id}))
    actions.append(execute(t("profile.open"), "profile.open"))
    return adaptive_card(body, actions)


def coordinator_claimed_card(t: Localizer, team: Team, name: str) -> Card:
    done = (
        t("role.claim.done", name=name.strip(), team=team.name)
        if name.strip()
        else t("role.claim.done_unnamed", team=team.name)
    )
    return adaptive_card(
        [
            heading(t("welcome.team.title", team=team.name)),
            paragraph(done),
        ],
        [execute(t("profile.open"), "profile.open")],
    )


def profile_card(t: Localizer, user: User, *, saved: bool = False) -> Card:
    choices = [{"title": profession_name(t, p), "value": p.value} for p in Profession]
    body: list[dict[str, Any]] = [
        heading(t("profile.title")),
        paragraph(t("profile.intro")),
        {
            "type": "Input.ChoiceSet",
            "id": "profession",
            "label": t("profile.profession"),
            "style": "compact",
            "isRequired": True,
            "errorMessage": t("profile.profession.required"),
            "choices": choices,
            **({"value": user.profession.value} if user.profession else {}),
        },
    ]
    if saved:
        body.append(paragraph(t("profile.saved", profession=profession_name(t, user.profession))))
    return adaptive_card(body, [execute(t("profile.save"), "profile.save", style="positive")])


def roles_card(
    t: Localizer,
    team: Team,
    page: Page[tuple[User, frozenset[Role]]],
    *,
    can_manage: bool,
    notice: str = "",
) -> Card:
    """A page of the team's members (coordinators first) and who coordinates; those who
    may, grant and revoke the role from here. A team of hundreds pages."""
    head: list[dict[str, Any]] = [heading(t("roles.title", team=team.name))]
    if notice:
        head.append(paragraph(notice))
    if not page.total:
        head.append(paragraph(t("roles.empty")))
    rows: list[dict[str, Any]] = []
    for user, roles in page.items:
        is_coordinator = Role.COORDINATOR in roles
        role_text = t("role.coordinator") if is_coordinator else t("role.member")
        row: dict[str, Any] = {
            "type": "ColumnSet",
            "columns": [
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                        paragraph(f"**{clip_text(user.name, 80) or '—'}**"),
                        paragraph(
                            f"{role_text} · {profession_name(t, user.profession)}", subtle=True
                        ),
                    ],
                }
            ],
        }
        if can_manage:
            verb, label = (
                ("role.revoke", t("role.revoke.button"))
                if is_coordinator
                else ("role.grant", t("role.grant.button"))
            )
            data = {
                "team_id": team.id,
                "user_id": user.id,
                "role": "coordinator",
                "offset": page.offset,
            }
            row["columns"].append(
                {
                    "type": "Column",
                    "width": "auto",
                    "items": [{"type": "ActionSet", "actions": [execute(label, verb, data)]}],
                }
            )
        rows.append(row)
    tail = [] if can_manage else [paragraph(t("roles.read_only"), subtle=True)]

    def build(shown: int) -> Card:
        footer = [
            *range_line(t, page.offset, shown, page.total),
            *paging_buttons(t, "roles.open", {"team_id": team.id}, page.offset, shown, page.total),
        ]
        return adaptive_card([*head, *rows[:shown], *footer, *tail])

    return paged_card(build, len(rows))


# What each kind of message is about, in words a coordinator uses ("poll.nudge" is a
# reminder to answer the meeting-time poll); by the kind's first part.
DELIVERY_KINDS = (
    "role",
    "delivery",
    "digest",
    "triage",
    "case",
    "question",
    "poll",
    "meeting",
    "summary",
    "recommendation",
    "review",
    "handover",
    "feedback",
)


def delivery_kind(t: Localizer, kind: str) -> str:
    group = kind.split(".", 1)[0]
    return t(f"deliveries.kind.{group}") if group in DELIVERY_KINDS else kind


def deliveries_card(t: Localizer, page: Page[FailedDelivery]) -> Card:
    """Messages the bot could not deliver: what, to whom, when, and why; newest first."""
    head: list[dict[str, Any]] = [heading(t("deliveries.title"))]
    if not page.total:
        head.append(paragraph(t("deliveries.none")))
    else:
        head.append(paragraph(t("deliveries.intro"), subtle=True))
    rows = []
    for failure in page.items:
        who = failure.recipient_name or t(f"deliveries.recipient.{failure.recipient_type.value}")
        rows.append(
            facts(
                [
                    (t("deliveries.kind"), delivery_kind(t, failure.kind)),
                    (t("deliveries.recipient"), clip_text(who, 80)),
                    (t("deliveries.due"), t.datetime(failure.due_at)),
                    (t("deliveries.attempts"), str(failure.attempts)),
                    (t("deliveries.error"), clip_text(failure.last_error, 200)),
                ]
            )
        )

    def build(shown: int) -> Card:
        footer = [
            *range_line(t, page.offset, shown, page.total),
            *paging_buttons(t, "deliveries.open", {}, page.offset, shown, page.total),
        ]
        return adaptive_card([*head, *rows[:shown], *footer])

    return paged_card(build, len(rows))


def role_granted_card(t: Localizer, team_name: str, role: Role) -> Card:
    return adaptive_card(
        [
            heading(t("notice.role_granted.title")),
            paragraph(t("notice.role_granted.body", role=t(f"role.{role.value}"), team=team_name)),
            paragraph(t("notice.why.role_granted"), subtle=True),
        ],
        [execute(t("help.open"), "help.open")],
    )


def unreachable_card(t: Localizer, team_name: str, name: str) -> Card:
    return adaptive_card(
        [
            heading(t("notice.unreachable.title")),
            paragraph(t("notice.unreachable.body", name=name or "—", team=team_name)),
            paragraph(t("notice.why.unreachable"), subtle=True),
        ]
    )


def digest_card(
    t: Localizer,
    team_name: str,
    failures: int,
    unreachable: Sequence[str],
    *,
    waiting: int = 0,
    overdue: int = 0,
    no_summary: int = 0,
    overdue_recommendations: int = 0,
    handovers_waiting: int = 0,
) -> Card:
    body: list[dict[str, Any]] = [
        heading(t("digest.title", team=team_name)),
        paragraph(t("notice.why.digest"), subtle=True),
        paragraph(
            t.n("digest.queue", waiting, overdue=overdue) if waiting else t("digest.queue_empty")
        ),
    ]
    body.append(
        paragraph(t("digest.failures", count=failures) if failures else t("digest.no_failures"))
    )
    follow_up = [
        t("digest.no_summary", count=no_summary) if no_summary else "",
        t("digest.overdue_recommendations", count=overdue_recommendations)
        if overdue_recommendations
        else "",
        t("digest.handovers_waiting", count=handovers_waiting) if handovers_waiting else "",
    ]
    body.extend(paragraph(line) for line in follow_up if line)
    if not any(follow_up):
        body.append(paragraph(t("digest.follow_up_clear")))
    if unreachable:
        names = names_with_more(t, [clip_text(n, 60) for n in unreachable], 10)
        body.append(paragraph(t("digest.unreachable", names=names)))
    actions = [execute(t("digest.queue.open"), "request.queue")] if waiting else []
    if any(follow_up):
        actions.append(execute(t("cases.open"), "cases.open"))
    if failures:
        actions.append(execute(t("deliveries.open"), "deliveries.open"))
    return adaptive_card(body, actions)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
SETTINGS_ROWS = 3


def team_settings_card(
    t: Localizer, team: Team, *, notice: str = "", county_months: int = DEFAULT_CASE_MONTHS
) -> Card:
    """The team's regular consultation times, whether invitees see the tallies, the
    language of the channel's notices, and how long its finished cases keep their texts
    (at most the county's period)."""
    body: list[dict[str, Any]] = [heading(t("settings.title", team=team.name))]
    if notice:
        body.append(paragraph(notice))
    body.append(paragraph(t("settings.regular.intro")))
    times = list(team.settings.regular_times)
    for row in range(1, SETTINGS_ROWS + 1):
        current = times[row - 1] if row <= len(times) else None
        day: dict[str, Any] = {
            "type": "Input.ChoiceSet",
            "id": f"regular{row}_day",
            "label": t("settings.regular.day", n=row),
            "style": "compact",
            "choices": [{"title": "—", "value": ""}]
            + [{"title": t(f"weekday.{name}"), "value": str(i)} for i, name in enumerate(WEEKDAYS)],
            "value": str(current[0]) if current else "",
        }
        clock: dict[str, Any] = {
            "type": "Input.Time",
            "id": f"regular{row}_time",
            "label": t("settings.regular.time", n=row),
            "min": "08:00",
            "max": "15:00",
        }
        if current:
            clock["value"] = f"{current[1]:02d}:{current[2]:02d}"
        body.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {"type": "Column", "width": "stretch", "items": [day]},
                    {"type": "Column", "width": "stretch", "items": [clock]},
                ],
            }
        )
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": "language",
            "label": t("settings.language"),
            "style": "compact",
            # Each language by its own name: whoever reads the card finds theirs.
            "choices": [
                {"title": t(f"settings.language.{code}"), "value": code} for code in LANGUAGES
            ],
            "value": team.settings.language,
        }
    )
    body.append(paragraph(t("settings.language.hint"), subtle=True))
    body.append(
        {
            "type": "Input.Toggle",
            "id": "show_tallies",
            "title": t("settings.show_tallies"),
            "valueOn": "true",
            "valueOff": "false",
            "value": "true" if team.settings.show_tallies else "false",
        }
    )
    retention: dict[str, Any] = {
        "type": "Input.Number",
        "id": "retention_months",
        "label": t("settings.retention", months=county_months),
        "placeholder": str(county_months),
        "min": 1,
        "max": county_months,
    }
    if team.settings.retention_months is not None:
        retention["value"] = team.settings.retention_months
    body += [retention, paragraph(t("settings.retention.hint", months=county_months), subtle=True)]
    return adaptive_card(
        body, [execute(t("settings.save"), "team.settings.save", {"team_id": team.id})]
    )
