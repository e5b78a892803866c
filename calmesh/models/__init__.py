"""All models; :data:`ALL_MODELS` is what a fresh database is created from."""

from __future__ import annotations

from calmesh.models.bookings import (
    ACTIVE,
    BOOKING_STATUSES,
    Booking,
    BookingChange,
    BookingPage,
)
from calmesh.models.calendars import CalendarSource, UnifiedCalendar
from calmesh.models.connections import (
    CalendarObject,
    Connection,
    OAuthAttempt,
    Occurrence,
    RemoteCalendar,
)
from calmesh.models.mail import MailMessage
from calmesh.models.outbox import OutboxItem
from calmesh.models.polls import Comment, Participant, Poll, PollOption, Vote
from calmesh.models.system import Heartbeat, InstanceSetting, KeyFingerprint, Lease, RateCounter
from calmesh.models.users import CLOCKS, SCOPES, ApiKey, User, UserSession
from calmesh.models.webhooks import Webhook, WebhookDelivery

ALL_MODELS = [
    User,
    UserSession,
    ApiKey,
    RateCounter,
    Lease,
    Heartbeat,
    InstanceSetting,
    KeyFingerprint,
    Connection,
    OAuthAttempt,
    RemoteCalendar,
    CalendarObject,
    Occurrence,
    UnifiedCalendar,
    CalendarSource,
    BookingPage,
    Booking,
    BookingChange,
    Poll,
    PollOption,
    Participant,
    Vote,
    Comment,
    OutboxItem,
    MailMessage,
    Webhook,
    WebhookDelivery,
]

__all__ = [
    "ACTIVE",
    "ALL_MODELS",
    "BOOKING_STATUSES",
    "CLOCKS",
    "SCOPES",
    "ApiKey",
    "Booking",
    "BookingChange",
    "BookingPage",
    "CalendarObject",
    "CalendarSource",
    "Comment",
    "Connection",
    "Heartbeat",
    "InstanceSetting",
    "KeyFingerprint",
    "Lease",
    "MailMessage",
    "OAuthAttempt",
    "Occurrence",
    "OutboxItem",
    "Participant",
    "Poll",
    "PollOption",
    "RateCounter",
    "RemoteCalendar",
    "UnifiedCalendar",
    "User",
    "UserSession",
    "Vote",
    "Webhook",
    "WebhookDelivery",
]
