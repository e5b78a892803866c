"""The Microsoft Graph provider, against the local stand-in (tests/standins/microsoft.py)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calmesh.engine.ical import EventDraft
from calmesh.providers.base import AuthError, ProviderError, ReadOnlyError, RemoteCalendarInfo
from calmesh.providers.microsoft import MicrosoftProvider
from calmesh.providers.net import BlockedAddress

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))


def at(day: int, hour: int, month: int = 7) -> datetime:
    """A wall time in Berlin in 2027 (summer: UTC+2 in July)."""
    return datetime(2027, month, day, hour, tzinfo=BERLIN)


@pytest.fixture
def graph(microsoft_standin):
    return microsoft_standin


@pytest.fixture
def provider(graph) -> MicrosoftProvider:
    return MicrosoftProvider(graph.connection_info())


@pytest.fixture
def calendar(graph) -> RemoteCalendarInfo:
    return RemoteCalendarInfo(graph.primary, "Calendar")


def by_subject(changes) -> dict:
    return {o.occurrences[0].summary: o for o in changes.changed}


def only(changes):
    [remote] = changes.changed
    [occurrence] = remote.occurrences
    return occurrence


def preferences(seen) -> set[str]:
    """The Prefer header's parts (WSGI joins repeated headers with commas)."""
    return {part.strip() for header in seen.headers["prefer"] for part in header.split(",")}


def draft(uid: str = "booking-1@calmesh", **kw) -> EventDraft:
    fields = {
        "uid": uid,
        "summary": "Intro call",
        "start": datetime(2027, 7, 5, 10, tzinfo=BERLIN),
        "end": datetime(2027, 7, 5, 10, 30, tzinfo=BERLIN),
        "description": "Booked on CalMesh",
        "location": "Teams",
    }
    return EventDraft(**(fields | kw))


# --- calendars ---------------------------------------------------------------------------------


def test_list_calendars_follows_next_links_and_reads_edit_rights_and_colour(graph, provider):
    for n in range(3):
        graph.add_calendar(f"Team {n}", hex_color=f"#00000{n}")
    calendars = provider.list_calendars()
    assert [c.name for c in calendars] == ["Calendar", "Birthdays", "Team 0", "Team 1", "Team 2"]
    assert len(graph.api_seen()) == 2  # page size 3
    assert [c.writable for c in calendars] == [True, False, True, True, True]
    assert calendars[0].remote_id == graph.primary
    assert calendars[0].color == "#a4bdfc"
    assert calendars[4].color == "#000002"


# --- delta sync ---------------------------------------------------------------------------------------


def test_full_sync_follows_next_links_to_the_delta_link(graph, provider, calendar):
    for n in range(7):
        graph.add_event(graph.primary, f"Meeting {n}", at(n + 1, 9), at(n + 1, 10))
    changes = provider.changes(calendar, None, WINDOW)
    assert changes.full is True
    assert len(changes.changed) == 7
    assert changes.deleted == []
    assert "$deltatoken=" in changes.token
    assert changes.token.startswith(graph.url + "/v1.0/me/calendars/")
    seen = graph.api_seen()
    assert len(seen) == 3 == changes.requests
    first = seen[0]
    assert first.path == f"/v1.0/me/calendars/{graph.primary}/calendarView/delta"
    assert first.arg("startDateTime") == "2027-01-01T00:00:00Z"
    assert first.arg("endDateTime") == "2028-01-01T00:00:00Z"
    assert preferences(first) == {"odata.maxpagesize=200", 'outlook.timezone="UTC"'}
    assert all("$skiptoken" in s.query for s in seen[1:])


def test_full_sync_reads_only_the_window(graph, provider, calendar):
    last_year = datetime(2026, 12, 30, 9, tzinfo=UTC)
    graph.add_event(graph.primary, "Before", last_year, last_year + timedelta(hours=1))
    graph.add_event(graph.primary, "Inside", at(1, 9), at(1, 10))
    assert set(by_subject(provider.changes(calendar, None, WINDOW))) == {"Inside"}


def test_an_incremental_sync_follows_the_stored_delta_link_as_it_was(graph, provider, calendar):
    # What it reports is the contract's (test_contract.py); this is Graph's request.
    edited = graph.add_event(graph.primary, "Edited", at(2, 9), at(2, 10))
    token = provider.changes(calendar, None, WINDOW).token
    graph.change_event(graph.primary, edited, subject="Edited later", end=at(2, 11))

    changes = provider.changes(calendar, token, WINDOW)

    assert by_subject(changes)["Edited later"].occurrences[0].end == datetime(
        2027, 7, 2, 9, tzinfo=UTC
    )
    assert changes.token != token
    followed = graph.api_seen()[-1]
    assert set(followed.query) == {"$deltatoken"}  # the stored link as it was
    assert preferences(followed) == {"odata.maxpagesize=200", 'outlook.timezone="UTC"'}


