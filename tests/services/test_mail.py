"""Outgoing mail: composed like Gmail/Outlook invitations, sent to a real SMTP server
(aiosmtpd), or only kept in the owner's mail log when no server is configured."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import icalendar
import pytest

from calmesh import config
from calmesh.engine.ical import EventDraft, build_calendar
from calmesh.models import MailMessage
from calmesh.services.mail import Mail, MailError, compose, recent_for, send
from tests.conftest import free_port

UID = "booking-7f3a@calmesh.test"


def invitation(method: str = "REQUEST", sequence: int = 0, summary: str = "Intro call") -> str:
    return build_calendar(
        EventDraft(
            uid=UID,
            summary=summary,
            start=datetime(2030, 3, 4, 9, 0, tzinfo=UTC),
            end=datetime(2030, 3, 4, 9, 30, tzinfo=UTC),
            sequence=sequence,
            organizer_email="alice@example.org",
            organizer_name="Alice",
            attendees=(("Bob Visitor", "bob@example.org"),),
        ),
        method,
    )


def mail(**changes) -> Mail:
    fields = {
        "to": "Bob Visitor <bob@example.org>",
        "subject": "Intro call on 4 March",
        "body": "Your booking is confirmed.\nManage it: https://cal.example.org/m/abc\n",
    }
    return Mail(**{**fields, **changes})


def use(app, server, **overrides):
    """Point the app's mail settings at ``server``; returns the app's config object."""
    settings = app.config["CALMESH"]
    settings._values.update(server.settings(**overrides))
    return settings


def text(part) -> str:
    """A received text part; SMTP carries every line end as CRLF."""
    return part.get_content().replace("\r\n", "\n")


def parts(message) -> dict[str, object]:
    """The leaf parts of a received message by content type (attachments by file name)."""
    found = {}
    for part in message.walk():
        if not part.is_multipart():
            found[part.get_filename() or part.get_content_type()] = part
    return found


# --- no SMTP server: the mail log ---------------------------------------------------


def test_without_a_host_the_mail_is_only_logged_for_the_owner(app, alice, smtp_server):
    settings = app.config["CALMESH"]
    assert settings["mail.host"] == ""

    ics = invitation()
    row = send(mail(ics=ics, user_id=alice.id), settings)

    assert row.status == "logged"
    assert row.sent_at is None
    assert smtp_server.messages == []
    stored = MailMessage.get_by_id(row.id)
    assert (stored.user_id, stored.to_address, stored.ics_method) == (
        alice.id,
        "bob@example.org",
        "REQUEST",
    )
    assert (stored.subject, stored.body, stored.ics) == (mail().subject, mail().body, ics)
    assert stored.message_id.endswith("@localhost>")  # the default mail.from_address


def test_the_mail_log_lists_only_the_owners_mails_newest_first(app, alice, bob):
    settings = app.config["CALMESH"]
    first = send(mail(subject="first", user_id=alice.id), settings)
    second = send(mail(subject="second", user_id=alice.id), settings)
    send(mail(subject="bob's", user_id=bob.id), settings)

    assert [m.id for m in recent_for(alice)] == [second.id, first.id]
    assert [m.id for m in recent_for(alice, limit=1)] == [second.id]
    assert [m.subject for m in recent_for(bob)] == ["bob's"]


def test_mail_log_rows_go_with_their_owner(app, alice):
    send(mail(user_id=alice.id), app.config["CALMESH"])
    alice.delete_instance()
    assert MailMessage.select().count() == 0


# --- sending for real ----------------------------------------------------------------


def test_invitation_arrives_with_text_calendar_part_and_ics_attachment(app, alice, smtp_server):
    ics = invitation(sequence=2)
    row = send(mail(ics=ics, user_id=alice.id), use(app, smtp_server))

    [received] = smtp_server.messages
    message = received.message
    assert received.mail_from == "calmesh@example.org"
    assert received.rcpt_tos == ["bob@example.org"]
    assert str(message["From"]) == "CalMesh <calmesh@example.org>"
    assert str(message["To"]) == "Bob Visitor <bob@example.org>"
    assert message["Subject"] == "Intro call on 4 March"
    assert message["Date"].datetime.tzinfo is not None
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Message-ID"] == row.message_id

    # multipart/mixed [ multipart/alternative [ text/plain, text/calendar ], invite.ics ]
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "text/calendar",
    ]
    found = parts(message)
    assert text(found["text/plain"]) == mail().body
    calendar_part = found["text/calendar"]
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_content_charset() == "utf-8"
    calendar = icalendar.Calendar.from_ical(calendar_part.get_content())
    [event] = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    assert (str(event["UID"]), event["SEQUENCE"]) == (UID, 2)

    assert attachment is found["invite.ics"]
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_content().decode() == ics

    assert (row.status, row.error) == ("sent", "")
    assert row.sent_at is not None
    assert MailMessage.get_by_id(row.id).status == "sent"


def test_cancellation_carries_method_cancel_with_the_same_uid_and_a_higher_sequence(
    app, smtp_server
):
    send(mail(ics=invitation("CANCEL", sequence=3)), use(app, smtp_server))

    found = parts(smtp_server.messages[0].message)
    assert found["text/calendar"].get_param("method") == "CANCEL"
    calendar = icalendar.Calendar.from_ical(found["text/calendar"].get_content())
    [event] = calendar.walk("VEVENT")
    assert (str(event["UID"]), event["SEQUENCE"], str(event["STATUS"])) == (UID, 3, "CANCELLED")
    assert "invite.ics" in found


def test_plain_notice_has_only_a_text_body(app, smtp_server):
    row = send(mail(reply_to="Alice <alice@example.org>"), use(app, smtp_server))

    message = smtp_server.messages[0].message
    assert message.get_content_type() == "text/plain"
    assert text(message) == mail().body
    assert str(message["Reply-To"]) == "Alice <alice@example.org>"
    assert (row.ics, row.ics_method) == (None, "")


def test_non_ascii_names_and_subjects_are_encoded_and_round_trip(app, smtp_server):
    settings = use(app, smtp_server, from_name="Zoë's Kalender")
    subject = "Buchung bestätigt: Gespräch mit Jürgen – 30 Minuten 🎉"
    send(
        mail(to="Jürgen Groß, Jr. <juergen@example.org>", subject=subject, body="Grüße\n"),
        settings,
    )

    received = smtp_server.messages[0]
    headers = received.raw.split(b"\r\n\r\n", 1)[0]
    headers.decode("ascii")  # RFC 2047 on the wire: no raw 8-bit header bytes
    assert b"=?utf-8?" in headers
    message = received.message
    assert message["Subject"] == subject
    # The comma is inside the quoted name: still exactly one recipient.
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Jürgen Groß, Jr.", "juergen@example.org")
    assert received.rcpt_tos == ["juergen@example.org"]
    assert message["From"].addresses[0].display_name == "Zoë's Kalender"
    assert text(message) == "Grüße\n"


def test_login_with_the_configured_user_is_used(app, make_smtp_server):
    server = make_smtp_server(users={"mailer": "s3cret"})
    send(mail(), use(app, server, username="mailer", password="s3cret"))
    assert server.messages[0].login == "mailer"


def test_wrong_password_is_not_retried_and_never_shown(app, alice, make_smtp_server):
    server = make_smtp_server(users={"mailer": "s3cret"})
    settings = use(app, server, username="mailer", password="wrong-pass")
    with pytest.raises(MailError) as caught:
        send(mail(user_id=alice.id), settings)

    assert server.messages == []
    assert caught.value.retry is False
    assert "535" in str(caught.value)
    assert "mail.password" in str(caught.value)
    [row] = MailMessage.select()
    assert (row.status, row.error) == ("failed", str(caught.value))
    assert "wrong-pass" not in row.error


def test_a_server_that_is_down_is_retried_and_fails_fast(app):
    settings = app.config["CALMESH"]
    settings._values.update({"mail.host": "127.0.0.1", "mail.port": free_port()})
    settings._values["mail.security"] = "none"

    started = time.monotonic()
    with pytest.raises(MailError, match="refused the connection") as caught:
        send(mail(), settings)

    assert caught.value.retry is True
    # A refused connection is reported at once, not after the timeout: a ratio.
    assert time.monotonic() - started < settings["mail.timeout"] / 4


def test_a_server_that_never_answers_times_out_and_is_retried(app, silent_smtp_port):
    settings = app.config["CALMESH"]
    settings._values.update({"mail.host": "127.0.0.1", "mail.port": silent_smtp_port})
    settings._values.update({"mail.timeout": 1, "mail.security": "none"})
    with pytest.raises(MailError, match="did not answer within 1 s") as caught:
        send(mail(), settings)
    assert caught.value.retry is True


def test_a_temporary_failure_is_retried(app, smtp_server):
    smtp_server.data_reply = "451 4.3.0 Mail server temporarily rejected message"
    with pytest.raises(MailError, match="451") as caught:
        send(mail(), use(app, smtp_server))
    assert caught.value.retry is True
    assert MailMessage.get().status == "failed"


def test_a_temporarily_refused_recipient_is_retried(app, smtp_server):
    smtp_server.refuse("bob@example.org", "450 4.2.1 Mailbox busy, try later")
    with pytest.raises(MailError, match="450") as caught:
        send(mail(), use(app, smtp_server))
    assert caught.value.retry is True


def test_a_refused_recipient_is_not_retried(app, smtp_server):
    smtp_server.refuse("bob@example.org", "550 5.1.1 No such user")
    with pytest.raises(MailError, match=r"recipient bob@example.org: 550 5.1.1 No such user") as e:
        send(mail(), use(app, smtp_server))
    assert e.value.retry is False
    assert smtp_server.messages == []


# --- TLS ------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_a_trusted_certificate_and_login(app, make_smtp_server, monkeypatch, security):
    server = make_smtp_server(users={"mailer": "s3cret"}, tls=security)
    # The default trust store, made to hold the test CA: what an admin does for a
    # private CA, and no mock.
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    send(mail(), use(app, server, username="mailer", password="s3cret"))
    assert server.messages[0].login == "mailer"


def test_a_certificate_that_does_not_verify_is_not_retried(app, make_smtp_server):
    server = make_smtp_server(tls="starttls")
    with pytest.raises(MailError, match="TLS failed") as caught:
        send(mail(), use(app, server))
    assert caught.value.retry is False
    assert server.messages == []


def test_starttls_refused_by_a_server_without_it_is_not_retried(app, smtp_server):
    with pytest.raises(MailError, match="STARTTLS") as caught:
        send(mail(), use(app, smtp_server, security="starttls"))
    assert caught.value.retry is False
    assert smtp_server.messages == []


# --- refused before anything is sent --------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Hello\r\nBcc: victim@example.net"},
        {"subject": "Hello\nBcc: victim@example.net"},
        {"subject": "Hello\rX-Injected: 1"},
        {"to": "Bob\r\nBcc: victim@example.net <bob@example.org>"},
        {"to": "bob@example.org\r\nBcc: victim@example.net"},
        {"reply_to": "alice@example.org\nBcc: victim@example.net"},
    ],
)
def test_line_breaks_in_headers_are_refused(app, smtp_server, changes):
    with pytest.raises(ValueError, match="line breaks"):
        send(mail(**changes), use(app, smtp_server))
    assert smtp_server.messages == []
    assert MailMessage.select().count() == 0


@pytest.mark.parametrize(
    "to",
    ["", "bob", "bob@", "bob@example.org, eve@example.net", "Bob <>", "zoë@example.org"],
)
def test_anything_but_one_mailbox_is_refused_as_recipient(app, to):
    with pytest.raises(ValueError, match="not an e-mail address"):
        compose(mail(to=to), app.config["CALMESH"])


def test_a_bad_sender_setting_is_refused(app):
    settings = app.config["CALMESH"]
    settings._values["mail.from_name"] = "CalMesh\r\nBcc: victim@example.net"
    with pytest.raises(ValueError, match="line breaks"):
        compose(mail(), settings)


def test_the_calendar_must_say_the_method_the_mail_claims(app):
    settings = app.config["CALMESH"]
    with pytest.raises(ValueError, match="METHOD:REQUEST"):
        compose(mail(ics=invitation("REQUEST"), ics_method="CANCEL"), settings)
    caldav_style = build_calendar(
        EventDraft(
            uid=UID,
            summary="x",
            start=datetime(2030, 1, 1, tzinfo=UTC),
            end=datetime(2030, 1, 1, 1, tzinfo=UTC),
        )
    )
    with pytest.raises(ValueError, match="needs METHOD"):
        compose(mail(ics=caldav_style), settings)
    message = compose(mail(ics=invitation("REQUEST"), ics_method="request"), settings)
    assert parts(message)["text/calendar"].get_param("method") == "REQUEST"


def test_unknown_security_setting_is_refused_at_load():
    with pytest.raises(config.ConfigError, match=r"mail\.security"):
        config.load(environ={"CALMESH_MAIL_SECURITY": "tls"})
    assert config.load(environ={})["mail.security"] == "starttls"
