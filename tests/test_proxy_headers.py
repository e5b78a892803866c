"""``server.trusted_proxies`` as the README documents it: with 1, the app takes the
client's address, scheme and host from the one proxy in front (the last
X-Forwarded-For entry, the one the proxy appended; X-Forwarded-Proto and -Host);
with 0, forwarding headers change nothing. Through the app's whole WSGI stack."""

from __future__ import annotations

from flask import jsonify, request

from tests.conftest import make_app

PROXY = {"REMOTE_ADDR": "127.0.0.1"}  # every request arrives from the proxy on loopback
FORWARDED = {
    # What nginx sends for a client at 203.0.113.9 who forged an address of its own:
    # $proxy_add_x_forwarded_for appends the real one.
    "X-Forwarded-For": "198.51.100.66, 203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "cal.example.org",
}


def seen(tmp_path, trusted: int, headers: dict[str, str]) -> dict:
    app = make_app(tmp_path, **{"server.trusted_proxies": trusted})

    @app.get("/_seen")
    def _seen():  # what the app's code sees of the request
        return jsonify(
            addr=request.remote_addr,
            scheme=request.scheme,
            host=request.host,
            url=request.host_url,
        )

    client = app.test_client()
    answer = client.get("/_seen", headers=headers, environ_base=PROXY)
    health = client.get("/api/health", headers=headers, environ_base=PROXY)
    return {**answer.get_json(), "hsts": "Strict-Transport-Security" in health.headers}


def test_one_trusted_proxy_gives_the_clients_address_scheme_and_host(tmp_path):
    assert seen(tmp_path, 1, FORWARDED) == {
        "addr": "203.0.113.9",  # the proxy's entry, not the forged one before it
        "scheme": "https",
        "host": "cal.example.org",
        "url": "https://cal.example.org/",
        "hsts": True,
    }


def test_without_trusted_proxies_forwarding_headers_change_nothing(tmp_path):
    assert seen(tmp_path, 0, {**FORWARDED, "Host": "127.0.0.1:8000"}) == {
        "addr": "127.0.0.1",
        "scheme": "http",
        "host": "127.0.0.1:8000",
        "url": "http://127.0.0.1:8000/",
        "hsts": False,
    }


def test_a_client_talking_to_a_trusted_port_directly_cannot_pick_its_address(tmp_path):
    # Without a proxy in between nobody appends: the client's one entry is all there
    # is. That is why trusted_proxies wants the app on loopback (calmesh check says so).
    forged = {"X-Forwarded-For": "10.9.8.7"}
    assert seen(tmp_path, 1, forged)["addr"] == "10.9.8.7"
    assert seen(tmp_path, 0, forged)["addr"] == "127.0.0.1"