def test_an_incremental_sync_with_nothing_new_is_one_request(graph, provider, calendar):
    graph.add_event(graph.primary, "Standup", at(1, 9), at(1, 10))
    token = provider.changes(calendar, None, WINDOW).token
    assert provider.changes(calendar, token, WINDOW).requests == 1


def test_an_event_moved_out_of_the_window_is_reported_removed(graph, provider, calendar):
    moving = graph.add_event(graph.primary, "Moving", at(1, 9), at(1, 10))
    token = provider.changes(calendar, None, WINDOW).token
    later = datetime(2028, 3, 1, 9, tzinfo=UTC)
    graph.change_event(graph.primary, moving, start=later, end=later + timedelta(hours=1))
    assert provider.changes(calendar, token, WINDOW).deleted == [moving]


def test_an_expired_delta_link_costs_the_410_and_a_full_paged_sync(graph, provider, calendar):
    for n in range(4):
        graph.add_event(graph.primary, f"Meeting {n}", at(n + 1, 9), at(n + 1, 10))
    token = provider.changes(calendar, None, WINDOW).token
    graph.expire_delta_links()
    changes = provider.changes(calendar, token, WINDOW)
    assert (changes.full, len(changes.changed)) == (True, 4)
    assert changes.requests == 3  # the 410 and two pages


def test_a_stored_delta_link_to_another_host_is_not_followed_but_replaced(
    graph, provider, calendar
):
    graph.add_event(graph.primary, "Standup", at(1, 9), at(1, 10))
    token = provider.changes(calendar, None, WINDOW).token
    elsewhere = token.replace(graph.url, "http://127.0.0.2:9")
    changes = provider.changes(calendar, elsewhere, WINDOW)
    assert (changes.full, len(changes.changed)) == (True, 1)
    assert changes.token.startswith(graph.url)


def test_a_next_link_to_another_host_is_not_followed(graph, provider, calendar, monkeypatch):
    for n in range(4):
        graph.add_event(graph.primary, f"Meeting {n}", at(n + 1, 9), at(n + 1, 10))
    monkeypatch.setattr(graph, "url", "http://127.0.0.2:9")  # the links it writes
    with pytest.raises(ProviderError, match="another host"):
        provider.changes(calendar, None, WINDOW)


# --- what the events mean ---------------------------------------------------------------------------


def test_a_timed_event_becomes_one_utc_occurrence(graph, provider, calendar):
    event_id = graph.add_event(
        graph.primary, "Dentist", at(14, 9), at(14, 10), body="Bring the card", location="Main St"
    )
    changes = provider.changes(calendar, None, WINDOW)
    occurrence = only(changes)
    remote = changes.changed[0]
    assert remote.href == event_id
    assert remote.etag == graph.live_events(graph.primary)[event_id]["@odata.etag"]
    assert occurrence.uid == graph.live_events(graph.primary)[event_id]["iCalUId"]
    assert occurrence.start == datetime(2027, 7, 14, 7, tzinfo=UTC)
    assert occurrence.end == datetime(2027, 7, 14, 8, tzinfo=UTC)
    assert (occurrence.all_day, occurrence.busy, occurrence.status) == (False, True, "confirmed")
    # Outlook's bodies are HTML: the plain-text preview is the description.
    assert (occurrence.summary, occurrence.description, occurrence.location) == (
        "Dentist",
        "Bring the card",
        "Main St",
    )
    assert (occurrence.recurrence_id, occurrence.recurring) == (None, False)


@pytest.mark.parametrize(
    ("zone", "wall"),
    [
        ("W. Europe Standard Time", "2027-07-14T09:00:00.0000000"),
        ("Pacific Standard Time", "2027-07-14T00:00:00.0000000"),
        ("India Standard Time", "2027-07-14T12:30:00.0000000"),
        ("Europe/Berlin", "2027-07-14T09:00:00.0000000"),
    ],
)
def test_times_given_in_another_zone_are_placed_exactly(graph, provider, calendar, zone, wall):
    event_id = graph.add_event(graph.primary, "Call", at(14, 9), at(14, 10))
    graph.answer_zone = zone
    shown = graph.live_events(graph.primary, zone)[event_id]["start"]
    assert shown == {"dateTime": wall, "timeZone": zone}
    occurrence = only(provider.changes(calendar, None, WINDOW))
    assert occurrence.start == datetime(2027, 7, 14, 7, tzinfo=UTC)
    assert occurrence.end == datetime(2027, 7, 14, 8, tzinfo=UTC)


