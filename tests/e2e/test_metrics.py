"""Prometheus metrics scraped from the real app while it works: turns, deliveries through a
loopback Bot Connector that throttles and fails, the outbox, the pool - on a port of their
own, and only with the token when one is set."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import METRICS_SERVER
from tests.conftest import BotFactory, RunningBot
from tests.e2e.test_delivery import SteppingClock, _drain, _queue_texts, _team_with_coordinator
from tests.support import activities as a
from tests.support.connector import Limits, LoopbackConnector

TOKEN = "prometheus-scrapes-with-this-0123456789"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(bot: RunningBot, token: str | None = None) -> tuple[int, Samples]:
    server = bot.client.server.app[METRICS_SERVER]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{server.host}:{server.port}/metrics", headers=headers) as response,
    ):
        text = await response.text()
    if response.status != 200:
        return response.status, {}
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return 200, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_the_counters_move_as_the_bot_answers_and_delivers(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    fake.limits = Limits()
    clock = SteppingClock()
    bot = await make_bot(clock=clock, metrics_port=0)
    bot.components.metrics.outbox_cache_seconds = 0  # every scrape reads the outbox afresh

    status, before = await scrape(bot)
    assert status == 200
    assert value(before, "tyokykytiimi_deliveries_total", result="sent") == 0
    assert value(before, "tyokykytiimi_outbox_messages", state="pending") == 0
    assert value(before, "tyokykytiimi_database_up") == 1

    team_id = await _team_with_coordinator(bot, fake, url)
    await bot.post(a.text(url, a.user(1), "apua"))
    bad = await bot.client.post("/api/messages", data=b"{not json", headers=_json())
    assert bad.status == 400
    await _queue_texts(bot, team_id, range(2, 6), clock.now())
    _, queued = await scrape(bot)
    assert value(queued, "tyokykytiimi_outbox_messages", state="pending") == 12
    assert value(queued, "tyokykytiimi_outbox_due_messages") == 12

    # Teams throttles once, fails once, and member 5 has blocked the bot.
    fake.faults.extend([(429, {"Retry-After": "2"}), (503, {})])
    fake.blocked["a:personal-29:user-5"] = 403
    clock.current = clock.current.replace(minute=5)  # the messages waited five minutes
    sent_by_turns = len(fake.sent)
    await _drain(bot, clock)

    _, after = await scrape(bot)
    turns = "tyokykytiimi_turns_total"
    assert value(after, turns, kind="installationUpdate", result="ok") == 1
    assert value(after, turns, kind="card:role.claim", result="ok") == 1
    assert value(after, turns, kind="message", result="ok") == 1
    assert value(after, turns, kind="unverified", result="invalid") == 1
    assert value(after, "tyokykytiimi_turn_seconds_count", kind="card:role.claim") == 1

    deliveries = "tyokykytiimi_deliveries_total"
    sent = value(after, deliveries, result="sent")
    # 9 texts to members 2-4 and one notice to the coordinator that member 5 is unreachable.
    assert sent == 10 == len(fake.sent) - sent_by_turns
    assert value(after, deliveries, result="throttled") == 1
    assert value(after, deliveries, result="retried") == 1
    assert value(after, deliveries, result="dead") == 3
    assert value(after, "tyokykytiimi_reminder_lag_seconds_count") == sent
    assert value(after, "tyokykytiimi_reminder_lag_seconds_bucket", le="60.0") == 0
    assert value(after, "tyokykytiimi_outbox_messages", state="pending") == 0
    assert value(after, "tyokykytiimi_outbox_messages", state="dead") == 3
    assert value(after, "tyokykytiimi_outbox_oldest_due_seconds") == 0
    assert value(after, "tyokykytiimi_db_pool_size") == 1  # SQLite: one connection
    assert value(after, "tyokykytiimi_db_pool_connections", state="in_use") == 0
    assert value(after, "process_resident_memory_bytes") > 0

    # The bot's own port does not serve them: the reverse proxy never exposes metrics.
    assert (await bot.client.get("/metrics")).status == 404


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


async def test_with_a_token_the_metrics_answer_only_to_it(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    bot = await make_bot(metrics_port=0, metrics_token=TOKEN)

    assert (await scrape(bot))[0] == 401
    assert (await scrape(bot, "not-the-token-at-all-0123456789"))[0] == 401
    status, samples = await scrape(bot, TOKEN)
    assert status == 200
    assert value(samples, "tyokykytiimi_database_up") == 1


async def test_without_metrics_port_nothing_is_served(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    bot = await make_bot()
    assert METRICS_SERVER not in bot.client.server.app
    assert (await bot.client.get("/metrics")).status == 404
