"""Outgoing HTTP for providers and webhooks: timeouts, a size cap, and the
server-side request forgery guard.

A URL whose host resolves to a loopback, private, link-local, multicast or
otherwise non-public address is refused unless ``allow_private`` is set
(tests and instances whose calendar server sits on the LAN). IPv6 forms that
carry an IPv4 address (mapped, translated, compatible, NAT64, 6to4) are
judged by that address.

The check is made where the connection is opened, on the addresses it is
opened to: :class:`PinnedBackend` (httpx) and the CalDAV provider's resolver
(niquests) resolve a host name once, refuse it if any of its addresses is not
public, and connect to those very addresses. A name that answers a public
address to a first lookup and 127.0.0.1 to the next (DNS rebinding) gets no
second lookup. TLS still names and verifies the host (SNI, certificate), and
the Host header is the URL's. :func:`check_url` is the early, readable check
of a URL's form (and, for settings, of its addresses); every redirect target
is checked again before it is followed, and again when it is connected to.

Errors come out as readable ProviderErrors. A failure to connect reads the
same whatever the cause (refused, filtered, timed out), so that error
messages cannot serve to map which ports of a network are open.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpcore
import httpx

from calmesh.providers.base import AuthError, HttpSettings, ProviderError

# fetch() allows the whole answer this many times HttpSettings.timeout.
WHOLE_ANSWER_TIMEOUTS = 3
# Every connect failure and timeout, whatever its cause.
UNREACHABLE = "could not connect (or got no answer in time)"


class BlockedAddress(ProviderError):
    permanent = True


# Where an IPv6 address carries an IPv4 address in its last 32 bits: IPv4-mapped
# is handled by ipaddress itself; IPv4-translated (RFC 2765), the deprecated
# IPv4-compatible form and RFC 6052's NAT64 prefix reach the IPv4 address
# inside. Python calls most of these global, whatever the address inside.
_EMBEDDING_V4 = tuple(
    ipaddress.ip_network(net) for net in ("::ffff:0:0:0/96", "::/96", "64:ff9b::/96")
)
# Never public, whatever Python says: RFC 8215's local-use NAT64 prefix (it
# may embed IPv4 at several offsets) and the deprecated site-local range.
_NEVER_PUBLIC = tuple(ipaddress.ip_network(net) for net in ("64:ff9b:1::/48", "fec0::/10"))


def is_public(address: str) -> bool:
    """Is ``address`` (an IP literal) on the public internet?"""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 scope ("fe80::1%eth0")
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _NEVER_PUBLIC):
            return False
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif any(ip in net for net in _EMBEDDING_V4):
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    return ip.is_global and not ip.is_multicast


def _blocked(host: str) -> BlockedAddress:
    # The address itself is left out: it would tell a user of this instance
    # what internal names resolve to.
    return BlockedAddress(
        f"{host} resolves to a private or local address; "
        "set security.allow_private_addresses = true to allow it"
    )


def resolve(
    host: str,
    port: int,
    allow_private: bool,
    family: int = 0,
    kind: int = socket.SOCK_STREAM,
    proto: int = 0,
    flags: int = 0,
) -> list[tuple[Any, ...]]:
    """``socket.getaddrinfo`` for ``host``, refused (BlockedAddress) when any of
    the addresses it answers is not public and ``allow_private`` is off.

    Callers connect to the addresses returned, never to ``host`` again.
    """
    try:
        infos = socket.getaddrinfo(host, port, family, kind, proto, flags)
    except (socket.gaierror, UnicodeError):
        raise ProviderError(f"cannot resolve host {host!r}") from None
    if not allow_private and not all(is_public(info[4][0]) for info in infos):
        raise _blocked(host)
    return infos


def masked(url: str) -> str:
    """``url`` fit to be shown: user and password, query and fragment replaced by "…"."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an invalid URL)"
    if ":" in host:
        host = f"[{host}]"
    if port is not None:
        host += f":{port}"
    if parts.username is not None or parts.password is not None:
        host = "…@" + host
    return (
        f"{parts.scheme}://{host}{parts.path}"
        + ("?…" if parts.query else "")
        + ("#…" if parts.fragment else "")
    )


