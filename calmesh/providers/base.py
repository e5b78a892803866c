"""The contract every calendar provider implements.

A provider is built for one connection from plain data (:class:`ConnectionInfo`)
and talks to one remote service. It knows nothing of the database: the sync
service (:mod:`calmesh.services.sync`) stores what it returns. Four
implementations: CalDAV (and iCloud, which is CalDAV with its own URL),
iCal URL (read-only), Google Calendar and Microsoft Graph.

Each provider module also declares how it is offered (an
:class:`Integration`); :mod:`calmesh.providers.registry` lists them.

Errors: every failure a provider meets is raised as a :class:`ProviderError`
whose message a person can read ("the server answered 401: check the
password"), never a library exception. ``permanent`` says that retrying will
not help until the owner acts (credentials revoked): the connection then turns
``auth_required``; otherwise it is ``error`` and retried with back-off.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from calmesh.engine.ical import EventDraft
from calmesh.engine.recurrence import Occurrence


class ProviderError(Exception):
    """A readable failure. ``permanent``: only the owner can fix it (re-authorise)."""

    permanent: bool = False

    def __init__(self, message: str, *, permanent: bool | None = None):
        super().__init__(message)
        if permanent is not None:
            self.permanent = permanent


class AuthError(ProviderError):
    """Credentials refused or revoked: the connection needs the owner."""

    permanent = True


class ReadOnlyError(ProviderError):
    """Writing to a calendar that cannot be written (an iCal URL, a read-only share)."""

    permanent = True


@dataclass(frozen=True)
class HttpSettings:
    """How providers talk HTTP: timeouts, size cap, and the SSRF guard's switch."""

    timeout: float = 20.0
    max_bytes: int = 20 * 1024 * 1024
    allow_private: bool = False
    user_agent: str = "CalMesh/0.1 (+self-hosted scheduling)"


@dataclass
class ConnectionInfo:
    """What a provider needs to work for one connection."""

    kind: str
    endpoint: str  # base URL (CalDAV, iCal URL) or "" to use the provider's configured API base
    credentials: dict[str, Any]  # username/password, or an OAuth token dict
    http: HttpSettings = field(default_factory=HttpSettings)
    settings: dict[str, Any] = field(
        default_factory=dict
    )  # provider config (API base, client id, ...)
    # Called with new credentials whenever the provider refreshed them (OAuth):
    # the sync service encrypts and saves them at once, before the refresh token rotates again.
    on_credentials: Callable[[dict[str, Any]], None] | None = None


@dataclass(frozen=True)
class RemoteCalendarInfo:
    remote_id: str  # CalDAV: collection URL; Google/Graph: calendar id; iCal URL: "feed"
    name: str
    color: str = ""
    writable: bool = True
    timezone: str = (
        ""  # the calendar's own zone when the provider says (X-WR-TIMEZONE, Google timeZone)
    )


@dataclass(frozen=True)
class RemoteObject:
    """One remote resource and what it means.

    CalDAV and iCal URL objects carry iCalendar text (``ical``): a master event
    with its overrides, expanded by the sync service over the horizon. Google
    and Graph return instances already expanded: they carry ``occurrences``.
    """

    href: str  # the remote id of the resource (CalDAV href, Google/Graph event id, feed UID)
    etag: str = ""
    ical: str | None = None
    occurrences: tuple[Occurrence, ...] | None = None


@dataclass
class ChangeSet:
    """What changed since ``token`` (``full``: a whole snapshot; anything not in it is gone)."""

    changed: list[RemoteObject] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # hrefs
    token: str | None = None  # the next sync token / delta link / ETag state to keep
    full: bool = False
    requests: int = 0  # HTTP requests spent (for the sync benchmark and the progress display)


class Provider(ABC):
    """One remote calendar service, used for one connection."""

    kind: ClassVar[str]
    read_only: ClassVar[bool] = False

    def __init__(self, info: ConnectionInfo):
        self.info = info

    @abstractmethod
    def list_calendars(self) -> list[RemoteCalendarInfo]:
        """The connection's calendars. Raises ProviderError."""

    @abstractmethod
    def changes(
        self, calendar: RemoteCalendarInfo, token: str | None, window: tuple[datetime, datetime]
    ) -> ChangeSet:
        """Changes since ``token`` (None: a full snapshot).

        Incremental where the service allows (sync-collection, syncToken,
        delta link, ETag/Last-Modified). When the token has expired the
        provider itself falls back to a full snapshot and says so with
        ``full=True``; the sync service then diffs it against what it stored.
        ``window`` (aware UTC start, end) is the horizon for services that
        expand recurring events themselves (Google, Graph).
        """

    def create_event(self, calendar_id: str, event: EventDraft) -> str:
        """Create ``event``; returns its href/remote id. Idempotent on ``event.uid``."""
        raise ReadOnlyError(f"{self.kind} calendars are read-only")

    def update_event(self, calendar_id: str, href: str, event: EventDraft) -> str:
        """Replace the event at ``href``; returns the (possibly new) href."""
        raise ReadOnlyError(f"{self.kind} calendars are read-only")

    def delete_event(self, calendar_id: str, href: str) -> None:
        """Delete the event at ``href``; a missing event is not an error."""
        raise ReadOnlyError(f"{self.kind} calendars are read-only")


# --- an integration: a provider with what the layers above need to offer it ---------


@dataclass(frozen=True)
class FormField:
    """How the dashboard's connect form shows one field of ``Integration.body``."""

    name: str
    label: str
    type: str = "text"
    hint: str = ""
    autocomplete: str = ""


@dataclass(frozen=True)
class Integration:
    """Everything about one kind of connection, declared in its provider's module
    and listed once in :mod:`calmesh.providers.registry`.

    The REST API makes ``POST /connections/{kind}`` from ``body`` and
    ``summary``, the dashboard its tab and form from ``label`` and ``form``,
    the MCP connect tools their choices from ``mcp_help``; the sync service
    builds ``provider`` and reads its interval from ``interval_key``.
    """

    kind: str
    label: str  # "CalDAV server": the dashboard's tab and the card's kind
    provider: type[Provider]
    summary: str  # of its REST connect endpoint
    body: Any  # calmesh.schema.Object: what connecting asks for (REST, form, MCP)
    mcp_help: str  # one line for the MCP tool's description of this kind
    form: tuple[FormField, ...] = ()  # the connect form's fields, in order
    consent: bool = False  # OAuth: connected by consent in a browser, not credentials
    default_endpoint: str = ""  # used when no URL is given (iCloud)
    interval_key: str = "sync.interval_caldav"  # the setting of its sync interval
    settings_section: str = ""  # its config section, given as ConnectionInfo.settings
    secret_path: bool = False  # the URL's path is the secret (iCal URLs): shown host only
    # Its objects are iCalendar text, expanded here (a moved horizon is re-expanded
    # from the stored text); False: the service sends expanded instances.
    expanded_here: bool = True

    @property
    def read_only(self) -> bool:
        return self.provider.read_only
