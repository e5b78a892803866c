"""CalDAV, and iCloud (CalDAV at Apple's URL with an app-specific password).

Built on the caldav library (3.x). How a sync goes (RFC 6578, RFC 4791):

* a sync-collection REPORT with the stored token (none: from scratch) names
  the resources that changed, with their ETags, the ones that were removed,
  and the next token;
* the changed resources are fetched with calendar-multiget REPORTs,
  ``MULTIGET_BATCH`` at a time. caldav's own ``load_objects=True`` sends one
  GET per object, which for 5,000 events is 5,000 requests;
* a token the server no longer accepts (Radicale: 403 with
  ``DAV:valid-sync-token``; Xandikos: 412 with the same element) makes a
  full snapshot, marked ``full=True``. caldav's silent fallback is off:
  it would return everything under a fake token and report no deletions.

Server-side expansion and free-busy are never used (Radicale gets them wrong
after a DST change); the sync service expands the iCalendar text itself.

Hrefs are URL paths percent-encoded the way caldav spells them
(``/cal/a%20b%40c.ics``), the same for changed, deleted and written objects,
so they can be compared as strings. Every request, redirects included, goes
through the SSRF guard and is counted for ``ChangeSet.requests``; the
connections themselves go through :class:`PinnedResolver`, so they reach only
addresses the guard checked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import caldav
from caldav.elements import cdav, dav
from caldav.elements import ical as apple
from caldav.lib import error
from caldav.lib.http_sync import requests as http
from lxml import etree
from niquests.packages.urllib3.contrib.resolver.system import SystemResolver

from calmesh.engine.ical import EventDraft, build_calendar
from calmesh.engine.recurrence import zone_from_name
from calmesh.providers import net
from calmesh.providers.base import (
    AuthError,
    ChangeSet,
    ConnectionInfo,
    FormField,
    Integration,
    Provider,
    ProviderError,
    RemoteCalendarInfo,
    RemoteObject,
)
from calmesh.providers.fields import NAME, PASSWORD, PASSWORD_FIELD, USERNAME, USERNAME_FIELD
from calmesh.schema import Object, Url

log = logging.getLogger(__name__)

ICLOUD_URL = "https://caldav.icloud.com/"
# Hrefs per calendar-multiget: ~1-2 MB of answer for ordinary events.
MULTIGET_BATCH = 500

_COLLECTION_PROPS = [
    apple.CalendarColor(),
    cdav.CalendarTimeZone(),
    cdav.SupportedCalendarComponentSet(),
    dav.CurrentUserPrivilegeSet(),
]
_WRITE_PRIVILEGES = {"{DAV:}all", "{DAV:}write", "{DAV:}write-content", "{DAV:}bind"}
_ETAG = dav.GetEtag.tag


class AnswerTooLarge(ProviderError):
    """One answer over ``HttpSettings.max_bytes``: the source's fault, not the
    credentials', so retried with back-off (a sync first asks for less)."""


