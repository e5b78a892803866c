"""The iCal URL provider against real files served over loopback HTTP."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from calmesh.engine.ical import EventDraft
from calmesh.engine.recurrence import Occurrence, expand
from calmesh.providers import registry
from calmesh.providers.base import (
    AuthError,
    ChangeSet,
    ConnectionInfo,
    HttpSettings,
    ProviderError,
    ReadOnlyError,
    RemoteCalendarInfo,
)
from calmesh.providers.ics import IcsProvider, feed_url
from calmesh.providers.net import BlockedAddress
from tests.conftest import CORPUS
from tests.providers.feeds import FeedServer

CORPUS_FILES = sorted(CORPUS.glob("*.ics"))
LOCAL = HttpSettings(allow_private=True)
FEED = RemoteCalendarInfo(remote_id="feed", name="", writable=False)
WINDOW = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC))

# Corpus files that cannot be synced, with what the error says. None today:
# every file either has events or is a valid calendar without any.
EXPECTED_ERRORS: dict[str, str] = {}


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def provider(url: str, http: HttpSettings = LOCAL, credentials: dict | None = None) -> IcsProvider:
    return IcsProvider(ConnectionInfo("ics", url, credentials or {}, http=http))


def sync(url: str, token: str | None = None, **kw) -> ChangeSet:
    return provider(url, **kw).changes(FEED, token, WINDOW)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def times(result: ChangeSet, uid: str, start: datetime, end: datetime) -> list[tuple]:
    """(start, end) in UTC of ``uid``'s occurrences in [start, end), from the synced text."""
    [obj] = [obj for obj in result.changed if obj.href == uid]
    return [(o.start, o.end) for o in expand(obj.ical, start, end)]


