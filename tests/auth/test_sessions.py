"""Sign-ins that can be ended (issue 11, item 8) and the cookies that carry them (item 13).

Every test signs in through the real login form and replays cookies copied
before the sign-in ended, as someone who stole them would.
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import pytest

from calmesh.auth import sessions
from calmesh.models import User, UserSession
from tests.conftest import make_app, make_user

PASSWORD = "alice-password-123"


def csrf_of(client, path: str = "/profile") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))[
        1
    ]


def sign_in(app, login: str = "alice", password: str = PASSWORD, remember: bool = False, **kw):
    """A new browser signed in through the login form."""
    client = app.test_client()
    form = {"login": login, "password": password, "csrf_token": csrf_of(client, "/login")}
    if remember:
        form["remember"] = "1"
    answer = client.post("/login", data=form, **kw)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def cookie(client, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found else None


def browser_with(app, **cookies: str):
    """A fresh browser holding copies of some cookies."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def signed_in(client) -> bool:
    return client.get("/dashboard").status_code == 200


@pytest.fixture
def alice(app):
    return make_user("alice")


def test_cookies_copied_before_logout_stop_working_after_it(app, alice):
    browser = sign_in(app, remember=True)
    stolen_session, stolen_remember = cookie(browser, "session"), cookie(browser, "remember_token")
    assert stolen_session and stolen_remember
    assert signed_in(browser_with(app, session=stolen_session))
    assert signed_in(browser_with(app, remember_token=stolen_remember))

    assert browser.post("/logout", data={"csrf_token": csrf_of(browser)}).status_code == 302

    assert not signed_in(browser)
    assert not signed_in(browser_with(app, session=stolen_session))
    assert not signed_in(browser_with(app, remember_token=stolen_remember))
    assert not signed_in(browser_with(app, session=stolen_session, remember_token=stolen_remember))


def test_every_sign_in_gets_its_own_remember_token_and_no_user_id_in_cookies(app, alice):
    first = cookie(sign_in(app, remember=True), "remember_token")
    second = cookie(sign_in(app, remember=True), "remember_token")
    assert first != second
    # The cookie names a sign-in, not the user: a forged "<id>|..." gets nowhere.
    assert not first.startswith(f"{alice.id}|")
    assert UserSession.select().where(UserSession.user == alice).count() == 2


def test_a_password_change_ends_every_other_session(app, alice):
    here, there = sign_in(app), sign_in(app, remember=True)
    stolen_remember = cookie(there, "remember_token")
    answer = here.post(
        "/profile/password",
        data={
            "current_password": PASSWORD,
            "password": "a-new-password-456",
            "csrf_token": csrf_of(here),
        },
    )
    assert answer.status_code == 302
    assert signed_in(here)
    assert not signed_in(there)
    assert not signed_in(browser_with(app, remember_token=stolen_remember))
    sign_in(app, password="a-new-password-456")


def test_a_password_or_email_change_needs_the_current_password(app, alice):
    here, there = sign_in(app), sign_in(app)
    wrong = here.post(
        "/profile/password",
        data={"current_password": "guess", "password": "x" * 12, "csrf_token": csrf_of(here)},
    )
    assert wrong.status_code == 400 and "is not your password" in wrong.get_data(as_text=True)
    wrong = here.post(
        "/profile/email",
        data={"email": "a@evil.example", "email_password": "guess", "csrf_token": csrf_of(here)},
    )
    assert wrong.status_code == 400
    assert User.get_by_id(alice.id).email == "alice@example.org"
    assert signed_in(there)
    # Guessing is throttled like sign-in.
    for _ in range(5):
        here.post(
            "/profile/password",
            data={"current_password": "guess", "password": "x" * 12, "csrf_token": csrf_of(here)},
        )
    late = here.post(
        "/profile/password",
        data={"current_password": PASSWORD, "password": "x" * 12, "csrf_token": csrf_of(here)},
    )
    assert late.status_code == 400 and "too often" in late.get_data(as_text=True)


def test_an_email_change_ends_every_other_session(app, alice):
    make_user("bob")
    here, there = sign_in(app), sign_in(app)
    taken = here.post(
        "/profile/email",
        data={"email": "bob@example.org", "email_password": PASSWORD, "csrf_token": csrf_of(here)},
    )
    assert taken.status_code == 400 and "another account" in taken.get_data(as_text=True)
    assert signed_in(there)
    answer = here.post(
        "/profile/email",
        data={
            "email": "Alice@New.example",
            "email_password": PASSWORD,
            "csrf_token": csrf_of(here),
        },
    )
    assert answer.status_code == 302
    assert User.get_by_id(alice.id).email == "alice@new.example"
    assert signed_in(here) and not signed_in(there)


def test_the_sessions_list_shows_each_sign_in_and_ends_one(app, alice):
    here = sign_in(app, headers={"User-Agent": "Firefox on the laptop"})
    there = sign_in(app, remember=True, headers={"User-Agent": "Safari on the phone"})
    page = here.get("/profile").get_data(as_text=True)
    assert "Firefox on the laptop" in page and "Safari on the phone" in page
    assert "this session" in page
    phone = UserSession.get(UserSession.user_agent == "Safari on the phone")

    ended = here.post(f"/profile/sessions/{phone.id}/end", data={"csrf_token": csrf_of(here)})
    assert ended.status_code == 302
    assert not signed_in(there) and signed_in(here)
    assert "Safari on the phone" not in here.get("/profile").get_data(as_text=True)


