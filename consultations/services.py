"""Use cases. Each takes a unit of work, changes state and queues messages in one commit."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from consultations.calendar import BusinessCalendar
from consultations.consultation import TRIAGE_REMINDER_DAYS
from consultations.errors import (
    DomainError,
    IdentityCodeRefused,
    InvalidInput,
    NotAuthorised,
    NotFound,
)
from consultations.model import (
    LANGUAGES,
    OutgoingMessage,
    Profession,
    RecipientType,
    Role,
    Team,
    TeamInstallation,
    TeamSettings,
    User,
    UserRef,
)
from consultations.ports import UnitOfWork
from consultations.privacy import contains_identity_code


def refuse_identity_codes(*texts: str | None) -> None:
    """Raise before anything is stored when a text holds a personal identity code."""
    for text in texts:
        if text and contains_identity_code(text):
            raise IdentityCodeRefused()


async def record_user(
    uow: UnitOfWork, ref: UserRef, now: datetime, personal_conversation_id: str | None = None
) -> User:
    """Remember who wrote to the bot, and their 1:1 conversation so the bot can write back."""
    async with uow:
        user = await uow.users.upsert(ref, now)
        if personal_conversation_id and (
            personal_conversation_id != user.personal_conversation_id or user.unreachable_since
        ):
            # Writing to the bot again also makes a once-unreachable user reachable.
            await uow.users.set_personal_conversation(user.id, personal_conversation_id, now)
            user.personal_conversation_id = personal_conversation_id
            user.unreachable_since = None
        await uow.commit()
        return user


async def record_team_installation(
    uow: UnitOfWork, installation: TeamInstallation, installer: UserRef | None, now: datetime
) -> tuple[Team, User | None, bool]:
    """Record a team with its channels and roster.

    Returns the team, the installing user, and whether that user should be offered the
    coordinator role (the team has no coordinator yet).
    """
    async with uow:
        installer_user = await uow.users.upsert(installer, now) if installer else None
        team = await uow.teams.save_installation(
            installation, installer_user.id if installer_user else None, now
        )
        offer = installer_user is not None and not await uow.teams.holders(
            team.id, Role.COORDINATOR
        )
        await uow.audit.record(
            at=now,
            actor_user_id=installer_user.id if installer_user else None,
            action="team.installed",
            subject_type="team",
            subject_id=str(team.id),
            team_id=team.id,
            details={"members": len(installation.roster)},
        )
        await uow.commit()
        return team, installer_user, offer


async def set_profession(uow: UnitOfWork, user_id: int, value: str, now: datetime) -> Profession:
    """A member sets their own profession from the profile card."""
    try:
        profession = Profession(value)
    except ValueError:
        raise DomainError("error.unknown_profession") from None
    async with uow:
        if await uow.users.get(user_id) is None:
            raise NotFound()
        await uow.users.set_profession(user_id, profession, now)
        await uow.audit.record(
            at=now,
            actor_user_id=user_id,
            action="profile.profession_set",
            subject_type="user",
            subject_id=str(user_id),
            details={"profession": profession.value},
        )
        await uow.commit()
    return profession


async def set_language(
    uow: UnitOfWork, user_id: int, language: str | None, now: datetime
) -> str | None:
    """A user chooses the language the bot writes to them in (or to follow Teams)."""
    if language is not None and language not in LANGUAGES:
        raise InvalidInput()
    async with uow:
        if await uow.users.get(user_id) is None:
            raise NotFound()
        await uow.users.set_language(user_id, language, now)
        await uow.audit.record(
            at=now,
            actor_user_id=user_id,
            action="profile.language_set",
            subject_type="user",
            subject_id=str(user_id),
            details={"language": language},
        )
        await uow.commit()
    return language


def is_admin(user: User, admins: Collection[str]) -> bool:
    return bool(user.aad_object_id) and (user.aad_object_id or "").lower() in admins


async def _require_role_manager(
    uow: UnitOfWork, actor: User, team_id: int, admins: Collection[str]
) -> Team:
    team = await uow.teams.get(team_id)
    if team is None:
        raise NotFound()
    if is_admin(actor, admins):
        return team
    if Role.COORDINATOR in await uow.teams.roles_of(team_id, actor.id):
        return team
    raise NotAuthorised()


async def claim_coordinator(
    uow: UnitOfWork, actor_id: int, team_id: int, admins: Collection[str], now: datetime
) -> Team:
    """The installer of a team without coordinators takes the role (admins may always)."""
    async with uow:
        actor = await uow.users.get(actor_id)
        team = await uow.teams.get(team_id)
        if actor is None or team is None:
            raise NotFound()
        coordinators = await uow.teams.holders(team_id, Role.COORDINATOR)
        if any(c.id == actor.id for c in coordinators):
            return team
        installer = await uow.teams.installer_id(team_id)
        if not is_admin(actor, admins) and (coordinators or installer != actor.id):
            raise NotAuthorised()
        await uow.teams.grant(team_id, actor.id, Role.COORDINATOR, actor.id, now)
        await uow.audit.record(
            at=now,
            actor_user_id=actor.id,
            action="role.granted",
            subject_type="user",
            subject_id=str(actor.id),
            team_id=team_id,
            details={"role": Role.COORDINATOR.value},
        )
        await uow.commit()
        return team


async def grant_role(
    uow: UnitOfWork,
    actor_id: int,
    team_id: int,
    target_user_id: int,
    role: Role,
    admins: Collection[str],
    now: datetime,
) -> bool:
    """Give a team member a role. Only admins and the team's coordinators may."""
    async with uow:
        actor = await uow.users.get(actor_id)
        if actor is None:
            raise NotFound()
        await _require_role_manager(uow, actor, team_id, admins)
        if not await uow.teams.is_member(team_id, target_user_id):
            raise DomainError("error.not_team_member")
        changed = await uow.teams.grant(team_id, target_user_id, role, actor.id, now)
        if changed:
            await uow.audit.record(
                at=now,
                actor_user_id=actor.id,
                action="role.granted",
                subject_type="user",
                subject_id=str(target_user_id),
                team_id=team_id,
                details={"role": role.value},
            )
            await notify_user(
                uow,
                key=f"role-granted:{team_id}:{target_user_id}:{role}:{now.isoformat()}",
                kind="role.granted",
                user_id=target_user_id,
                team_id=team_id,
                due_at=now,
                now=now,
                payload={"team_id": team_id, "role": role.value},
            )
        await uow.commit()
        return changed


