"""calmesh.providers.fields: the connect-form declarations the credential
integrations share, and the name-only body of the consent ones."""

from __future__ import annotations

import pytest

from calmesh.providers import fields, registry
from calmesh.schema import Invalid


def test_a_name_is_trimmed_and_must_not_be_empty_or_too_long():
    assert fields.NAME.parse("  Work  ") == "Work"
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(Invalid):
            fields.NAME.parse(bad)


def test_credentials_are_taken_exactly_as_typed():
    assert fields.USERNAME.parse(" me@example.org ") == " me@example.org "
    assert fields.PASSWORD.parse("  spaced secret ") == "  spaced secret "
    with pytest.raises(Invalid):
        fields.PASSWORD.parse("")


def test_the_oauth_body_asks_for_a_name_only():
    assert fields.OAUTH_BODY.parse({"name": " Mine "}) == {"name": "Mine"}
    with pytest.raises(Invalid) as refused:
        fields.OAUTH_BODY.parse({"name": "Mine", "password": "x"})
    assert refused.value.details == [{"field": "password", "message": "is not a known field"}]
    for kind in registry.kinds(consent=True):
        assert registry.get(kind).body is fields.OAUTH_BODY


def test_the_shared_form_fields_let_browsers_fill_in_the_credentials():
    assert (fields.USERNAME_FIELD.name, fields.USERNAME_FIELD.autocomplete) == (
        "username",
        "username",
    )
    assert fields.PASSWORD_FIELD.type == "password"
    assert fields.PASSWORD_FIELD.autocomplete == "current-password"
    caldav = registry.get("caldav")
    assert fields.PASSWORD_FIELD in caldav.form and fields.USERNAME_FIELD in caldav.form
