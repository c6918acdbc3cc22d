"""Token buckets that keep proactive sends inside Teams' limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at `rate` per second; one token per request."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, capacity: float, now: float) -> TokenBucket:
        return cls(rate=rate, capacity=capacity, tokens=capacity, updated=now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait_time(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1

    def drain(self, now: float, seconds: float) -> None:
        """The service said slow down: spend the next `seconds` of refill in advance."""
        self._refill(now)
        self.tokens = min(self.tokens, 0) - seconds * self.rate

    def idle_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


class RateLimiter:
    """Per-conversation (short and long window) and per-tenant buckets, taken together."""

    def __init__(
        self,
        *,
        per_conversation_per_second: float,
        per_conversation_per_30s: int,
        per_tenant_per_second: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_second = per_conversation_per_second
        self._per_30s = per_conversation_per_30s
        self._tenant_rate = per_tenant_per_second
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = asyncio.Lock()
        self._acquired = 0

    def _bucket(self, key: tuple[str, str], rate: float, capacity: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket.full(rate, capacity, self._clock())
        return bucket

    def _buckets_for(self, tenant: str, conversation: str) -> Sequence[TokenBucket]:
        # Starting full at the tenant's whole rate would allow a burst of a second's
        # worth above the limit right at start; one token keeps the rate honest.
        tenant_bucket = self._buckets.get(("tenant", tenant))
        if tenant_bucket is None:
            tenant_bucket = self._buckets[("tenant", tenant)] = TokenBucket(
                rate=self._tenant_rate,
                capacity=max(1.0, self._tenant_rate),
                tokens=1.0,
                updated=self._clock(),
            )
        return (
            tenant_bucket,
            self._bucket(("second", conversation), self._per_second, self._per_second),
            self._bucket(("window", conversation), self._per_30s / 30.0, float(self._per_30s)),
        )

    async def acquire(self, tenant: str, conversation: str) -> None:
        """Wait until one more request to `conversation` in `tenant` is within every limit."""
        while True:
            async with self._lock:
                now = self._clock()
                buckets = self._buckets_for(tenant, conversation)
                wait = max(b.wait_time(now) for b in buckets)
                if wait <= 0:
                    for bucket in buckets:
                        bucket.take(now)
                    self._acquired += 1
                    if self._acquired % 1000 == 0:
                        self._prune(now)
                    return
            await asyncio.sleep(wait)

    def throttled(self, tenant: str, conversation: str, retry_after: float) -> None:
        """A 429 came back: hold the conversation (and, briefly, the tenant)."""
        now = self._clock()
        buckets = self._buckets_for(tenant, conversation)
        for bucket in buckets[1:]:
            bucket.drain(now, retry_after)

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if k[0] != "tenant" and b.idle_full(now)]:
            del self._buckets[key]