class CalDavProvider(Provider):
    """A CalDAV account: ``info.endpoint`` is its principal or calendar-home URL.

    Credentials: ``{"username": ..., "password": ...}`` (both optional for a
    server without authentication). One HTTP client per public call, closed
    at its end.
    """

    kind = "caldav"
    credentials_advice = "check them"

    def __init__(self, info: ConnectionInfo):
        super().__init__(info)
        self.requests = 0  # HTTP requests sent so far by this provider

    @property
    def url(self) -> str:
        """The URL the connection starts from."""
        return self.info.endpoint

    # --- the contract ---------------------------------------------------------

    def list_calendars(self) -> list[RemoteCalendarInfo]:
        with self._client("listing the calendars") as client:
            calendars = client.get_principal().get_calendars()
            props = self._collection_props(client, [str(c.url) for c in calendars])
            found = []
            for calendar in calendars:
                url = str(calendar.url)
                extra = props.get(_path_key(url), {})
                components = extra.get(cdav.SupportedCalendarComponentSet.tag)
                if isinstance(components, list) and "VEVENT" not in components:
                    continue  # a task list (Radicale, iCloud Reminders): no events to sync
                found.append(
                    RemoteCalendarInfo(
                        remote_id=url,
                        name=calendar.get_display_name() or _last_segment(url),
                        color=_color(extra.get(apple.CalendarColor.tag)),
                        writable=_writable(extra.get(dav.CurrentUserPrivilegeSet.tag)),
                        timezone=_zone(extra.get(cdav.CalendarTimeZone.tag)),
                    )
                )
        return found

    def changes(
        self, calendar: RemoteCalendarInfo, token: str | None, window: tuple[datetime, datetime]
    ) -> ChangeSet:
        """Changes since ``token``; ``window`` is not used (CalDAV sends whole series)."""
        before = self.requests
        with self._client(f"syncing {calendar.name or calendar.remote_id}") as client:
            remote = caldav.Calendar(client=client, url=calendar.remote_id)
            result = None
            if token:
                try:
                    result = _sync(remote, token)
                except error.DAVError as exc:
                    if not _token_refused(exc):
                        raise
                    log.info(
                        "%s refused the sync token (%s); syncing in full",
                        calendar.remote_id,
                        exc.status,
                    )
            if result is None:
                result = _sync(remote, None)
                result.full = True
        result.requests = self.requests - before
        return result

    def create_event(self, calendar_id: str, event: EventDraft) -> str:
        ics = _ics(event)
        with self._client(f"creating event {event.uid}") as client:
            remote = caldav.Calendar(client=client, url=calendar_id)
            try:
                created = remote.add_event(ics, no_overwrite=True, increase_seqno=False)
            except error.DAVError as exc:
                if not _uid_taken(exc):
                    raise
                # Written before (a retried job) or by someone else: the event is there.
                created = remote.get_event_by_uid(event.uid)
            return _href(str(created.url))

    def update_event(self, calendar_id: str, href: str, event: EventDraft) -> str:
        ics = _ics(event)
        with self._client(f"updating event {event.uid}") as client:
            remote = caldav.Calendar(client=client, url=calendar_id)
            resource = caldav.Event(client=client, url=urljoin(calendar_id, href), parent=remote)
            # Exactly these bytes, unconditionally: no SEQUENCE bump, no merging.
            resource.save(raw_data=ics.encode())
        return href

    def delete_event(self, calendar_id: str, href: str) -> None:
        with self._client(f"deleting {href}") as client:
            remote = caldav.Calendar(client=client, url=calendar_id)
            # caldav takes a 404 as success: the event is gone either way.
            caldav.Event(client=client, url=urljoin(calendar_id, href), parent=remote).delete()

    # --- HTTP -------------------------------------------------------------------

    @contextmanager
    def _client(self, doing: str) -> Iterator[Any]:
        """A guarded, counting caldav client for one call; every failure a ProviderError."""
        with self._translated(doing):
            net.check_url(self.url, self.info.http.allow_private, resolve_host=False)
            credentials = self.info.credentials or {}
            client = caldav.get_davclient(
                url=self.url,
                username=credentials.get("username") or None,
                password=credentials.get("password") or None,
                check_config_file=False,
                environment=False,
                timeout=self.info.http.timeout,
                enable_rfc6764=False,  # a full URL is given: no DNS discovery elsewhere
                headers={"User-Agent": self.info.http.user_agent},
            )
            # caldav makes a plain niquests session; ours resolves through the guard.
            client.session.close()
            client.session = pinned_session(self.info.http.allow_private)
            client.session.hooks["pre_request"].append(self._before_request)
            client.session.hooks["response"].append(self._after_response)
            try:
                yield client
            finally:
                client.close()

    def _before_request(self, request: Any, **_: Any) -> Any:
        # Runs for every request niquests sends, each redirect included.
        self.requests += 1
        net.check_url(request.url, self.info.http.allow_private, resolve_host=False)
        return request

    def _after_response(self, response: Any, **_: Any) -> Any:
        limit = self.info.http.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large(limit)
        body = response.content or b""
        if len(body) > limit:
            raise self._too_large(limit)
        method = response.request.method if response.request is not None else ""
        if (
            method in ("PROPFIND", "REPORT")
            and response.status_code in (200, 207)
            and b"multistatus" not in body[:4096].lower()
        ):
            # A web page, a login portal, an empty answer: caldav would fail on
            # it with an AttributeError, or read it as "no calendars".
            kind = response.headers.get("Content-Type", "").split(";")[0] or "an empty answer"
            raise ProviderError(
                f"{self._host} does not answer like a CalDAV server (got {kind}, "
                "not a WebDAV multistatus); check the URL"
            )
        return response

    def _too_large(self, limit: int) -> ProviderError:
        return AnswerTooLarge(
            f"{self._host} sent more than {limit / (1024 * 1024):g} MiB in one answer; refusing it"
        )

    @property
    def _host(self) -> str:
        return urlsplit(self.url).hostname or "the CalDAV server"

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        """Turn caldav, niquests and lxml failures into readable ProviderErrors.

        Messages name the host and the status, never the server's body or
        the URL's user part, so no credential can end up in them.
        """
        try:
            yield
        except ProviderError:
            raise
        except Exception as exc:
            raise self._readable(exc, doing) from None

    def _readable(self, exc: Exception, doing: str) -> ProviderError:
        host = self._host
        if isinstance(exc, error.DAVError):
            return self._dav_failure(exc, host, doing)
        if isinstance(exc, http.exceptions.RequestException):
            return _http_failure(exc, host, doing)
        if isinstance(exc, etree.LxmlError):
            return ProviderError(f"{host} sent malformed XML while {doing}")
        # The library's parsing meets servers it was never tested with.
        log.exception("unexpected CalDAV failure talking to %s while %s", host, doing)
        return ProviderError(
            f"unexpected failure talking to {host} while {doing} ({type(exc).__name__})"
        )

    def _dav_failure(self, exc: error.DAVError, host: str, doing: str) -> ProviderError:
        if isinstance(exc, error.AuthorizationError):
            if exc.status == 403:
                return ProviderError(
                    f"{host} refused access while {doing} (403): "
                    "the account may not have permission for this calendar",
                    permanent=True,
                )
            return AuthError(
                f"{host} refused the username or password while {doing} (401); "
                f"{self.credentials_advice}"
            )
        if isinstance(exc, error.NotFoundError):
            return ProviderError(
                f"{host} has no such calendar or event (404) while {doing}; check the URL"
            )
        if isinstance(exc, error.RateLimitError):
            return ProviderError(f"{host} is rate-limiting requests while {doing}; retrying later")
        if exc.status is None:
            return ProviderError(
                f"{host} sent an answer CalMesh cannot use while {doing} ({type(exc).__name__})"
            )
        if exc.status >= 500:
            return ProviderError(f"{host} failed while {doing} ({exc.status}); retrying later")
        return ProviderError(f"{host} answered {exc.status} while {doing}")

    @staticmethod
    def _collection_props(client: Any, urls: list[str]) -> dict[str, dict[str, Any]]:
        """Color, zone, components and privileges of the calendars, by path.

        caldav drops these, so ask for them with one depth-1 PROPFIND per
        parent collection (normally one: the calendar home).
        """
        found: dict[str, dict[str, Any]] = {}
        for parent in dict.fromkeys(urljoin(url, "..") for url in urls):
            try:
                response = caldav.CalendarSet(client=client, url=parent).get_properties(
                    _COLLECTION_PROPS, depth=1, parse_response_xml=False
                )
            except error.DAVError as exc:
                # Nice to have only: a shared calendar's parent may be closed to us.
                log.info("no calendar properties from %s (%s)", parent, exc.status)
                continue
            for result in response.results or []:
                found[_path_key(result.href, decoded=True)] = result.properties
        return found


