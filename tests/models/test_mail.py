"""calmesh.models.mail: the mail log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calmesh.models import MailMessage
from calmesh.models.mail import MAIL_STATUSES

AT = datetime(2030, 3, 12, 9, tzinfo=UTC)


def mail(user, subject: str, at: datetime, status: str = "logged") -> MailMessage:
    return MailMessage.create(
        user=user,
        to_address="carol@example.org",
        subject=subject,
        body="…",
        status=status,
        created_at=at,
    )


def test_recent_for_lists_the_owners_mails_newest_first(alice, bob):
    old = mail(alice, "old", AT - timedelta(days=1))
    new = mail(alice, "new", AT)
    tie = mail(alice, "same time, later row", AT)
    mail(bob, "bob's", AT)

    assert list(MailMessage.recent_for(alice)) == [tie, new, old]
    assert list(MailMessage.recent_for(alice.id, limit=1)) == [tie]  # an id works too


def test_a_mail_has_no_invitation_unless_given_one(alice):
    row = MailMessage.get_by_id(mail(alice, "plain", AT, status="sent").id)

    assert (row.ics, row.ics_method, row.message_id, row.error) == (None, "", "", "")
    assert row.status in MAIL_STATUSES and row.sent_at is None


def test_an_owners_mails_go_with_the_owner_and_system_mails_have_none(alice):
    mail(alice, "hers", AT)
    system = MailMessage.create(
        user=None, to_address="ops@example.org", subject="x", body="y", status="logged"
    )

    alice.delete_instance()

    assert [m.id for m in MailMessage.select()] == [system.id]
