"""What the bot relies on in botbuilder 4.17's internals, checked so an upgrade says so."""

from __future__ import annotations

from botbuilder.core import BotAdapter

from bot.handler import INVOKE_RESPONSE_KEY


def test_the_invoke_response_goes_where_the_adapter_reads_it() -> None:
    assert BotAdapter._INVOKE_RESPONSE_KEY == INVOKE_RESPONSE_KEY