class PinnedResolver(SystemResolver):
    """niquests' system resolver through :func:`net.resolve`: a host name is
    looked up once per connection, refused if any of its addresses is not
    public, and connected to at the addresses that were checked."""

    def __init__(self, allow_private: bool):
        super().__init__()
        self.allow_private = allow_private

    def getaddrinfo(
        self,
        host: bytes | str | None,
        port: str | int | None,
        family: Any,
        type: Any,  # the name urllib3 passes it by
        proto: int = 0,
        flags: int = 0,
        *,
        quic_upgrade_via_dns_rr: bool = False,
    ) -> list[tuple[Any, ...]]:
        name = host.decode("ascii") if isinstance(host, bytes) else host or "localhost"
        return net.resolve(name, int(port or 0), self.allow_private, family, type, proto, flags)


def pinned_session(allow_private: bool) -> Any:
    """A niquests session whose connections go through :class:`PinnedResolver`."""
    session = http.Session(resolver=PinnedResolver(allow_private))
    # No proxy from the environment (it would resolve the name itself) and no ~/.netrc.
    session.trust_env = False
    return session


class ICloudProvider(CalDavProvider):
    """iCloud: CalDAV at ``https://caldav.icloud.com/`` unless the connection says otherwise."""

    kind = "icloud"
    credentials_advice = "iCloud needs an app-specific password (appleid.apple.com)"

    @property
    def url(self) -> str:
        return self.info.endpoint or ICLOUD_URL


