"""Logs carry ids, never identity codes: as text for people, as JSON for a log pipeline."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import RedactingFormatter, configure

CODE = "131052-308T"  # a valid Finnish personal identity code


def test_an_identity_code_in_a_log_line_is_redacted() -> None:
    record = logging.LogRecord(
        "bot", logging.ERROR, __file__, 1, "failed for %s", (f"asiakas {CODE}",), None
    )
    line = RedactingFormatter("%(message)s").format(record)
    assert line == "failed for asiakas [HETU]"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.level, root.handlers[:])
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])


def _log_a_failed_turn() -> None:
    log = logging.getLogger("bot.handler")
    log.info("turn for activity %s", "act-1", extra={"activity_id": "act-1", "team_id": 7})
    log.info("Työkykytiimi listening")
    try:
        raise ValueError(f"card field held {CODE}")
    except ValueError:
        log.exception("turn failed for %s", f"asiakas {CODE}")


def test_json_logs_are_one_object_per_line_with_ids_as_fields(captured: io.StringIO) -> None:
    configure("json", "INFO", captured)
    _log_a_failed_turn()

    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert [(r["level"], r["logger"], r["message"]) for r in lines] == [
        ("INFO", "bot.handler", "turn for activity act-1"),
        ("INFO", "bot.handler", "Työkykytiimi listening"),
        ("ERROR", "bot.handler", "turn failed for asiakas [HETU]"),
    ]
    assert (lines[0]["activity_id"], lines[0]["team_id"]) == ("act-1", 7)
    assert lines[0]["time"].endswith("+00:00")
    assert "Työkykytiimi" in captured.getvalue()  # UTF-8, not \u00f6 escapes
    assert "ValueError: card field held [HETU]" in lines[2]["exc_info"]
    assert CODE not in captured.getvalue()


def test_text_logs_redact_the_traceback_too(captured: io.StringIO) -> None:
    configure("text", "INFO", captured)
    _log_a_failed_turn()

    text = captured.getvalue()
    assert "INFO bot.handler: turn for activity act-1" in text
    assert "ERROR bot.handler: turn failed for asiakas [HETU]" in text
    assert "ValueError: card field held [HETU]" in text
    assert CODE not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_the_log_level_setting_holds_back_lower_levels(captured: io.StringIO) -> None:
    configure("json", "WARNING", captured)
    _log_a_failed_turn()
    assert [json.loads(line)["level"] for line in captured.getvalue().splitlines()] == ["ERROR"]
