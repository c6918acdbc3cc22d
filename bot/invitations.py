"""A meeting's `.ics` invitation, served through a signed link that expires a week after
the meeting (SPEC §2.3, §5): it carries the case number, the time and the place, never a
client detail, and nobody can read it from a guessed or old address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web

from bot.i18n import texts_for
from bot.ics import meeting_ics, meeting_uid
from bot.links import LinkSigner
from consultations.poll import PollState
from consultations.ports import Clock, UnitOfWork

PURPOSE = "ics"
# Long enough to add the meeting to a calendar after it was moved, short enough that an
# old invitation does not stay readable.
MARGIN = timedelta(days=7)


def expires(meeting_end: datetime | None, now: datetime) -> datetime:
    return max(meeting_end or now, now) + MARGIN


def ics_url(
    links: LinkSigner, poll_id: int, user_id: int, until: datetime, case_number: str
) -> str:
    return links.url(PURPOSE, f"{poll_id}:{user_id}", until, f"{case_number or 'kokous'}.ics")


def download(
    uow_factory: Callable[[], UnitOfWork], clock: Clock
) -> Callable[[str, web.Request], Awaitable[web.StreamResponse]]:
    async def serve(subject: str, request: web.Request) -> web.StreamResponse:
        poll_text, _, _user = subject.partition(":")
        if not poll_text.isdigit():
            raise web.HTTPNotFound()
        poll_id = int(poll_text)
        async with uow_factory() as uow:
            poll = await uow.polls.get(poll_id)
            case = await uow.consultations.get(poll.consultation_id) if poll else None
        slot = poll.chosen_slot if poll else None
        if poll is None or case is None or slot is None:
            raise web.HTTPNotFound()
        texts = texts_for(None)
        body = meeting_ics(
            uid=meeting_uid(case.id or 0, poll_id),
            sequence=poll.sequence,
            start=slot.start,
            minutes=slot.minutes,
            summary=texts("ics.summary", case_number=case.case_number or ""),
            description=texts("ics.description", case_number=case.case_number or ""),
            location=poll.place,
            organizer_name=texts("ics.organizer"),
            attendees=[i.name for i in poll.invitees],
            method="CANCEL" if poll.state is PollState.CANCELLED else "REQUEST",
            now=clock.now(),
        )
        return web.Response(
            body=body,
            content_type="text/calendar",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{case.case_number}.ics"'},
        )

    return serve