def calendar(*events: str, name: str = "Team") -> bytes:
    """A feed of ``events`` (each its properties, one per line)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", f"X-WR-CALNAME:{name}"]
    for event in events:
        lines += ["BEGIN:VEVENT", *event.strip().splitlines(), "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def event(uid: str, start: str, summary: str, stamp: str = "20260101T000000Z") -> str:
    return f"UID:{uid}\nDTSTAMP:{stamp}\nDTSTART:{start}\nDURATION:PT1H\nSUMMARY:{summary}"


STANDUP = (
    "UID:standup\nDTSTAMP:20260101T000000Z\nDTSTART;TZID=Europe/Berlin:20260302T090000\n"
    "DURATION:PT15M\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR\nSUMMARY:Stand-up"
)
LUNCH = event("lunch", "20260303T110000Z", "Lunch")
REVIEW = event("review", "20260304T140000Z", "Review")


# --- the whole corpus --------------------------------------------------------------


def test_corpus_is_present():
    assert len(CORPUS_FILES) == 95


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_every_corpus_file_syncs_or_fails_with_a_readable_error(feeds, path):
    feeds.set(path.name, path, etag=True)
    ics = provider(feeds.url_for(path.name))
    try:
        [info] = ics.list_calendars()
        result = ics.changes(info, None, WINDOW)
    except ProviderError as exc:
        assert path.name in EXPECTED_ERRORS, f"{path.name}: {exc}"
        assert EXPECTED_ERRORS[path.name] in str(exc)
        return
    assert path.name not in EXPECTED_ERRORS
    assert info.remote_id == "feed" and not info.writable
    assert result.full and result.deleted == []
    assert result.requests == 1 and feeds.requests[path.name] == 1  # list + changes: one GET
    hrefs = [obj.href for obj in result.changed]
    assert len(set(hrefs)) == len(hrefs)
    for obj in result.changed:
        assert obj.etag == hashlib.sha256(obj.ical.encode()).hexdigest()
    assert set(json.loads(result.token)["hashes"]) == set(hrefs)

    # Split by UID, the feed still means what the whole file means.
    synced = [o for obj in result.changed for o in expand(obj.ical, *WINDOW)]
    assert sorted(synced, key=repr) == sorted(expand(path.read_bytes(), *WINDOW), key=repr)

    # Downloaded again (a byte different, validators ignored), nothing changed:
    # UIDs made up for events without one, and the hashes, are stable.
    feeds.set(path.name, path.read_bytes() + b"\r\n", conditional=False)
    again = sync(feeds.url_for(path.name), result.token)
    assert (again.changed, again.deleted, again.full) == ([], [], False)


# --- occurrences worked out by hand from the files ---------------------------------


def serve(feeds: FeedServer, name: str) -> tuple[list[RemoteCalendarInfo], ChangeSet]:
    feeds.set(name, CORPUS / name)
    ics = provider(feeds.url_for(name))
    calendars = ics.list_calendars()
    return calendars, ics.changes(calendars[0], None, WINDOW)


def test_weekly_berlin_event_moves_an_hour_earlier_in_utc_after_dst(feeds):
    # daylight_saving_time.ics: Thursdays 08:30-14:30 Europe/Berlin from
    # 2019-02-28, EXDATE 2019-03-07. CET is UTC+1 until 2019-03-31 02:00,
    # then CEST is UTC+2.
    [info], result = serve(feeds, "daylight_saving_time.ics")
    assert info.name == "machBar - Öffentlich"
    assert info.timezone == "Europe/Berlin"
    assert times(
        result, "7g6502aejkun96i5fenfu6hvc1@google.com", utc(2019, 2, 25), utc(2019, 4, 12)
    ) == [
        (utc(2019, 2, 28, 7, 30), utc(2019, 2, 28, 13, 30)),
        (utc(2019, 3, 14, 7, 30), utc(2019, 3, 14, 13, 30)),
        (utc(2019, 3, 21, 7, 30), utc(2019, 3, 21, 13, 30)),
        (utc(2019, 3, 28, 7, 30), utc(2019, 3, 28, 13, 30)),
        (utc(2019, 4, 4, 6, 30), utc(2019, 4, 4, 12, 30)),
        (utc(2019, 4, 11, 6, 30), utc(2019, 4, 11, 12, 30)),
    ]


def test_weekly_chicago_event_moves_an_hour_later_in_utc_after_dst(feeds):
    # issue_48_dst.ics, m4dpn70: Fridays 14:15-14:30 America/Chicago from
    # 2020-09-25, EXDATE 10-23, 11-06, 11-27. CDT (UTC-5) ends 2020-11-01,
    # then CST (UTC-6).
    [info], result = serve(feeds, "issue_48_dst.ics")
    assert (info.name, info.timezone) == ("School", "America/Chicago")
    assert times(result, "m4dpn70@google.com", utc(2020, 10, 1), utc(2020, 12, 1)) == [
        (utc(2020, 10, 2, 19, 15), utc(2020, 10, 2, 19, 30)),
        (utc(2020, 10, 9, 19, 15), utc(2020, 10, 9, 19, 30)),
        (utc(2020, 10, 16, 19, 15), utc(2020, 10, 16, 19, 30)),
        (utc(2020, 10, 30, 19, 15), utc(2020, 10, 30, 19, 30)),
        (utc(2020, 11, 13, 20, 15), utc(2020, 11, 13, 20, 30)),
        (utc(2020, 11, 20, 20, 15), utc(2020, 11, 20, 20, 30)),
    ]


def test_weekly_lisbon_event_across_the_october_change(feeds):
    # issue_48_daylight_aware_repeats.ics: Mondays 11:30-13:00 Europe/Lisbon;
    # WEST (UTC+1) until 2020-10-25, then WET (UTC+0).
    [info], result = serve(feeds, "issue_48_daylight_aware_repeats.ics")
    assert (info.name, info.timezone) == ("Horario sem-5", "Europe/Lisbon")
    assert times(result, "EVENT2", utc(2020, 10, 19), utc(2020, 10, 27)) == [
        (utc(2020, 10, 19, 10, 30), utc(2020, 10, 19, 12, 0)),
        (utc(2020, 10, 26, 11, 30), utc(2020, 10, 26, 13, 0)),
    ]


def test_floating_time_is_read_in_the_x_wr_timezone(feeds):
    # issue_86: DTSTART:20210916T210000 with no zone, X-WR-TIMEZONE
    # Europe/Brussels (CEST, UTC+2 in September).
    [info], result = serve(feeds, "issue_86_x_wr_timezone_without_time_zone_in_dt.ics")
    assert (info.name, info.timezone) == ("MyCalendar", "Europe/Brussels")
    assert times(result, "match_1025179", *WINDOW) == [
        (utc(2021, 9, 16, 19, 0), utc(2021, 9, 16, 20, 45))
    ]


def test_utc_times_stay_put_under_an_x_wr_timezone(feeds):
    # x_wr_timezone_simple_events_issue_59.ics: times in Z, X-WR-TIMEZONE
    # America/New_York; noon to 1 PM New York is 17:00-18:00Z.
    [info], result = serve(feeds, "x_wr_timezone_simple_events_issue_59.ics")
    assert info.timezone == "America/New_York"
    assert times(result, "3bc4jff97631or97ntnk75n4se@google.com", *WINDOW) == [
        (utc(2021, 12, 22, 17, 0), utc(2021, 12, 22, 18, 0))
    ]
    assert times(result, "14n7h56i35m32ukcq76s46d45p@google.com", *WINDOW) == [
        (utc(2021, 12, 23, 2, 0), utc(2021, 12, 23, 3, 0))
    ]


def test_all_day_event_keeps_its_date(feeds):
    # one_day_event.ics: DTSTART;VALUE=DATE:20190304, DTEND 20190305, no X-WR-TIMEZONE.
    [info], result = serve(feeds, "one_day_event.ics")
    assert (info.name, info.timezone) == ("test", "")
    [obj] = result.changed
    [day] = expand(obj.ical, *WINDOW)
    assert (day.all_day, day.start_date, day.end_date) == (True, date(2019, 3, 4), date(2019, 3, 5))
    assert (day.start, day.end) == (utc(2019, 3, 4), utc(2019, 3, 5))


def test_windows_zone_name_without_its_definition_is_mapped(feeds):
    # issue_107_omitting_last_event.ics: no UID; TZID "Pacific Standard Time"
    # (its VTIMEZONE is misnamed "Pacific Standard Time:"), Thursdays 10:00
    # from 2023-01-05 UNTIL 2023-06-08T170000Z. PST (UTC-8) until
    # 2023-03-12, then PDT (UTC-7); the last instance is exactly UNTIL.
    _, result = serve(feeds, "issue_107_omitting_last_event.ics")
    [obj] = result.changed
    occurrences = expand(obj.ical, *WINDOW)
    assert len(occurrences) == 23
    starts = [o.start for o in occurrences]
    assert starts[0] == utc(2023, 1, 5, 18, 0)
    assert utc(2023, 3, 9, 18, 0) in starts
    assert utc(2023, 3, 16, 17, 0) in starts
    assert starts[-1] == utc(2023, 6, 8, 17, 0)


def test_utc_exdate_removes_an_instance_of_a_zoned_daily_series(feeds):
    # issue_27_t1.ics: daily 14:00-14:30 Europe/Berlin (CEST) from
    # 2020-04-26, UNTIL 20200429T000000, EXDATE 20200427T120000Z.
    _, result = serve(feeds, "issue_27_t1.ics")
    assert times(result, "3bbe38c205956551730fc9233525fe268296ec02", *WINDOW) == [
        (utc(2020, 4, 26, 12, 0), utc(2020, 4, 26, 12, 30)),
        (utc(2020, 4, 28, 12, 0), utc(2020, 4, 28, 12, 30)),
    ]


# --- incremental sync --------------------------------------------------------------


def test_first_sync_is_a_full_snapshot_of_every_uid(feeds):
    feeds.set("team.ics", calendar(STANDUP, LUNCH, REVIEW))
    result = sync(feeds.url_for("team.ics"))
    assert result.full and result.requests == 1
    assert [obj.href for obj in result.changed] == ["lunch", "review", "standup"]
    assert times(result, "standup", utc(2026, 3, 27), utc(2026, 3, 31)) == [
        (utc(2026, 3, 27, 8, 0), utc(2026, 3, 27, 8, 15)),  # CET
        (utc(2026, 3, 30, 7, 0), utc(2026, 3, 30, 7, 15)),  # CEST from 29 March
    ]


def test_etag_makes_the_second_sync_a_304_with_no_changes(feeds):
    feeds.set("team.ics", calendar(STANDUP, LUNCH), etag='"v1"')
    url = feeds.url_for("team.ics")
    first = sync(url)
    second = sync(url, first.token)
    assert feeds.last("team.ics").headers["if-none-match"] == '"v1"'
    assert (second.changed, second.deleted, second.full) == ([], [], False)
    assert second.token == first.token
    assert second.requests == 1 and feeds.requests["team.ics"] == 2


def test_last_modified_makes_the_second_sync_a_304_with_no_changes(feeds):
    modified = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    feeds.set("team.ics", calendar(STANDUP, LUNCH), last_modified=modified)
    url = feeds.url_for("team.ics")
    first = sync(url)
    second = sync(url, first.token)
    assert feeds.last("team.ics").headers["if-modified-since"] == "Sun, 01 Mar 2026 12:00:00 GMT"
    assert "if-none-match" not in feeds.last("team.ics").headers
    assert (second.changed, second.deleted, second.token) == ([], [], first.token)
    assert feeds.requests["team.ics"] == 2


@pytest.mark.parametrize(
    "validators",
    [{}, {"etag": True, "conditional": False}],
    ids=["no-validators", "validators-ignored"],
)
def test_the_same_body_again_reports_no_changes(feeds, validators):
    feeds.set("team.ics", calendar(STANDUP, LUNCH), **validators)
    url = feeds.url_for("team.ics")
    first = sync(url)
    second = sync(url, first.token)
    assert (second.changed, second.deleted, second.full) == ([], [], False)
    assert second.requests == 1 and feeds.requests["team.ics"] == 2


def test_a_feed_stamped_afresh_on_every_download_reports_no_changes(feeds):
    # Google writes the download time into every DTSTAMP.
    feeds.set("team.ics", calendar(event("lunch", "20260303T110000Z", "Lunch", "20260301T080000Z")))
    url = feeds.url_for("team.ics")
    first = sync(url)
    feeds.set("team.ics", calendar(event("lunch", "20260303T110000Z", "Lunch", "20260301T081500Z")))
    second = sync(url, first.token)
    assert (second.changed, second.deleted) == ([], [])


def test_an_edited_event_is_the_only_change(feeds):
    feeds.set("team.ics", calendar(STANDUP, LUNCH, REVIEW), etag='"v1"')
    url = feeds.url_for("team.ics")
    first = sync(url)
    feeds.set(
        "team.ics",
        calendar(STANDUP, event("lunch", "20260303T113000Z", "Lunch, later"), REVIEW),
        etag='"v2"',
    )
    second = sync(url, first.token)
    assert [obj.href for obj in second.changed] == ["lunch"]
    assert second.deleted == [] and not second.full
    assert times(second, "lunch", *WINDOW) == [(utc(2026, 3, 3, 11, 30), utc(2026, 3, 3, 12, 30))]
    assert json.loads(second.token)["etag"] == '"v2"'
    # and the next sync starts from the edited state
    assert sync(url, second.token).changed == []


def test_a_new_override_changes_its_series(feeds):
    moved = (
        "UID:standup\nDTSTAMP:20260101T000000Z\nRECURRENCE-ID;TZID=Europe/Berlin:20260305T090000\n"
        "DTSTART;TZID=Europe/Berlin:20260305T100000\nDURATION:PT15M\nSUMMARY:Stand-up (late)"
    )
    feeds.set("team.ics", calendar(STANDUP, LUNCH))
    url = feeds.url_for("team.ics")
    first = sync(url)
    feeds.set("team.ics", calendar(STANDUP, moved, LUNCH))
    second = sync(url, first.token)
    assert [obj.href for obj in second.changed] == ["standup"]
    assert times(second, "standup", utc(2026, 3, 5), utc(2026, 3, 6)) == [
        (utc(2026, 3, 5, 9, 0), utc(2026, 3, 5, 9, 15))
    ]


def test_an_unreadable_token_gives_a_full_snapshot(feeds):
    feeds.set("team.ics", calendar(LUNCH), etag=True)
    for token in ("", "not json", "[]", '{"etag": 3, "hashes": {}}', '{"etag": "x"}'):
        result = sync(feeds.url_for("team.ics"), token)
        assert result.full and [obj.href for obj in result.changed] == ["lunch"]


def test_list_calendars_then_changes_downloads_the_feed_once(feeds):
    feeds.set("team.ics", calendar(STANDUP, LUNCH, name="Team rota"), etag=True)
    ics = provider(feeds.url_for("team.ics"))
    [info] = ics.list_calendars()
    assert info == RemoteCalendarInfo(remote_id="feed", name="Team rota", writable=False)
    result = ics.changes(info, None, WINDOW)
    assert result.full and result.requests == 1 and len(result.changed) == 2
    assert feeds.requests["team.ics"] == 1
    # The saved body serves one changes() call, not the next sync.
    ics.changes(info, result.token, WINDOW)
    assert feeds.requests["team.ics"] == 2


def test_list_calendars_of_a_feed_without_a_name(feeds):
    feeds.set("bare.ics", CORPUS / "issue_107_omitting_last_event.ics")
    assert provider(feeds.url_for("bare.ics")).list_calendars() == [
        RemoteCalendarInfo(remote_id="feed", name="", writable=False, timezone="")
    ]


def test_a_declared_latin_1_charset_is_honoured(feeds):
    body = calendar(event("cafe", "20260303T110000Z", "Café"), name="Équipe")
    feeds.set(
        "latin.ics",
        body.decode().encode("latin-1"),
        headers={"Content-Type": "text/calendar; charset=ISO-8859-1"},
    )
    ics = provider(feeds.url_for("latin.ics"))
    assert ics.list_calendars()[0].name == "Équipe"
    [obj] = ics.changes(FEED, None, WINDOW).changed
    assert "SUMMARY:Café" in obj.ical


# --- transport ---------------------------------------------------------------------


def test_basic_auth_with_the_right_password(feeds):
    feeds.set("private.ics", calendar(LUNCH), auth=("alice", "s3cret"))
    result = sync(
        feeds.url_for("private.ics"), credentials={"username": "alice", "password": "s3cret"}
    )
    assert [obj.href for obj in result.changed] == ["lunch"]


@pytest.mark.parametrize(
    "credentials",
    [{}, {"username": "alice", "password": "wrong"}, {"username": "mallory", "password": "s3cret"}],
)
def test_basic_auth_refused_needs_the_owner(feeds, credentials):
    feeds.set("private.ics", calendar(LUNCH), auth=("alice", "s3cret"))
    with pytest.raises(AuthError, match=r"refused the credentials \(401\)") as caught:
        sync(feeds.url_for("private.ics"), credentials=credentials)
    assert caught.value.permanent


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (403, AuthError, "refused the credentials (403)"),
        (404, ProviderError, "no such calendar (404)"),
        (410, ProviderError, "gone (410)"),
        (500, ProviderError, "unavailable right now (500)"),
        (503, ProviderError, "unavailable right now (503)"),
    ],
)
def test_failed_answers_are_readable_provider_errors(feeds, status, kind, words):
    feeds.set("feed.ics", b"oops", status=status)
    ics = provider(feeds.url_for("feed.ics"))
    for call in (ics.list_calendars, lambda: ics.changes(FEED, None, WINDOW)):
        with pytest.raises(kind) as caught:
            call()
        assert type(caught.value) is kind
        assert words in str(caught.value)


def test_an_unknown_path_is_a_404(feeds):
    with pytest.raises(ProviderError, match=r"no such calendar \(404\)"):
        sync(feeds.url_for("nothing-here.ics"))


def test_a_slow_server_fails_fast_with_a_timeout(feeds):
    feeds.set("slow.ics", calendar(LUNCH), delay=math.inf)
    started = time.monotonic()
    with pytest.raises(ProviderError, match="no answer in time") as caught:
        sync(feeds.url_for("slow.ics"), http=HttpSettings(allow_private=True, timeout=1))
    # The configured 1 s, not the default timeout: a ratio, not this machine's speed.
    assert time.monotonic() - started < HttpSettings().timeout / 4
    assert not caught.value.permanent


def test_a_huge_feed_is_refused(feeds):
    feeds.set(
        "huge.ics", calendar(*(event(f"e{n}", "20260303T110000Z", "x" * 200) for n in range(500)))
    )
    with pytest.raises(ProviderError, match="larger than 64 KiB"):
        sync(feeds.url_for("huge.ics"), http=HttpSettings(allow_private=True, max_bytes=65_536))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260303T1100",
            "the feed is not valid iCalendar: malformed iCalendar: BEGIN:VEVENT at line 3 is never"
            " closed",
        ),
        (
            b"BEGIN:VCALENDAR\r\nthis line has no colon\r\nEND:VCALENDAR\r\n",
            "the feed is not valid iCalendar: malformed iCalendar at line 2: Content line",
        ),
        (
            b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>",
            "not an iCalendar feed: 127.0.0.1 sent a web page",
        ),
        (b"", "not an iCalendar feed: 127.0.0.1 sent an empty answer"),
        (b'{"events": []}', "not an iCalendar feed: 127.0.0.1 sent something that does not"),
    ],
    ids=["cut-off", "bad-line", "html", "empty", "json"],
)
def test_a_body_that_is_not_a_calendar_is_a_readable_error(feeds, body, words):
    feeds.set("feed.ics", body)
    ics = provider(feeds.url_for("feed.ics"))
    for call in (ics.list_calendars, lambda: ics.changes(FEED, None, WINDOW)):
        with pytest.raises(ProviderError) as caught:
            call()
        assert type(caught.value) is ProviderError
        assert str(caught.value).startswith(words)


def test_an_html_page_served_as_text_html_is_not_a_feed(feeds):
    feeds.set(
        "page", b"\n\n  <html><body>Calendar</body></html>", headers={"Content-Type": "text/html"}
    )
    with pytest.raises(ProviderError, match=r"not an iCalendar feed: 127\.0\.0\.1 sent a web page"):
        sync(feeds.url_for("page"))


def test_a_redirect_to_another_path_is_followed(feeds):
    feeds.set("2026/team.ics", calendar(LUNCH), etag='"v1"')
    feeds.redirect("team.ics", "2026/team.ics", status=301)
    url = feeds.url_for("team.ics")
    first = sync(url)
    assert [obj.href for obj in first.changed] == ["lunch"]
    second = sync(url, first.token)
    assert second.changed == [] and feeds.last("2026/team.ics").headers["if-none-match"] == '"v1"'
    assert feeds.requests == {"team.ics": 2, "2026/team.ics": 2}


def test_a_loopback_feed_is_refused_unless_private_addresses_are_allowed(feeds):
    feeds.set("team.ics", calendar(LUNCH))
    with pytest.raises(BlockedAddress):
        sync(feeds.url_for("team.ics"), http=HttpSettings())
    assert feeds.requests.total() == 0


def test_webcal_is_fetched_over_https(monkeypatch):
    with FeedServer(tls=True) as feeds:
        monkeypatch.setenv("SSL_CERT_FILE", str(feeds.ca_file))
        feeds.set("team.ics", calendar(LUNCH, name="Over TLS"))
        webcal = feeds.url_for("team.ics").replace("https://", "webcal://")
        ics = provider(webcal)
        assert ics.list_calendars()[0].name == "Over TLS"
        assert [obj.href for obj in ics.changes(FEED, None, WINDOW).changed] == ["lunch"]
        assert feeds.requests["team.ics"] == 1


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("webcal://calendar.example.org/a.ics", "https://calendar.example.org/a.ics"),
        ("WEBCAL://calendar.example.org/a.ics", "https://calendar.example.org/a.ics"),
        ("webcals://calendar.example.org/a.ics", "https://calendar.example.org/a.ics"),
        (" http://calendar.example.org/a.ics ", "http://calendar.example.org/a.ics"),
        (
            "https://calendar.example.org/a.ics?key=webcal://",
            "https://calendar.example.org/a.ics?key=webcal://",
        ),
        ("ftp://calendar.example.org/a.ics", "ftp://calendar.example.org/a.ics"),
    ],
)
def test_feed_url_turns_webcal_into_https(endpoint, url):
    assert feed_url(endpoint) == url


@pytest.mark.parametrize("endpoint", ["ftp://8.8.8.8/a.ics", "file:///etc/passwd", "calendar.ics"])
def test_a_url_that_is_not_http_is_refused(endpoint):
    with pytest.raises(ProviderError, match="not an http"):
        provider(endpoint).list_calendars()


@pytest.mark.parametrize(
    "endpoint", ["http://" + "a" * 300 + "/cal.ics", "http://\udc00/cal.ics", "http://[::1/cal.ics"]
)
def test_a_malformed_url_is_a_provider_error_even_with_private_addresses_allowed(endpoint):
    with pytest.raises(ProviderError, match="not a valid"):
        provider(endpoint, http=LOCAL).list_calendars()


# --- the contract ------------------------------------------------------------------


def test_the_provider_is_registered_and_read_only():
    assert registry.INTEGRATIONS["ics"].provider is IcsProvider
    assert registry.INTEGRATIONS["ics"].read_only
    assert IcsProvider.read_only


def test_writing_raises_read_only_error():
    ics = provider("https://calendar.example.org/a.ics")
    draft = EventDraft(uid="x", summary="x", start=utc(2026, 3, 3, 9), end=utc(2026, 3, 3, 10))
    for call in (
        lambda: ics.create_event("feed", draft),
        lambda: ics.update_event("feed", "x", draft),
        lambda: ics.delete_event("feed", "x"),
    ):
        with pytest.raises(ReadOnlyError):
            call()


def test_occurrence_type_is_what_the_sync_service_stores(feeds):
    feeds.set("team.ics", calendar(LUNCH))
    [obj] = sync(feeds.url_for("team.ics")).changed
    [occurrence] = expand(obj.ical, *WINDOW)
    assert isinstance(occurrence, Occurrence)
    assert (occurrence.uid, occurrence.summary, occurrence.busy) == ("lunch", "Lunch", True)
