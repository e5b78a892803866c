"""The outgoing-HTTP guard: address checks, pinned connections (DNS rebinding),
redirects, size cap, deadlines."""

from __future__ import annotations

import gzip
import math
import time
from collections.abc import Iterator

import httpx
import pytest

from calmesh.providers import net
from calmesh.providers.base import AuthError, HttpSettings, ProviderError
from tests.providers.feeds import TLS_NAME, FeedServer

PUBLIC = "http://8.8.8.8/feed.ics"  # a literal: no DNS lookup, and MockTransport never connects
LOCAL = HttpSettings(allow_private=True)

PRIVATE_URLS = [
    "http://127.0.0.1/",
    "http://127.8.9.10:8080/feed.ics",
    "http://[::1]/",
    "http://10.1.2.3/",
    "http://192.168.1.10/",
    "http://172.16.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:5232/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://0.0.0.0/",
    "https://[fe80::1]/",
    "http://[fd00::1]/",
    "http://224.0.0.1/",
    # IPv4 inside IPv6, each form of it (these passed the guard before).
    "http://[::7f00:1]/",  # IPv4-compatible 127.0.0.1
    "http://[::a9fe:a9fe]/",  # IPv4-compatible 169.254.169.254
    "http://[::ffff:0:7f00:1]/",  # IPv4-translated 127.0.0.1
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b:1::808:808]/",  # local-use NAT64: never public
    "http://[fec0::1]/",  # site-local
    "http://[2002:c0a8:101::1]/",  # 6to4 of 192.168.1.1
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "http://[::]/",
]


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


# --- check_url ---------------------------------------------------------------------


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_and_local_addresses_are_refused(url):
    with pytest.raises(net.BlockedAddress, match="private or local address") as caught:
        net.check_url(url, allow_private=False)
    assert caught.value.permanent


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_and_local_addresses_are_allowed_when_configured(url):
    net.check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://8.8.8.8/calendar.ics",
        "https://[2001:4860:4860::8888]/calendar.ics",
        "https://[::ffff:8.8.8.8]/calendar.ics",
        "https://[64:ff9b::808:808]/calendar.ics",
    ],
)
def test_public_addresses_are_allowed(url):
    net.check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "ftp://8.8.8.8/feed.ics",
        "webcal://8.8.8.8/feed.ics",  # the ics provider turns it into https first
        "http:///no-host",
        "/relative/path.ics",
        "",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_non_http_urls_are_refused_even_when_private_addresses_are_allowed(url, allow_private):
    with pytest.raises(ProviderError, match="not an http"):
        net.check_url(url, allow_private=allow_private)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://" + "a" * 300 + "/cal.ics", "not a valid host name"),
        ("http://a..b/cal.ics", "not a valid host name"),
        ("http://\udc00/cal.ics", "not a valid host name"),
        ("http://[::1/cal.ics", "not a valid URL"),
        ("http://8.8.8.8:99999/cal.ics", "not a valid URL"),
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_malformed_urls_are_permanent_provider_errors(url, words, allow_private):
    # Before the fix these raised ValueError, UnicodeError or httpx.InvalidURL.
    with pytest.raises(ProviderError, match=words) as caught:
        net.check_url(url, allow_private=allow_private)
    assert caught.value.permanent


def test_a_url_httpx_refuses_after_the_check_is_a_provider_error():
    url = "http://127.0.0.1/cal.ics\x00"  # urlsplit takes it; httpx raises InvalidURL
    with net.client(LOCAL) as http, pytest.raises(ProviderError, match="not a valid URL"):
        net.fetch(http, "GET", url, LOCAL)


# --- redirects ---------------------------------------------------------------------


def _redirecting(location: str, seen: list[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/feed.ics":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, text="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:8000/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost/",
        "http://10.0.0.5/internal.ics",
    ],
)
def test_redirect_to_a_private_address_is_refused_before_it_is_followed(location):
    seen: list[str] = []
    settings = HttpSettings()
    with (
        net.client(settings, transport=_redirecting(location, seen)) as http,
        pytest.raises(net.BlockedAddress),
    ):
        net.fetch(http, "GET", PUBLIC, settings)
    assert seen == [PUBLIC]


