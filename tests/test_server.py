"""calmesh.server: ``serve`` under gunicorn: the options it runs with, its access
log (redacted, escaped, quiet about answered health checks) and the app it loads
in each worker. The running server is tested end to end in tests/test_e2e_serve.py
(the JSON 414, draining on SIGTERM)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from gunicorn.config import Config as GunicornConfig
from gunicorn.errors import AppImportError
from gunicorn.workers.sync import SyncWorker

from calmesh import config
from calmesh.server import AccessLogger, Worker, gunicorn_options, wsgi_app
from tests.test_logs import FEED_TOKEN, MANAGE


def settings(tmp_path, **overrides):
    return config.load({"data_dir": str(tmp_path), **overrides}, environ={})


def test_gunicorn_runs_calmeshs_worker_and_logger_with_the_configured_server(tmp_path):
    options = gunicorn_options(
        settings(tmp_path, **{"server.host": "127.0.0.2", "server.port": 8123, "server.workers": 5})
    )

    assert options["bind"] == "127.0.0.2:8123" and options["workers"] == 5
    assert options["worker_class"] == "calmesh.server.Worker"
    assert options["logger_class"] is AccessLogger
    assert options["graceful_timeout"] == options["timeout"]
    # One control socket per instance, kept with its data: never the per-user default.
    assert options["control_socket"] == str(tmp_path / "gunicorn.ctl")
    assert options["forwarded_allow_ips"] == "127.0.0.1"
    trusted = gunicorn_options(settings(tmp_path, **{"server.trusted_proxies": 1}))
    assert trusted["forwarded_allow_ips"] == "*"
    assert issubclass(Worker, SyncWorker)


def test_the_gunicorn_logger_class_redacts_and_escapes_every_request_field():
    cfg = GunicornConfig()
    cfg.set("accesslog", "-")
    logger = AccessLogger(cfg)

    class Response:
        status, sent, headers = "200 OK", 10, [("Content-Type", "text/calendar")]

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/feeds/{FEED_TOKEN}.ics",
        "PATH_INFO": f"/feeds/{FEED_TOKEN}.ics",
        "QUERY_STRING": f"token={MANAGE}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://cal.example.org/b/U?token={MANAGE}",
        "HTTP_USER_AGENT": "agent\n203.0.113.1 forged line",
        "HTTP_COOKIE": "session=secret-session-cookie",
    }
    headers = [("AUTHORIZATION", "Bearer cm_live_secret"), ("REFERER", environ["HTTP_REFERER"])]
    atoms = logger.atoms(Response(), headers, environ, timedelta(milliseconds=3))
    text = repr(atoms)
    for secret in (FEED_TOKEN, MANAGE, "cm_live_secret", "secret-session-cookie"):
        assert secret not in text
    assert atoms["r"] == "GET /feeds/[redacted] HTTP/1.1"
    assert atoms["f"] == "https://cal.example.org/b/U?token=[redacted]"
    assert atoms["{authorization}i"] == atoms["{http_cookie}e"] == "[redacted]"
    assert atoms["q"] == "token=[redacted]"
    assert atoms["a"] == "agent\\x0a203.0.113.1 forged line"


class Answered:
    def __init__(self, status: str):
        self.status, self.sent, self.headers = status, 2, []


@pytest.mark.parametrize(
    ("path", "status", "logged"),
    [
        ("/api/health", "200 OK", False),
        ("/api/health", "503 Service Unavailable", True),
        ("/api/v1/me", "200 OK", True),
    ],
)
def test_answered_health_checks_are_not_logged_and_everything_else_is(path, status, logged):
    cfg = GunicornConfig()
    cfg.set("accesslog", "-")
    logger = AccessLogger(cfg)
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append
    logger.access_log.addHandler(handler)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
    }
    try:
        logger.access(Answered(status), [], environ, timedelta(milliseconds=1))
    finally:
        logger.access_log.removeHandler(handler)

    assert bool(seen) is logged
    if logged:
        assert path in seen[0].getMessage()


def test_a_worker_that_cannot_load_the_app_says_why_in_one_line(tmp_path):
    key_file = tmp_path / "missing-key"

    with pytest.raises(AppImportError) as refused:
        wsgi_app({"data_dir": str(tmp_path), "security.secret_key_file": str(key_file)})

    assert str(refused.value).startswith("error: security.secret_key_file: cannot read")
    assert "\n" not in str(refused.value)
