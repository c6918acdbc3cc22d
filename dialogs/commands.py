"""The commands people type, as one table: the help card, the command words and the
dispatcher all read it, so a command cannot exist without its help line.

A command's word in each language is the catalog's `command.<name>` and its help line
`help.command.<name>`; `synonyms` are further words that work in any language. The
handler of each command is a card flow's (`CardFlow.commands`); the dispatcher refuses to
start when a command has no handler or a handler no command.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Audience(enum.StrEnum):
    """Who the help card shows a command to (the handler checks rights on its own)."""

    EVERYONE = "everyone"
    COORDINATORS = "coordinators"
    ADMINS = "admins"


@dataclass(frozen=True)
class CommandSpec:
    name: str
    synonyms: tuple[str, ...] = ()
    # Its cards can show client details: only ever sent to the user's 1:1 chat. Typed in a
    # channel or a group chat, the command answers there with a pointer.
    private: bool = True
    # Takes words after it ("kieli sv"); others must be typed alone.
    takes_args: bool = False
    audience: Audience = Audience.EVERYONE

    @property
    def word_key(self) -> str:
        return f"command.{self.name}"

    @property
    def help_key(self) -> str:
        return f"help.command.{self.name}"


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("new"),
    CommandSpec("my"),
    CommandSpec("drafts"),
    CommandSpec("queue", synonyms=("ko",), audience=Audience.COORDINATORS),
    CommandSpec("cases"),
    # Aggregates only, small numbers hidden; still private: it names case managers.
    CommandSpec("report", audience=Audience.COORDINATORS),
    CommandSpec("settings", synonyms=("installningar",), private=False),
    CommandSpec("language", takes_args=True, private=False),
    CommandSpec("help", synonyms=("ohje", "?", "hjalp"), private=False),
    CommandSpec("profile", private=False),
    CommandSpec("roles", private=False),
    CommandSpec("deliveries", audience=Audience.COORDINATORS),
    CommandSpec(
        "audit", synonyms=("lokit", "lokitiedot", "loggar"), audience=Audience.COORDINATORS
    ),
    # "ylläpito TK-2026-0042" opens the case straight away.
    CommandSpec(
        "admin",
        synonyms=("yllapito", "administration"),
        takes_args=True,
        audience=Audience.ADMINS,
    ),
)


def spec(name: str) -> CommandSpec:
    for command in COMMANDS:
        if command.name == name:
            return command
    raise KeyError(name)
