"""ServiceError: a message, the HTTP status it means, a code, and the field when
it is about one input, as the REST layer and the pages show it."""

from __future__ import annotations

import pytest

from calmesh.services.calendars import CalendarError
from calmesh.services.errors import ServiceError


def test_a_refusal_defaults_to_422_without_details():
    error = ServiceError("cannot do that")
    assert (str(error), error.status, error.code, error.field) == (
        "cannot do that",
        422,
        "unprocessable",
        "",
    )
    assert error.details is None


def test_a_refusal_about_one_input_names_it_in_its_details():
    error = ServiceError("is taken", 409, "conflict", field="slug")
    assert error.details == [{"field": "slug", "message": "is taken"}]


def test_services_name_their_own_subclass(app, alice):
    from calmesh.services import calendars

    calendars.create(alice, "work", "Work", "UTC")
    with pytest.raises(CalendarError) as caught:
        calendars.create(alice, "work", "Again", "UTC")
    assert isinstance(caught.value, ServiceError)
    assert (caught.value.status, caught.value.code) == (409, "conflict")