async def revoke_role(
    uow: UnitOfWork,
    actor_id: int,
    team_id: int,
    target_user_id: int,
    role: Role,
    admins: Collection[str],
    now: datetime,
) -> bool:
    """Take a role away. A team is never left without a coordinator except by an admin."""
    async with uow:
        actor = await uow.users.get(actor_id)
        if actor is None:
            raise NotFound()
        await _require_role_manager(uow, actor, team_id, admins)
        if role is Role.COORDINATOR and not is_admin(actor, admins):
            holders = await uow.teams.holders(team_id, Role.COORDINATOR)
            if [h.id for h in holders] == [target_user_id]:
                raise DomainError("error.last_coordinator")
        changed = await uow.teams.revoke(team_id, target_user_id, role)
        if changed:
            await uow.audit.record(
                at=now,
                actor_user_id=actor.id,
                action="role.revoked",
                subject_type="user",
                subject_id=str(target_user_id),
                team_id=team_id,
                details={"role": role.value},
            )
        await uow.commit()
        return changed


async def notify_user(
    uow: UnitOfWork,
    *,
    key: str,
    kind: str,
    user_id: int,
    team_id: int | None,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any],
    subject: str = "",
) -> bool:
    """Queue one message to one user in the current transaction (the outbox's one road)."""
    return await uow.outbox.add(
        OutgoingMessage(
            idempotency_key=key,
            kind=kind,
            recipient_type=RecipientType.USER,
            recipient_id=str(user_id),
            due_at=due_at,
            payload=payload,
            subject=subject,
            team_id=team_id,
        ),
        now,
    )


REPLY_KIND = "reply"


async def queue_reply(
    uow: UnitOfWork,
    *,
    key: str,
    activity: dict[str, Any],
    conversation_id: str,
    service_url: str,
    tenant: str,
    reply_to: str | None,
    user_id: int | None,
    due_at: datetime,
    now: datetime,
) -> bool:
    """A reply the turn could not deliver in time, handed to the outbox as it was written
    (to the user's 1:1 chat when it was one). Its content is wiped once delivered."""
    async with uow:
        added = await uow.outbox.add(
            OutgoingMessage(
                idempotency_key=key,
                kind=REPLY_KIND,
                recipient_type=RecipientType.USER
                if user_id is not None
                else RecipientType.CONVERSATION,
                recipient_id=str(user_id) if user_id is not None else conversation_id,
                due_at=due_at,
                payload={
                    "activity": activity,
                    "service_url": service_url,
                    "tenant": tenant,
                    "reply_to": reply_to,
                },
            ),
            now,
        )
        await uow.commit()
        return added


