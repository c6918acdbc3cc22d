"""A message whose service URL is malformed is refused for good, not retried for hours."""

from __future__ import annotations

import aiohttp
import pytest

from bot.edge.connector import BotConnector
from consultations.delivery import DeliveryFailure, FailureKind


async def _no_token() -> str | None:
    return None


@pytest.mark.parametrize("service_url", ["not a url", "ftp://127.0.0.1/", "127.0.0.1"])
async def test_a_malformed_service_url_is_a_permanent_failure(service_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        connector = BotConnector(session, _no_token, timeout=2.0)
        with pytest.raises(DeliveryFailure) as failure:
            await connector.send(service_url, "a:conversation", {"type": "message", "text": "x"})
    assert failure.value.kind is FailureKind.PERMANENT
