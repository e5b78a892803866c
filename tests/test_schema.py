"""calmesh.schema: the declarations every input is made of: each field parses what
it accepts, refuses the rest with the path and a readable message, and describes
itself as JSON Schema (what the OpenAPI document and the MCP tools advertise)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from jsonschema import Draft202012Validator

from calmesh.schema import (
    MAX_MINUTES,
    SLUG_MAX,
    Any_,
    Boolean,
    Choice,
    Date,
    DateTime,
    Email,
    Integer,
    Invalid,
    List,
    Map,
    Object,
    String,
    TextOrFlag,
    TimeZone,
    Url,
    check_timezone,
    minutes_field,
    slug_field,
    unusable_in,
    unusable_text,
)


def problems(field, value, path: str = "") -> list[dict[str, str]]:
    with pytest.raises(Invalid) as refused:
        field.parse(value, path)
    return refused.value.details


def message(field, value) -> str:
    (problem,) = problems(field, value)
    return problem["message"]


def test_text_is_stripped_and_held_to_its_lengths_and_pattern():
    name = String(min_length=1, max_length=5)
    code = String(pattern=r"[A-Z]{3}", pattern_help="three capitals")

    assert name.parse("  Ann ") == "Ann"
    assert String(strip=False).parse("  x ") == "  x "
    assert message(name, "   ") == "is required"
    assert message(String(min_length=3), "ab") == "must be at least 3 characters"
    assert message(name, "abcdef") == "must be at most 5 characters"
    assert message(code, "abc") == "three capitals"
    assert message(String(), 3) == "must be a string"
    assert message(String(), "a\x00b") == "must not contain NUL characters"
    assert message(String(), None) == "must not be null"
    assert String(nullable=True).parse(None) is None


def test_unusable_text_is_found_in_any_string_or_key_of_a_value():
    assert unusable_text("fine") == ""
    assert unusable_text("a\x00") == "text must not contain NUL (\\u0000)"
    assert unusable_text("a\ud800") == "text must not contain a lone UTF-16 surrogate"
    assert unusable_in({"ok": [1, {"deep": ["x", "\x00"]}]}) == unusable_text("\x00")
    assert unusable_in({"\ud800": 1}) == unusable_text("\ud800")
    assert unusable_in({"a": ["b", 2, None, True]}) == ""


def test_emails_urls_and_zones_are_checked_for_what_they_are():
    assert Email().parse(" Carol@Example.ORG ") == "carol@example.org"
    assert message(Email(), "carol@localhost") == "must be an e-mail address"
    assert message(Email(), "a,b@example.org") == "must be an e-mail address"
    assert Url().parse("https://example.org/x") == "https://example.org/x"
    assert message(Url(), "ftp://example.org") == "must be an http:// or https:// URL"
    assert TimeZone().parse("Europe/Berlin") == "Europe/Berlin"
    assert "use an IANA name such as Europe/Berlin" in message(TimeZone(), "CET+1")
    assert check_timezone("UTC") == "UTC"
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        check_timezone("Mars/Olympus")


def test_integers_are_integers_within_their_bounds_also_from_query_text():
    count = Integer(minimum=1, maximum=10)

    assert count.parse(10) == 10
    assert message(count, True) == "must be an integer"  # a bool is not a number here
    assert message(count, 1.0) == "must be an integer"
    assert message(count, 0) == "must be at least 1"
    assert message(count, 11) == "must be at most 10"
    assert count.parse_text(" 7 ", "limit") == 7
    for text in ("7.5", "1e3", "", "9" * 19):
        with pytest.raises(Invalid):
            count.parse_text(text, "limit")
    assert Integer().describe() == {
        "type": "integer",
        "minimum": -Integer.LIMIT,
        "maximum": Integer.LIMIT,
    }


def test_booleans_and_choices():
    assert [Boolean().parse_text(t, "x") for t in ("true", "1", "YES", "false", "0", "no")] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert message(Boolean(), "true") == "must be true or false"  # JSON must say true
    with pytest.raises(Invalid):
        Boolean().parse_text("maybe", "x")
    assert Choice("a", "b").parse("b") == "b"
    assert message(Choice("a", "b"), "c") == "must be one of a, b"


def test_instants_need_an_offset_and_come_back_in_utc():
    assert DateTime().parse("2030-03-12T10:00:00+01:00") == datetime(2030, 3, 12, 9, tzinfo=UTC)
    assert DateTime().parse("2030-03-12T09:00:00Z").tzinfo == UTC
    assert "needs a UTC offset or Z" in message(DateTime(), "2030-03-12T09:00:00")
    assert message(DateTime(), "tomorrow").startswith("must be an ISO 8601 date-time such as")
    assert message(DateTime(), 1) == "must be an ISO 8601 date-time string"
    assert message(DateTime(), "2201-01-01T00:00:00Z") == "must be between the years 1900 and 2200"


def test_dates_are_yyyy_mm_dd_and_real():
    assert Date().parse("2030-03-12") == date(2030, 3, 12)
    assert message(Date(), "12.03.2030") == "must be a date YYYY-MM-DD"
    assert message(Date(), "2030-02-30") == "is not a valid calendar date"
    assert message(Date(), "1899-12-31") == "must be between the years 1900 and 2200"


def test_lists_and_maps_report_every_bad_item_by_its_path():
    days = List(Date(), min_items=1, max_items=3)
    hours = Map(Integer(minimum=0), max_items=2)

    assert days.parse(["2030-03-12"]) == [date(2030, 3, 12)]
    assert problems(days, ["x", "2030-03-12", "y"], "days") == [
        {"field": "days[0]", "message": "must be a date YYYY-MM-DD"},
        {"field": "days[2]", "message": "must be a date YYYY-MM-DD"},
    ]
    assert message(days, []) == "needs at least 1 item(s)"
    assert message(days, ["2030-03-12"] * 4) == "takes at most 3 items"
    assert message(days, "2030-03-12") == "must be a list"
    assert problems(hours, {"mon": -1}, "hours") == [
        {"field": "hours.mon", "message": "must be at least 0"}
    ]
    assert message(hours, {"a": 1, "b": 2, "c": 3}) == "takes at most 2 entries"


def test_an_object_refuses_unknown_fields_and_fills_defaults():
    body = Object(
        {
            "name": String(min_length=1),
            "tags": List(String(), default=list),
            "size": Integer(default=3),
            "inner": Object({"on": Boolean()}, default=None, nullable=True),
        }
    )

    assert body.parse({"name": "x"}) == {"name": "x", "tags": [], "size": 3, "inner": None}
    assert problems(body, {"nmae": "x", "inner": {"on": "yes"}}) == [
        {"field": "nmae", "message": "is not a known field"},
        {"field": "name", "message": "is required"},
        {"field": "inner.on", "message": "must be true or false"},
    ]
    assert problems(body, []) == [{"field": "body", "message": "must be a JSON object"}]
    patch = Object(body.fields, required=())
    assert patch.parse({}) == {"tags": [], "size": 3, "inner": None}


def test_a_query_is_parsed_from_text_and_unknown_parameters_are_ignored():
    query = Object({"limit": Integer(minimum=1, default=50), "on": Boolean(default=False)})

    assert query.parse_query({"limit": "5", "utm_source": "x"}) == {"limit": 5, "on": False}
    with pytest.raises(Invalid) as refused:
        query.parse_query({"limit": "0", "on": "maybe"})
    assert [d["field"] for d in refused.value.details] == ["limit", "on"]
    with pytest.raises(Invalid, match="q: is required"):
        Object({"q": String()}).parse_query({})


def test_answers_are_text_or_a_flag():
    assert TextOrFlag().parse(True) is True and TextOrFlag().parse("Yes") == "Yes"
    for bad in (3, "x" * 5001, "a\x00"):
        assert "must be text" in message(TextOrFlag(), bad)
    assert Any_().parse({"any": ["thing"]}) == {"any": ["thing"]}


def test_invalid_lists_every_problem_in_its_message():
    error = Invalid([{"field": "a", "message": "x"}, {"field": "b.c", "message": "y"}])

    assert str(error) == "a: x; b.c: y"


def test_slugs_and_minutes_share_their_limits():
    slug = slug_field()

    assert slug.parse("intro-call") == "intro-call"
    for bad in ("Intro", "-intro", "intro-", "in tro", "x" * (SLUG_MAX + 1)):
        assert problems(slug, bad), bad
    assert minutes_field().maximum == MAX_MINUTES and minutes_field(5).minimum == 5


def test_every_field_describes_itself_as_valid_json_schema_that_agrees_with_it():
    declared = Object(
        {
            "name": String(min_length=1, description="Who", example="Ann"),
            "email": Email(),
            "site": Url(default=None, nullable=True),
            "zone": TimeZone(default="UTC"),
            "kind": Choice("a", "b", nullable=True, default=None),
            "at": DateTime(),
            "day": Date(),
            "days": List(Integer(minimum=0), min_items=1),
            "hours": Map(Boolean()),
            "answer": TextOrFlag(),
            "free": Any_(default=None),
        },
        name="Everything",
    )

    schema = declared.json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["name", "email", "at", "day", "days", "hours", "answer"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["name"] == {
        "type": "string",
        "maxLength": 1000,
        "minLength": 1,
        "pattern": r"\S",
        "description": "Who",
        "examples": ["Ann"],
    }
    assert schema["properties"]["kind"]["enum"] == ["a", "b", None]
    assert schema["properties"]["site"]["type"] == ["string", "null"]
    assert schema["properties"]["zone"]["default"] == "UTC"
    good = {
        "name": "Ann",
        "email": "ann@example.org",
        "at": "2030-03-12T09:00:00Z",
        "day": "2030-03-12",
        "days": [1],
        "hours": {"mon": True},
        "answer": "yes",
    }
    declared.parse(good)
    assert Draft202012Validator(schema).is_valid(good)
    assert not Draft202012Validator(schema).is_valid({**good, "extra": 1})
