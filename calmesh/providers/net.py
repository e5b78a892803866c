"""Outgoing HTTP for providers and webhooks: timeouts, a size cap, and the
server-side request forgery guard.

A URL whose host resolves to a loopback, private, link-local, multicast or
otherwise non-public address is refused unless ``allow_private`` is set
(tests and instances whose calendar server sits on the LAN). Every redirect
target is checked again. Errors come out as readable ProviderErrors.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from calmesh.providers.base import AuthError, HttpSettings, ProviderError

# fetch() allows the whole answer this many times HttpSettings.timeout.
WHOLE_ANSWER_TIMEOUTS = 3


class BlockedAddress(ProviderError):
    permanent = True


# RFC 6052's well-known prefix: a NAT64 gateway forwards these to the IPv4 address inside.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that reach an IPv4 address are judged by that address
        # (Python calls 6to4 and NAT64 addresses of 127.0.0.1 global).
        if ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        else:
            ip = ip.ipv4_mapped or ip.sixtofour or ip
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool) -> None:
    """Raise BlockedAddress (or ProviderError for a malformed URL) before connecting."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port out of range, an unclosed IPv6 literal ("http://[::1/")
        raise ProviderError(f"not a valid URL: {url!r}", permanent=True) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ProviderError(f"not an http(s) URL: {url!r}", permanent=True)
    try:
        # What the resolver does first. With allow_private nothing below
        # resolves the name, and httpx would raise a bare UnicodeError.
        parts.hostname.encode("idna")
    except UnicodeError:
        raise ProviderError(f"not a valid host name: {parts.hostname!r}", permanent=True) from None
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise ProviderError(f"cannot resolve host {parts.hostname!r}") from None
    for info in infos:
        if not _is_public(info[4][0]):
            raise BlockedAddress(
                f"{parts.hostname} resolves to a private or local address ({info[4][0]}); "
                "set security.allow_private_addresses = true to allow it"
            )


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
    """An httpx client with the guard on every redirect."""
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
    """Turn transport failures into readable, retryable ProviderErrors."""
    try:
        yield
    except ProviderError:
        raise
    except httpx.TimeoutException:
        raise ProviderError(f"{what}: the server did not answer in time") from None
    except httpx.TooManyRedirects:
        raise ProviderError(f"{what}: too many redirects") from None
    except httpx.InvalidURL as exc:  # not an HTTPError: what urlsplit accepted and httpx did not
        raise ProviderError(f"{what}: not a valid URL ({exc})", permanent=True) from None
    except httpx.HTTPError as exc:
        raise ProviderError(f"{what}: cannot connect ({type(exc).__name__}: {exc})") from None


def fetch(
    http: httpx.Client, method: str, url: str, settings: HttpSettings, **kw
) -> httpx.Response:
    """One guarded request whose body is read up to ``settings.max_bytes``."""
    check_url(url, settings.allow_private)
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
