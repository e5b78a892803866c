"""API keys' input, declared once: REST and the dashboard's form."""

from __future__ import annotations

import pytest

from calmesh.inputs import keys as inputs
from calmesh.models import SCOPES
from calmesh.schema import Invalid
from tests.inputs.declared import assert_body


def test_the_rest_route_parses_with_this_declaration():
    assert_body("POST", "/api-keys", inputs.NEW_KEY)


def test_a_key_has_a_known_scope_and_a_default_name():
    assert inputs.NEW_KEY.parse({"scope": SCOPES[0]})["name"] == "API key"
    with pytest.raises(Invalid):
        inputs.NEW_KEY.parse({"scope": "admin"})
