"""Outgoing e-mail: invitations (.ics) and notices, sent by SMTP or kept in the mail log.

:func:`send` is called by the outbox handler, never inside the transaction of a
booking: SMTP is slow and may be down. Each call writes one
:class:`~calmesh.models.mail.MailMessage` row, the owner's mail log:

* ``logged`` when ``mail.host`` is empty (nothing leaves the machine; the owner
  reads the mail on the dashboard, which is how a fresh install works);
* ``sent`` when the SMTP server accepted it;
* ``failed`` for an attempt the server refused or could not take, after which
  :class:`MailError` is raised: ``retry`` says whether trying again later can
  help (server down, 4xx) or not (5xx, a refused login, a TLS mismatch).

Invitations are built the way Gmail and Outlook recognise them:
``multipart/mixed`` holding ``multipart/alternative`` (``text/plain`` and
``text/calendar; method=...``) plus the same calendar as an ``invite.ics``
attachment. Messages are 7-bit clean (quoted-printable or base64 bodies,
RFC 2047 headers), so any relay carries them.
"""

from __future__ import annotations

import logging
import re
import secrets
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from typing import Any

import icalendar
import peewee as pw

from calmesh.db import utcnow
from calmesh.engine.ical import METHODS
from calmesh.models.mail import MailMessage
from calmesh.models.users import User

log = logging.getLogger("calmesh.mail")

POLICY = SMTP_POLICY.clone(cte_type="7bit")
SECURITY = ("starttls", "ssl", "none")

# Control characters end a header line or confuse readers; a visitor's name
# reaches subjects, so they are refused rather than silently dropped.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# The plain user@domain shape; the email package checks the finer grammar.
_ADDR_SPEC = re.compile(r"[^\s@:;,<>()\[\]\"\\]+@[^\s@:;,<>()\[\]\"\\]+")
# The address is the last <...>; everything before it is the name, whatever it holds.
_NAME_ADDR = re.compile(r"(?P<name>.*)<(?P<addr>[^<>]*)>")


class MailError(Exception):
    """The SMTP server did not take the mail. ``retry``: trying later may succeed."""

    def __init__(self, message: str, retry: bool):
        super().__init__(message)
        self.retry = retry


@dataclass
class Mail:
    """One e-mail to one recipient. Plain data, so it fits an outbox payload
    (``dataclasses.asdict(mail)`` and ``Mail(**payload)``)."""

    to: str  # "bob@example.org" or "Bob Smith <bob@example.org>"
    subject: str
    body: str
    ics: str | None = None  # from engine.ical.build_calendar(draft, method=...)
    ics_method: str = ""  # empty: read from the calendar's METHOD
    reply_to: str = ""
    user_id: int | None = None  # the owner whose mail log shows it
    # Fixed when the mail is queued (see message_id), so that every retry of it
    # carries the same Message-ID and a receiver can drop a repeat. Empty: a new one.
    message_id: str = ""


def compose(mail: Mail, settings: Mapping[str, Any]) -> EmailMessage:
    """The message for ``mail``. Raises ValueError for anything that cannot be
    sent safely: line breaks or control characters in a header, an address that
    is not exactly one mailbox, a calendar without a known METHOD."""
    sender = parse_address(f"{settings['mail.from_name']} <{settings['mail.from_address']}>")
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = parse_address(mail.to)
    if mail.reply_to:
        message["Reply-To"] = parse_address(mail.reply_to)
    message["Subject"] = _one_line("subject", mail.subject)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = mail.message_id or make_msgid(domain=sender.domain)
    # RFC 3834: tells auto-responders not to answer (no out-of-office ping-pong).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    if mail.ics:
        method = ics_method(mail)
        message.add_alternative(mail.ics, subtype="calendar", params={"method": method})
        message.add_attachment(
            mail.ics.encode("utf-8"),
            maintype="application",
            subtype="ics",
            filename="invite.ics",
            params={"name": "invite.ics"},
        )
    return message