def test_a_windows_zone_in_winter_uses_the_winter_offset(graph, provider, calendar):
    graph.add_event(graph.primary, "Winter", at(14, 9, month=1), at(14, 10, month=1))
    graph.answer_zone = "W. Europe Standard Time"
    assert only(provider.changes(calendar, None, WINDOW)).start == datetime(
        2027, 1, 14, 8, tzinfo=UTC
    )


@pytest.mark.parametrize("zone", [None, "Tokyo Standard Time", "Pacific Standard Time"])
def test_an_all_day_event_keeps_its_dates_in_any_answer_zone(graph, provider, calendar, zone):
    graph.add_event(graph.primary, "Holiday", date(2027, 7, 14), date(2027, 7, 16))
    graph.answer_zone = zone
    occurrence = only(provider.changes(calendar, None, WINDOW))
    assert occurrence.all_day is True
    assert (occurrence.start_date, occurrence.end_date) == (date(2027, 7, 14), date(2027, 7, 16))
    assert occurrence.start == datetime(2027, 7, 14, tzinfo=UTC)
    assert occurrence.end == datetime(2027, 7, 16, tzinfo=UTC)


def test_show_as_free_is_free_and_tentative_is_tentative(graph, provider, calendar):
    for n, show_as in enumerate(["free", "tentative", "workingElsewhere", "oof", "busy"]):
        graph.add_event(graph.primary, show_as, at(n + 1, 9), at(n + 1, 10), show_as=show_as)
    seen = {
        name: (o.occurrences[0].busy, o.occurrences[0].status)
        for name, o in by_subject(provider.changes(calendar, None, WINDOW)).items()
    }
    assert seen == {
        "free": (False, "confirmed"),
        "tentative": (True, "tentative"),
        "workingElsewhere": (False, "confirmed"),
        "oof": (True, "confirmed"),
        "busy": (True, "confirmed"),
    }


def test_occurrences_of_a_series_carry_their_original_start(graph, provider, calendar):
    ids = graph.add_series(graph.primary, "Standup", at(5, 9), at(5, 9) + timedelta(minutes=15))
    changes = provider.changes(calendar, None, WINDOW)
    assert sorted(o.href for o in changes.changed) == sorted(ids)
    occurrences = sorted((o.occurrences[0] for o in changes.changed), key=lambda o: o.start)
    assert [o.recurrence_id for o in occurrences] == [
        "2027-07-05T07:00:00Z",
        "2027-07-06T07:00:00Z",
        "2027-07-07T07:00:00Z",
    ]
    assert all(o.recurring for o in occurrences)


def test_a_moved_occurrence_keeps_its_original_start(graph, provider, calendar):
    ids = graph.add_series(graph.primary, "Standup", at(5, 9), at(5, 10))
    token = provider.changes(calendar, None, WINDOW).token
    graph.change_event(graph.primary, ids[1], start=at(6, 14), end=at(6, 15))
    occurrence = only(provider.changes(calendar, token, WINDOW))
    assert occurrence.start == datetime(2027, 7, 6, 12, tzinfo=UTC)
    assert occurrence.recurrence_id == "2027-07-06T07:00:00Z"


def test_an_all_day_series_is_keyed_by_its_days_in_the_series_zone(graph, provider, calendar):
    # Midnight in Berlin is 22:00 UTC the day before: the key must still be the day.
    graph.add_series(graph.primary, "Offsite", date(2027, 7, 5), date(2027, 7, 6), count=2)
    changes = provider.changes(calendar, None, WINDOW)
    assert sorted(o.occurrences[0].recurrence_id for o in changes.changed) == [
        "2027-07-05",
        "2027-07-06",
    ]


def test_a_cancelled_meeting_is_reported_deleted(graph, provider, calendar):
    meeting = graph.add_event(graph.primary, "Meeting", at(1, 9), at(1, 10))
    token = provider.changes(calendar, None, WINDOW).token
    graph.cancel_event(graph.primary, meeting)
    changes = provider.changes(calendar, token, WINDOW)
    assert (changes.changed, changes.deleted) == ([], [meeting])


def test_a_deleted_occurrence_of_a_series_is_reported_removed(graph, provider, calendar):
    ids = graph.add_series(graph.primary, "Standup", at(5, 9), at(5, 10))
    token = provider.changes(calendar, None, WINDOW).token
    graph.delete_event(graph.primary, ids[0])
    changes = provider.changes(calendar, token, WINDOW)
    assert (changes.changed, changes.deleted) == ([], [ids[0]])


# --- writing -------------------------------------------------------------------------------------------


