"""calmesh (the package): ``create_app``: the data folder it prepares, the secret
key it reads or generates once, the app's settings, and ``server.trusted_proxies``
as the README documents it: with 1, the app takes the client's address, scheme
and host from the one proxy in front (the last X-Forwarded-For entry, the one the
proxy appended; X-Forwarded-Proto and -Host); with 0, forwarding headers change
nothing. Through the app's whole WSGI stack."""

from __future__ import annotations

import pytest
from flask import jsonify, request

from calmesh import create_app
from calmesh.config import ConfigError
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


# --- the secret key and the data folder ------------------------------------------------------


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = make_app(tmp_path)
    second = make_app(tmp_path)
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    secret = key_file.read_text().strip()
    assert len(secret) == 64
    assert first.extensions["calmesh.keys"].secret == secret
    assert second.extensions["calmesh.keys"].secret == secret
    # Cookies are signed with a key derived from it, never with the secret itself.
    assert first.secret_key == second.secret_key != secret.encode()


def test_a_configured_key_or_key_file_is_used_and_nothing_is_generated(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("  from-a-file-0123456789abcdef  \n")

    given = make_app(tmp_path / "a", **{"security.secret_key": "given-0123456789abcdef"})
    filed = make_app(tmp_path / "b", **{"security.secret_key_file": str(key_file)})

    assert given.extensions["calmesh.keys"].secret == "given-0123456789abcdef"
    assert filed.extensions["calmesh.keys"].secret == "from-a-file-0123456789abcdef"
    assert not (tmp_path / "a" / "data" / "secret_key").exists()
    assert not (tmp_path / "b" / "data" / "secret_key").exists()


@pytest.mark.parametrize("content", [None, "  \n"], ids=["missing", "empty"])
def test_an_unusable_key_file_stops_the_start_naming_it(tmp_path, content):
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_text(content)

    with pytest.raises(ConfigError, match=r"security\.secret_key_file") as refused:
        create_app({"data_dir": str(tmp_path / "data"), "security.secret_key_file": str(key_file)})

    assert str(key_file) in str(refused.value)


def test_a_data_folder_that_cannot_be_made_stops_the_start_naming_it(tmp_path):
    # Below a plain file, no folder can be made: the same refusal as a read-only one,
    # also for root (who writes into read-only folders).
    blocker = tmp_path / "file"
    blocker.write_text("")
    folder = blocker / "data"

    with pytest.raises(ConfigError, match="is not writable") as refused:
        create_app({"data_dir": str(folder)})

    assert str(folder) in str(refused.value) and "CALMESH_DATA_DIR" in str(refused.value)
    assert list(tmp_path.iterdir()) == [blocker]  # nothing else was created


def test_the_app_keeps_json_keys_in_order_and_limits_bodies(tmp_path):
    app = make_app(tmp_path, **{"server.max_body_bytes": 4096})

    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    assert app.json.sort_keys is False
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert {"api", "system", "web", "public"} <= set(app.blueprints)
    assert {"slug", "token"} <= set(app.url_map.converters)