async def recipient_unreachable(uow: UnitOfWork, user_id: int, now: datetime) -> int:
    """The bot was blocked or removed by a user: mark them and tell their coordinators once.

    Returns how many coordinator notices were queued.
    """
    async with uow:
        if not await uow.users.mark_unreachable(user_id, now):
            await uow.commit()
            return 0
        queued = 0
        for team in await uow.teams.teams_of(user_id):
            for coordinator in await uow.teams.holders(team.id, Role.COORDINATOR):
                if coordinator.id == user_id:
                    continue
                await notify_user(
                    uow,
                    key=f"unreachable:{user_id}:{team.id}:{coordinator.id}:{now.isoformat()}",
                    kind="delivery.unreachable",
                    user_id=coordinator.id,
                    team_id=team.id,
                    due_at=now,
                    now=now,
                    payload={"user_id": user_id, "team_id": team.id},
                )
                queued += 1
        await uow.audit.record(
            at=now,
            actor_user_id=None,
            action="user.unreachable",
            subject_type="user",
            subject_id=str(user_id),
        )
        await uow.commit()
        return queued


def digest_week(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


async def queue_weekly_digest(
    uow: UnitOfWork, now: datetime, calendar: BusinessCalendar, *, catch_up: bool = False
) -> int:
    """Queue this week's digest for every coordinator of every team, once per week.

    Safe to call again (at start, after a missed Monday): the key is per ISO week. On a
    public holiday Monday (Easter Monday) it waits for the next working morning.
    """
    week = digest_week(now)
    due_at = calendar.next_working_moment(now)
    if catch_up and digest_week(due_at) != week:
        # Started at the weekend: this week's digest would arrive next Monday beside next
        # week's own. Let the Monday job send that one.
        return 0
    queued = 0
    today = now.astimezone(calendar.tz).date()
    async with uow:
        teams = list(await uow.teams.all())
        team_ids = [team.id for team in teams]
        # Aggregates over the whole data, all teams at once: a county's queue holds
        # thousands, and a capped read would report the cap as the count.
        queue = await uow.consultations.triage_counts(
            team_ids, calendar.waited_since_before(now, TRIAGE_REMINDER_DAYS)
        )
        no_summary = await uow.followup.meetings_without_summary(team_ids, now)
        late = await uow.followup.overdue_counts(team_ids, today)
        handovers = await uow.followup.handovers_waiting_counts(team_ids)
        for team in teams:
            waiting, overdue = queue.get(team.id, (0, 0))
            follow_up = {
                "no_summary": no_summary.get(team.id, 0),
                "overdue_recommendations": late.get(team.id, 0),
                "handovers_waiting": handovers.get(team.id, 0),
            }
            for coordinator in await uow.teams.holders(team.id, Role.COORDINATOR):
                added = await uow.outbox.add(
                    OutgoingMessage(
                        idempotency_key=f"digest:{team.id}:{coordinator.id}:{week}",
                        kind="digest",
                        recipient_type=RecipientType.USER,
                        recipient_id=str(coordinator.id),
                        due_at=due_at,
                        # Counts only: the digest names no client and quotes no text.
                        payload={
                            "team_id": team.id,
                            "week": week,
                            "open": waiting,
                            "overdue": overdue,
                            **follow_up,
                        },
                        subject=f"digest:{week}",
                        team_id=team.id,
                    ),
                    now,
                )
                queued += int(added)
        await uow.commit()
    return queued


async def update_team_settings(
    uow: UnitOfWork,
    actor_id: int,
    team_id: int,
    settings: TeamSettings,
    admins: Collection[str],
    now: datetime,
) -> Team:
    """A coordinator (or an admin) sets the team's regular times, tally visibility and the
    language of its channel."""
    if settings.language not in LANGUAGES:
        raise InvalidInput()
    for weekday, hour, minute in settings.regular_times:
        if not (0 <= weekday <= 4 and 8 <= hour <= 15 and 0 <= minute <= 59):
            raise DomainError("error.regular_time")
    if len(settings.regular_times) > 5:
        raise DomainError("error.regular_time")
    async with uow:
        actor = await uow.users.get(actor_id)
        if actor is None:
            raise NotFound()
        team = await _require_role_manager(uow, actor, team_id, admins)
        await uow.teams.save_settings(team_id, settings, now)
        await uow.audit.record(
            at=now,
            actor_user_id=actor_id,
            action="team.settings_changed",
            subject_type="team",
            subject_id=str(team_id),
            team_id=team_id,
            details=settings.to_json(),
        )
        await uow.commit()
        team.settings = settings
        return team
