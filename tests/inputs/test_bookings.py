"""Bookings' input, declared once: the book request, the owner's filters and changes."""

from __future__ import annotations

import pytest

from calmesh.inputs import bookings as inputs
from calmesh.schema import Invalid
from calmesh.services import public_booking
from tests.inputs.declared import advertised, assert_body, assert_query_fields, declared


def test_the_rest_routes_parse_with_these_declarations():
    for path in ("/booking-pages/{slug}/book", "/public/{handle}/{slug}/book"):
        assert_body("POST", path, inputs.BOOK_BODY)
    assert_body("POST", "/bookings/{uid}/decline", inputs.REASON)
    assert_body("POST", "/bookings/{uid}/reschedule", inputs.RESCHEDULE)
    assert_body("PATCH", "/bookings/{uid}/cancel", inputs.CANCEL)
    assert_query_fields("GET", "/bookings", inputs.BOOKING_FILTERS)


def test_the_booking_form_is_the_book_requests_fields_and_the_service_uses_it():
    assert public_booking.BOOK_FORM is inputs.BOOK_FORM
    assert inputs.BOOK_FORM.fields["name"] is inputs.ATTENDEE.fields["name"]
    assert inputs.BOOK_FORM.fields["notes"] is inputs.BOOK_BODY.fields["notes"]


def test_the_mcp_tools_advertise_the_same_limits():
    fields = inputs.BOOK_BODY.fields
    assert advertised("calmesh_create_booking", "notes") == declared(fields["notes"])
    assert advertised("calmesh_create_booking", "answers") == declared(fields["answers"])
    assert advertised("calmesh_create_booking", "attendee_name") == declared(
        inputs.ATTENDEE.fields["name"]
    )
    assert advertised("calmesh_create_booking", "idempotency_key") == declared(
        inputs.IDEMPOTENCY_KEY
    )
    assert advertised("calmesh_cancel_booking", "reason") == declared(inputs.REASON_TEXT)
    filters = inputs.BOOKING_FILTERS
    assert advertised("calmesh_list_bookings", "attendee") == declared(filters["attendee"])
    assert advertised("calmesh_list_bookings", "when") == declared(filters["when"])


def test_a_reason_is_one_limit_everywhere():
    inputs.REASON.parse({"reason": "x" * 2000})
    with pytest.raises(Invalid) as exc:
        inputs.RESCHEDULE.parse({"start": "2030-01-01T09:00:00Z", "reason": "x" * 2001})
    assert exc.value.details == [{"field": "reason", "message": "must be at most 2000 characters"}]
