"""The retention rules as the domain states them: periods in calendar months in Helsinki,
what a policy may say, what anonymisation keeps, and the job's schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from consultations.case_records import normal_case_number
from consultations.consultation import Barrier, Consent, RequestDetails, Service, Urgency
from consultations.errors import DomainError
from consultations.model import Profession, TeamSettings
from consultations.records import (
    RetentionPolicy,
    anonymised_details,
    anonymised_plan,
    months_before,
)
from scheduler.runner import build_scheduler

HELSINKI = ZoneInfo("Europe/Helsinki")


def test_a_period_counts_calendar_months_in_helsinki() -> None:
    end_of_march = datetime(2027, 3, 31, 2, 30, tzinfo=HELSINKI)
    assert months_before(end_of_march, 1) == datetime(2027, 2, 28, 2, 30, tzinfo=HELSINKI)
    assert months_before(end_of_march, 13) == datetime(2026, 2, 28, 2, 30, tzinfo=HELSINKI)
    leap = datetime(2028, 3, 31, 12, tzinfo=HELSINKI)
    assert months_before(leap, 1).date().isoformat() == "2028-02-29"
    # Midnight in Helsinki is still the previous day in UTC: the local date counts.
    new_year = datetime(2027, 1, 1, 0, 30, tzinfo=HELSINKI).astimezone(UTC)
    assert months_before(new_year, 24).astimezone(HELSINKI).date().isoformat() == "2025-01-01"


@pytest.mark.parametrize(
    ("months", "years", "code"),
    [
        (0, 5, "error.retention_case_months"),
        (121, 12, "error.retention_case_months"),
        (24, 0, "error.retention_audit_years"),
        (24, 13, "error.retention_audit_years"),
        (36, 2, "error.retention_audit_shorter"),
    ],
)
def test_a_policy_out_of_range_is_refused_with_the_reason(
    months: int, years: int, code: str
) -> None:
    with pytest.raises(DomainError) as refused:
        RetentionPolicy(months, years).validate()
    assert refused.value.code == code


def test_a_team_s_own_period_counts_only_when_shorter() -> None:
    county = RetentionPolicy(case_months=24)
    assert county.months_for(None) == 24
    assert county.months_for(6) == 6
    assert county.months_for(36) == 24
    settings = TeamSettings(retention_months=6)
    assert TeamSettings.from_json(settings.to_json()) == settings
    assert TeamSettings.from_json({"show_tallies": False}).retention_months is None


def test_anonymisation_keeps_what_reports_count_and_nothing_the_client_told() -> None:
    details = RequestDetails(
        team_id=3,
        client_reference="MK-1980",
        consent=Consent.OBTAINED,
        consent_date=datetime(2026, 11, 20, tzinfo=UTC).date(),
        question="Miten Matti jaksaa?",
        situation="Pitkä sairausloma",
        history="Kuntoutus 2024",
        work_capacity="Puolet",
        self_rating=4,
        strengths="Sinnikäs",
        goals="Osa-aikatyö",
        services=frozenset({Service.KELA}),
        barriers=frozenset({Barrier.PAIN}),
        professions=frozenset({Profession.PHYSICIAN}),
        client_attends=True,
        urgency=Urgency.URGENT,
        urgent_timeframe="Kuukausi",
    )
    wiped = RequestDetails.from_json(anonymised_details(details.to_json()))
    assert wiped == RequestDetails(
        team_id=3,
        consent=Consent.OBTAINED,
        services=frozenset({Service.KELA}),
        barriers=frozenset({Barrier.PAIN}),
        professions=frozenset({Profession.PHYSICIAN}),
        client_attends=True,
        urgency=Urgency.URGENT,
    )
    plan = [{"text": "Lähete", "owner": "party:kela", "due": "2026-12-03", "recommendation_id": 7}]
    assert anonymised_plan(plan) == [
        {"text": "", "owner": "party:kela", "due": "2026-12-03", "recommendation_id": 7}
    ]


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("TK-2026-0042", "TK-2026-0042"),
        (" tk-2026-42 ", "TK-2026-0042"),
        ("TK 2026-42", "TK-2026-0042"),
        ("TK-2026-12345", "TK-2026-12345"),
        ("2026-0042", None),
        ("TK-26-42", None),
        ("", None),
        (42, None),
        ("TK-2026-0042; DROP TABLE", None),
    ],
)
def test_a_case_number_is_read_as_people_type_it(typed: object, number: str | None) -> None:
    assert normal_case_number(typed) == number


async def test_the_retention_job_runs_every_night_at_half_past_two_in_helsinki() -> None:
    async def nothing() -> None:
        return None

    scheduler = build_scheduler(
        dispatch=nothing,
        weekly_digest=nothing,
        dispatch_interval_seconds=60,
        retention=nothing,
    )
    job = scheduler.get_job("retention")
    assert job is not None and isinstance(job.trigger, CronTrigger)
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"], fields["day_of_week"]) == ("2", "30", "*")
    assert str(job.trigger.timezone) == "Europe/Helsinki"
    assert job.max_instances == 1