def test_redirect_to_an_invalid_url_is_refused():
    seen: list[str] = []
    settings = HttpSettings()
    with (
        net.client(settings, transport=_redirecting("http://[::1/feed.ics", seen)) as http,
        pytest.raises(ProviderError, match="redirected to an invalid URL"),
    ):
        net.fetch(http, "GET", PUBLIC, settings)
    assert seen == [PUBLIC]


def test_redirect_to_a_non_http_scheme_is_refused():
    seen: list[str] = []
    settings = HttpSettings(allow_private=True)
    with (
        net.client(settings, transport=_redirecting("file:///etc/passwd", seen)) as http,
        pytest.raises(ProviderError, match="not an http"),
    ):
        net.fetch(http, "GET", PUBLIC, settings)
    assert seen == [PUBLIC]


@pytest.mark.parametrize(
    ("location", "followed_to"),
    [
        ("http://8.8.4.4/moved.ics", "http://8.8.4.4/moved.ics"),
        ("/moved.ics", "http://8.8.8.8/moved.ics"),
    ],
)
def test_redirect_to_a_public_address_is_followed(location, followed_to):
    # Before the fix the guard read response.next_request, which httpx sets
    # only after the hooks ran: every redirect failed as "not an http(s) URL: ''".
    seen: list[str] = []
    settings = HttpSettings()
    with net.client(settings, transport=_redirecting(location, seen)) as http:
        response = net.fetch(http, "GET", PUBLIC, settings)
    assert response.status_code == 200
    assert seen == [PUBLIC, followed_to]