def test_another_users_session_cannot_be_ended(app, alice):
    make_user("bob")
    bobs = sign_in(app, "bob", "bob-password-123")
    bob_session = UserSession.get(UserSession.user != alice)
    here = sign_in(app)
    answer = here.post(
        f"/profile/sessions/{bob_session.id}/end", data={"csrf_token": csrf_of(here)}
    )
    assert answer.status_code == 404
    assert signed_in(bobs)


def test_sign_out_everywhere_and_end_all_others(app, alice):
    one, two, three = sign_in(app), sign_in(app, remember=True), sign_in(app)
    assert one.post("/profile/sessions/end-others", data={"csrf_token": csrf_of(one)}).status_code
    assert signed_in(one) and not signed_in(two) and not signed_in(three)
    four = sign_in(app)
    answer = one.post("/logout/everywhere", data={"csrf_token": csrf_of(one)})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")
    assert not signed_in(one) and not signed_in(four)
    assert UserSession.active_for(alice).count() == 0


def test_an_idle_session_ends_and_a_remembered_one_lasts(app, alice, monkeypatch):
    from datetime import timedelta

    from calmesh.db import utcnow

    plain, remembered = sign_in(app), sign_in(app, remember=True)
    later = utcnow() + sessions.IDLE + timedelta(minutes=1)
    monkeypatch.setattr(sessions, "utcnow", lambda: later)
    monkeypatch.setattr("calmesh.models.users.utcnow", lambda: later)
    assert not signed_in(plain)
    assert signed_in(remembered)


@pytest.fixture
def proxied_app(tmp_path):
    from calmesh.db import db

    app = make_app(tmp_path, **{"server.trusted_proxies": 1})
    with app.app_context():
        db.connect(reuse_if_open=True)
        make_user("alice")
        yield app
        db.close()


def test_the_address_is_the_one_the_trusted_proxy_saw(proxied_app):
    browser = sign_in(proxied_app, headers={"X-Forwarded-For": "203.0.113.7"})
    assert UserSession.get().address == "203.0.113.7"
    assert "203.0.113.7" in browser.get("/profile").get_data(as_text=True)


# --- cookies (issue 11, item 13) ----------------------------------------------------------------


def set_cookies(response) -> dict[str, dict[str, str | bool]]:
    """Set-Cookie headers by cookie name: attribute (lower case) to value."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            found[name] = {k: v for k, v in morsel.items() if v}
            found[name]["raw"] = header
    return found


@pytest.mark.parametrize(
    ("base_url", "setting", "secure"),
    [
        ("https://cal.example.org", "auto", True),
        ("http://cal.example.org", "auto", False),
        ("", "auto", False),
        ("", "true", True),
        ("https://cal.example.org", "false", False),
    ],
)
def test_cookies_are_secure_on_https_httponly_and_samesite_lax(tmp_path, base_url, setting, secure):
    from calmesh.db import db

    app = make_app(tmp_path, **{"server.base_url": base_url, "security.secure_cookies": setting})
    with app.app_context():
        db.connect(reuse_if_open=True)
        make_user("alice")
        client = app.test_client()
        form = {"login": "alice", "password": PASSWORD, "remember": "1"}
        form["csrf_token"] = csrf_of(client, "/login")
        answer = client.post("/login", data=form, base_url="https://localhost")
        db.close()
    cookies = set_cookies(answer)
    assert set(cookies) == {"session", "remember_token"}
    for attributes in cookies.values():
        assert attributes.get("httponly") is True, attributes["raw"]
        assert attributes.get("samesite") == "Lax", attributes["raw"]
        assert bool(attributes.get("secure")) is secure, attributes["raw"]


def test_secure_cookies_takes_true_false_and_auto_only():
    from calmesh import config

    assert (
        config.load({"security.secure_cookies": True}, environ={})["security.secure_cookies"]
        == "true"
    )
    loaded = config.load(environ={"CALMESH_SECURITY_SECURE_COOKIES": "off"})
    assert loaded["security.secure_cookies"] == "false"
    with pytest.raises(config.ConfigError, match="auto, true, false"):
        config.load(environ={"CALMESH_SECURITY_SECURE_COOKIES": "sometimes"})


def test_housekeeping_deletes_sign_ins_ended_or_expired_long_ago(app, alice):
    from datetime import timedelta

    from calmesh.db import utcnow

    live, _ = sessions.create(alice)
    ended, _ = sessions.create(alice)
    expired, _ = sessions.create(alice)
    long_ago = utcnow() - sessions.KEEP_ENDED - timedelta(days=1)
    UserSession.update(ended_at=long_ago).where(UserSession.id == ended.id).execute()
    UserSession.update(expires_at=long_ago).where(UserSession.id == expired.id).execute()
    assert sessions.purge() == 2
    assert [row.id for row in UserSession.select()] == [live.id]
