"""Retention (SPEC §5): nothing is kept longer than the county decided.

The daily job anonymises finished cases whose period has run out, reminds requesters of
idle drafts and deletes abandoned ones, and prunes delivered messages, old bot state and
old audit records. It works in batches, each one transaction holding the job's lock, so
several instances sharing a database do every piece of work exactly once; and it only
ever picks what is still to be done, so running it again changes nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from consultations.calendar import BusinessCalendar
from consultations.errors import DomainError, NotAuthorised, NotFound
from consultations.model import OutgoingMessage, RecipientType, Team, TeamSettings
from consultations.ports import UnitOfWork
from consultations.records import (
    DRAFT_DAYS,
    DRAFT_WARNING_DAYS,
    HOUSEKEEPING_DAYS,
    IdleDraft,
    RetentionPolicy,
    RetentionReport,
    days_before,
    months_before,
    years_before,
)
from consultations.services import digest_week, is_admin
from consultations.services import update_team_settings as save_team_settings

BATCH = 200
# The audit actions the job writes; the admins' digest counts them.
ANONYMISED = "consultation.anonymised"
DRAFT_REMINDED = "consultation.draft_reminded"
DRAFT_EXPIRED = "consultation.draft_expired"
RUN = "retention.run"
# What the admins' digest counts, by the payload key it is counted under.
DIGEST_COUNTS = {
    ANONYMISED: "anonymised",
    DRAFT_REMINDED: "drafts_reminded",
    DRAFT_EXPIRED: "drafts_deleted",
    "consultation.erased": "erased",
    "consultation.export_requested": "exported",
}


def draft_subject(case_id: int) -> str:
    return f"draft:{case_id}"


async def county_policy(uow: UnitOfWork) -> RetentionPolicy:
    async with uow:
        return await uow.retention.policy()


async def set_county_policy(
    uow: UnitOfWork,
    actor_id: int,
    policy: RetentionPolicy,
    admins: Collection[str],
    now: datetime,
) -> RetentionPolicy:
    """An admin sets the county's periods. A team's shorter period stays shorter; one
    that is now longer than the county's simply no longer applies."""
    policy.validate()
    async with uow:
        actor = await uow.users.get(actor_id)
        if actor is None:
            raise NotFound()
        if not is_admin(actor, admins):
            raise NotAuthorised()
        await uow.retention.save_policy(policy, actor_id, now)
        await uow.audit.record(
            at=now,
            actor_user_id=actor_id,
            action="retention.policy_changed",
            subject_type="county",
            subject_id="retention",
            details=policy.to_json(),
        )
        await uow.commit()
    return policy


async def update_team_settings(
    uow: UnitOfWork,
    actor_id: int,
    team_id: int,
    settings: TeamSettings,
    admins: Collection[str],
    now: datetime,
) -> Team:
    """The team settings card's save: the team's own period may only be shorter than the
    county's (SPEC §5); the rest is services.update_team_settings, in the same commit."""
    async with uow:
        if settings.retention_months is not None:
            county = await uow.retention.policy()
            if not 1 <= settings.retention_months <= county.case_months:
                raise DomainError("error.team_retention", limit=county.case_months)
        team = await save_team_settings(uow, actor_id, team_id, settings, admins, now)
        await uow.commit()
        return team


async def _anonymise_batch(uow: UnitOfWork, now: datetime) -> int | None:
    """One batch of expired cases; None when another instance holds the lock."""
    async with uow:
        if not await uow.retention.lock():
            return None
        policy = await uow.retention.policy()
        periods = await uow.retention.team_periods()
        cutoffs = {
            team_id: months_before(now, policy.months_for(months))
            for team_id, months in periods.items()
        }
        default_cutoff = months_before(now, policy.case_months)
        expired = await uow.retention.expired_cases(cutoffs, default_cutoff, BATCH)
        if not expired:
            return 0
        await uow.retention.anonymise([case.id for case in expired], now)
        for case in expired:
            await uow.audit.record(
                at=now,
                actor_user_id=None,
                action=ANONYMISED,
                subject_type="consultation",
                subject_id=str(case.id),
                team_id=case.team_id,
                details={
                    "status": case.status.value,
                    "months": policy.months_for(periods.get(case.team_id or 0)),
                },
            )
        await uow.commit()
        return len(expired)


async def _remind(uow: UnitOfWork, draft: IdleDraft, now: datetime) -> None:
    deletes_on = max(draft.last_touched + _days(DRAFT_DAYS), now + _days(DRAFT_WARNING_DAYS))
    await uow.outbox.add(
        OutgoingMessage(
            # Once per stretch of idleness: touching the draft starts a new one.
            idempotency_key=f"draft:{draft.id}:expiring:{draft.last_touched.isoformat()}",
            kind="draft.expiring",
            recipient_type=RecipientType.USER,
            recipient_id=str(draft.requester_id),
            due_at=now,
            payload={
                "case_id": draft.id,
                "user_id": draft.requester_id,
                "deletes_at": deletes_on.isoformat(),
            },
            subject=draft_subject(draft.id),
            team_id=draft.team_id,
        ),
        now,
    )
    await uow.retention.mark_reminded(draft.id, now)
    await uow.audit.record(
        at=now,
        actor_user_id=None,
        action=DRAFT_REMINDED,
        subject_type="consultation",
        subject_id=str(draft.id),
        team_id=draft.team_id,
    )


