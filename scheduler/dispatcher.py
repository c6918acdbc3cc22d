"""The dispatcher: claims due outbox rows and settles each one after trying to send it."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from consultations.delivery import DeliveryFailure, FailureKind, RetryPolicy
from consultations.model import ClaimedMessage, RecipientType
from consultations.ports import Clock, DeliveryQueue, DispatchLease, Sender

log = logging.getLogger(__name__)


class DeliveryObserver(Protocol):
    """Hears how each send attempt ended (bot.metrics.Metrics is one)."""

    def delivery(self, result: str) -> None:
        """`result`: sent, retried, throttled (HTTP 429, to be retried) or dead."""

    def reminder_lag(self, seconds: float) -> None:
        """A message went out this long after it fell due."""


class _Unobserved:
    def delivery(self, result: str) -> None:
        pass

    def reminder_lag(self, seconds: float) -> None:
        pass


class Dispatcher:
    """Sends every due message once per claim; never two at a time to one recipient.

    Messages for different recipients go out concurrently (up to `concurrency`) so that
    Teams' per-tenant rate can be used even when each request takes a while; those for
    one recipient go in due order.
    """

    def __init__(
        self,
        *,
        queue: DeliveryQueue,
        sender: Sender,
        clock: Clock,
        policy: RetryPolicy,
        on_unreachable: Callable[[int], Awaitable[None]],
        batch_size: int = 200,
        concurrency: int = 16,
        lease_seconds: float = 300.0,
        rng: random.Random | None = None,
        observer: DeliveryObserver | None = None,
        leadership: DispatchLease | None = None,
    ) -> None:
        self._queue = queue
        self._sender = sender
        self._clock = clock
        self._policy = policy
        self._on_unreachable = on_unreachable
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._lease = lease_seconds
        self._rng = rng or random.Random()
        self._running = asyncio.Lock()
        self._stopping = False
        self._observer = observer or _Unobserved()
        # With several instances on one database, only the lease's holder sends.
        self._leadership = leadership

    async def tick(self, *, max_batches: int = 50) -> int:
        """Send what is due now; return how many messages were settled."""
        if self._running.locked() or self._stopping:
            return 0  # the previous tick is still draining; it will pick these up
        async with self._running:
            settled = 0
            for _ in range(max_batches):
                if self._stopping:
                    break  # shutting down: what is claimed is settled, nothing more is
                # Renewed before every batch: a long tick keeps the lease it works under.
                if self._leadership is not None and not await self._leadership.hold(
                    self._clock.now()
                ):
                    break
                batch = await self._queue.claim_due(
                    self._clock.now(), self._batch_size, self._lease
                )
                if not batch:
                    break
                try:
                    await self._sender.prepare(batch)
                except Exception:  # a failed preload only costs speed: send looks up itself
                    log.exception("preparing a batch failed")
                await self._send_batch(batch)
                settled += len(batch)
                if len(batch) < self._batch_size:
                    break
            return settled

    async def stop(self, grace: float) -> bool:
        """Claim nothing more, and wait up to `grace` seconds for the tick under way to
        settle what it has claimed; True when it did. Called at shutdown, so a restart or
        an upgrade does not leave rows `sending` for the next holder to send again."""
        self._stopping = True
        try:
            await asyncio.wait_for(self._running.acquire(), grace)
        except TimeoutError:
            log.warning("stopping: a delivery batch was still being sent after %s s", grace)
            return False
        self._running.release()
        return True

    async def _send_batch(self, batch: list[ClaimedMessage]) -> None:
        by_recipient: dict[tuple[RecipientType, str], list[ClaimedMessage]] = defaultdict(list)
        for message in batch:
            by_recipient[(message.recipient_type, message.recipient_id)].append(message)
        gate = asyncio.Semaphore(self._concurrency)

        async def run(messages: list[ClaimedMessage]) -> None:
            async with gate:
                for index, message in enumerate(messages):
                    retry_at = await self._deliver(message)
                    if retry_at is not None:
                        # Later messages to the same recipient must not overtake this one.
                        for later in messages[index + 1 :]:
                            await self._queue.release(later.id, retry_at)
                        return

        await asyncio.gather(*(run(m) for m in by_recipient.values()))

    async def _deliver(self, message: ClaimedMessage) -> datetime | None:
        """Send and settle one message; return when it will be retried, if it will."""
        try:
            activity_id, conversation_id = await self._sender.send(message)
        except DeliveryFailure as failure:
            return await self._failed(message, failure)
        except Exception as error:  # a bug in rendering must not stop the other messages
            log.exception("delivery crashed (outbox %s)", message.id)
            return await self._failed(
                message, DeliveryFailure(FailureKind.RETRY, f"internal: {type(error).__name__}")
            )
        now = self._clock.now()
        await self._queue.mark_sent(message.id, now, activity_id, conversation_id)
        self._observer.delivery("sent")
        self._observer.reminder_lag((now - message.due_at).total_seconds())
        return None

    async def _failed(self, message: ClaimedMessage, failure: DeliveryFailure) -> datetime | None:
        now = self._clock.now()
        log.info(
            "delivery of outbox %s failed (%s, attempt %s): %s",
            message.id,
            failure.kind.value,
            message.attempts,
            failure.detail,
        )
        if failure.kind is FailureKind.UNREACHABLE:
            await self._queue.mark_dead(message.id, now, failure.detail)
            self._observer.delivery("dead")
            if message.recipient_type is RecipientType.USER:
                await self._on_unreachable(int(message.recipient_id))
            return None
        if failure.kind is FailureKind.PERMANENT or self._policy.exhausted(message.attempts):
            await self._queue.mark_dead(message.id, now, failure.detail)
            self._observer.delivery("dead")
            return None
        delay = self._policy.delay(message.attempts, failure.retry_after, self._rng)
        retry_at = now + timedelta(seconds=delay)
        await self._queue.mark_retry(message.id, retry_at, failure.detail)
        self._observer.delivery("throttled" if failure.status == 429 else "retried")
        return retry_at
