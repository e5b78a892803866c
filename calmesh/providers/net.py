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
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from calmesh.providers.base import AuthError, HttpSettings, ProviderError


class BlockedAddress(ProviderError):
    permanent = True


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool) -> None:
    """Raise BlockedAddress (or ProviderError for a malformed URL) before connecting."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ProviderError(f"not an http(s) URL: {url!r}", permanent=True)
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(
            parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        )
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
        if response.is_redirect and "location" in response.headers:
            check_url(
                str(response.next_request.url) if response.next_request else "",
                settings.allow_private,
            )

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
    except httpx.HTTPError as exc:
        raise ProviderError(f"{what}: cannot connect ({type(exc).__name__}: {exc})") from None


def fetch(
    http: httpx.Client, method: str, url: str, settings: HttpSettings, **kw
) -> httpx.Response:
    """One guarded request whose body is read up to ``settings.max_bytes``."""
    check_url(url, settings.allow_private)
    with (
        translated_errors(urlsplit(url).hostname or url),
        http.stream(method, url, **kw) as response,
    ):
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > settings.max_bytes:
                raise ProviderError(
                    f"the answer is larger than {settings.max_bytes // 1_048_576} MiB; refusing it",
                    permanent=True,
                )
            chunks.append(chunk)
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        content=b"".join(chunks),
        request=response.request,
    )
