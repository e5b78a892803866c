"""calmesh.mcp.common: what every tool module shares: parameters checked by the
REST declarations, argument errors in the API's words, results with untrusted
text marked, and the times agents give (a date alone, ``now``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from calmesh import schema
from calmesh.mcp.client import ApiFailure
from calmesh.mcp.common import (
    SCOPE_HELP,
    UNTRUSTED_NOTE,
    Instant,
    Zone,
    at,
    bad_arguments,
    describe,
    error,
    invalid_arguments,
    like,
    local,
    local_iso,
    more,
    resolve_when,
    result,
    untrusted,
    when,
)

NOW = datetime(2030, 3, 12, 8, 30, 15, 123456, tzinfo=UTC)


def test_a_date_alone_is_that_day_in_the_zone_and_with_end_the_next_midnight():
    assert resolve_when("2030-04-01", "Europe/Berlin") == "2030-04-01T00:00:00+02:00"
    assert resolve_when("2030-03-30", "Europe/Berlin", end=True) == "2030-03-31T00:00:00+01:00"
    assert resolve_when("now", "Europe/Berlin", now=NOW) == "2030-03-12T08:30:15+00:00"
    assert resolve_when("2030-03-12T09:00:00+01:00", "Asia/Tokyo") == "2030-03-12T09:00:00+01:00"
    assert resolve_when(None, "UTC") is None


@pytest.mark.anyio
async def test_at_asks_for_the_owners_zone_only_for_a_date():
    class Owner:
        asked = 0

        async def zone(self) -> str:
            self.asked += 1
            return "America/New_York"

    owner = Owner()
    assert await at(owner, "2030-03-12T09:00:00Z") == "2030-03-12T09:00:00Z"
    assert owner.asked == 0
    assert await at(owner, "2030-03-12", end=True) == "2030-03-13T00:00:00-04:00"
    assert owner.asked == 1


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_summaries_write_instants_in_a_zone_and_leave_the_unreadable_alone():
    assert local("2030-03-12T08:00:00Z", "Europe/Berlin") == "2030-03-12 09:00 (Europe/Berlin)"
    assert local("2030-03-12T08:00:00Z") == "2030-03-12T08:00+00:00"
    assert local(None) == "-" and local("") == "-"
    assert local("soon", "UTC") == "soon"
    assert local_iso("2030-03-12T08:00:00Z", "Asia/Tokyo") == "2030-03-12T17:00:00+09:00"


def test_visitor_text_is_quoted_on_one_line_and_marked():
    assert untrusted('Say "yes"\nthen stop') == '⟦untrusted: "Say \\"yes\\"\\nthen stop"⟧'
    assert untrusted(None) == '⟦untrusted: ""⟧'
    assert untrusted("Zoë") == '⟦untrusted: "Zoë"⟧'  # not escaped to \\u00eb


def test_a_result_is_a_summary_and_the_json_with_untrusted_fields_named():
    plain = result("Done.", {"id": 1})
    marked = result("Booked.", {"id": 2, "notes": "x"}, ["notes"])

    assert [block.text for block in plain.content] == ["Done.", '{"id": 1}']
    assert plain.structured_content == {"id": 1} and not plain.is_error
    assert marked.structured_content == {"id": 2, "notes": "x", "untrusted_fields": ["notes"]}
    assert marked.content[0].text == f"Booked.\n\n{UNTRUSTED_NOTE}"
    assert json.loads(marked.content[1].text) == marked.structured_content


def test_an_error_result_carries_the_failures_text_and_shape():
    failure = ApiFailure("booking not found", status=404, code="not_found")

    answer = error(failure)

    assert answer.is_error
    assert answer.content[0].text == "CalMesh refused (HTTP 404 not_found): booking not found"
    assert answer.structured_content == {
        "error": {
            "status": 404,
            "code": "not_found",
            "message": "booking not found",
            "details": None,
        }
    }


def test_more_tells_how_to_ask_for_the_next_page():
    assert more({"has_more": True, "next_cursor": "abc"}) == (
        "\nMore results: call again with cursor='abc'."
    )
    assert more({"has_more": False, "next_cursor": None}) == ""


def test_bad_arguments_are_a_validation_error_that_nothing_was_sent():
    one = bad_arguments("is required", "date")
    many = bad_arguments(
        [{"field": "url", "message": "is required"}, {"field": "password", "message": "too short"}]
    )

    assert (one.status, one.code) == (None, "validation_error")
    assert one.details == [{"field": "date", "message": "is required"}]
    assert many.message == "url: is required; password: too short"
    assert many.text() == (
        "Invalid arguments (validation_error, nothing was sent to CalMesh):\n"
        "  - url: is required\n  - password: too short"
    )


class Arguments(BaseModel):
    minutes: like(schema.minutes_field(), "Minutes", int)
    zone: Zone = "UTC"
    start: Instant | None = None
    days: list[like(schema.Integer(minimum=1), "A day", int)] = []


def errors_of(**arguments) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as raised:
        Arguments(**arguments)
    return invalid_arguments(raised.value).details


def test_argument_errors_are_in_the_rest_apis_words_under_each_parameter():
    assert errors_of() == [{"field": "minutes", "message": "is required"}]
    assert errors_of(minutes="many") == [{"field": "minutes", "message": "must be an integer"}]
    assert errors_of(minutes=0) == [{"field": "minutes", "message": "must be at least 1"}]
    assert errors_of(minutes=5, zone="Mars/Olympus")[0]["field"] == "zone"
    naive = errors_of(minutes=5, start="2030-03-12T09:00:00")
    assert naive[0]["field"] == "start" and "needs a UTC offset" in naive[0]["message"]
    assert errors_of(minutes=5, days=[1, 0]) == [
        {"field": "days[1]", "message": "must be at least 1"}
    ]
    for details in (errors_of(minutes="x"), errors_of(minutes=5, start=3)):
        assert all("pydantic" not in d["message"] and "http" not in d["message"] for d in details)


def test_a_declared_parameter_advertises_the_declarations_schema_and_its_own_words():
    advertised = Arguments.model_json_schema()["properties"]["minutes"]
    declared = schema.minutes_field().json_schema()

    assert advertised["description"] == "Minutes"
    assert {k: v for k, v in advertised.items() if k not in {"description", "title"}} == {
        k: v for k, v in declared.items() if k not in {"description", "default"}
    }


def test_a_when_parameter_takes_an_instant_a_date_or_now_and_says_so():
    class Window(BaseModel):
        start: when("From")

    assert Window(start=" NOW ").start == "now"
    assert Window(start="2030-03-12").start == "2030-03-12"
    assert Window(start="2030-03-12T09:00:00Z").start == "2030-03-12T09:00:00Z"
    with pytest.raises(ValidationError):
        Window(start="2030-03-12T09:00:00")
    with pytest.raises(ValidationError):
        Window(start="2030-13-01")
    assert "a date alone" in Window.model_json_schema()["properties"]["start"]["description"]


def test_a_tools_description_is_its_docstring_unwrapped_then_its_scope():
    async def tool() -> None:
        """First line
        goes on.

        Second paragraph."""

    assert describe(tool, "book") == (
        f"First line goes on.\n\nSecond paragraph.\n\n{SCOPE_HELP['book']}"
    )
