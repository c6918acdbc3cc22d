"""A coordinator with 60 requests waiting pages through the whole queue in the Agents
Playground (0.2.28), as Alex Wilber (its current user, en-US) would: `queue`, then
"Show more" until there is no more, each page replacing the card in place; the totals
on every page are those of the whole queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.playground import BotMessage
from tests.e2e.test_playground import Stack
from tests.e2e.test_playground import stack as stack  # the fixture, re-exported
from tests.support.cards import executes, texts
from tests.support.crowd import seed, waiting

pytestmark = pytest.mark.playground

CARD = "application/vnd.microsoft.card.adaptive"
# Texts from bot/i18n/locales/en/LC_MESSAGES/lists.po and messages.po: what Alex reads.
EN_QUEUE_TITLE = "Requests waiting for triage"


async def _coordinator_of_the_team(stack: Stack) -> tuple[int, int]:
    """The bot added to the Playground's team, Alex its coordinator: (team, Alex)."""
    pg = stack.pg
    mark = pg.mark()
    await pg.install(pg.team_id)
    greeting = await pg.wait_for_message(
        lambda m: m.root_conversation_id == pg.team_id and m.card is not None, start=mark
    )
    assert greeting.card is not None and greeting.post_conversation_id is not None
    claim = next(x for x in executes(greeting.card) if x["verb"] == "role.claim")
    await pg.invoke_action(
        greeting.post_conversation_id,
        greeting.message_id,
        {"type": "Action.Execute", "verb": "role.claim", "data": claim["data"]},
    )
    async with stack.components.uow_factory() as uow:
        team = (await uow.teams.all())[0]
        alex = await uow.users.by_teams_id(pg.current_user["id"])
        others = [m for m in await uow.teams.members(team.id) if m.id != (alex.id if alex else 0)]
    assert alex is not None and others
    return team.id, others[0].id


async def _page(stack: Stack, message_id: str, card: dict[str, Any]) -> dict[str, Any]:
    pg = stack.pg
    more = next(x for x in executes(card) if x["title"] == "Show more")
    answer = await pg.invoke_action(
        pg.personal_chat_id,
        message_id,
        {"type": "Action.Execute", "verb": more["verb"], "data": more["data"]},
    )
    assert answer["type"] == CARD, answer
    return answer["value"]  # type: ignore[no-any-return]


def _opened(card: dict[str, Any]) -> list[int]:
    return [x["data"]["case_id"] for x in executes(card) if x["verb"] == "triage.open"]


async def test_a_coordinator_pages_through_sixty_waiting_requests_to_the_end(
    stack: Stack,
) -> None:
    pg = stack.pg
    team, requester = await _coordinator_of_the_team(stack)
    now = datetime.now(UTC)
    # 45 waiting for weeks (overdue), 15 sent this morning.
    lives = [waiting(team, requester, now - timedelta(days=20 + i)) for i in range(45)]
    lives += [waiting(team, requester, now - timedelta(minutes=5 + i)) for i in range(15)]
    await seed(stack.components.engine, lives, teams={}, people={})

    chat = pg.personal_chat_id
    mark = pg.mark()
    await pg.send_text(chat, "queue")

    def is_queue(m: BotMessage) -> bool:
        return m.conversation_id == chat and m.card is not None and EN_QUEUE_TITLE in texts(m.card)

    shown = await pg.wait_for_message(is_queue, start=mark)
    assert shown.card is not None
    first = shown.card
    assert "60 requests in the queue" in texts(first)
    assert "45 requests overdue" in texts(first)
    assert "Showing 1–25 of 60." in texts(first)

    second = await _page(stack, shown.message_id, first)
    assert "60 requests in the queue" in texts(second)
    assert "Showing 26–50 of 60." in texts(second)
    third = await _page(stack, shown.message_id, second)
    assert "Showing 51–60 of 60." in texts(third)
    assert "Show more" not in {x["title"] for x in executes(third)}
    assert "Back to the start" in {x["title"] for x in executes(third)}

    seen = _opened(first) + _opened(second) + _opened(third)
    assert len(seen) == len(set(seen)) == 60
    # Overdue first: every overdue request is on the first two pages.
    assert "Overdue" in texts(second) and "Overdue" not in texts(third)