def _days(days: int) -> timedelta:
    return timedelta(days=days)


async def _drafts(uow: UnitOfWork, now: datetime, report: RetentionReport) -> bool:
    """Remind of drafts idle for three weeks, delete those idle for a month whose
    requester was reminded at least a week ago, and drafts thrown away. False when
    another instance holds the lock."""
    async with uow:
        if not await uow.retention.lock():
            return False
        warn_before = days_before(now, DRAFT_DAYS - DRAFT_WARNING_DAYS)
        delete_before = days_before(now, DRAFT_DAYS)
        reminded_before = days_before(now, DRAFT_WARNING_DAYS)
        doomed: list[int] = list(await uow.retention.discarded_drafts(BATCH))
        for draft in await uow.retention.idle_drafts(warn_before, BATCH):
            reminded = draft.reminded_at is not None and draft.reminded_at >= draft.last_touched
            if not reminded:
                await _remind(uow, draft, now)
                report.drafts_reminded += 1
            elif (
                draft.last_touched <= delete_before
                and draft.reminded_at is not None
                and draft.reminded_at <= reminded_before
            ):
                doomed.append(draft.id)
        if doomed:
            await uow.retention.delete_cases(doomed)
            for case_id in doomed:
                await uow.audit.record(
                    at=now,
                    actor_user_id=None,
                    action=DRAFT_EXPIRED,
                    subject_type="consultation",
                    subject_id=str(case_id),
                )
            report.drafts_deleted += len(doomed)
        await uow.commit()
        return True


async def _housekeeping(uow: UnitOfWork, now: datetime, report: RetentionReport) -> bool:
    async with uow:
        if not await uow.retention.lock():
            return False
        policy = await uow.retention.policy()
        report.late_texts_wiped += await uow.retention.wipe_late_texts()
        report.outbox_pruned += await uow.retention.prune_outbox(
            days_before(now, HOUSEKEEPING_DAYS)
        )
        report.documents_pruned += await uow.retention.prune_documents(
            days_before(now, HOUSEKEEPING_DAYS)
        )
        report.audit_pruned += await uow.retention.prune_audit(
            years_before(now, policy.audit_years)
        )
        if report.changed():
            await uow.audit.record(
                at=now,
                actor_user_id=None,
                action=RUN,
                subject_type="county",
                subject_id="retention",
                details=report.to_json(),
            )
        await uow.commit()
        return True


async def run_retention(uows: Callable[[], UnitOfWork], now: datetime) -> RetentionReport:
    """The daily job. Returns what it did; `skipped` when another instance was at it."""
    report = RetentionReport()
    while True:
        done = await _anonymise_batch(uows(), now)
        if done is None:
            report.skipped = True
            return report
        report.anonymised += done
        if done < BATCH:
            break
    if not await _drafts(uows(), now, report) or not await _housekeeping(uows(), now, report):
        report.skipped = True
    if report.changed():
        uow = uows()
        async with uow:
            await uow.retention.forget_freed_pages()
    return report


async def queue_admin_digest(
    uow: UnitOfWork,
    now: datetime,
    calendar: BusinessCalendar,
    admins: Collection[str],
    *,
    catch_up: bool = False,
) -> int:
    """Monday's county-wide privacy digest to every admin the bot knows: what the daily
    job did in the last week and which data-subject requests admins carried out.

    Separate from the team digests: the job and the county's policy are no team's, and
    an admin who coordinates no team would otherwise hear nothing of them.
    """
    week = digest_week(now)
    due_at = calendar.next_working_moment(now)
    if catch_up and digest_week(due_at) != week:
        return 0  # as services.queue_weekly_digest: next Monday's job sends it
    queued = 0
    async with uow:
        since = now - _days(7)
        counts = {
            **await uow.retention.run_totals(since, RUN),
            **{
                DIGEST_COUNTS[action]: count
                for action, count in (
                    await uow.retention.action_counts(since, sorted(DIGEST_COUNTS))
                ).items()
            },
        }
        policy = await uow.retention.policy()
        for admin_id in await uow.retention.known_users(sorted(admins)):
            queued += int(
                await uow.outbox.add(
                    OutgoingMessage(
                        idempotency_key=f"digest-privacy:{admin_id}:{week}",
                        kind="digest.privacy",
                        recipient_type=RecipientType.USER,
                        recipient_id=str(admin_id),
                        due_at=due_at,
                        payload={"week": week, **policy.to_json(), **counts},
                        subject=f"digest:{week}",
                    ),
                    now,
                )
            )
        await uow.commit()
    return queued
