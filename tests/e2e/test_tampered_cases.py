"""Random card payloads against a real case: never a 500, and a stranger changes nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e.test_bad_input import FUZZ, Served, served
from tests.support import activities as a

__all__ = ["served"]  # the module-scoped app, shared with the bad-input fuzzing

COORDINATOR, REQUESTER, STRANGER = a.user(1), a.user(2), a.user(3)
VERBS = [
    "request.new",
    "request.resume",
    "request.next",
    "request.back",
    "request.save",
    "request.cancel",
    "request.discard",
    "request.submit",
    "request.my",
    "request.drafts",
    "request.withdraw",
    "request.withdraw.confirm",
    "request.answer",
    "triage.open",
    "triage.accept",
    "triage.ask",
    "triage.decline",
    "role.claim",
    "role.grant",
    "role.revoke",
    "profile.save",
    "deliveries.open",
    "summary.open",
    "summary.save",
    "summary.add_rec",
    "summary.remove_rec",
    "summary.preview",
    "summary.edit",
    "summary.publish",
    "summary.amend",
    "summary.view",
    "rec.open",
    "rec.update",
    "cases.open",
    "case.review",
    "case.close",
    "case.bring_back",
    "handover.propose",
    "handover.open",
    "handover.accept",
    "handover.decline",
    "feedback.open",
    "feedback.give",
    "no.such.verb",
]


def _invoke(
    served: Served, sender: dict[str, Any], verb: str, data: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    status, body = served.post(
        json.dumps(a.execute(served.service_url, sender, verb, data)).encode()
    )
    return status, json.loads(body) if body else {}


def _card_action(served: Served, sender: dict[str, Any], verb: str, **data: Any) -> dict[str, Any]:
    status, body = _invoke(served, sender, verb, data)
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive", body
    return body["value"]  # type: ignore[no-any-return]


def _snapshot(database: str) -> tuple[Any, ...]:
    with sqlite3.connect(database) as connection:
        cases = connection.execute(
            "SELECT id, status, details, version, pending_question FROM consultations ORDER BY id"
        ).fetchall()
        messages = connection.execute("SELECT count(*) FROM outbox").fetchone()
        roles = connection.execute("SELECT * FROM role_grants ORDER BY 1, 2, 3").fetchall()
        follow_up = [
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()
            for table in ("meeting_summaries", "recommendations", "handovers", "feedback")
        ]
    return cases, messages, roles, follow_up


@pytest.fixture(scope="module")
def submitted_case(served: Served) -> Iterator[tuple[int, str]]:
    """A submitted request of REQUESTER in a team coordinated by COORDINATOR."""
    status, _ = served.post(
        json.dumps(
            a.team_installed(served.service_url, COORDINATOR, team_id="19:fuzz@thread.tacv2")
        ).encode()
    )
    assert status < 300
    # The loopback connector has no roster here: members join by writing to the bot.
    for user in (COORDINATOR, REQUESTER, STRANGER):
        served.post(json.dumps(a.text(served.service_url, user, "apua")).encode())
    _card_action(served, COORDINATOR, "role.claim", team_id=1)
    _card_action(served, REQUESTER, "request.new")
    fields = {
        "team_id": "1",
        "client_reference": "ZZ-1970",
        "consent": "typ_exception",
        "urgency": "normal",
        "question": "Mikä auttaisi?",
    }
    # Nothing is stored until the first page is saved with something in it.
    page = _card_action(served, REQUESTER, "request.next", page="basics", **fields)
    case_id = next(
        action["data"]["case_id"]
        for action in page["actions"]
        if action.get("type") == "Action.Execute" and "case_id" in action["data"]
    )
    for page_name in ("question", "capacity", "services", "meeting"):
        _card_action(served, REQUESTER, "request.next", case_id=case_id, page=page_name, **fields)
    done = _card_action(served, REQUESTER, "request.submit", case_id=case_id)
    assert "TK-" in json.dumps(done, ensure_ascii=False)
    yield int(case_id), served.database


case_ids = st.one_of(
    st.just("CASE"),
    st.integers(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=300),
    st.lists(st.text(max_size=5), max_size=3),
)


@FUZZ
@given(
    verb=st.sampled_from(VERBS),
    case_id=case_ids,
    extra=st.dictionaries(
        st.sampled_from(
            [
                "page",
                "question",
                "answer",
                "reason",
                "route",
                "team_id",
                "user_id",
                "role",
                "consent",
                "profession",
                "services",
                "summary_id",
                "recommendation_id",
                "handover_id",
                "action",
                "outcome",
                "rating",
                "successor",
                "note",
                "findings",
                "attendees",
                "index",
                "rec_owner",
                "rec_due",
                "new_due",
            ]
        ),
        values,
        max_size=5,
    ),
)
def test_a_stranger_with_random_card_data_gets_no_500_and_changes_no_case(
    served: Served, submitted_case: tuple[int, str], verb: str, case_id: Any, extra: dict[str, Any]
) -> None:
    real_id, database = submitted_case
    before = _snapshot(database)
    data = {**extra, "case_id": real_id if case_id == "CASE" else case_id}
    status, _body = _invoke(served, STRANGER, verb, data)
    assert status < 500
    after = _snapshot(database)
    # A stranger may start drafts of their own; the requester's case and the roles stay.
    assert [row for row in after[0] if row[0] == real_id] == [
        row for row in before[0] if row[0] == real_id
    ]
    assert after[2] == before[2]
    # No summary, recommendation, hand-over or feedback comes out of a stranger's click.
    assert after[3] == before[3]
