"""The dispatcher with an in-memory queue, a scripted sender and a frozen clock."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consultations.delivery import DeliveryFailure, FailureKind, RetryPolicy
from consultations.model import ClaimedMessage, RecipientType
from scheduler.dispatcher import Dispatcher

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


class FrozenClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


@dataclass
class Row:
    message: ClaimedMessage
    status: str = "pending"
    due_at: datetime = NOW
    error: str = ""


class InMemoryDeliveryQueue:
    """The DeliveryQueue port over a list: claims due pending rows in due order."""

    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}

    def add(
        self,
        key: str,
        recipient: str = "1",
        *,
        attempts: int = 0,
        due_at: datetime = NOW,
        recipient_type: RecipientType = RecipientType.USER,
    ) -> int:
        message_id = len(self.rows) + 1
        self.rows[message_id] = Row(
            ClaimedMessage(
                id=message_id,
                idempotency_key=key,
                kind="text",
                recipient_type=recipient_type,
                recipient_id=recipient,
                team_id=None,
                payload={},
                due_at=due_at,
                attempts=attempts,
                subject="",
            ),
            due_at=due_at,
        )
        return message_id

    def by_key(self, key: str) -> Row:
        return next(r for r in self.rows.values() if r.message.idempotency_key == key)

    async def claim_due(
        self, now: datetime, limit: int, lease_seconds: float
    ) -> list[ClaimedMessage]:
        due = sorted(
            (r for r in self.rows.values() if r.status == "pending" and r.due_at <= now),
            key=lambda r: (r.due_at, r.message.id),
        )[:limit]
        claimed = []
        for row in due:
            row.status = "sending"
            row.message = replace(row.message, attempts=row.message.attempts + 1)
            claimed.append(replace(row.message))
        return claimed

    def _settle(self, message_id: int, status: str, **values: Any) -> None:
        row = self.rows[message_id]
        assert row.status == "sending", f"{row.message.idempotency_key} settled twice"
        row.status = status
        for name, value in values.items():
            setattr(row, name, value)

    async def mark_sent(
        self, message_id: int, now: datetime, activity_id: str | None, conversation_id: str | None
    ) -> None:
        self._settle(message_id, "sent")

    async def mark_retry(self, message_id: int, due_at: datetime, error: str) -> None:
        self._settle(message_id, "pending", due_at=due_at, error=error)

    async def mark_dead(self, message_id: int, now: datetime, error: str) -> None:
        self._settle(message_id, "dead", error=error)

    async def release(self, message_id: int, due_at: datetime) -> None:
        self._settle(message_id, "pending", due_at=due_at)
        row = self.rows[message_id]
        row.message = replace(row.message, attempts=row.message.attempts - 1)


@dataclass
class ScriptedSender:
    """Answers each idempotency key with its scripted outcomes in turn, then succeeds."""

    script: dict[str, list[BaseException]] = field(default_factory=dict)
    pause: float = 0.0
    sent: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    most_per_recipient: int = 0
    most_overall: int = 0
    prepared: list[int] = field(default_factory=list)

    async def prepare(self, messages: Sequence[ClaimedMessage]) -> None:
        self.prepared.append(len(messages))

    async def send(self, message: ClaimedMessage) -> tuple[str | None, str | None]:
        self.calls.append(message.idempotency_key)
        self.in_flight[message.recipient_id] += 1
        self.most_per_recipient = max(self.most_per_recipient, self.in_flight[message.recipient_id])
        self.most_overall = max(self.most_overall, sum(self.in_flight.values()))
        try:
            await asyncio.sleep(self.pause)
            outcomes = self.script.get(message.idempotency_key)
            if outcomes:
                raise outcomes.pop(0)
            self.sent.append(message.idempotency_key)
            return f"act-{message.id}", f"a:conv-{message.recipient_id}"
        finally:
            self.in_flight[message.recipient_id] -= 1


@dataclass
class UnreachableLog:
    users: list[int] = field(default_factory=list)

    async def __call__(self, user_id: int) -> None:
        self.users.append(user_id)


def dispatcher(
    queue: InMemoryDeliveryQueue,
    sender: ScriptedSender,
    *,
    policy: RetryPolicy | None = None,
    unreachable: UnreachableLog | None = None,
    clock: FrozenClock | None = None,
    seed: int = 1,
    **options: Any,
) -> Dispatcher:
    return Dispatcher(
        queue=queue,
        sender=sender,
        clock=clock or FrozenClock(),
        policy=policy or RetryPolicy(),
        on_unreachable=unreachable or UnreachableLog(),
        rng=random.Random(seed),
        **options,
    )


def failure(kind: FailureKind, detail: str = "HTTP 503", **kw: Any) -> DeliveryFailure:
    return DeliveryFailure(kind, detail, **kw)


async def test_a_throttled_message_waits_as_long_as_teams_asked_plus_a_little_jitter() -> None:
    for seed in range(20):
        queue = InMemoryDeliveryQueue()
        queue.add("m")
        sender = ScriptedSender({"m": [failure(FailureKind.RETRY, "HTTP 429", retry_after=30.0)]})

        assert await dispatcher(queue, sender, seed=seed).tick() == 1

        row = queue.by_key("m")
        assert row.status == "pending"
        assert row.error == "HTTP 429"
        waited = (row.due_at - NOW).total_seconds()
        assert 30.0 <= waited <= 33.0  # jitter at most 10 % of what Teams asked


async def test_a_transient_error_backs_off_exponentially_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=100, base_seconds=2.0, cap_seconds=600.0)
    seen: dict[int, list[float]] = defaultdict(list)
    for seed in range(10):
        queue = InMemoryDeliveryQueue()
        for previous in range(12):
            queue.add(f"m{previous}", recipient=str(previous), attempts=previous)
        sender = ScriptedSender(
            {f"m{i}": [failure(FailureKind.RETRY, "HTTP 503")] for i in range(12)}
        )
        await dispatcher(queue, sender, policy=policy, seed=seed).tick()
        for previous in range(12):
            row = queue.by_key(f"m{previous}")
            assert row.status == "pending"
            seen[previous + 1].append((row.due_at - NOW).total_seconds())

    for attempt, delays in seen.items():
        ceiling = min(600.0, 2.0 * 2 ** (attempt - 1))
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, delays)
        assert len(set(delays)) > 1, "retries of many instances must not line up"
    assert max(seen[12]) <= 600.0


async def test_a_message_that_keeps_failing_is_given_up_after_max_attempts() -> None:
    queue = InMemoryDeliveryQueue()
    queue.add("m")
    sender = ScriptedSender({"m": [failure(FailureKind.RETRY) for _ in range(10)]})
    clock = FrozenClock()
    d = dispatcher(queue, sender, policy=RetryPolicy(max_attempts=3), clock=clock)

    for _ in range(5):
        await d.tick()
        clock.current += timedelta(hours=1)

    row = queue.by_key("m")
    assert row.status == "dead"
    assert row.message.attempts == 3
    assert sender.calls == ["m", "m", "m"]


async def test_a_user_who_blocked_the_bot_is_reported_once_per_message_and_not_retried() -> None:
    queue = InMemoryDeliveryQueue()
    queue.add("a", recipient="7")
    queue.add("b", recipient="7")
    queue.add("channel", recipient="19:general", recipient_type=RecipientType.CHANNEL)
    queue.add("other", recipient="8")
    blocked = failure(FailureKind.UNREACHABLE, "HTTP 403")
    sender = ScriptedSender({"a": [blocked], "b": [blocked], "channel": [blocked]})
    unreachable = UnreachableLog()

    await dispatcher(queue, sender, unreachable=unreachable).tick()

    assert [queue.by_key(k).status for k in ("a", "b", "channel", "other")] == [
        "dead",
        "dead",
        "dead",
        "sent",
    ]
    assert unreachable.users == [7, 7]  # a channel is no user to mark


async def test_a_refused_message_is_dead_at_once() -> None:
    queue = InMemoryDeliveryQueue()
    queue.add("m")
    sender = ScriptedSender({"m": [failure(FailureKind.PERMANENT, "HTTP 400")]})

    await dispatcher(queue, sender).tick()

    row = queue.by_key("m")
    assert (row.status, row.error, row.message.attempts) == ("dead", "HTTP 400", 1)


async def test_a_crash_while_sending_one_message_retries_it_and_the_others_still_go_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = InMemoryDeliveryQueue()
    for key, recipient in (("a", "1"), ("bug", "1"), ("c", "1"), ("d", "2")):
        queue.add(key, recipient=recipient)
    sender = ScriptedSender({"bug": [RuntimeError("renderer exploded")]})

    assert await dispatcher(queue, sender).tick() == 4

    # The other person's message goes out; the same person's later one waits its turn.
    assert sorted(sender.sent) == ["a", "d"]
    row = queue.by_key("bug")
    assert (row.status, row.error) == ("pending", "internal: RuntimeError")
    assert row.due_at > NOW
    held = queue.by_key("c")
    assert (held.status, held.due_at, held.message.attempts) == ("pending", row.due_at, 0)
    assert "delivery crashed" in caplog.text


async def test_messages_to_one_person_go_in_order_and_never_at_the_same_time() -> None:
    queue = InMemoryDeliveryQueue()
    expected: dict[str, list[str]] = defaultdict(list)
    for i in range(60):
        recipient = str(i % 6)
        key = f"m{i:02d}"
        queue.add(key, recipient=recipient, due_at=NOW - timedelta(seconds=60 - i))
        expected[recipient].append(key)
    sender = ScriptedSender(pause=0.001)

    assert await dispatcher(queue, sender, concurrency=4).tick() == 60

    by_recipient: dict[str, list[str]] = defaultdict(list)
    for key in sender.sent:
        by_recipient[queue.by_key(key).message.recipient_id].append(key)
    assert by_recipient == expected
    assert sender.most_per_recipient == 1
    assert 1 < sender.most_overall <= 4


async def test_a_big_backlog_is_drained_in_batches_within_one_tick() -> None:
    queue = InMemoryDeliveryQueue()
    for i in range(250):
        queue.add(f"m{i}", recipient=str(i))
    sender = ScriptedSender()

    assert await dispatcher(queue, sender, batch_size=100).tick() == 250
    assert len(set(sender.sent)) == 250
    assert await dispatcher(queue, sender, batch_size=100).tick() == 0


async def test_a_tick_started_while_another_is_draining_does_nothing() -> None:
    queue = InMemoryDeliveryQueue()
    for i in range(5):
        queue.add(f"m{i}", recipient=str(i))
    sender = ScriptedSender(pause=0.01)
    d = dispatcher(queue, sender)

    first, second = await asyncio.gather(d.tick(), d.tick())

    assert (first, second) == (5, 0)
    assert sorted(sender.calls) == [f"m{i}" for i in range(5)]


async def test_a_throttled_message_is_not_overtaken_by_later_ones_to_the_same_person() -> None:
    queue = InMemoryDeliveryQueue()
    queue.add("first", recipient="1", due_at=NOW - timedelta(seconds=2))
    queue.add("second", recipient="1", due_at=NOW - timedelta(seconds=1))
    sender = ScriptedSender({"first": [failure(FailureKind.RETRY, "HTTP 429", retry_after=1.0)]})
    clock = FrozenClock()
    d = dispatcher(queue, sender, clock=clock)

    await d.tick()
    assert sender.sent == []
    # Held back without spending one of its own attempts.
    assert queue.by_key("second").message.attempts == 0
    clock.current += timedelta(seconds=5)
    await d.tick()

    assert sender.sent == ["first", "second"]


async def test_stopping_lets_the_batch_under_way_settle_and_claims_nothing_more() -> None:
    queue = InMemoryDeliveryQueue()
    for i in range(3):
        queue.add(f"m{i}", recipient=str(i))
    sender = ScriptedSender(pause=0.05)
    d = dispatcher(queue, sender)

    ticking = asyncio.create_task(d.tick())
    await asyncio.sleep(0.01)  # the batch is claimed and being sent
    queue.add("late", recipient="9")
    assert await d.stop(grace=5) is True
    assert await ticking == 3
    assert {r.message.idempotency_key: r.status for r in queue.rows.values()} == {
        "m0": "sent",
        "m1": "sent",
        "m2": "sent",
        "late": "pending",  # left for the next holder, never claimed
    }
    assert await d.tick() == 0 and sender.calls.count("late") == 0


async def test_stopping_gives_up_waiting_after_its_timeout() -> None:
    queue = InMemoryDeliveryQueue()
    queue.add("slow")
    sender = ScriptedSender(pause=5)
    d = dispatcher(queue, sender)

    ticking = asyncio.create_task(d.tick())
    await asyncio.sleep(0.01)
    assert await d.stop(grace=0.05) is False
    ticking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ticking
