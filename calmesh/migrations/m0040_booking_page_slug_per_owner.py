"""Booking-page slugs unique per owner, not across the instance (public URL /{handle}/{slug})."""

from __future__ import annotations

from playhouse.migrate import migrate


def up(migrator, db):
    migrate(
        migrator.drop_index("booking_page", "booking_page_slug"),
        migrator.add_index("booking_page", ("user_id", "slug"), True),
    )
