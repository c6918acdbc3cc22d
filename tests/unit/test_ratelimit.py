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


async def test_a_reply_takes_the_tenants_next_free_place_before_waiting_proactive_sends() -> None:
    # Two sends a (scaled) second per tenant, filled by the fan-out; five more proactive
    # sends wait, then someone's reply comes: it goes out with the next free place.
    limiter = RateLimiter(
        per_conversation_per_second=7,
        per_conversation_per_30s=60,
        per_tenant_per_second=2,
        window_scale=0.05,
    )
    order: list[str] = []
    for n in range(2):
        await limiter.acquire(TENANT, f"a:fan-out-{n}")

    async def send(name: str, *, reply: bool = False) -> None:
        await limiter.acquire(TENANT, f"a:{name}", reply=reply)
        order.append(name)

    proactive = [asyncio.create_task(send(f"notice-{n}")) for n in range(5)]
    await asyncio.sleep(0.01)
    answer = asyncio.create_task(send("answer", reply=True))
    await asyncio.wait_for(asyncio.gather(*proactive, answer), 5)

    assert order.index("answer") == 0, order


async def test_a_reply_over_its_own_chats_limit_holds_nobody_else_up() -> None:
    limiter = RateLimiter(
        per_conversation_per_second=1,
        per_conversation_per_30s=60,
        per_tenant_per_second=50,
        window_scale=1.0,
    )
    await limiter.acquire(TENANT, "a:typing-fast", reply=True)
    # The next reply in the same chat waits its second; the fan-out goes on meanwhile.
    waiting = asyncio.create_task(limiter.acquire(TENANT, "a:typing-fast", reply=True))
    await asyncio.sleep(0.01)
    async with asyncio.timeout(0.2):
        for n in range(10):
            await limiter.acquire(TENANT, f"a:notice-{n}")
    assert not waiting.done()
    waiting.cancel()


async def test_while_people_are_answered_the_fan_out_leaves_them_room() -> None:
    clock = FakeMonotonic()

    def limiter() -> RateLimiter:
        return RateLimiter(
            per_conversation_per_second=7,
            per_conversation_per_30s=60,
            per_tenant_per_second=10,
            clock=clock,
        )

    # Nobody answered lately: the fan-out may use the whole of the tenant's second.
    quiet = limiter()
    assert await acquired_at_once(quiet, "a:notice-0")
    assert all([await acquired_at_once(quiet, f"a:notice-{n}") for n in range(1, 10)])
    assert not await acquired_at_once(quiet, "a:notice-10")

    # Three replies this second: proactive sends leave five places (3 + 2) free.
    busy = limiter()
    for n in range(3):
        await busy.acquire(TENANT, f"a:chat-{n}", reply=True)
    assert await acquired_at_once(busy, "a:notice-0")
    assert await acquired_at_once(busy, "a:notice-1")
    assert not await acquired_at_once(busy, "a:notice-2")
    # A reply still has its room.
    async with asyncio.timeout(0.2):
        await busy.acquire(TENANT, "a:chat-3", reply=True)
