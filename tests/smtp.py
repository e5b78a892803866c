"""A real SMTP server for tests: aiosmtpd on a free loopback port.

Fixtures: ``smtp_server`` is the plain case (no login, no TLS);
``make_smtp_server(users=..., tls=...)`` builds the others; ``silent_smtp_port``
is a server that hangs. ``start_smtp_server()`` runs one for a ``with`` block
outside pytest. A test module takes the fixtures as the repository takes its
other shared ones (importing them would trip ruff's F811 at every test that
names one, and importing this module at all stops pytest from loading it as a
plugin)::

    pytest_plugins = ["tests.smtp"]

The server records every accepted message, parsed as the recipient's mail
program would (``server.messages[i].message``), and can be told to misbehave:
``server.refuse(address, "550 ...")`` answers that recipient with the reply,
``server.data_reply = "451 ..."`` answers every message with it. With
``users={"name": "password"}`` it offers AUTH PLAIN/LOGIN (also without TLS,
as a local relay may); with ``tls="starttls"`` or ``tls="ssl"`` it speaks TLS
with a certificate from a throwaway CA (``server.ca_file``: point
``SSL_CERT_FILE`` at it to make the client trust it).
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port

HOST = "127.0.0.1"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    login: str | None  # the user that authenticated, if any


class SmtpServer:
    """The recording handler and its controller; see the module docstring."""

    def __init__(self, users: dict[str, str] | None = None, tls: str | None = None):
        if tls not in (None, "starttls", "ssl"):
            raise ValueError(f"tls must be None, 'starttls' or 'ssl', not {tls!r}")
        self.users = dict(users or {})
        self.tls = tls
        self.host, self.port = HOST, free_port()
        self.messages: list[Received] = []
        self.refused: dict[str, str] = {}
        self.data_reply: str | None = None
        self.ca_file: Path | None = None
        self._folder: Path | None = None
        self._controller: Controller | None = None

    def refuse(self, recipient: str, reply: str = "550 5.1.1 Mailbox unavailable") -> None:
        self.refused[recipient.lower()] = reply

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The ``mail.*`` configuration that sends to this server."""
        values = {
            "mail.host": self.host,
            "mail.port": self.port,
            "mail.username": "",
            "mail.password": "",
            "mail.security": self.tls or "none",
            "mail.from_address": "calmesh@example.org",
            "mail.from_name": "CalMesh",
            "mail.timeout": 5,
        }
        values.update({f"mail.{k}": v for k, v in overrides.items()})
        return values

    # --- aiosmtpd hooks ------------------------------------------------------------

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refused.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        raw = envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        # auth_data, not login_data: aiosmtpd logs a deprecation notice on every read of that.
        login = session.auth_data.login.decode() if session.authenticated else None
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), raw, message, login)
        )
        return "250 Message accepted"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if login in self.users and self.users[login] == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535

    # --- running -------------------------------------------------------------------

    def start(self) -> SmtpServer:
        options: dict[str, Any] = {}
        if self.users:
            options.update(authenticator=self._authenticate, auth_require_tls=False)
        if self.tls:
            context = self._server_context()
            options["ssl_context" if self.tls == "ssl" else "tls_context"] = context
        self._controller = Controller(self, hostname=self.host, port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _server_context(self) -> ssl.SSLContext:
        self._folder = Path(tempfile.mkdtemp(prefix="calmesh-smtp-"))
        self.ca_file, cert_file, key_file = _make_certificates(self._folder, self.host)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        return context


@contextmanager
def start_smtp_server(users: dict[str, str] | None = None, tls: str | None = None):
    server = SmtpServer(users, tls).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server without login or TLS (``mail.security = "none"``)."""
    with start_smtp_server() as server:
        yield server


@pytest.fixture
def make_smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """``make_smtp_server(users={...}, tls="starttls")``: a running server, stopped after the test."""
    servers: list[SmtpServer] = []

    def make(users: dict[str, str] | None = None, tls: str | None = None) -> SmtpServer:
        servers.append(SmtpServer(users, tls).start())
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def silent_smtp_port() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word: a hung mail server."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        yield listener.getsockname()[1]


def _make_certificates(folder: Path, host: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``host`` (an IP address) signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def build(subject: str, issuer: x509.Name | None, key, signer, *, ca: bool):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False
            )
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(host))]), False
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("CalMesh test CA", None, ca_key, ca_key, ca=True)
    cert = build(host, ca.subject, key, ca_key, ca=False)
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths
