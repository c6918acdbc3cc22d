"""The requester's feedback on a consultation (SPEC §2.5): once per round, 1–5 and a
comment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consultations.casework import (
    audit_case,
    feedback_subject,
    latest_published,
    sent_case,
)
from consultations.consultation import (
    Consultation,
)
from consultations.errors import DomainError
from consultations.ports import UnitOfWork
from consultations.summary import (
    Feedback,
)

# --- feedback ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackView:
    case: Consultation
    given: Feedback | None


async def view_feedback(uow: UnitOfWork, actor_id: int, case_id: int) -> FeedbackView:
    async with uow:
        case = await sent_case(uow, case_id)
        if case.requester_id != actor_id:
            raise DomainError("error.not_requester")
        given = await uow.followup.feedback(case_id)
        return FeedbackView(case, given[-1] if given else None)


async def give_feedback(
    uow: UnitOfWork, actor_id: int, case_id: int, rating: int, comment: str, now: datetime
) -> FeedbackView:
    """The requester tells how useful the consultation was: once per round."""
    async with uow:
        case = await sent_case(uow, case_id)
        if case.requester_id != actor_id:
            raise DomainError("error.not_requester")
        latest = await latest_published(uow, case_id)
        if latest is None:
            raise DomainError("error.summary_not_published")
        feedback = Feedback(case_id, rating, comment, now)
        if not await uow.followup.add_feedback(feedback, latest.round):
            raise DomainError("error.feedback_given")
        await uow.outbox.cancel_subject(feedback_subject(case_id))
        await audit_case(uow, actor_id, "feedback.given", case, now, rating=rating)
        await uow.commit()
        return FeedbackView(case, feedback)
