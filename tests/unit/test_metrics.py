"""The metrics an operator reads: named by what happened, with labels nobody can flood."""

from __future__ import annotations

from typing import Any

import pytest

from bot.metrics import MAX_KINDS, Metrics, turn_kind
from scheduler.runner import observed
from tests.support import activities as a

URL = "http://127.0.0.1:1"


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_turns_are_counted_by_kind_and_result_and_timed() -> None:
    metrics = Metrics()
    metrics.turn("card:poll.vote", "ok", 0.012)
    metrics.turn("card:poll.vote", "ok", 0.4)
    metrics.turn("message", "refused", 0.02)

    assert sample(metrics, "tyokykytiimi_turns_total", kind="card:poll.vote", result="ok") == 2
    assert sample(metrics, "tyokykytiimi_turns_total", kind="message", result="refused") == 1
    assert sample(metrics, "tyokykytiimi_turn_seconds_count", kind="card:poll.vote") == 2
    assert (
        sample(metrics, "tyokykytiimi_turn_seconds_bucket", kind="card:poll.vote", le="0.025") == 1
    )
    assert sample(metrics, "tyokykytiimi_turn_seconds_sum", kind="message") == pytest.approx(0.02)


def test_a_flood_of_made_up_kinds_and_results_lands_in_other() -> None:
    metrics = Metrics()
    for n in range(MAX_KINDS + 50):
        metrics.turn(f"card:verb{n}", "ok", 0.001)
    metrics.turn("card:<script>", "ok", 0.001)
    metrics.turn("card:verb0", "exploded", 0.001)

    kinds = {
        s.labels["kind"]
        for family in metrics.registry.collect()
        if family.name == "tyokykytiimi_turns"
        for s in family.samples
    }
    assert len(kinds) == MAX_KINDS + 1
    assert sample(metrics, "tyokykytiimi_turns_total", kind="other", result="ok") == 51
    assert sample(metrics, "tyokykytiimi_turns_total", kind="card:verb0", result="other") == 1


def test_deliveries_lag_and_jobs_are_counted() -> None:
    metrics = Metrics()
    for result in ("sent", "sent", "retried", "throttled", "dead"):
        metrics.delivery(result)
    metrics.reminder_lag(42.0)
    metrics.reminder_lag(-3.0)  # a clock step back counts as on time, not as negative lag
    metrics.job("dispatch", "ok", 0.01)
    metrics.job("weekly-digest", "error", 2.0)

    assert sample(metrics, "tyokykytiimi_deliveries_total", result="sent") == 2
    for result in ("retried", "throttled", "dead"):
        assert sample(metrics, "tyokykytiimi_deliveries_total", result=result) == 1
    assert sample(metrics, "tyokykytiimi_reminder_lag_seconds_count") == 2
    assert sample(metrics, "tyokykytiimi_reminder_lag_seconds_bucket", le="1.0") == 1
    assert sample(metrics, "tyokykytiimi_reminder_lag_seconds_sum") == 42.0
    assert sample(metrics, "tyokykytiimi_scheduler_jobs_total", job="dispatch", result="ok") == 1
    assert (
        sample(metrics, "tyokykytiimi_scheduler_jobs_total", job="weekly-digest", result="error")
        == 1
    )


def test_every_delivery_result_is_exposed_from_the_start() -> None:
    # rate() over a series that appears only with the first failure misses that failure.
    text = Metrics().registry
    for result in ("sent", "retried", "throttled", "dead"):
        assert text.get_sample_value("tyokykytiimi_deliveries_total", {"result": result}) == 0


@pytest.mark.parametrize(
    ("activity", "kind"),
    [
        (a.text(URL, a.user(1), "uusi"), "message"),
        (a.execute(URL, a.user(1), "poll.vote", {"poll_id": 1}), "card:poll.vote"),
        (a.execute(URL, a.user(1), "Robert'); DROP TABLE", {}), "card"),
        (a.submit(URL, a.user(1), {"verb": "request.next"}), "submit:request.next"),
        (a.team_installed(URL, a.user(1)), "installationUpdate"),
        (a.bot_added_to_team(URL, a.user(1), "19:team"), "conversationUpdate"),
        ({"type": "invoke", "name": "task/fetch"}, "invoke:task/fetch"),
        ({"type": "invoke", "name": "made/up"}, "invoke"),
        ({"type": "somethingNew"}, "other"),
        (["not", "an", "activity"], "other"),
    ],
)
def test_an_activity_is_named_by_what_it_asks(activity: Any, kind: str) -> None:
    assert turn_kind(activity) == kind


async def test_a_scheduler_job_reports_each_run_and_still_raises_its_failure() -> None:
    runs: list[tuple[str, str]] = []

    async def works() -> int:
        return 3

    async def fails() -> None:
        raise RuntimeError("database gone")

    def record(name: str, result: str, seconds: float) -> None:
        assert seconds >= 0
        runs.append((name, result))

    assert await observed("dispatch", works, record)() == 3
    with pytest.raises(RuntimeError):
        await observed("weekly-digest", fails, record)()
    assert runs == [("dispatch", "ok"), ("weekly-digest", "error")]
    assert observed("dispatch", works, None) is works