def message_key() -> str:
    """The unique part of a queued mail's Message-ID, fixed when it is queued
    (no settings needed on the request path; see :func:`message_id`)."""
    return secrets.token_hex(12)


def message_id(settings: Mapping[str, Any], key: str = "") -> str:
    """The Message-ID of the mail queued with ``key`` (the same on every retry),
    on the domain of ``mail.from_address``; without a key a new, globally unique one."""
    _, _, domain = settings["mail.from_address"].rpartition("@")
    if key:
        return f"<{key}.calmesh@{domain or 'localhost'}>"
    return make_msgid(domain=domain or "localhost")


def send(mail: Mail, settings: Mapping[str, Any]) -> MailMessage:
    """Send ``mail`` (or only log it when ``mail.host`` is empty) and record it.

    ``settings`` is the app's configuration (``app.config["CALMESH"]``) or any
    mapping with the ``mail.*`` keys. Raises ValueError from :func:`compose`
    (nothing is recorded: the mail can never be sent) and :class:`MailError`
    when the server did not take it (recorded as ``failed``).
    """
    message = compose(mail, settings)
    recipient = message["To"].addresses[0].addr_spec
    row = MailMessage(
        user=mail.user_id,
        to_address=recipient,
        subject=mail.subject,
        body=mail.body,
        ics=mail.ics or None,
        ics_method=ics_method(mail) if mail.ics else "",
        message_id=message["Message-ID"],
    )
    if not settings["mail.host"]:
        row.status = "logged"
        row.save()
        log.info("mail to %s logged (no mail.host): %s", recipient, mail.subject)
        return row
    sender = message["From"].addresses[0].addr_spec
    try:
        _deliver(message, sender, recipient, settings)
    except MailError as exc:
        row.status, row.error = "failed", str(exc)
        row.save()
        log.warning("mail to %s not sent (retry: %s): %s", recipient, exc.retry, exc)
        raise
    row.status, row.sent_at = "sent", utcnow()
    row.save()
    log.info("mail to %s sent: %s", recipient, mail.subject)
    return row


def recent_for(user: User | int, limit: int = 50) -> pw.ModelSelect:
    """The owner's mail log, newest first (see :meth:`MailMessage.recent_for`)."""
    return MailMessage.recent_for(user, limit)


def parse_address(value: str) -> Address:
    """One mailbox from ``"user@host"`` or ``"Any Name <user@host>"``.

    The name is taken as typed (commas, quotes, any script) and quoted or
    RFC 2047-encoded when written, so it can never add a recipient.
    """
    _one_line("address", value)
    found = _NAME_ADDR.fullmatch(value.strip())
    name, addr = (found["name"], found["addr"]) if found else ("", value)
    name, addr = " ".join(name.split()), addr.strip()
    if len(name) > 1 and name[0] == name[-1] == '"':
        name = name[1:-1].replace('\\"', '"')
    if not _ADDR_SPEC.fullmatch(addr):
        raise ValueError(f"not an e-mail address: {value!r}")
    try:
        return Address(display_name=name, addr_spec=addr)
    except (ValueError, HeaderParseError) as exc:
        raise ValueError(f"not an e-mail address: {value!r} ({exc})") from None


def ics_method(mail: Mail) -> str:
    """The iTIP method of ``mail.ics``, checked against ``mail.ics_method`` when given:
    the MIME parameter and the calendar must agree or clients ignore the invitation."""
    try:
        written = str(icalendar.Calendar.from_ical(mail.ics).get("method", "")).upper()
    except ValueError as exc:
        raise ValueError(f"the attached calendar cannot be read: {exc}") from None
    method = mail.ics_method.upper() or written
    if method not in METHODS:
        raise ValueError(f"an e-mailed calendar needs METHOD {', '.join(METHODS)}; got {method!r}")
    if written != method:
        raise ValueError(f"ics_method {method} but the calendar says METHOD:{written or '(none)'}")
    return method


