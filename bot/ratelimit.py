"""Sliding-window limits that keep proactive sends inside Teams' limits.

Teams counts requests in sliding windows ("7 per second, 60 per 30 seconds per
conversation; about 50 per second per app and tenant"). A token bucket sized to the same
numbers admits a full burst plus its refill inside one window - up to twice the limit - so
this keeps the send times of each window and admits a request only when the window has
room: the exact rule, and all of it usable.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

# Request timestamps are ours; Teams sees them a little later and not always in the same
# spacing. Stretching each window by this much keeps jitter from tipping a window over.
WINDOW_MARGIN = 0.03


class SlidingWindow:
    """At most `limit` events in any `seconds`-long window."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = max(1, int(limit))
        self.seconds = seconds * (1 + WINDOW_MARGIN)
        self._times: deque[float] = deque()
        self._held_until = 0.0

    def _expire(self, now: float) -> None:
        horizon = now - self.seconds
        while self._times and self._times[0] <= horizon:
            self._times.popleft()

    def wait_time(self, now: float, reserve: int = 0) -> float:
        """Seconds until one more event fits (0 when it fits now), leaving `reserve` of
        the window's places free for others."""
        self._expire(now)
        wait = max(0.0, self._held_until - now)
        room = max(1, self.limit - reserve)
        if len(self._times) >= room:
            wait = max(wait, self._times[-room] + self.seconds - now)
        return wait

    def count(self, now: float) -> int:
        """Events in the window that ends now."""
        self._expire(now)
        return len(self._times)

    def record(self, now: float) -> None:
        self._times.append(now)
        while len(self._times) > self.limit:
            self._times.popleft()

    def hold(self, until: float) -> None:
        self._held_until = max(self._held_until, until)

    def idle(self, now: float) -> bool:
        self._expire(now)
        return not self._times and self._held_until <= now


# How long a proactive send that gave way to a reply waits before looking again.
GIVE_WAY_SECONDS = 0.002


class RateLimiter:
    """Per-conversation (1 s and 30 s windows) and per-tenant (1 s) limits, taken together.

    The tenant's limit is shared by proactive sends (the outbox's fan-out) and replies to
    someone waiting for the bot's answer, and replies go first. While people are being
    answered, proactive sends leave free as many of the tenant's places as replies took
    in the last window (and two more, at most half the limit): a fan-out that would
    fill the window in one burst would keep every reply waiting for up to a second.
    When the window is full all the same, a reply waiting only for its room takes the
    next free place before any proactive send. Without replies the fan-out has all of
    the limit (bench/fanout.py)."""

    def __init__(
        self,
        *,
        per_conversation_per_second: float,
        per_conversation_per_30s: int,
        per_tenant_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        window_scale: float = 1.0,
    ) -> None:
        self._per_second = int(per_conversation_per_second)
        self._per_30s = int(per_conversation_per_30s)
        self._tenant_rate = int(per_tenant_per_second)
        self._scale = window_scale
        self._clock = clock
        self._windows: dict[tuple[str, str], SlidingWindow] = {}
        self._lock = asyncio.Lock()
        self._acquired = 0
        # Replies waiting for room in a tenant's window (and for nothing else), by tenant.
        self._replies_waiting: dict[str, int] = {}
        # Replies sent lately, by tenant: what the fan-out leaves room for.
        self._replies: dict[str, SlidingWindow] = {}

    def _reserve(self, tenant: str, now: float) -> int:
        """Places of the tenant's window proactive sends leave free for replies."""
        replies = self._replies.get(tenant)
        recent = replies.count(now) if replies is not None else 0
        return min(self._tenant_rate // 2, recent + 2) if recent else 0

    def _window(self, key: tuple[str, str], limit: int, seconds: float) -> SlidingWindow:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SlidingWindow(limit, seconds * self._scale)
        return window

    def _windows_for(self, tenant: str, conversation: str) -> tuple[SlidingWindow, ...]:
        return (
            self._window(("tenant", tenant), self._tenant_rate, 1.0),
            self._window(("second", conversation), self._per_second, 1.0),
            self._window(("window", conversation), self._per_30s, 30.0),
        )

    async def acquire(self, tenant: str, conversation: str, *, reply: bool = False) -> None:
        """Wait until one more request to `conversation` in `tenant` is within every limit;
        `reply`: someone is waiting for it (it goes before proactive sends)."""
        queued = False
        try:
            while True:
                async with self._lock:
                    now = self._clock()
                    windows = self._windows_for(tenant, conversation)
                    tenant_wait = windows[0].wait_time(
                        now, 0 if reply else self._reserve(tenant, now)
                    )
                    own_wait = max(w.wait_time(now) for w in windows[1:])
                    wait = max(tenant_wait, own_wait)
                    if reply and queued != (tenant_wait > 0 and own_wait <= 0):
                        # Only a reply held up by the tenant's window alone makes
                        # proactive sends give way (one that is over its own
                        # conversation's limit must not hold everyone else up).
                        queued = not queued
                        self._count_waiting(tenant, 1 if queued else -1)
                    if wait <= 0 and not reply and self._replies_waiting.get(tenant):
                        wait = GIVE_WAY_SECONDS
                    if wait <= 0:
                        for window in windows:
                            window.record(now)
                        if reply:
                            self._replies_window(tenant).record(now)
                        self._acquired += 1
                        if self._acquired % 1000 == 0:
                            self._prune(now)
                        return
                await asyncio.sleep(wait)
        finally:
            if queued:
                self._count_waiting(tenant, -1)

    def _replies_window(self, tenant: str) -> SlidingWindow:
        window = self._replies.get(tenant)
        if window is None:
            window = self._replies[tenant] = SlidingWindow(self._tenant_rate, self._scale)
        return window

    def _count_waiting(self, tenant: str, change: int) -> None:
        waiting = self._replies_waiting.get(tenant, 0) + change
        if waiting > 0:
            self._replies_waiting[tenant] = waiting
        else:
            self._replies_waiting.pop(tenant, None)

    def throttled(self, tenant: str, conversation: str, retry_after: float) -> None:
        """A 429 came back: nothing more to that conversation until Retry-After has passed."""
        until = self._clock() + retry_after
        for window in self._windows_for(tenant, conversation)[1:]:
            window.hold(until)

    def _prune(self, now: float) -> None:
        for key in [k for k, w in self._windows.items() if k[0] != "tenant" and w.idle(now)]:
            del self._windows[key]
