"""OAuth for Google and Microsoft, against the local stand-ins (tests/standins)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from calmesh.providers import oauth
from calmesh.providers.base import AuthError, HttpSettings, ProviderError
from calmesh.providers.net import BlockedAddress

LOOPBACK = HttpSettings(allow_private=True, timeout=5)
REDIRECT = "http://calmesh.example/oauth/callback"
VERIFIER = "v" * 43  # a PKCE code verifier (43-128 characters)


@pytest.fixture(params=["google", "microsoft"])
def standin(request):
    """Each test that takes this runs against both stand-ins."""
    return request.getfixturevalue(f"{request.param}_standin")


def consent(standin, state: str = "st4te") -> str:
    """Open the consent page as a browser would; returns the code it redirects back with."""
    url = oauth.authorization_url(standin.kind, standin.settings(), REDIRECT, state, VERIFIER)
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    return query["code"][0]


def api_call(standin, info) -> httpx.Response:
    """One authorised API request through a session, as providers make them."""
    with oauth.session(standin.kind, info) as api:
        return api.request("GET", standin.settings()["api_base"] + _LIST_PATH[standin.kind])


_LIST_PATH = {"google": "/users/me/calendarList", "microsoft": "/me/calendars"}


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# --- the consent link ----------------------------------------------------------------------


def test_google_authorization_url_asks_for_offline_access_with_state_and_redirect(
    google_standin,
):
    url = oauth.authorization_url("google", google_standin.settings(), REDIRECT, "abc123", VERIFIER)
    assert url.startswith(google_standin.settings()["auth_url"] + "?")
    query = query_of(url)
    assert query["state"] == "abc123"
    assert query["redirect_uri"] == REDIRECT
    assert query["client_id"] == google_standin.client_id
    assert query["response_type"] == "code"
    assert query["scope"] == "https://www.googleapis.com/auth/calendar"
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"


def test_microsoft_authorization_url_asks_for_offline_access_scope(microsoft_standin):
    url = oauth.authorization_url(
        "microsoft", microsoft_standin.settings(), REDIRECT, "xyz", VERIFIER
    )
    query = query_of(url)
    assert query["state"] == "xyz"
    assert query["redirect_uri"] == REDIRECT
    assert query["scope"].split() == ["offline_access", "Calendars.ReadWrite", "User.Read"]
    assert "client_secret" not in query


def test_authorization_url_without_a_client_id_says_what_to_configure(google_standin):
    settings = google_standin.settings() | {"client_id": ""}
    with pytest.raises(ProviderError, match=r"google\.client_id is not configured") as caught:
        oauth.authorization_url("google", settings, REDIRECT, "s", VERIFIER)
    assert caught.value.permanent


def test_a_kind_without_oauth_is_refused(google_standin):
    with pytest.raises(ProviderError, match="does not use OAuth"):
        oauth.authorization_url("caldav", google_standin.settings(), REDIRECT, "s", VERIFIER)


# --- exchanging the code ---------------------------------------------------------------------


def test_exchange_code_after_consent_returns_a_refreshable_token(standin):
    code = consent(standin)
    token = oauth.exchange_code(
        standin.kind, standin.settings(), REDIRECT, code, LOOPBACK, VERIFIER
    )
    assert standin.is_valid_access_token(token["access_token"])
    assert token["refresh_token"] in standin.live_refresh_tokens()
    assert token["expires_at"] > time.time() + 3000


def test_exchange_code_sends_the_scope_to_microsoft_only(standin):
    oauth.exchange_code(
        standin.kind, standin.settings(), REDIRECT, consent(standin), LOOPBACK, VERIFIER
    )
    form = [s for s in standin.seen if s.path == standin.token_path][-1].form
    assert form["grant_type"] == "authorization_code"
    assert form["redirect_uri"] == REDIRECT
    assert form["client_id"] == standin.client_id
    assert ("scope" in form) == (standin.kind == "microsoft")


def test_a_code_used_twice_is_refused_as_an_auth_error(standin):
    code = consent(standin)
    oauth.exchange_code(standin.kind, standin.settings(), REDIRECT, code, LOOPBACK, VERIFIER)
    with pytest.raises(AuthError, match="invalid_grant"):
        oauth.exchange_code(standin.kind, standin.settings(), REDIRECT, code, LOOPBACK, VERIFIER)


def test_a_code_for_another_redirect_uri_is_refused(standin):
    code = consent(standin)
    with pytest.raises(AuthError):
        oauth.exchange_code(
            standin.kind, standin.settings(), "http://evil.example/cb", code, LOOPBACK, VERIFIER
        )


def test_a_code_without_its_pkce_verifier_is_refused(standin):
    """PKCE: whoever gets hold of a code cannot use it without the verifier,
    which never leaves CalMesh."""
    query = query_of(
        oauth.authorization_url(standin.kind, standin.settings(), REDIRECT, "s", VERIFIER)
    )
    assert query["code_challenge_method"] == "S256" and VERIFIER not in query.values()
    code = consent(standin)
    with pytest.raises(AuthError, match="invalid_grant"):
        oauth.exchange_code(standin.kind, standin.settings(), REDIRECT, code, LOOPBACK, "w" * 43)


def test_a_wrong_client_secret_is_an_auth_error(standin):
    settings = standin.settings() | {"client_secret": "wrong"}
    with pytest.raises(AuthError, match="invalid_client"):
        oauth.exchange_code(standin.kind, settings, REDIRECT, consent(standin), LOOPBACK, VERIFIER)


def test_google_consent_without_offline_access_is_refused_for_lack_of_a_refresh_token(
    google_standin,
):
    url = oauth.authorization_url("google", google_standin.settings(), REDIRECT, "s", VERIFIER)
    online_only = url.replace("access_type=offline", "access_type=online")
    location = httpx.get(online_only).headers["location"]
    code = query_of(location)["code"]
    with pytest.raises(AuthError, match="no refresh token"):
        oauth.exchange_code("google", google_standin.settings(), REDIRECT, code, LOOPBACK, VERIFIER)


def test_a_token_endpoint_that_fails_is_a_retryable_error(standin):
    code = consent(standin)
    standin.token_fail_with = 503
    with pytest.raises(ProviderError) as caught:
        oauth.exchange_code(standin.kind, standin.settings(), REDIRECT, code, LOOPBACK, VERIFIER)
    assert not caught.value.permanent
    assert "503" in str(caught.value)


def test_the_ssrf_guard_refuses_a_loopback_token_endpoint(standin):
    code = consent(standin)
    before = len(standin.seen)
    strict = HttpSettings(allow_private=False, timeout=5)
    with pytest.raises(BlockedAddress):
        oauth.exchange_code(standin.kind, standin.settings(), REDIRECT, code, strict, VERIFIER)
    assert len(standin.seen) == before


def test_a_token_endpoint_rebound_to_loopback_is_never_reached(standin, network):
    code = consent(standin)
    before = len(standin.seen)
    settings = standin.settings()
    parts = urlsplit(settings["token_url"])
    settings["token_url"] = parts._replace(netloc=f"oauth.rebind.test:{parts.port}").geturl()
    network.answer("oauth.rebind.test", ["93.184.215.14"], ["127.0.0.1"])
    strict = HttpSettings(allow_private=False, timeout=5)
    with pytest.raises(ProviderError):
        oauth.exchange_code(standin.kind, settings, REDIRECT, code, strict, VERIFIER)
    assert len(standin.seen) == before
    assert network.attempts == [("93.184.215.14", parts.port)]


# --- sessions: refreshing and revocation -------------------------------------------------------


def test_a_session_refreshes_before_expiry_and_hands_the_new_token_over(standin):
    saved = []
    old = standin.grant(expires_in=30)  # inside the refresh leeway
    info = standin.connection_info(credentials=old, on_credentials=saved.append)
    assert api_call(standin, info).status_code == 200
    assert len(saved) == 1
    new = saved[0]
    assert new["access_token"] != old["access_token"]
    assert new["expires_at"] > time.time() + 3000
    assert info.credentials == new
    used = standin.api_seen()[-1].headers["authorization"]
    assert used == [f"Bearer {new['access_token']}"]


def test_google_keeps_its_refresh_token_across_a_refresh(google_standin):
    saved = []
    old = google_standin.grant(expires_in=0)
    info = google_standin.connection_info(credentials=old, on_credentials=saved.append)
    api_call(google_standin, info)
    assert saved[0]["refresh_token"] == old["refresh_token"]


def test_microsoft_rotates_the_refresh_token_and_the_rotated_one_is_saved(microsoft_standin):
    saved = []
    old = microsoft_standin.grant(expires_in=0)
    info = microsoft_standin.connection_info(credentials=old, on_credentials=saved.append)
    api_call(microsoft_standin, info)
    rotated = saved[0]["refresh_token"]
    assert rotated != old["refresh_token"]
    assert microsoft_standin.live_refresh_tokens() == {rotated}
    # The next session starts from what was saved, so the next refresh works too.
    microsoft_standin.expire_access_tokens()
    assert api_call(microsoft_standin, info).status_code == 200
    assert len(saved) == 2
    assert microsoft_standin.live_refresh_tokens() == {saved[1]["refresh_token"]}


def test_a_valid_token_is_used_without_refreshing(standin):
    saved = []
    info = standin.connection_info(on_credentials=saved.append)
    assert api_call(standin, info).status_code == 200
    assert saved == []
    assert [s.path for s in standin.seen if s.path == standin.token_path] == []


def test_a_token_the_server_expired_early_is_refreshed_once_and_the_request_retried(standin):
    saved = []
    info = standin.connection_info(on_credentials=saved.append)
    standin.expire_access_tokens()
    assert api_call(standin, info).status_code == 200
    assert len(saved) == 1
    assert len(standin.api_seen()) == 2  # the refused request and its retry


def test_a_revoked_grant_is_an_auth_error_when_refreshing(standin):
    info = standin.connection_info(credentials=standin.grant(expires_in=0))
    standin.revoke()
    with pytest.raises(AuthError, match="invalid_grant") as caught:
        api_call(standin, info)
    assert caught.value.permanent
    assert standin.api_seen() == []


def test_a_revoked_grant_is_an_auth_error_after_the_api_refuses_the_token(standin):
    token = standin.grant()
    info = standin.connection_info(credentials=token)
    standin.revoke()
    with pytest.raises(AuthError) as caught:
        api_call(standin, info)
    assert token["access_token"] not in str(caught.value)
    assert token["refresh_token"] not in str(caught.value)


def test_an_access_token_refused_after_a_refresh_is_an_auth_error(standin, monkeypatch):
    info = standin.connection_info()
    monkeypatch.setattr(standin, "is_valid_access_token", lambda token: False)
    with pytest.raises(AuthError, match="even after a refresh"):
        api_call(standin, info)


def test_an_expired_token_without_a_refresh_token_is_an_auth_error(standin):
    token = standin.grant(expires_in=0)
    del token["refresh_token"]
    with pytest.raises(AuthError, match="no refresh token"):
        api_call(standin, standin.connection_info(credentials=token))


def test_a_connection_without_a_token_is_an_auth_error(standin):
    with pytest.raises(AuthError):
        oauth.session(standin.kind, standin.connection_info(credentials={}))


def test_a_slow_token_endpoint_times_out_as_a_retryable_error(standin):
    info = standin.connection_info(credentials=standin.grant(expires_in=0), timeout=1)
    standin.token_hang = 10
    started = time.monotonic()
    with pytest.raises(ProviderError, match="no answer in time") as caught:
        api_call(standin, info)
    # Well before the server would have answered: a ratio, not this machine's speed.
    assert time.monotonic() - started < standin.token_hang / 2
    assert not caught.value.permanent


def test_the_standins_settings_are_real_configuration_keys(standin):
    from calmesh.config import SCHEMA

    keys = {key.dotted: key.env for key in SCHEMA}
    assert set(standin.config_overrides()) == {k for k in keys if k.startswith(standin.kind)}
    assert set(standin.env()) == {keys[k] for k in standin.config_overrides()}
