"""calmesh.api.serializers: the answers for users, API keys and time ranges, in the
shapes their declarations give the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from calmesh.api.serializers import (
    API_KEY_OUT,
    NEW_API_KEY_OUT,
    TIME_RANGE_FIELDS,
    USER_OUT,
    api_key_out,
    iso,
    time_range_out,
    user_out,
)
from calmesh.db import utcnow
from calmesh.models import ApiKey

START = datetime(2030, 3, 31, 0, 30, tzinfo=UTC)  # the night Europe/Berlin moves to summer time


@dataclass
class Span:
    start: datetime
    end: datetime


def test_a_time_range_is_in_utc_and_in_the_asked_zone():
    out = time_range_out(Span(START, START + timedelta(hours=1)), ZoneInfo("Europe/Berlin"))

    assert list(out) == list(TIME_RANGE_FIELDS)
    assert (out["start"], out["end"]) == ("2030-03-31T00:30:00Z", "2030-03-31T01:30:00Z")
    # Across the change: the same hour, written in the offset of each end.
    assert out["start_local"] == "2030-03-31T01:30:00+01:00"
    assert out["end_local"] == "2030-03-31T03:30:00+02:00"


def test_a_time_range_reads_the_same_from_utc_and_from_another_zone_in_a_fold():
    # 00:30 and 01:30 UTC both read 02:30 in Berlin on the night clocks go back.
    first, second = (
        datetime(2030, 10, 27, 0, 30, tzinfo=UTC),
        datetime(2030, 10, 27, 1, 30, tzinfo=UTC),
    )
    berlin = ZoneInfo("Europe/Berlin")
    for _ in range(2):  # the second time from the worker's written instants
        utc_out = time_range_out(Span(first, second), berlin)
        local_out = time_range_out(
            Span(first.astimezone(berlin), second.astimezone(berlin)), berlin
        )
        assert utc_out["start_local"] == "2030-10-27T02:30:00+02:00"
        assert utc_out["end_local"] == "2030-10-27T02:30:00+01:00"
        assert (local_out["start_local"], local_out["end_local"]) == (
            utc_out["start_local"],
            utc_out["end_local"],
        )
        assert utc_out["start"] == "2030-10-27T00:30:00Z"


def test_utc_instants_are_written_with_z_and_none_stays_none():
    berlin = datetime(2030, 1, 1, 10, tzinfo=ZoneInfo("Europe/Berlin"))

    assert iso(START) == "2030-03-31T00:30:00Z"
    assert iso(berlin) == "2030-01-01T10:00:00+01:00"  # rows are read in UTC: this is rare
    assert iso(None) is None


def test_a_user_is_answered_without_secrets_in_the_declared_shape(alice):
    out = user_out(alice)

    assert list(out) == list(USER_OUT.fields)
    assert out["handle"] == "alice" and out["email"] == "alice@example.org"
    assert "password_hash" not in out and "password" not in str(out)
    assert USER_OUT.parse(out)["created_at"] == alice.created_at


def test_an_api_key_is_answered_with_its_status_and_never_its_hash(alice):
    now = utcnow()
    row = ApiKey.create(
        user=alice,
        name="agent",
        scope="book",
        prefix="cm_live_Ab",
        key_hash="h" * 64,
        expires_at=now - timedelta(minutes=1),
    )

    out = api_key_out(row)

    assert list(out) == list(API_KEY_OUT.fields)
    assert (out["status"], out["scope"], out["prefix"]) == ("expired", "book", "cm_live_Ab")
    assert out["last_used_at"] is None and out["revoked_at"] is None
    assert out["expires_at"].endswith("Z") and "h" * 64 not in str(out)
    API_KEY_OUT.parse(out)  # the answer passes its own declaration


def test_a_new_key_is_the_key_answer_plus_the_key_itself():
    assert list(NEW_API_KEY_OUT.fields) == [*API_KEY_OUT.fields, "key"]
    assert NEW_API_KEY_OUT.name == "NewApiKey"