def test_create_update_and_delete_are_visible_at_microsoft(graph, provider):
    href = provider.create_event(graph.primary, draft())
    stored = graph.live_events(graph.primary)[href]
    assert stored["subject"] == "Intro call"
    assert stored["start"] == {"dateTime": "2027-07-05T08:00:00.0000000", "timeZone": "UTC"}
    assert stored["end"] == {"dateTime": "2027-07-05T08:30:00.0000000", "timeZone": "UTC"}
    assert stored["body"] == {"contentType": "text", "content": "Booked on CalMesh"}
    assert (stored["location"], stored["isAllDay"]) == ({"displayName": "Teams"}, False)
    sent = graph.api_seen()[-1]
    assert sent.method == "POST"
    assert sent.json["transactionId"]
    assert "attendees" not in sent.json

    assert provider.update_event(graph.primary, href, draft(summary="Moved")) == href
    assert graph.live_events(graph.primary)[href]["subject"] == "Moved"
    assert graph.api_seen()[-1].method == "PATCH"

    provider.delete_event(graph.primary, href)
    assert href not in graph.live_events(graph.primary)
    provider.delete_event(graph.primary, href)  # 404: already gone


def test_a_retried_create_sends_the_same_transaction_id(graph, provider):
    provider.create_event(graph.primary, draft())
    provider.create_event(graph.primary, draft())
    provider.create_event(graph.primary, draft(uid="booking-2@calmesh"))
    assert len(graph.live_events(graph.primary)) == 2
    ids = [s.json["transactionId"] for s in graph.api_seen() if s.method == "POST"]
    assert ids[0] == ids[1] != ids[2]


def test_a_tentative_all_day_draft_is_written_as_such(graph, provider):
    href = provider.create_event(
        graph.primary, draft(start=date(2027, 7, 5), end=date(2027, 7, 6), status="TENTATIVE")
    )
    stored = graph.live_events(graph.primary)[href]
    assert (stored["isAllDay"], stored["showAs"]) == (True, "tentative")
    assert stored["start"]["dateTime"] == "2027-07-05T00:00:00.0000000"


def test_a_created_event_comes_back_with_its_description(graph, provider, calendar):
    token = provider.changes(calendar, None, WINDOW).token
    provider.create_event(graph.primary, draft())
    assert only(provider.changes(calendar, token, WINDOW)).description == "Booked on CalMesh"


def test_writing_to_a_read_only_calendar_is_a_read_only_error(graph, provider):
    with pytest.raises(ReadOnlyError):
        provider.create_event(graph.birthdays, draft())


# --- tokens -----------------------------------------------------------------------------------------------


def test_a_refresh_saves_the_rotated_refresh_token_every_time(graph, calendar):
    saved = []
    old = graph.grant(expires_in=20)
    provider = MicrosoftProvider(
        graph.connection_info(credentials=old, on_credentials=saved.append)
    )
    provider.changes(calendar, None, WINDOW)
    assert len(saved) == 1
    assert saved[0]["refresh_token"] != old["refresh_token"]
    assert graph.live_refresh_tokens() == {saved[0]["refresh_token"]}
    graph.expire_access_tokens()
    provider.list_calendars()  # a second refresh needs the rotated token
    assert len(saved) == 2
    assert graph.live_refresh_tokens() == {saved[1]["refresh_token"]}


def test_revoked_access_is_a_permanent_auth_error(graph, provider, calendar):
    graph.revoke()
    with pytest.raises(AuthError) as caught:
        provider.changes(calendar, None, WINDOW)
    assert caught.value.permanent


# --- failures -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retryable(graph, provider, calendar, status):
    graph.fail_with = status
    with pytest.raises(ProviderError, match=str(status)) as caught:
        provider.changes(calendar, None, WINDOW)
    assert not caught.value.permanent


def test_a_hanging_server_times_out_quickly(graph, calendar):
    provider = MicrosoftProvider(graph.connection_info(timeout=1))
    graph.hang = 10
    started = time.monotonic()
    with pytest.raises(ProviderError, match="no answer in time") as caught:
        provider.changes(calendar, None, WINDOW)
    # Well before the server would have answered: a ratio, not this machine's speed.
    assert time.monotonic() - started < graph.hang / 2
    assert not caught.value.permanent


def test_an_answer_that_is_not_json_is_a_provider_error(graph, provider, calendar):
    graph.malformed = True
    with pytest.raises(ProviderError, match="JSON"):
        provider.changes(calendar, None, WINDOW)


def test_loopback_is_refused_without_allow_private(graph, calendar):
    provider = MicrosoftProvider(graph.connection_info(allow_private=False))
    with pytest.raises(BlockedAddress) as caught:
        provider.changes(calendar, None, WINDOW)
    assert caught.value.permanent
    assert graph.seen == []
