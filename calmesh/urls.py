"""Absolute URLs for links that leave the browser, and redirect targets.

Every absolute link (e-mails, ``.ics`` files, webhooks, feeds, API answers,
the embed snippet) is built on one trusted origin, never on the Host of the
request at hand: with ``server.base_url`` empty, a request with
``Host: evil.example`` would otherwise mail a visitor a manage link (a valid
token) that points at evil.example.
"""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

from flask import current_app

from calmesh.config import Config
from calmesh.models import InstanceSetting

_CACHE = "calmesh.origin"
_ABSENT = "calmesh.origin.absent_until"


def listen_origin(settings: Config) -> str:
    """``http://host:port`` of ``serve``'s listen address (a wildcard address
    becomes ``localhost``): the origin of last resort."""
    host = settings["server.host"]
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104 - naming the wildcard, not binding it
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings['server.port']}"


def trusted_origin() -> str:
    """Where outgoing links point: ``server.base_url``; else the origin recorded
    by :func:`record_origin` (the first-run setup); else the listen address."""
    settings = current_app.config["CALMESH"]
    if settings["server.base_url"]:
        return settings["server.base_url"].rstrip("/")
    origin = current_app.extensions.get(_CACHE)
    if origin is None:
        absent_until = current_app.extensions.get(_ABSENT, 0.0)
        if time.monotonic() < absent_until:
            return listen_origin(settings)
        origin = InstanceSetting.read(InstanceSetting.ORIGIN)
    if origin:
        # Recorded once and never changed, so a worker may keep it; an absent one
        # is looked up again a second later (another worker may record it at any
        # moment), not on every link of every request.
        current_app.extensions[_CACHE] = origin
        return origin
    current_app.extensions[_ABSENT] = time.monotonic() + 1.0
    return listen_origin(settings)


def record_origin(url_root: str) -> str:
    """Fix the origin of outgoing links, once: the first-run setup calls this
    with the root URL the owner used (or the first sign-in, when the owner was
    made on the command line). Later calls keep the first one."""
    origin = InstanceSetting.put_once(InstanceSetting.ORIGIN, url_root.rstrip("/"))
    current_app.extensions[_CACHE] = origin
    return origin


def external_url(endpoint: str, **values) -> str:
    """An absolute URL on :func:`trusted_origin`, with or without a request."""
    parts = urlsplit(trusted_origin())
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


class Links:
    """The absolute links services and side effects need, by name.

    Services take one of these (or are handed the URL) instead of naming web
    endpoints or reading ``current_app``; :func:`links` builds the one bound to
    the running app. Add a method here when a service needs a new link.
    """

    def __init__(self, build):
        self._build = build  # (endpoint, **values) -> absolute URL

    def manage_booking(self, uid: str, token: str) -> str:
        return self._build("public.manage_booking", uid=uid, token=token)

    def booking_detail(self, uid: str) -> str:
        """The owner's view of one booking (signing in first)."""
        return self._build("web.booking_detail", uid=uid)

    def reschedule_booking(self, uid: str, token: str, **state: str) -> str:
        """The visitor's link that moves the booking (it cannot cancel it)."""
        return self._build("public.reschedule_booking", uid=uid, token=token, **state)

    def cancel_booking(self, uid: str, token: str, **state: str) -> str:
        """The visitor's link that cancels the booking (it cannot move it)."""
        return self._build("public.cancel_booking", uid=uid, token=token, **state)

    def booking_calendar(self, uid: str, token: str) -> str:
        """The booking as an ``.ics`` download (a view token)."""
        return self._build("public.booking_ics", uid=uid, token=token)

    def booking_page(self, handle: str, slug: str, **state: str) -> str:
        return self._build("public.booking_page", handle=handle, slug=slug, **state)

    def poll_calendar(self, public_id: str) -> str:
        """The decided poll's event as an ``.ics`` download."""
        return self._build("public.poll_ics", poll_id=public_id)

    def embed_script(self) -> str:
        return self._build("public.embed_script")

    def poll_page(self, public_id: str, **state: str) -> str:
        return self._build("public.poll_page", poll_id=public_id, **state)

    def poll_vote(self, public_id: str, token: str) -> str:
        """The poll page with a participant's edit token."""
        return self._build("public.poll_page", poll_id=public_id, token=token)

    def poll_results(self, public_id: str) -> str:
        return self._build("web.poll_detail", poll_id=public_id)

    def calendar_feed(self, token: str) -> str:
        return self._build("web.calendar_feed", token=token)

    def setup(self, token: str) -> str:
        return self._build("web.setup", token=token)


def links() -> Links:
    """The :class:`Links` of the running app (on :func:`trusted_origin`)."""
    return Links(external_url)


def _leaves_the_site(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//"):
        return True
    # Browsers drop tabs and newlines inside URLs and read "\" as "/", so
    # "/\t/evil.example" or "/\\evil.example" would lead to another host.
    return any(c == "\\" or c.isspace() or not c.isprintable() for c in text)


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site (``/bookings?p=2``), else None.

    Refused: anything with a scheme or host, ``//``, backslashes, whitespace
    and control characters; the path also once percent-decoded (``/%2509/x``).
    """
    if not target or _leaves_the_site(target):
        return None
    if _leaves_the_site(unquote(target.split("?", 1)[0])):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
