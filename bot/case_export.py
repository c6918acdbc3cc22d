"""A case's export (SPEC §5): everything stored about it, as JSON and as a readable HTML
page, behind signed links that expire in minutes.

HTML rather than PDF: it needs no extra dependency, opens in any browser and with a
screen reader, and prints to PDF from the browser when a paper copy is wanted.

The link is the authority: it names the case, the admin who asked and the language, and
the download re-checks nothing else (Teams opens it in a browser, where the bot cannot
see who is asking). So links live ten minutes, and every download is audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.case_export_html import render_html
from bot.i18n import texts_for
from bot.links import LinkSigner, add_download
from consultations import case_records
from consultations.case_records import CaseExport
from consultations.errors import DomainError
from consultations.ports import Clock, UnitOfWork
from consultations.records import CaseHeader

PURPOSE = "case-export"
LINK_LIFETIME = timedelta(minutes=10)
FORMATS = ("json", "html")
FORMAT_VERSION = "tyokykytiimi.case-export/1"
# What a browser may do with the page: show it, nothing more (no scripts, no requests).
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


class CaseExportLinks:
    """Makes an admin's two links to one case's export (dialogs.admin.ExportLinks)."""

    def __init__(self, signer: Callable[[], LinkSigner], clock: Clock) -> None:
        self._signer = signer
        self._clock = clock

    def __call__(self, case: CaseHeader, admin_id: int, language: str) -> tuple[str, str, datetime]:
        expires = self._clock.now() + LINK_LIFETIME
        signer = self._signer()
        json_url, html_url = (
            signer.url(
                PURPOSE,
                f"{case.id}:{admin_id}:{language}:{kind}",
                expires,
                f"{case.case_number}.{kind}",
            )
            for kind in FORMATS
        )
        return json_url, html_url, expires


def export_json(export: CaseExport) -> dict[str, Any]:
    """The machine-readable export: every stored row of the case, every column."""
    return {
        "format": FORMAT_VERSION,
        "case_number": export.case.case_number,
        "exported_at": export.exported_at.isoformat(),
        "exported_by": export.exported_by,
        "tables": export.tables,
    }


def _subject(subject: str) -> tuple[int, int, str, str] | None:
    parts = subject.split(":")
    if len(parts) != 4 or parts[3] not in FORMATS:
        return None
    case_id, admin_id, language, kind = parts
    if not (case_id.isdigit() and admin_id.isdigit()):
        return None
    return int(case_id), int(admin_id), language, kind


def add_case_export(
    app: web.Application,
    *,
    signer: Callable[[], LinkSigner],
    uows: Callable[[], UnitOfWork],
    clock: Callable[[], Clock],
) -> None:
    """Serve `GET /links/case-export/<token>/<file>` (the callables are read at request
    time: the app builds its parts when it starts)."""

    async def download(subject: str, request: web.Request) -> web.StreamResponse:
        parsed = _subject(subject)
        if parsed is None:
            raise web.HTTPNotFound()
        case_id, admin_id, language, kind = parsed
        try:
            export = await case_records.export_case(uows(), admin_id, case_id, clock().now())
        except DomainError:
            # Erased since the link was made: as if the link never existed.
            raise web.HTTPNotFound() from None
        filename = f"{export.case.case_number}.{kind}"
        if kind == "json":
            body = json.dumps(export_json(export), ensure_ascii=False, indent=2)
            return web.Response(
                text=body,
                content_type="application/json",
                charset="utf-8",
                headers={**_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return web.Response(
            text=render_html(export, texts_for(language)),
            content_type="text/html",
            charset="utf-8",
            headers={**_HEADERS, "Content-Disposition": f'inline; filename="{filename}"'},
        )

    add_download(app, signer, lambda: clock().now(), PURPOSE, download)