# --- how it is offered --------------------------------------------------------

CALDAV = Integration(
    kind="caldav",
    label="CalDAV server",
    provider=CalDavProvider,
    summary="Connect a CalDAV server (checks the credentials first)",
    body=Object(
        {"url": Url(), "username": USERNAME, "password": PASSWORD, "name": NAME},
        name="NewCalDavConnection",
    ),
    form=(
        FormField(
            "url",
            "Server URL",
            type="url",
            hint="e.g. https://dav.example.org/user/ — the calendar home or principal",
        ),
        USERNAME_FIELD,
        PASSWORD_FIELD,
    ),
    mcp_help="any CalDAV server (Nextcloud, Fastmail, Radicale, ...): url, username, password",
)

ICLOUD = Integration(
    kind="icloud",
    label="iCloud",
    provider=ICloudProvider,
    summary="Connect iCloud (Apple ID and an app-specific password)",
    body=Object(
        {"url": Url(default=""), "username": USERNAME, "password": PASSWORD, "name": NAME},
        name="NewICloudConnection",
    ),
    form=(
        FormField("username", "Apple ID", autocomplete="username"),
        FormField(
            "password",
            "App-specific password",
            type="password",
            hint="Create one at appleid.apple.com → Sign-In and Security → App-Specific Passwords.",
        ),
    ),
    mcp_help="Apple iCloud: username (the Apple ID) and an app-specific password, no url",
    default_endpoint=ICLOUD_URL,
)


# --- sync ------------------------------------------------------------------------


def _sync(remote: Any, token: str | None) -> ChangeSet:
    """What changed since ``token``, with the events' text.

    The sync-collection REPORT asks for the data too, so a full sync of a
    calendar is one request. An answer over the size cap is asked for again
    without the data, and whatever came without its data (a server that does
    not send it in a sync-collection, or that second try) is fetched with
    calendar-multigets, ``MULTIGET_BATCH`` hrefs at a time.
    """
    try:
        listing = _sync_collection(remote, token, with_data=True)
    except AnswerTooLarge:
        listing = _sync_collection(remote, token, with_data=False)
    changed: list[RemoteObject] = []
    without_data: dict[str, str] = {}  # href -> ETag
    for href, (etag, data) in listing.changed.items():
        if data is None:
            without_data[href] = etag
        elif "BEGIN:VEVENT" in data.upper():
            changed.append(RemoteObject(href=href, etag=etag, ical=data))
    changed += _multiget(remote, without_data)
    # Whatever was listed but came back without an event (a to-do, a journal,
    # gone since the REPORT) is, for us, not there.
    deleted = listing.deleted | (set(listing.changed) - {o.href for o in changed})
    return ChangeSet(changed=changed, deleted=sorted(deleted), token=listing.token)


@dataclass
class _Listing:
    changed: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # href -> ETag, data
    deleted: set[str] = field(default_factory=set)
    token: str | None = None


_SYNC_PROPS = {True: [dav.GetEtag(), cdav.CalendarData()], False: [dav.GetEtag()]}


def _sync_collection(remote: Any, token: str | None, *, with_data: bool) -> _Listing:
    """sync-collection REPORTs from ``token``, following truncated answers (RFC 6578 3.6)."""
    listing = _Listing(token=token)
    while True:
        asked = [
            dav.SyncToken(value=listing.token or ""),
            dav.SyncLevel(value="1"),
            dav.Prop() + _SYNC_PROPS[with_data],
        ]
        body = dav.SyncCollection() + asked
        answer = remote._query(body, 1, "report").parse_sync_collection()
        for href in map(_answered, answer.deleted):
            listing.changed.pop(href, None)
            listing.deleted.add(href)
        for item in answer.changed:
            href = _answered(item.href)
            listing.deleted.discard(href)
            listing.changed[href] = (item.etag or "", item.calendar_data)
        listing.token = answer.sync_token
        if not answer.truncated or not answer.sync_token:
            return listing


