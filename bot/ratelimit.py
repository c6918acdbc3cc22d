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

    def wait_time(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        self._expire(now)
        wait = max(0.0, self._held_until - now)
        if len(self._times) >= self.limit:
            wait = max(wait, self._times[-self.limit] + self.seconds - now)
        return wait

    def record(self, now: float) -> None:
        self._times.append(now)
        while len(self._times) > self.limit:
            self._times.popleft()

    def hold(self, until: float) -> None:
        self._held_until = max(self._held_until, until)

    def idle(self, now: float) -> bool:
        self._expire(now)
        return not self._times and self._held_until <= now


class RateLimiter:
    """Per-conversation (1 s and 30 s windows) and per-tenant (1 s) limits, taken together."""

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

    async def acquire(self, tenant: str, conversation: str) -> None:
        """Wait until one more request to `conversation` in `tenant` is within every limit."""
        while True:
            async with self._lock:
                now = self._clock()
                windows = self._windows_for(tenant, conversation)
                wait = max(w.wait_time(now) for w in windows)
                if wait <= 0:
                    for window in windows:
                        window.record(now)
                    self._acquired += 1
                    if self._acquired % 1000 == 0:
                        self._prune(now)
                    return
            await asyncio.sleep(wait)

    def throttled(self, tenant: str, conversation: str, retry_after: float) -> None:
        """A 429 came back: nothing more to that conversation until Retry-After has passed."""
        until = self._clock() + retry_after
        for window in self._windows_for(tenant, conversation)[1:]:
            window.hold(until)

    def _prune(self, now: float) -> None:
        for key in [k for k, w in self._windows.items() if k[0] != "tenant" and w.idle(now)]:
            del self._windows[key]
