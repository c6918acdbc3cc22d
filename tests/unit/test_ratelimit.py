"""Token buckets and the rate limiter that keeps proactive sends inside Teams' limits."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.ratelimit import WINDOW_MARGIN, RateLimiter, SlidingWindow

TENANT = "tenant-1"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_admits_its_limit_and_then_waits_for_the_oldest_to_expire() -> None:
    window = SlidingWindow(limit=7, seconds=1.0)
    for _ in range(7):
        assert window.wait_time(0.0) == 0.0
        window.record(0.0)

    assert window.wait_time(0.0) == pytest.approx(1.0 * (1 + WINDOW_MARGIN))
    assert window.wait_time(0.5) == pytest.approx(0.5 + WINDOW_MARGIN)
    assert window.wait_time(1.0 + WINDOW_MARGIN + 1e-9) == 0.0


def test_a_held_window_waits_out_the_retry_after() -> None:
    window = SlidingWindow(limit=7, seconds=1.0)
    window.record(0.0)

    window.hold(until=2.0)

    assert window.wait_time(0.0) == pytest.approx(2.0)
    assert window.wait_time(1.5) == pytest.approx(0.5)
    assert window.wait_time(2.0) == 0.0


async def acquired_at_once(limiter: RateLimiter, conversation: str, count: int = 1) -> bool:
    """True when `count` acquires pass without waiting (the fake clock stands still)."""
    try:
        async with asyncio.timeout(0.2):
            for _ in range(count):
                await limiter.acquire(TENANT, conversation)
    except TimeoutError:
        return False
    return True


async def warmed_up(rate: RateLimiter, clock: FakeMonotonic) -> RateLimiter:
    """A first message long ago; only the per-chat limits are in play afterwards."""
    assert await acquired_at_once(rate, "a:warm-up")
    clock.now += 60
    return rate


def limiter(clock: FakeMonotonic, **limits: float) -> RateLimiter:
    values = {
        "per_conversation_per_second": 7,
        "per_conversation_per_30s": 60,
        "per_tenant_per_second": 1000,
    }
    values.update(limits)
    return RateLimiter(
        per_conversation_per_second=values["per_conversation_per_second"],
        per_conversation_per_30s=int(values["per_conversation_per_30s"]),
        per_tenant_per_second=values["per_tenant_per_second"],
        clock=clock,
    )


async def test_the_eighth_message_to_one_chat_in_the_same_second_waits() -> None:
    clock = FakeMonotonic()
    rate = await warmed_up(limiter(clock), clock)

    assert await acquired_at_once(rate, "a:chat-1", 7)
    eighth = asyncio.create_task(rate.acquire(TENANT, "a:chat-1"))
    await asyncio.sleep(0.01)
    assert not eighth.done()
    assert await acquired_at_once(rate, "a:chat-2"), "another chat is not held up"

    clock.now += 1 + WINDOW_MARGIN + 1e-9
    await asyncio.wait_for(eighth, timeout=2)


async def test_one_chat_gets_at_most_sixty_messages_in_thirty_seconds() -> None:
    clock = FakeMonotonic()
    rate = await warmed_up(limiter(clock, per_conversation_per_second=1000), clock)

    assert await acquired_at_once(rate, "a:chat-1", 60)
    assert not await acquired_at_once(rate, "a:chat-1")
    clock.now += 29.9
    assert not await acquired_at_once(rate, "a:chat-1")
    clock.now += 0.1 + 30 * WINDOW_MARGIN + 1e-6  # the first of the sixty left the window
    assert await acquired_at_once(rate, "a:chat-1")


async def test_the_tenant_limit_holds_from_the_first_message() -> None:
    clock = FakeMonotonic()
    rate = limiter(clock, per_tenant_per_second=5)

    assert await acquired_at_once(rate, "a:chat-1", 5)
    # The sixth message in the same second, even to someone else, waits its turn.
    assert not await acquired_at_once(rate, "a:chat-2")
    clock.now += 1 + WINDOW_MARGIN + 1e-9
    assert await acquired_at_once(rate, "a:chat-2")


async def test_a_429_holds_that_chat_for_the_retry_after_and_no_other() -> None:
    clock = FakeMonotonic()
    rate = await warmed_up(limiter(clock), clock)
    assert await acquired_at_once(rate, "a:chat-1")

    rate.throttled(TENANT, "a:chat-1", retry_after=3.0)

    assert await acquired_at_once(rate, "a:chat-2")
    assert not await acquired_at_once(rate, "a:chat-1")
    clock.now += 2.9
    assert not await acquired_at_once(rate, "a:chat-1")
    clock.now += 0.1
    assert await acquired_at_once(rate, "a:chat-1")


async def test_twenty_messages_at_ten_a_second_take_a_second_in_real_time() -> None:
    rate = RateLimiter(
        per_conversation_per_second=10, per_conversation_per_30s=1000, per_tenant_per_second=1000
    )
    started = time.monotonic()
    for _ in range(20):
        await rate.acquire(TENANT, "a:chat-1")
    elapsed = time.monotonic() - started

    # Ten at once, the next ten when the first ten have left the one-second window.
    assert 1.0 <= elapsed < 2.0


def greedy_send_times(window: SlidingWindow, count: int) -> list[float]:
    """When a sender that sends as soon as the window allows would send `count` messages
    (what RateLimiter.acquire does in a loop)."""
    now, times = 0.0, []
    for _ in range(count):
        now += window.wait_time(now)
        window.record(now)
        times.append(now)
    return times


def most_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


@pytest.mark.parametrize(
    ("limit", "window"),
    [(7, 1.0), (60, 30.0), (50, 1.0)],
    ids=["chat-per-second", "chat-per-30s", "tenant-per-second"],
)
def test_a_greedy_sender_stays_within_the_limit_in_every_sliding_window(
    limit: int, window: float
) -> None:
    times = greedy_send_times(SlidingWindow(limit, window), 4 * limit)
    assert most_in_any_window(times, window) <= limit
    # ...and uses nearly all of it: four windows' worth goes out in about four windows.
    assert times[-1] <= 3 * window * (1 + WINDOW_MARGIN) + 1e-9