def test_redirect_over_loopback_is_followed_when_private_addresses_are_allowed(feeds):
    feeds.set("new.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    feeds.redirect("old.ics", "new.ics", status=301)
    with net.client(LOCAL) as http:
        response = net.fetch(http, "GET", feeds.url_for("old.ics"), LOCAL)
    assert response.status_code == 200
    assert response.content.startswith(b"BEGIN:VCALENDAR")
    assert feeds.requests == {"old.ics": 1, "new.ics": 1}


def test_loopback_is_refused_without_allow_private_and_nothing_is_sent(feeds):
    feeds.set("feed.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    settings = HttpSettings()
    with net.client(settings) as http, pytest.raises(net.BlockedAddress):
        net.fetch(http, "GET", feeds.url_for("feed.ics"), settings)
    assert feeds.requests.total() == 0


def test_endless_redirects_end_in_a_readable_error(feeds):
    feeds.redirect("loop.ics", "loop.ics")
    with net.client(LOCAL) as http, pytest.raises(ProviderError, match="too many redirects"):
        net.fetch(http, "GET", feeds.url_for("loop.ics"), LOCAL)


# --- size, encoding, time ----------------------------------------------------------


def test_an_answer_over_the_size_cap_is_refused(feeds):
    feeds.set("big.ics", b"x" * 50_000)
    settings = HttpSettings(allow_private=True, max_bytes=10_000)
    with net.client(settings) as http, pytest.raises(ProviderError, match="larger than") as caught:
        net.fetch(http, "GET", feeds.url_for("big.ics"), settings)
    assert "9.76562 KiB" in str(caught.value)


def test_an_answer_of_exactly_the_cap_is_accepted(feeds):
    feeds.set("edge.ics", b"x" * 10_000)
    settings = HttpSettings(allow_private=True, max_bytes=10_000)
    with net.client(settings) as http:
        assert len(net.fetch(http, "GET", feeds.url_for("edge.ics"), settings).content) == 10_000


def test_the_size_cap_counts_decompressed_bytes(feeds):
    feeds.set("bomb.ics", gzip.compress(b"x" * 1_000_000), headers={"Content-Encoding": "gzip"})
    settings = HttpSettings(allow_private=True, max_bytes=100_000)
    with net.client(settings) as http, pytest.raises(ProviderError, match="larger than"):
        net.fetch(http, "GET", feeds.url_for("bomb.ics"), settings)


def test_a_gzip_answer_comes_back_decoded_once(feeds):
    # Before the fix fetch() rebuilt the response with Content-Encoding still
    # set, and httpx decoded the decoded body again: DecodingError.
    body = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" * 100
    feeds.set("gz.ics", gzip.compress(body), headers={"Content-Encoding": "gzip"})
    with net.client(LOCAL) as http:
        response = net.fetch(http, "GET", feeds.url_for("gz.ics"), LOCAL)
    assert response.content == body
    assert "content-encoding" not in response.headers


def test_a_server_that_never_answers_times_out(feeds):
    feeds.set("hang.ics", b"BEGIN:VCALENDAR", delay=math.inf)
    settings = HttpSettings(allow_private=True, timeout=0.5)
    started = time.monotonic()
    with net.client(settings) as http, pytest.raises(ProviderError, match="no answer in time"):
        net.fetch(http, "GET", feeds.url_for("hang.ics"), settings)
    # The configured 0.5 s, not the default timeout: a ratio, not this machine's speed.
    assert time.monotonic() - started < HttpSettings().timeout / 4


def test_a_server_dripping_bytes_hits_the_whole_answer_deadline(feeds):
    # Each piece arrives well within the timeout; 40 pieces would take 8 s.
    feeds.set("drip.ics", b"x" * 64 * 40, drip=0.2)
    settings = HttpSettings(allow_private=True, timeout=0.5)
    started = time.monotonic()
    with (
        net.client(settings) as http,
        pytest.raises(ProviderError, match=r"took longer than 1\.5 s"),
    ):
        net.fetch(http, "GET", feeds.url_for("drip.ics"), settings)
    # Well before the whole body (8 s of drips) would have arrived.
    assert time.monotonic() - started < 40 * 0.2 / 2


def test_a_closed_port_is_a_retryable_error():
    with FeedServer() as server:
        url = server.url_for("gone.ics")
    with (
        net.client(LOCAL) as http,
        pytest.raises(ProviderError, match="could not connect") as caught,
    ):
        net.fetch(http, "GET", url, LOCAL)
    assert not caught.value.permanent


def test_a_closed_port_and_a_silent_one_read_the_same(feeds):
    # An error that named the cause (refused, timed out, "[Errno 111]") would
    # let a user map which ports of a network answer.
    with FeedServer() as server:
        closed = server.url_for("gone.ics")
    feeds.set("hang.ics", b"", delay=math.inf)
    settings = HttpSettings(allow_private=True, timeout=0.3)
    messages = []
    for url in (closed, feeds.url_for("hang.ics")):
        with net.client(settings) as http, pytest.raises(ProviderError) as caught:
            net.fetch(http, "GET", url, settings)
        messages.append(str(caught.value))
    assert messages[0] == messages[1] == f"127.0.0.1: {net.UNREACHABLE}; retrying later"


# --- pinned connections: DNS rebinding ----------------------------------------------


def test_a_name_rebound_to_loopback_after_the_check_never_reaches_it(feeds, network):
    # The attack: the first lookup answers a public address, every later one
    # 127.0.0.1. Before the fix the guard looked up the name, then httpx looked
    # it up again and connected to the loopback server.
    feeds.set("feed.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    port = int(feeds.base_url.rsplit(":", 1)[1])
    network.answer("rebind.test", ["93.184.215.14"], ["127.0.0.1"])
    settings = HttpSettings()
    with net.client(settings) as http, pytest.raises(ProviderError, match="could not connect"):
        net.fetch(http, "GET", f"http://rebind.test:{port}/feed.ics", settings)
    assert feeds.requests.total() == 0
    assert network.lookups["rebind.test"] == 1  # looked up once ...
    assert network.attempts == [("93.184.215.14", port)]  # ... and connected to that answer


def test_a_name_with_one_private_address_among_public_ones_is_refused(feeds, network):
    feeds.set("feed.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    port = int(feeds.base_url.rsplit(":", 1)[1])
    network.answer("mixed.test", ["93.184.215.14", "127.0.0.1"])
    settings = HttpSettings()
    with net.client(settings) as http, pytest.raises(net.BlockedAddress):
        net.fetch(http, "GET", f"http://mixed.test:{port}/feed.ics", settings)
    assert feeds.requests.total() == 0
    assert network.attempts == []


@pytest.mark.parametrize(
    "address", ["::7f00:1", "::ffff:0:7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "fec0::1"]
)
def test_a_name_resolving_to_ipv4_inside_ipv6_is_refused_at_connect(network, address):
    network.answer("sly.test", [address])
    settings = HttpSettings()
    with net.client(settings) as http, pytest.raises(net.BlockedAddress):
        net.fetch(http, "GET", "http://sly.test/feed.ics", settings)
    assert network.attempts == []


def test_a_redirect_target_rebound_after_its_check_is_refused(feeds, network):
    feeds.set("feed.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    port = int(feeds.base_url.rsplit(":", 1)[1])
    # The public origin redirects; its target passes the hop's check, then rebinds.
    network.answer("hop.test", ["93.184.215.14"], ["127.0.0.1"])
    settings = HttpSettings()
    redirect = _redirecting(f"http://hop.test:{port}/feed.ics", [])
    pinned = net.transport(settings)

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "8.8.8.8":
            return redirect.handle_request(request)
        return pinned.handle_request(request)

    with (
        net.client(settings, transport=httpx.MockTransport(route)) as http,
        pytest.raises(net.BlockedAddress),
    ):
        net.fetch(http, "GET", PUBLIC, settings)
    assert feeds.requests.total() == 0


def test_the_pinned_connection_keeps_the_host_header(feeds, network):
    feeds.set("feed.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    port = int(feeds.base_url.rsplit(":", 1)[1])
    network.answer("lan-calendar.test", ["127.0.0.1"])
    with net.client(LOCAL) as http:
        response = net.fetch(http, "GET", f"http://lan-calendar.test:{port}/feed.ics", LOCAL)
    assert response.status_code == 200
    assert feeds.last("feed.ics").headers["host"] == f"lan-calendar.test:{port}"


def test_tls_names_and_verifies_the_host_not_the_pinned_address(monkeypatch, network):
    with FeedServer(tls=True) as feeds:
        feeds.set("feed.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
        monkeypatch.setenv("SSL_CERT_FILE", str(feeds.ca_file))
        port = int(feeds.base_url.rsplit(":", 1)[1])
        network.answer(TLS_NAME, ["127.0.0.1"])
        network.answer("impostor.test", ["127.0.0.1"])
        with net.client(LOCAL) as http:
            response = net.fetch(http, "GET", f"https://{TLS_NAME}:{port}/feed.ics", LOCAL)
        assert response.status_code == 200
        assert feeds.server_names == [TLS_NAME]
        assert feeds.last("feed.ics").headers["host"] == f"{TLS_NAME}:{port}"
        # The certificate is valid for 127.0.0.1 too: checked against the
        # pinned address instead of the name, this would pass.
        with net.client(LOCAL) as http, pytest.raises(ProviderError):
            net.fetch(http, "GET", f"https://impostor.test:{port}/feed.ics", LOCAL)
        assert feeds.requests["feed.ics"] == 1


def test_the_peer_of_an_answer_is_judged_by_its_address(feeds):
    feeds.set("feed.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    with net.client(LOCAL) as http, http.stream("GET", feeds.url_for("feed.ics")) as response:
        assert net.peer_is_public(response) is False
    assert net.peer_is_public(httpx.Response(200)) is False  # no connection: not public


def test_masked_urls_show_no_credentials_or_query():
    assert net.masked("https://bob:hunter2@cal.example.org:8443/dav/?token=s3cret#x") == (
        "https://…@cal.example.org:8443/dav/?…#…"
    )
    assert net.masked("http://[::1/") == "(an invalid URL)"


def test_an_invalid_url_is_reported_without_its_secrets():
    with pytest.raises(ProviderError) as caught:
        net.check_url("https://bob:hunter2@cal.example.org:99999/?token=s3cret", False)
    assert "hunter2" not in str(caught.value)
    assert "s3cret" not in str(caught.value)


# --- describe_status ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "permanent", "words"),
    [
        (401, AuthError, True, "refused the credentials (401)"),
        (403, AuthError, True, "refused the credentials (403)"),
        (404, ProviderError, False, "no such calendar (404)"),
        (410, ProviderError, False, "gone (410)"),
        (429, ProviderError, False, "unavailable right now (429)"),
        (503, ProviderError, False, "unavailable right now (503)"),
        (418, ProviderError, False, "answered 418"),
    ],
)
def test_failed_answers_are_described_for_a_person(status, kind, permanent, words):
    request = httpx.Request("GET", "https://calendar.example.org/feed.ics")
    error = net.describe_status(httpx.Response(status, request=request))
    assert type(error) is kind
    assert error.permanent is permanent
    assert str(error).startswith("calendar.example.org ")
    assert words in str(error)