def _multiget(remote: Any, etags: dict[str, str]) -> list[RemoteObject]:
    """The events at these hrefs, in calendar-multigets of ``MULTIGET_BATCH``."""
    hrefs = list(etags)
    found = []
    for start in range(0, len(hrefs), MULTIGET_BATCH):
        urls = [remote.url.join(href) for href in hrefs[start : start + MULTIGET_BATCH]]
        for path, data, tags in remote._multiget(urls):
            href = _answered(path)
            if data and "BEGIN:VEVENT" in data.upper():
                found.append(RemoteObject(href, tags.get(_ETAG) or etags.get(href, ""), data))
    return found


def _ics(event: EventDraft) -> str:
    try:
        return build_calendar(event)
    except ValueError as exc:
        raise ProviderError(f"cannot write event {event.uid}: {exc}", permanent=True) from None


def _token_refused(exc: error.DAVError) -> bool:
    """Does this failed sync-collection mean "start again without a token"?

    RFC 6578 says 403 with DAV:valid-sync-token; Xandikos answers 412 with it;
    other servers answer some other 4xx without a body. Not for 401, 404 or
    429, which a full sync would meet again.
    """
    if dav.ValidSyncToken.tag in exc.preconditions:
        return True
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 404, 429)


def _uid_taken(exc: error.DAVError) -> bool:
    """A create refused because the UID (or the resource) exists already."""
    return isinstance(exc, (error.ConsistencyError, error.UidConflictError)) or (
        isinstance(exc, error.PutError) and exc.status == 412
    )


# --- hrefs and properties ---------------------------------------------------------


def _href(url: str) -> str:
    """The path of ``url``, percent-encoded once the way caldav spells it."""
    return quote(unquote(urlsplit(url).path), safe="/")


def _answered(path: str) -> str:
    """An href from a REPORT answer (caldav decodes it once) spelled like :func:`_href`.

    Not through caldav's URL objects: joining rebuilds the URL and decodes a
    "%2F" into a slash on the way.
    """
    return quote(path, safe="/")


def _path_key(url: str, decoded: bool = False) -> str:
    """A collection's path for matching PROPFIND answers (caldav decodes their hrefs)."""
    path = urlsplit(url).path
    return (path if decoded else unquote(path)).rstrip("/")


def _last_segment(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


def _color(value: Any) -> str:
    """Apple's "#RRGGBBAA" (or "#RRGGBB") as "#RRGGBB"; anything else as ""."""
    if isinstance(value, str) and re.fullmatch(r"#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?", value.strip()):
        return value.strip()[:7].upper()
    return ""


def _writable(privileges: Any) -> bool:
    """Writable unless the server lists the privileges and none of them writes."""
    if not isinstance(privileges, list) or not privileges:
        return True
    return bool(_WRITE_PRIVILEGES & set(privileges))


def _zone(vtimezone: Any) -> str:
    """The IANA name in a calendar-timezone property (a VTIMEZONE), or ""."""
    if not isinstance(vtimezone, str):
        return ""
    found = re.search(r"^TZID(?:;[^:]*)?:(.+?)\s*$", vtimezone, re.MULTILINE)
    zone = zone_from_name(found.group(1)) if found else None
    return zone.key if zone else ""


def _http_failure(exc: Exception, host: str, doing: str) -> ProviderError:
    """A niquests failure (no answer, or no usable one) in words."""
    if isinstance(exc, http.exceptions.SSLError):
        return ProviderError(
            f"cannot connect to {host} securely while {doing}: the TLS certificate was refused"
        )
    if isinstance(exc, http.exceptions.Timeout | http.exceptions.ConnectionError):
        # One message whatever the cause (see calmesh.providers.net).
        return ProviderError(f"{host}: {net.UNREACHABLE} while {doing}; retrying later")
    if isinstance(exc, http.exceptions.TooManyRedirects):
        return ProviderError(f"{host} redirected too many times while {doing}")
    return ProviderError(f"HTTP failure talking to {host} while {doing} ({type(exc).__name__})")
