"""Pages parse forms with the API's declarations: errors per field, and an
empty optional input counts as absent (a browser sends every input)."""

from __future__ import annotations

from calmesh.schema import Choice, Object, String
from calmesh.web.forms import language_choices, parse_form

FORM = Object(
    {
        "name": String(min_length=1, max_length=20),
        "note": String(max_length=5, default="none"),
        "secret": String(default=""),
    }
)


def parse(app, data: dict, fields: list[str] | None = None):
    with app.test_request_context("/", method="POST", data=data):
        return parse_form(FORM, fields)


def test_a_valid_form_gives_values_and_no_errors(app):
    assert parse(app, {"name": "Ada", "note": "hi", "secret": "x"}) == (
        {"name": "Ada", "note": "hi", "secret": "x"},
        {},
    )


def test_an_empty_optional_input_takes_its_default(app):
    values, errors = parse(app, {"name": "Ada", "note": ""})
    assert errors == {} and values["note"] == "none"


def test_errors_are_given_per_field_with_what_was_sent(app):
    values, errors = parse(app, {"name": "", "note": "too long"})
    assert set(errors) == {"name", "note"}
    assert values == {"name": "", "note": "too long"}, "the form is shown again as it was sent"


def test_a_missing_required_input_is_an_error_and_unlisted_inputs_are_ignored(app):
    values, errors = parse(app, {"note": "hi", "secret": "x"}, fields=["name", "note"])
    assert errors == {"name": "is required"}
    assert "secret" not in values


def test_language_choices_follow_the_declaration_with_the_languages_names():
    assert language_choices(Choice("fr", "en")) == {"fr": "Français", "en": "English"}
