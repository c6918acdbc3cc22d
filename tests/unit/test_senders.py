"""Who sent an activity, and the short memory that spares a card click the user lookup."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from bot.edge.activity import account_ref
from bot.senders import SENDER_WATCH_SECONDS, SenderMemory
from consultations.model import User, UserRef
from scheduler.runner import build_scheduler

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class SettableClock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


def activity(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "invoke",
        "serviceUrl": "https://smba.example/emea/",
        "locale": "sv-FI",
        "from": {"id": "29:aino", "name": "Aino Aaltonen", "aadObjectId": "AAD-1"},
        "recipient": {"id": "28:bot"},
        "conversation": {"id": "a:personal", "conversationType": "personal"},
        "channelData": {"tenant": {"id": "tenant-1"}},
    }
    base.update(changes)
    return base


def test_the_sender_is_read_with_their_language_and_tenant() -> None:
    a = activity()
    assert account_ref(a, a["from"]) == UserRef(
        teams_user_id="29:aino",
        aad_object_id="AAD-1",
        name="Aino Aaltonen",
        locale="sv-FI",
        tenant_id="tenant-1",
        service_url="https://smba.example/emea/",
        bot_id="28:bot",
    )


def test_a_roster_member_gets_no_language_and_their_object_id() -> None:
    a = activity(conversation={"id": "19:team", "tenantId": "tenant-2"})
    member = {"id": "29:olli", "name": "Olli", "objectId": "AAD-2"}
    ref = account_ref(a, member)
    assert (ref.locale, ref.aad_object_id, ref.tenant_id) == ("", "AAD-2", "tenant-2")


def test_wrong_types_in_the_json_read_as_missing() -> None:
    a = activity(locale=7, channelData="x", recipient=[1])
    ref = account_ref(a, {"id": 5, "name": None})
    assert (ref.teams_user_id, ref.name, ref.locale, ref.tenant_id, ref.bot_id) == (
        "",
        "",
        "",
        "",
        "",
    )


def user_of(ref: UserRef) -> User:
    return User(1, ref.teams_user_id, ref.aad_object_id, ref.name, ref.locale, None,
                ref.tenant_id, ref.service_url, "a:personal", None, ref.bot_id)  # fmt: skip


def test_a_sender_recorded_moments_ago_exactly_as_now_is_known() -> None:
    clock = SettableClock()
    memory = SenderMemory(clock)
    a = activity()
    ref = account_ref(a, a["from"])
    memory.put(ref, "a:personal", user_of(ref))
    clock.at = NOW + timedelta(seconds=59)
    assert memory.get(ref, "a:personal") == user_of(ref)


def test_anything_changed_or_a_minute_passed_means_asking_the_database_again() -> None:
    clock = SettableClock()
    memory = SenderMemory(clock)
    a = activity()
    ref = account_ref(a, a["from"])
    memory.put(ref, "a:personal", user_of(ref))
    assert memory.get(replace(ref, name="Aino Virtanen"), "a:personal") is None
    memory.put(ref, "a:personal", user_of(ref))
    assert memory.get(replace(ref, locale="fi-FI"), "a:personal") is None
    memory.put(ref, "a:personal", user_of(ref))
    assert memory.get(ref, "a:other") is None
    memory.put(ref, "a:personal", user_of(ref))
    clock.at = NOW + timedelta(seconds=60)
    assert memory.get(ref, "a:personal") is None


def test_the_memory_keeps_only_the_most_recent_senders() -> None:
    memory = SenderMemory(SettableClock(), max_size=2)
    refs = [UserRef(f"29:{n}", None, f"U{n}", "fi", "t", "s", "b") for n in range(3)]
    for ref in refs:
        memory.put(ref, None, user_of(ref))
    assert memory.get(refs[0], None) is None
    assert memory.get(refs[2], None) is not None


def test_a_sender_changed_elsewhere_is_forgotten_one_stored_as_remembered_is_kept() -> None:
    memory = SenderMemory(SettableClock())
    refs = [UserRef(f"29:{n}", None, f"U{n}", "en-US", "t", "s", "b") for n in range(3)]
    for ref in refs[:2]:
        memory.put(ref, None, user_of(ref))
    stored = [
        user_of(refs[0]),  # as remembered
        replace(user_of(refs[1]), language="sv"),  # chose Swedish on another instance
        replace(user_of(refs[2]), language="fi"),  # never wrote to this instance
    ]
    assert memory.reconcile(stored) == 1
    assert memory.get(refs[0], None) == user_of(refs[0])
    assert memory.get(refs[1], None) is None
    assert memory.get(refs[2], None) is None
    assert memory.remembered(refs[0].teams_user_id) == user_of(refs[0])


def test_every_instance_watches_for_senders_changed_elsewhere_every_two_seconds() -> None:
    async def nothing() -> None:
        return None

    scheduler = build_scheduler(
        dispatch=nothing,
        weekly_digest=nothing,
        dispatch_interval_seconds=60,
        senders=nothing,
        senders_interval_seconds=SENDER_WATCH_SECONDS,
    )
    job = scheduler.get_job("senders")
    assert job is not None and isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(seconds=2)
    assert job.max_instances == 1
