"""The files of ``deploy/`` as a VPS uses them: the systemd unit passes
``systemd-analyze verify``, the nginx example ``nginx -t`` and the Caddyfile
``caddy validate``; and the nginx example, run for real in front of a real serve
with the settings the README pairs with it, gives the app the client's scheme,
host and address. ``scripts/test.sh`` installs the checkers (Debian packages)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import tls
from tests.conftest import ROOT, free_port, require, start_server, stop_server, wait_until

DEPLOY = ROOT / "deploy"
HOST = "127.0.0.1"
README = (ROOT / "README.md").read_text()
DOCUMENTED = {  # the settings README and the proxy examples name
    "CALMESH_SERVER_HOST": "127.0.0.1",
    "CALMESH_SERVER_BASE_URL": "https://cal.example.org",
    "CALMESH_SERVER_TRUSTED_PROXIES": "1",
    "CALMESH_SECURITY_SECURE_COOKIES": "true",
}


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    require(found is not None, f"{name} is not installed (scripts/test.sh installs it as root)")
    return found


# --- systemd -------------------------------------------------------------------------


def test_the_systemd_unit_verifies(tmp_path):
    analyze = tool("systemd-analyze")
    text = (DEPLOY / "calmesh.service").read_text()
    assert "ExecStart=/usr/local/bin/calmesh serve" in text
    # verify insists that ExecStart exists: point it at a real executable.
    unit = tmp_path / "calmesh.service"
    unit.write_text(text.replace("/usr/local/bin/calmesh", shutil.which("true")))
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert str(unit) not in done.stdout + done.stderr, done.stdout + done.stderr  # no warnings
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#"
    )
    assert settings["User"] == "calmesh" and settings["User"] != "root"
    assert settings["Restart"] == "on-failure"
    assert "CALMESH_DATA_DIR=/var/lib/calmesh" in text and settings["StateDirectory"] == "calmesh"
    assert settings["NoNewPrivileges"] == "yes" and settings["ProtectSystem"] == "strict"


# --- nginx ---------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    return tls.self_signed(folder, ["cal.example.org"], [HOST], ("fullchain.pem", "privkey.pem"))


def nginx_config(folder: Path, site: str) -> Path:
    """A main nginx.conf around the example site, everything inside ``folder``;
    the example's certificate paths point at a throwaway certificate."""
    cert, key = self_signed(folder)
    site = site.replace("/etc/letsencrypt/live/cal.example.org/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/cal.example.org/privkey.pem", str(key))
    (folder / "calmesh.conf").write_text(site)
    temp = {
        f"{kind}_temp_path": folder / kind
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    }
    main = folder / "nginx.conf"
    main.write_text(
        f"""
        {"user root;" if os.geteuid() == 0 else ""}
        pid {folder}/nginx.pid;
        error_log stderr warn;
        events {{}}
        http {{
            access_log off;
            {"".join(f"{k} {v}; " for k, v in temp.items())}
            include {folder}/calmesh.conf;
        }}
        """
    )
    return main


def test_the_nginx_example_passes_nginx_t(tmp_path):
    nginx = tool("nginx")
    main = nginx_config(tmp_path, (DEPLOY / "nginx.conf").read_text())
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(main), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "[warn]" not in done.stderr, done.stderr


@pytest.fixture
def behind_nginx(tmp_path) -> Iterator[tuple[str, str, ssl.SSLContext]]:
    """A real serve with the documented settings and the nginx example in front,
    on free loopback ports; yields the proxy's https URL, the app's own URL and
    a TLS context that trusts the proxy's throwaway certificate."""
    nginx = tool("nginx")
    app_dir, proxy_dir = tmp_path / "app", tmp_path / "nginx"
    app_dir.mkdir()
    proxy_dir.mkdir()
    server = start_server(app_dir, workers=1, **DOCUMENTED)
    made = server.cli(
        "create-user", "--email=o@example.org", "--handle=owner", "--password=owner-pass-12"
    )
    assert made.returncode == 0, made.stderr
    app_port = server.url.rsplit(":", 1)[1]
    https, http = free_port(), free_port()
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("listen [::]:80;", "").replace("listen [::]:443 ssl http2;", "")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl;")
    site = site.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{app_port}")
    main = nginx_config(proxy_dir, site)
    log = open(proxy_dir / "stderr.log", "w")  # noqa: SIM115 - closed below
    proxy = subprocess.Popen(
        [nginx, "-p", str(proxy_dir), "-c", str(main), "-e", "stderr", "-g", "daemon off;"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"https://{HOST}:{https}"
    trust = ssl.create_default_context(cafile=proxy_dir / "fullchain.pem")
    try:
        wait_until(
            lambda: (
                proxy.poll() is None
                and httpx.get(url + "/api/health", verify=trust).status_code == 200
            ),
            what="nginx in front of the app",
        )
        yield url, server.url, trust
    finally:
        if proxy.poll() is None:
            os.killpg(proxy.pid, signal.SIGTERM)
            proxy.wait(timeout=15)
        log.close()
        stop_server(server)


def test_behind_the_nginx_example_the_app_sees_https_and_its_public_host(behind_nginx):
    proxy, direct, trust = behind_nginx
    with httpx.Client(base_url=proxy, verify=trust, headers={"Host": "cal.example.org"}) as client:
        # X-Forwarded-Proto: the app knows the visitor came over HTTPS.
        health = client.get("/api/health")
        assert health.headers.get("Strict-Transport-Security") == "max-age=31536000"
        assert "Strict-Transport-Security" not in httpx.get(direct + "/api/health").headers
        # secure_cookies: the session cookie is only ever sent back over HTTPS.
        form = client.get("/login")
        assert form.status_code == 200
        cookie = form.headers.get("Set-Cookie", "")
        assert cookie and re.search(r";\s*Secure", cookie, re.I), cookie
        # Signing in through the proxy works (CSRF, session, redirect).
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        signed_in = client.post(
            "/login", data={"login": "owner", "password": "owner-pass-12", "csrf_token": token}
        )
        assert signed_in.status_code == 302, signed_in.text[-1000:]
        assert client.get(signed_in.headers["Location"]).status_code == 200


# --- Caddy ---------------------------------------------------------------------------


def test_the_caddyfile_validates(tmp_path):
    caddy = tool("caddy")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [caddy, "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Valid configuration" in done.stdout + done.stderr
    levels = {
        json.loads(line).get("level") for line in done.stderr.splitlines() if line.startswith("{")
    }
    assert levels <= {"info", "debug"}, done.stderr  # no warning (an unformatted file, ...)


def test_readme_names_the_deploy_files_and_matching_settings():
    for name in ("deploy/calmesh.service", "deploy/nginx.conf", "deploy/Caddyfile"):
        assert name in README
    for setting in ('base_url = "https://cal.example.org"', "trusted_proxies = 1"):
        assert setting in README
        assert setting in (DEPLOY / "nginx.conf").read_text()
    assert "secure_cookies = true" in README
