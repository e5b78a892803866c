"""The iCal URL provider: a read-only calendar published as one ``.ics`` file.

The feed is fetched whole, so "incremental" means two things. The HTTP
validators (ETag, Last-Modified) let the server answer 304 and send nothing;
and when it does send the file, each UID's events are hashed so that only the
UIDs whose data changed are reported. The sync token is JSON::

    {"etag": "...", "last_modified": "...", "digest": "<sha256 of the body>",
     "hashes": {"<uid>": "<sha256 of that UID's text>", ...}}

``digest`` lets a server that ignores conditional requests cost one download
and no parsing when the file has not changed. Each UID's text comes from
:func:`calmesh.engine.recurrence.split_by_uid`, which leaves out DTSTAMP, so a
feed stamped afresh on every download (Google's are) reports no change.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime

import httpx
import icalendar

from calmesh.engine.recurrence import CalendarDataError, parse_calendar, split_by_uid
from calmesh.providers import net
from calmesh.providers.base import (
    ChangeSet,
    ConnectionInfo,
    FormField,
    Integration,
    Provider,
    ProviderError,
    RemoteCalendarInfo,
    RemoteObject,
)
from calmesh.providers.fields import NAME
from calmesh.schema import Object, String

FEED_ID = "feed"

# A body fetched by list_calendars is reused by the changes() call that
# follows it in the same sync, not by one minutes later.
_REUSE_SECONDS = 60.0

_ACCEPT = "text/calendar, text/plain;q=0.8, */*;q=0.5"


def feed_url(endpoint: str) -> str:
    """The URL to fetch: ``webcal://`` and ``webcals://`` links become ``https://``.

    webcal is not a protocol of its own but a hint to open the link in a
    calendar application; every publisher serves it over HTTP(S), and we
    choose HTTPS.
    """
    url = endpoint.strip()
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("webcal", "webcals"):
        return "https://" + rest
    return url


class IcsProvider(Provider):
    """A published iCalendar feed (Google's "secret address", Outlook's ICS link, ...).

    ``endpoint`` is the feed URL (http, https or webcal); optional credentials
    ``{"username", "password"}`` are sent with HTTP Basic auth. There is one
    calendar, ``remote_id="feed"``; writing raises ReadOnlyError.
    """

    kind = "ics"
    read_only = True

    def __init__(self, info: ConnectionInfo):
        super().__init__(info)
        self.url = feed_url(info.endpoint)
        # (when, response, parsed calendar) of the last list_calendars() fetch.
        self._fetched: tuple[float, httpx.Response, icalendar.Calendar] | None = None

    def list_calendars(self) -> list[RemoteCalendarInfo]:
        """The feed as one calendar, named by its X-WR-CALNAME; fetches and checks it."""
        response = self._get({})
        calendar = self._parse(response)
        self._fetched = (time.monotonic(), response, calendar)
        return [
            RemoteCalendarInfo(
                remote_id=FEED_ID,
                name=_property(calendar, "X-WR-CALNAME"),
                writable=False,
                # parse_calendar keeps X-WR-TIMEZONE only as a known IANA name.
                timezone=_property(calendar, "X-WR-TIMEZONE"),
            )
        ]

    def changes(
        self, calendar: RemoteCalendarInfo, token: str | None, window: tuple[datetime, datetime]
    ) -> ChangeSet:
        """What changed in the feed since ``token``; one request at most.

        ``window`` is not used: the objects carry iCalendar text, which the
        sync service expands. A token that cannot be read counts as none (a
        full snapshot). A body fetched by the list_calendars() call just
        before is used instead of a second download, and its request counted
        here.
        """
        state = _load(token)
        reused, self._fetched = self._fetched, None
        if reused is not None and time.monotonic() - reused[0] < _REUSE_SECONDS:
            response, parsed = reused[1], reused[2]
        else:
            response, parsed = self._get(_conditional_headers(state)), None
        if response.status_code == 304:
            # Only sent when we asked conditionally, that is, with a state.
            return ChangeSet(token=token, requests=1)
        body = response.content
        digest = hashlib.sha256(body).hexdigest()
        validators = {
            "etag": response.headers.get("etag", ""),
            "last_modified": response.headers.get("last-modified", ""),
            "digest": digest,
        }
        if state is not None and state.get("digest") == digest:
            # The server ignored the validators (or has none) but nothing changed.
            return ChangeSet(token=_dump({**state, **validators}), requests=1)
        texts = self._split(parsed if parsed is not None else self._parse(response))
        hashes = {uid: hashlib.sha256(text.encode()).hexdigest() for uid, text in texts.items()}
        next_token = _dump({**validators, "hashes": hashes})
        if state is None:
            objects = [RemoteObject(href=uid, etag=hashes[uid], ical=texts[uid]) for uid in texts]
            return ChangeSet(changed=objects, token=next_token, full=True, requests=1)
        known: dict[str, str] = state["hashes"]
        return ChangeSet(
            changed=[
                RemoteObject(href=uid, etag=hashes[uid], ical=texts[uid])
                for uid in texts
                if known.get(uid) != hashes[uid]
            ],
            deleted=sorted(set(known) - set(hashes)),
            token=next_token,
            requests=1,
        )

    # --- fetching and reading --------------------------------------------------

    def _get(self, headers: dict[str, str]) -> httpx.Response:
        """The feed, or a 304; anything else becomes a ProviderError."""
        settings = self.info.http
        credentials = self.info.credentials or {}
        auth = None
        if credentials.get("username"):
            auth = httpx.BasicAuth(credentials["username"], credentials.get("password") or "")
        with net.client(settings, auth=auth) as http:
            response = net.fetch(
                http, "GET", self.url, settings, headers={"Accept": _ACCEPT, **headers}
            )
        if response.status_code == 304 and headers:
            return response
        if not response.is_success:
            raise net.describe_status(response)
        return response

    def _parse(self, response: httpx.Response) -> icalendar.Calendar:
        where = response.request.url.host
        body = response.content
        head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper()
        if not head.startswith(b"BEGIN:VCALENDAR"):
            if not head:
                reason = f"{where} sent an empty answer"
            elif head.startswith(b"<") or "html" in response.headers.get("content-type", ""):
                reason = f"{where} sent a web page; use the calendar's export (.ics) link"
            else:
                reason = f"{where} sent something that does not start with BEGIN:VCALENDAR"
            raise ProviderError(f"not an iCalendar feed: {reason}")
        try:
            return parse_calendar(_decode(response))
        except CalendarDataError as exc:
            raise ProviderError(f"the feed is not valid iCalendar: {exc}") from None

    @staticmethod
    def _split(calendar: icalendar.Calendar) -> dict[str, str]:
        try:
            return split_by_uid(calendar)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            # Writing an event back out can fail on a value parse_calendar let through.
            raise ProviderError(f"the feed is not valid iCalendar: {exc}") from None


def _decode(response: httpx.Response) -> bytes | str:
    """The body as text when the server names a charset other than UTF-8.

    Otherwise the bytes go to parse_calendar, which reads UTF-8 (with or
    without a byte order mark) and falls back to cp1252.
    """
    charset = (response.charset_encoding or "").lower().replace("_", "-")
    if charset in ("", "utf-8", "utf8", "us-ascii", "ascii"):
        return response.content
    try:
        return response.content.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return response.content


def _property(calendar: icalendar.Calendar, name: str) -> str:
    value = calendar.get(name)
    if isinstance(value, list):  # a repeated property
        value = value[0] if value else None
    return str(value).strip() if value is not None else ""


def _conditional_headers(state: dict | None) -> dict[str, str]:
    headers = {}
    if state and state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state and state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    return headers


def _load(token: str | None) -> dict | None:
    """The state in ``token``, or None for no token or one that cannot be read."""
    if not token:
        return None
    try:
        state = json.loads(token)
    except ValueError:
        return None
    if not isinstance(state, dict) or not isinstance(state.get("hashes"), dict):
        return None
    for key in ("etag", "last_modified", "digest"):
        if not isinstance(state.get(key, ""), str):
            return None
    return state


def _dump(state: dict) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


# --- how it is offered --------------------------------------------------------

ICS = Integration(
    kind="ics",
    label="iCal URL (read-only)",
    provider=IcsProvider,
    summary="Subscribe to an iCal URL (read-only)",
    body=Object(
        {
            "url": String(
                min_length=1,
                max_length=2000,
                pattern=r"(https?|webcal)://\S+",
                pattern_help="must be an http(s):// or webcal:// URL",
            ),
            "name": NAME,
            "username": String(max_length=300, default=""),
            "password": String(max_length=1000, strip=False, default=""),
        },
        name="NewIcsConnection",
    ),
    form=(
        FormField(
            "url", "iCal URL", hint="https:// or webcal:// link of a published calendar; read-only."
        ),
        FormField("username", "Username (optional)"),
        FormField("password", "Password (optional)", type="password"),
    ),
    mcp_help="a read-only iCal (ICS) feed: url (https:// or webcal://), username and "
    "password only if the feed needs them",
    interval_key="sync.interval_ics",
    secret_path=True,
)
