"""botbuilder `Storage` over the database document store, so dialogs survive restarts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import jsonpickle
from botbuilder.core import Storage

from storage.documents import ETagConflict, SqlAlchemyDocumentStore


class DatabaseStorage(Storage):  # type: ignore[misc]
    """Dialog and conversation state as JSON documents with e-tag concurrency.

    State objects (DialogState, DialogInstance…) are encoded with jsonpickle, which
    botbuilder itself depends on; the database is ours, so decoding it is trusted.
    """

    def __init__(self, store: SqlAlchemyDocumentStore, now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now

    async def read(self, keys: list[str]) -> dict[str, Any]:
        found = await self._store.read(keys)
        result: dict[str, Any] = {}
        for key, (document, etag) in found.items():
            value = jsonpickle.decode(document, keys=True)  # our own database: trusted
            if isinstance(value, dict):
                value["e_tag"] = etag
            result[key] = value
        return result

    async def write(self, changes: dict[str, Any]) -> None:
        if not changes:
            return
        prepared: dict[str, tuple[str, str | None]] = {}
        for key, value in changes.items():
            expected: str | None = None
            if isinstance(value, dict):
                value = dict(value)
                expected = value.pop("e_tag", None)
            else:
                expected = getattr(value, "e_tag", None)
            prepared[key] = (jsonpickle.encode(value, keys=True), expected)
        try:
            new_etags = await self._store.write(prepared, self._now())
        except ETagConflict as conflict:
            raise KeyError(f"Etag conflict: {conflict.key}") from conflict
        # BotState keeps using the same dict; give it the new e-tag so its next
        # save in this process does not conflict with itself.
        for key, value in changes.items():
            if isinstance(value, dict):
                value["e_tag"] = new_etags[key]

    async def delete(self, keys: list[str]) -> None:
        await self._store.delete(keys)
