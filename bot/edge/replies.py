"""The reply path: what a turn says back reaches the user, or is handed to the outbox.

A reply is posted through the project's connector within the turn, under the same rules as
the outbox (a 429 waits for its Retry-After, 412/5xx and connection errors back off with
jitter, within Teams' rate limits). The turn never waits past its budget: what could not
be sent by then becomes an outbox row and is delivered by the dispatcher like any
proactive message. A client that asks for `expectReplies` gets the replies in the HTTP
response instead.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.edge.connector import BotConnector
from bot.ratelimit import RateLimiter
from consultations.delivery import DeliveryFailure, FailureKind, RetryPolicy
from consultations.ports import Clock

log = logging.getLogger(__name__)

# Teams waits 15 s for the HTTP answer; a reply gets this long, then goes to the outbox.
REPLY_BUDGET = 5.0
# One attempt may take this long; an unreachable serviceUrl fails faster (connect time).
ATTEMPT_TIMEOUT = 4.0
# The outbox's rules, scaled to a turn: the first retry comes after 0.15–0.3 s.
IN_TURN_POLICY = RetryPolicy(max_attempts=10, base_seconds=0.3, cap_seconds=2.0)


@dataclass(frozen=True)
class Where:
    """A conversation to write to, and (for a reply) the activity answered."""

    service_url: str
    conversation_id: str
    tenant: str
    reply_to: str | None = None
    # The user's id when it is their 1:1 chat: the outbox can then reopen it.
    user_id: int | None = None


# (where, the activity, when to try again, an idempotency key) -> queued in the outbox.
HandOver = Callable[[Where, dict[str, Any], datetime, str], Awaitable[None]]


class ReplySender:
    def __init__(
        self,
        *,
        connector: BotConnector,
        limiter: RateLimiter,
        hand_over: HandOver,
        clock: Clock,
        budget: float = REPLY_BUDGET,
        policy: RetryPolicy = IN_TURN_POLICY,
        rng: random.Random | None = None,
    ) -> None:
        self._connector = connector
        self._limiter = limiter
        self._hand_over = hand_over
        self._clock = clock
        self._budget = budget
        self._policy = policy
        self._rng = rng or random.Random()
        self.handed_over = 0  # how many replies went to the outbox (tests, metrics)

    async def send(self, where: Where, activity: dict[str, Any], key: str) -> str | None:
        """Post the activity; return its id, or None when it went to the outbox (or can
        never be delivered: a 4xx that no retry changes is logged and dropped)."""
        if not where.conversation_id and where.user_id is not None:
            # The user's 1:1 chat could not be opened in the turn: the outbox opens it.
            self.handed_over += 1
            await self._hand_over(where, activity, self._clock.now(), key)
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._budget
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - loop.time()
            try:
                await asyncio.wait_for(
                    self._limiter.acquire(where.tenant, where.conversation_id, reply=True),
                    remaining,
                )
                return await self._connector.send(
                    where.service_url,
                    where.conversation_id,
                    activity,
                    reply_to=where.reply_to,
                    within=max(0.1, min(ATTEMPT_TIMEOUT, deadline - loop.time())),
                )
            except TimeoutError:
                failure = DeliveryFailure(FailureKind.RETRY, "rate limit wait")
            except DeliveryFailure as error:
                failure = error
            if failure.kind is not FailureKind.RETRY:
                log.warning("reply refused for good (%s): %s", failure.kind.value, failure.detail)
                return None
            if failure.retry_after is not None:
                self._limiter.throttled(where.tenant, where.conversation_id, failure.retry_after)
            delay = self._policy.delay(attempt, failure.retry_after, self._rng)
            if loop.time() + delay > deadline or self._policy.exhausted(attempt):
                log.info(
                    "reply handed to the outbox after %s attempts: %s", attempt, failure.detail
                )
                self.handed_over += 1
                due = self._clock.now() + timedelta(seconds=delay)
                await self._hand_over(where, activity, due, key)
                return None
            await asyncio.sleep(delay)


class TurnReplies:
    """What one turn sends: to the conversation it came from, or (client details) to the
    user's 1:1 chat; collected for the HTTP response when the client expects replies."""

    def __init__(self, sender: ReplySender, where: Where, key: str, *, collect: bool) -> None:
        self._sender = sender
        self.where = where
        self._key = key
        self._count = 0
        self.collected: list[dict[str, Any]] | None = [] if collect else None

    async def send(self, activity: dict[str, Any], where: Where | None = None) -> str | None:
        self._count += 1
        target = where or self.where
        if self.collected is not None and target == self.where:
            self.collected.append(activity)
            return None
        return await self._sender.send(target, activity, f"{self._key}:{self._count}")