def _one_line(what: str, value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(f"{what}: line breaks and control characters are not allowed: {value!r}")
    return value


# --- SMTP -----------------------------------------------------------------------


def verify_server(settings: Mapping[str, Any]) -> None:
    """Connect, secure and log in as a delivery would, sending nothing
    (``calmesh check``). Raises :class:`MailError` saying what failed."""
    _deliver(None, "", "", settings)


def _deliver(
    message: EmailMessage | None, sender: str, recipient: str, settings: Mapping[str, Any]
):
    host, port = settings["mail.host"], settings["mail.port"]
    security, timeout = settings["mail.security"], settings["mail.timeout"]
    username, password = settings["mail.username"], settings["mail.password"]
    if security not in SECURITY:
        raise MailError(f"mail.security must be one of {', '.join(SECURITY)}", retry=False)
    context = ssl.create_default_context()
    client: smtplib.SMTP | None = None
    try:
        if security == "ssl":
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        if security == "starttls":
            client.starttls(context=context)
        if username:
            client.login(username, password)
        if message is not None:
            client.send_message(message, from_addr=sender, to_addrs=[recipient])
    except OSError as exc:  # smtplib's errors, ssl's and the socket's are all OSErrors
        error = _failure(exc, f"SMTP server {host}:{port}", timeout)
        # A server should never echo the password; this makes sure the log never shows it.
        text = str(error).replace(password, "***") if password else str(error)
        raise MailError(text, retry=error.retry) from None
    finally:
        if client is not None:
            _close(client)


def _close(client: smtplib.SMTP) -> None:
    """Say goodbye; a failing QUIT after the mail was accepted is not a failed send."""
    try:
        client.quit()
    except OSError:
        client.close()


def _failure(exc: OSError, server: str, timeout: float) -> MailError:
    """Turn what smtplib, ssl or the socket raised into a readable MailError."""
    # smtplib reports a read that timed out as "server disconnected"; say what happened.
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return MailError(f"{server} did not answer within {timeout} s", retry=True)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        recipient, (code, answer) = next(iter(exc.recipients.items()))
        return MailError(
            f"{server} refused the recipient {recipient}: {_answer(code, answer)}",
            retry=_temporary(code),
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailError(
            f"{server} refused the login: {_answer(exc.smtp_code, exc.smtp_error)} "
            "(check mail.username and mail.password)",
            retry=_temporary(exc.smtp_code),
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return MailError(
            f"{server} refused the sender {exc.sender}: {_answer(exc.smtp_code, exc.smtp_error)} "
            "(check mail.from_address)",
            retry=_temporary(exc.smtp_code),
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return MailError(
            f"{server} answered {_answer(exc.smtp_code, exc.smtp_error)}",
            retry=_temporary(exc.smtp_code),
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailError(f"{server} closed the connection: {exc}", retry=True)
    if isinstance(exc, smtplib.SMTPException):
        # Not supported (STARTTLS, AUTH, SMTPUTF8) or no common login method: settings.
        return MailError(f"{server}: {exc} (check mail.security and mail.username)", retry=False)
    if isinstance(exc, ssl.SSLError):
        # A certificate that does not verify, or TLS spoken to a plain port (or the
        # reverse): waiting will not fix it.
        return MailError(
            f"{server}: TLS failed ({getattr(exc, 'verify_message', '') or exc.reason or exc}); "
            "check mail.security and mail.port",
            retry=False,
        )
    if isinstance(exc, ConnectionRefusedError):
        return MailError(f"{server} refused the connection (is it running?)", retry=True)
    return MailError(f"{server} cannot be reached: {exc.strerror or exc}", retry=True)


def _temporary(code: int) -> bool:
    """4xx replies are temporary (RFC 5321 §4.2.1); others are final."""
    return 400 <= code < 500


def _answer(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(text.split())}"
