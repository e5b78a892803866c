"""The Google Calendar provider, against the local stand-in (tests/standins/google.py)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calmesh.engine.ical import EventDraft
from calmesh.providers.base import AuthError, ProviderError, ReadOnlyError, RemoteCalendarInfo
from calmesh.providers.google import GoogleProvider
from calmesh.providers.net import BlockedAddress

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))


def at(day: int, hour: int, month: int = 7) -> datetime:
    """A wall time in Berlin in 2027 (summer: UTC+2 in July)."""
    return datetime(2027, month, day, hour, tzinfo=BERLIN)


@pytest.fixture
def google(google_standin):
    return google_standin


@pytest.fixture
def provider(google) -> GoogleProvider:
    return GoogleProvider(google.connection_info())


@pytest.fixture
def primary(provider) -> RemoteCalendarInfo:
    return next(c for c in provider.list_calendars() if c.writable)


def by_summary(changes) -> dict:
    return {o.occurrences[0].summary: o for o in changes.changed}


def draft(uid: str = "booking-1@calmesh", **kw) -> EventDraft:
    fields = {
        "uid": uid,
        "summary": "Intro call",
        "start": datetime(2027, 7, 5, 8, tzinfo=UTC),
        "end": datetime(2027, 7, 5, 8, 30, tzinfo=UTC),
        "description": "Booked on CalMesh",
        "location": "Zoom",
        "timezone": "Europe/Berlin",
    }
    return EventDraft(**(fields | kw))


# --- calendars ---------------------------------------------------------------------------------


def test_list_calendars_follows_pages_and_reads_role_colour_and_zone(google, provider):
    for n in range(4):
        google.add_calendar(f"team{n}@group.calendar.google.com", f"Team {n}", access_role="writer")
    calendars = provider.list_calendars()
    assert len(calendars) == 6
    assert len(google.api_seen()) == 2  # page size 3
    first = calendars[0]
    assert (first.remote_id, first.name, first.color, first.timezone) == (
        "alice@example.org",
        "Alice",
        "#9fe1e7",
        "Europe/Berlin",
    )
    writable = {c.remote_id: c.writable for c in calendars}
    assert writable["alice@example.org"] is True
    assert writable["team0@group.calendar.google.com"] is True
    assert writable["en.german#holiday@group.v.calendar.google.com"] is False


# --- full and incremental sync --------------------------------------------------------------------


def test_full_sync_reads_every_page_and_ends_with_a_sync_token(google, provider, primary):
    for n in range(7):
        google.add_event(google.primary, f"Meeting {n}", at(n + 1, 9), at(n + 1, 10))
    changes = provider.changes(primary, None, WINDOW)
    assert changes.full is True
    assert len(changes.changed) == 7
    assert changes.deleted == []
    assert changes.token
    listing = [s for s in google.api_seen() if s.path.endswith("/events")]
    assert len(listing) == 3 == changes.requests
    first = listing[0]
    assert first.arg("singleEvents") == "true"
    assert first.arg("showDeleted") == "true"
    assert first.arg("maxResults") == "250"
    assert first.arg("timeMin") == "2027-01-01T00:00:00Z"
    assert first.arg("timeMax") is None
    assert [s.arg("pageToken") is not None for s in listing] == [False, True, True]


def test_full_sync_asks_only_for_events_ending_after_the_window_start(google, provider, primary):
    last_year = datetime(2026, 12, 30, 9, tzinfo=UTC)
    google.add_event(google.primary, "Last year", last_year, last_year + timedelta(hours=1))
    google.add_event(google.primary, "This year", at(1, 9), at(1, 10))
    assert set(by_summary(provider.changes(primary, None, WINDOW))) == {"This year"}


def test_an_incremental_sync_sends_only_the_sync_token_and_reads_the_new_end(
    google, provider, primary
):
    # What it reports is the contract's (test_contract.py); this is Google's request.
    edited = google.add_event(google.primary, "Edited", at(2, 9), at(2, 10))
    token = provider.changes(primary, None, WINDOW).token
    google.change_event(google.primary, edited, summary="Edited later", end=at(2, 11))

    changes = provider.changes(primary, token, WINDOW)

    assert by_summary(changes)["Edited later"].occurrences[0].end == datetime(
        2027, 7, 2, 9, tzinfo=UTC
    )
    assert changes.token and changes.token != token
    incremental = [s for s in google.api_seen() if s.arg("syncToken")]
    assert len(incremental) == 1
    assert set(incremental[0].query) == {"syncToken", "singleEvents", "showDeleted", "maxResults"}


def test_an_incremental_sync_with_nothing_new_is_one_request(google, provider, primary):
    google.add_event(google.primary, "Standup", at(1, 9), at(1, 10))
    token = provider.changes(primary, None, WINDOW).token
    assert provider.changes(primary, token, WINDOW).requests == 1


def test_incremental_sync_pages_too(google, provider, primary):
    token = provider.changes(primary, None, WINDOW).token
    for n in range(5):
        google.add_event(google.primary, f"New {n}", at(n + 1, 9), at(n + 1, 10))
    changes = provider.changes(primary, token, WINDOW)
    assert len(changes.changed) == 5
    assert changes.requests == 2


def test_an_expired_sync_token_costs_the_410_and_a_full_paged_sync(google, provider, primary):
    for n in range(4):
        google.add_event(google.primary, f"Meeting {n}", at(n + 1, 9), at(n + 1, 10))
    token = provider.changes(primary, None, WINDOW).token
    google.expire_sync_tokens()
    changes = provider.changes(primary, token, WINDOW)
    assert (changes.full, len(changes.changed)) == (True, 4)
    assert changes.requests == 3  # the 410 and two pages


# --- what the events mean ---------------------------------------------------------------------------


def test_a_timed_event_becomes_one_utc_occurrence(google, provider, primary):
    event_id = google.add_event(
        google.primary,
        "Dentist",
        at(14, 9),
        at(14, 10),
        uid="dentist-42@example.org",
        description="Bring the card",
        location="Main St 1",
    )
    [remote] = provider.changes(primary, None, WINDOW).changed
    assert remote.href == event_id
    assert remote.etag == google.live_events(google.primary)[event_id]["etag"]
    [occurrence] = remote.occurrences
    assert occurrence.uid == "dentist-42@example.org"
    assert occurrence.start == datetime(2027, 7, 14, 7, tzinfo=UTC)  # 09:00 CEST
    assert occurrence.end == datetime(2027, 7, 14, 8, tzinfo=UTC)
    assert occurrence.start.tzinfo is UTC
    assert (occurrence.all_day, occurrence.busy, occurrence.status) == (False, True, "confirmed")
    assert (occurrence.summary, occurrence.description, occurrence.location) == (
        "Dentist",
        "Bring the card",
        "Main St 1",
    )
    assert (occurrence.recurrence_id, occurrence.recurring) == (None, False)


def test_a_winter_event_is_placed_with_the_winter_offset(google, provider, primary):
    google.add_event(google.primary, "Winter", at(14, 9, month=1), at(14, 10, month=1))
    [remote] = provider.changes(primary, None, WINDOW).changed
    assert remote.occurrences[0].start == datetime(2027, 1, 14, 8, tzinfo=UTC)  # CET


def test_an_all_day_event_keeps_its_dates(google, provider, primary):
    google.add_event(google.primary, "Holiday", date(2027, 7, 14), date(2027, 7, 16))
    [occurrence] = provider.changes(primary, None, WINDOW).changed[0].occurrences
    assert occurrence.all_day is True
    assert (occurrence.start_date, occurrence.end_date) == (date(2027, 7, 14), date(2027, 7, 16))
    assert occurrence.start == datetime(2027, 7, 14, tzinfo=UTC)
    assert occurrence.end == datetime(2027, 7, 16, tzinfo=UTC)


def test_transparent_is_free_and_tentative_is_tentative(google, provider, primary):
    google.add_event(google.primary, "Free", at(1, 9), at(1, 10), transparent=True)
    google.add_event(google.primary, "Maybe", at(2, 9), at(2, 10), tentative=True)
    events = by_summary(provider.changes(primary, None, WINDOW))
    free, maybe = events["Free"].occurrences[0], events["Maybe"].occurrences[0]
    assert (free.busy, free.status) == (False, "confirmed")
    assert (maybe.busy, maybe.status) == (True, "tentative")


def test_instances_of_a_series_carry_the_uid_and_their_original_start(google, provider, primary):
    ids = google.add_series(google.primary, "Standup", at(5, 9), at(5, 9) + timedelta(minutes=15))
    changes = provider.changes(primary, None, WINDOW)
    assert sorted(o.href for o in changes.changed) == sorted(ids)
    occurrences = sorted((o.occurrences[0] for o in changes.changed), key=lambda o: o.start)
    assert len({o.uid for o in occurrences}) == 1
    assert [o.recurrence_id for o in occurrences] == [
        "2027-07-05T07:00:00Z",
        "2027-07-06T07:00:00Z",
        "2027-07-07T07:00:00Z",
    ]
    assert all(o.recurring for o in occurrences)


def test_a_moved_instance_keeps_its_original_start_as_recurrence_id(google, provider, primary):
    ids = google.add_series(google.primary, "Standup", at(5, 9), at(5, 10))
    token = provider.changes(primary, None, WINDOW).token
    google.change_event(google.primary, ids[1], start=at(6, 14), end=at(6, 15))
    [moved] = provider.changes(primary, token, WINDOW).changed
    assert moved.occurrences[0].start == datetime(2027, 7, 6, 12, tzinfo=UTC)
    assert moved.occurrences[0].recurrence_id == "2027-07-06T07:00:00Z"


def test_an_all_day_series_is_keyed_by_its_days(google, provider, primary):
    google.add_series(google.primary, "Offsite", date(2027, 7, 5), date(2027, 7, 6), count=2)
    changes = provider.changes(primary, None, WINDOW)
    keys = sorted(o.occurrences[0].recurrence_id for o in changes.changed)
    assert keys == ["2027-07-05", "2027-07-06"]


def test_a_cancelled_instance_of_a_series_is_reported_deleted(google, provider, primary):
    ids = google.add_series(google.primary, "Standup", at(5, 9), at(5, 10))
    token = provider.changes(primary, None, WINDOW).token
    google.delete_event(google.primary, ids[2])
    changes = provider.changes(primary, token, WINDOW)
    assert (changes.changed, changes.deleted) == ([], [ids[2]])


def test_a_cancelled_event_in_a_full_sync_is_reported_deleted(google, provider, primary):
    gone = google.add_event(google.primary, "Gone", at(1, 9), at(1, 10))
    google.delete_event(google.primary, gone)
    changes = provider.changes(primary, None, WINDOW)
    assert (changes.changed, changes.deleted) == ([], [gone])


# --- writing -------------------------------------------------------------------------------------------


def test_create_update_and_delete_are_visible_at_google(google, provider):
    href = provider.create_event("alice@example.org", draft())
    stored = google.live_events(google.primary)[href]
    assert stored["iCalUID"] == "booking-1@calmesh"
    assert stored["summary"] == "Intro call"
    assert stored["start"] == {"dateTime": "2027-07-05T10:00:00+02:00", "timeZone": "Europe/Berlin"}
    assert (stored["description"], stored["location"]) == ("Booked on CalMesh", "Zoom")
    assert google.api_seen()[-1].arg("sendUpdates") == "none"

    assert provider.update_event("alice@example.org", href, draft(summary="Moved")) == href
    assert google.live_events(google.primary)[href]["summary"] == "Moved"
    assert google.api_seen()[-1].method == "PUT"

    provider.delete_event("alice@example.org", href)
    assert href not in google.live_events(google.primary)


def test_an_all_day_draft_is_written_as_dates(google, provider):
    href = provider.create_event(
        "alice@example.org", draft(start=date(2027, 7, 5), end=date(2027, 7, 6))
    )
    stored = google.live_events(google.primary)[href]
    assert (stored["start"], stored["end"]) == ({"date": "2027-07-05"}, {"date": "2027-07-06"})


def test_creating_twice_with_the_same_uid_stores_one_event_at_google(google, provider):
    provider.create_event("alice@example.org", draft())
    provider.create_event("alice@example.org", draft())
    assert len(google.live_events(google.primary)) == 1


def test_creating_again_after_a_delete_restores_the_event(google, provider):
    first = provider.create_event("alice@example.org", draft())
    provider.delete_event("alice@example.org", first)
    assert provider.create_event("alice@example.org", draft()) == first
    assert first in google.live_events(google.primary)


def test_writing_to_a_read_only_calendar_is_a_read_only_error(google, provider):
    with pytest.raises(ReadOnlyError):
        provider.create_event(google.holidays, draft())


# --- tokens -----------------------------------------------------------------------------------------------


def test_a_token_about_to_expire_is_refreshed_and_saved_before_syncing(google, primary):
    saved = []
    old = google.grant(expires_in=20)
    provider = GoogleProvider(google.connection_info(credentials=old, on_credentials=saved.append))
    provider.changes(primary, None, WINDOW)
    assert len(saved) == 1
    assert saved[0]["access_token"] != old["access_token"]
    assert saved[0]["refresh_token"] == old["refresh_token"]
    # Later calls of the same provider use the saved token and do not refresh again.
    provider.list_calendars()
    assert len(saved) == 1


def test_revoked_access_is_a_permanent_auth_error(google, provider, primary):
    google.revoke()
    with pytest.raises(AuthError) as caught:
        provider.changes(primary, None, WINDOW)
    assert caught.value.permanent


# --- failures -----------------------------------------------------------------------------------------------


def test_a_server_error_is_retryable(google, provider, primary):
    google.fail_with = 500
    with pytest.raises(ProviderError, match="500") as caught:
        provider.changes(primary, None, WINDOW)
    assert not caught.value.permanent


def test_a_rate_limit_403_is_retryable(google, provider, primary):
    google.fail_with, google.fail_reason = 403, "rateLimitExceeded"
    with pytest.raises(ProviderError, match="rate") as caught:
        provider.changes(primary, None, WINDOW)
    assert not caught.value.permanent


def test_a_hanging_server_times_out_quickly(google, primary):
    provider = GoogleProvider(google.connection_info(timeout=1))
    google.hang = 10
    started = time.monotonic()
    with pytest.raises(ProviderError, match="no answer in time") as caught:
        provider.changes(primary, None, WINDOW)
    # Well before the server would have answered: a ratio, not this machine's speed.
    assert time.monotonic() - started < google.hang / 2
    assert not caught.value.permanent


def test_an_answer_that_is_not_json_is_a_provider_error(google, provider, primary):
    google.malformed = True
    with pytest.raises(ProviderError, match="JSON"):
        provider.changes(primary, None, WINDOW)


def test_loopback_is_refused_without_allow_private(google):
    provider = GoogleProvider(google.connection_info(allow_private=False))
    calendar = RemoteCalendarInfo(google.primary, "Alice")
    with pytest.raises(BlockedAddress) as caught:
        provider.changes(calendar, None, WINDOW)
    assert caught.value.permanent
    assert google.seen == []