def split_secrets(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without the parts that may be secret, and those parts.

    The URL comes back as ``scheme://host[:port]/path``; the dict holds what
    was taken off: ``username`` and ``password`` (``user:pass@``, decoded) and
    ``query`` (all of it: which parameter is a token, ``?secret=``, ``?key=``,
    ``?t=``, cannot be told in general). The fragment is dropped: it is never
    sent. A URL that does not parse comes back as it is (the guard refuses it
    before any use). Store the URL, encrypt the parts; :func:`with_query`
    puts the query back for a request.
    """
    try:
        parts = urlsplit(url)
        valid = bool(parts.hostname) and (parts.port or 0) >= 0  # .port raises when out of range
    except ValueError:
        valid = False
    if not valid:
        return url, {}
    found = {}
    if parts.username is not None:
        found["username"] = unquote(parts.username)
    if parts.password is not None:
        found["password"] = unquote(parts.password)
    if parts.query:
        found["query"] = parts.query
    netloc = parts.netloc.rpartition("@")[2]
    clean = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return (clean if found or parts.fragment else url), found


def with_query(url: str, query: str | None) -> str:
    """``url`` with the query :func:`split_secrets` took off it."""
    return f"{url}?{query}" if query else url


def check_url(url: str, allow_private: bool, *, resolve_host: bool = True) -> None:
    """Raise BlockedAddress (or ProviderError for a malformed URL) before connecting.

    ``resolve_host=False`` checks the form and IP literals only: for requests
    made through :func:`client` or the CalDAV provider, whose connections
    check the addresses they open.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port out of range, an unclosed IPv6 literal ("http://[::1/")
        raise ProviderError(f"not a valid URL: {masked(url)}", permanent=True) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ProviderError(f"not an http(s) URL: {masked(url)}", permanent=True)
    host = parts.hostname
    try:
        # What the resolver does first. With allow_private nothing below
        # resolves the name, and httpx would raise a bare UnicodeError.
        host.encode("idna")
    except UnicodeError:
        raise ProviderError(f"not a valid host name: {host!r}", permanent=True) from None
    if allow_private:
        return
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        if not is_public(host):
            raise _blocked(host)
    elif resolve_host:
        resolve(host, port or (443 if parts.scheme == "https" else 80), allow_private)


class PinnedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses it resolved and checked.

    httpcore hands it the URL's host; the TLS layer above still gets that host
    name for SNI and certificate checks.
    """

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for info in resolve(host, port, self.allow_private):
            try:
                return super().connect_tcp(info[4][0], port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # try the name's next address, as a resolver would
        raise failure or httpcore.ConnectError(f"no address for {host}")


def transport(settings: HttpSettings) -> httpx.HTTPTransport:
    """httpx's transport on a :class:`PinnedBackend`."""
    pinned = httpx.HTTPTransport()
    # httpx takes no network backend of its own; its connection pool does.
    pinned._pool._network_backend = PinnedBackend(settings.allow_private)
    return pinned


def peer_is_public(response: httpx.Response) -> bool:
    """Did ``response`` come from a public address? (Call it while the answer is open.)"""
    stream = response.extensions.get("network_stream")
    try:
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        return peer is not None and is_public(str(peer[0]))
    except (OSError, ValueError):
        return False


def _guard_redirect(settings: HttpSettings):
    def hook(response: httpx.Response) -> None:
        # httpx runs response hooks before it builds the redirect request
        # (next_request is still None here): resolve Location ourselves.
        if response.has_redirect_location:
            try:
                target = response.request.url.join(response.headers["location"])
            except httpx.InvalidURL:
                raise ProviderError("the server redirected to an invalid URL") from None
            check_url(str(target), settings.allow_private)

    return hook


def client(settings: HttpSettings, **kw) -> httpx.Client:
    """An httpx client on the pinned transport, with the guard on every redirect."""
    kw.setdefault("transport", transport(settings))
    return httpx.Client(
        timeout=httpx.Timeout(settings.timeout),
        follow_redirects=True,
        max_redirects=5,
        headers={"User-Agent": settings.user_agent, **kw.pop("headers", {})},
        event_hooks={"response": [_guard_redirect(settings)]},
        **kw,
    )


def describe_status(response: httpx.Response) -> ProviderError:
    """A readable error for a failed answer; 401/403 are permanent."""
    status = response.status_code
    where = response.request.url.host if response.request else "the server"
    if status in (401, 403):
        return AuthError(
            f"{where} refused the credentials ({status}); reconnect or check the password"
        )
    if status == 404:
        return ProviderError(f"{where} has no such calendar (404); check the URL", permanent=False)
    if status == 410:
        return ProviderError(f"{where} says the calendar is gone (410)")
    if status == 429 or status >= 500:
        return ProviderError(f"{where} is unavailable right now ({status}); retrying later")
    return ProviderError(f"{where} answered {status} {response.reason_phrase}")


@contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Turn transport failures into readable, retryable ProviderErrors.

    Connect failures and timeouts all read :data:`UNREACHABLE`, without the
    operating system's reason (refused, no route, timed out).
    """
    try:
        yield
    except ProviderError:
        raise
    except httpx.TooManyRedirects:
        raise ProviderError(f"{what}: too many redirects") from None
    except httpx.InvalidURL as exc:  # not an HTTPError: what urlsplit accepted and httpx did not
        raise ProviderError(f"{what}: not a valid URL ({exc})", permanent=True) from None
    except httpx.HTTPError:
        raise ProviderError(f"{what}: {UNREACHABLE}; retrying later") from None


def fetch(
    http: httpx.Client, method: str, url: str, settings: HttpSettings, **kw
) -> httpx.Response:
    """One guarded request whose body is read up to ``settings.max_bytes``."""
    check_url(url, settings.allow_private, resolve_host=False)  # the transport resolves
    where = urlsplit(url).hostname or url
    # The client's timeout bounds each wait; a server sending a byte now and
    # then would never trip it, so the whole answer gets a deadline too.
    budget = settings.timeout * WHOLE_ANSWER_TIMEOUTS
    deadline = time.monotonic() + budget
    with translated_errors(where), http.stream(method, url, **kw) as response:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            if time.monotonic() > deadline:
                raise ProviderError(f"{where}: the answer took longer than {budget:g} s; giving up")
            size += len(chunk)
            if size > settings.max_bytes:
                raise ProviderError(
                    f"the answer is larger than {_size(settings.max_bytes)}; refusing it",
                    # A fault of the source (it may shrink), not of the credentials:
                    # the connection stays `error` and is retried with back-off.
                    permanent=False,
                )
            chunks.append(chunk)
    # iter_bytes() has already undone any Content-Encoding; left in the
    # headers, it would make the new Response decode the body a second time.
    headers = response.headers.copy()
    for name in ("content-encoding", "content-length", "transfer-encoding"):
        headers.pop(name, None)
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=b"".join(chunks),
        request=response.request,
    )


def _size(count: int) -> str:
    if count >= 1_048_576:
        return f"{count / 1_048_576:g} MiB"
    return f"{count / 1024:g} KiB" if count >= 1024 else f"{count} bytes"
