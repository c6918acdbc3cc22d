"""Logs carry ids, never identity codes."""

from __future__ import annotations

import logging

from bot.__main__ import RedactingFormatter


def test_an_identity_code_in_a_log_line_is_redacted() -> None:
    record = logging.LogRecord(
        "bot", logging.ERROR, __file__, 1, "failed for %s", ("asiakas 131052-308T",), None
    )
    line = RedactingFormatter("%(message)s").format(record)
    assert line == "failed for asiakas [HETU]"
