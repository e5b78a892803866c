"""The converters of ids, slugs and tokens in paths: what cannot be one is a
404 from routing, never a number the database cannot hold."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import NotFound

from calmesh.converters import CONVERTERS, IdConverter, SlugConverter, TokenConverter
from calmesh.schema import SLUG_MAX, Integer
from tests.conftest import signed_in_client


def test_an_id_up_to_the_limit_is_a_number_and_beyond_it_a_404(app):
    converter = IdConverter(app.url_map)
    assert converter.to_python(str(Integer.LIMIT)) == Integer.LIMIT
    with pytest.raises(NotFound):
        converter.to_python(str(Integer.LIMIT + 1))


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/calendars/work/sources/1/remove", 302),
        (f"/calendars/work/sources/{Integer.LIMIT + 1}/remove", 404),
        ("/calendars/work/sources/-1/remove", 404),
        ("/calendars/work/sources/1.5/remove", 404),
        ("/calendars/Work/delete", 404),
        (f"/calendars/{'a' * (SLUG_MAX + 1)}/delete", 404),
    ],
)
def test_routing_refuses_what_cannot_be_an_id_or_a_slug(app, alice, path, status):
    from calmesh.services import calendars
    from tests.conftest import CSRF

    calendars.create(alice, "work", "Work", "UTC")
    client = signed_in_client(app, alice)
    assert client.post(path, data={"csrf_token": CSRF}).status_code == status


@pytest.mark.parametrize(
    ("converter", "good", "bad"),
    [
        (
            SlugConverter,
            ["a", "intro-call", "a" * SLUG_MAX, "9x"],
            ["-a", "a-", "A", "a_b", "a" * (SLUG_MAX + 1), ""],
        ),
        (TokenConverter, ["abc", "A-b_9", "x" * 64], ["", "x" * 65, "a.b", "a/b", "ä"]),
    ],
)
def test_the_slug_and_token_patterns_are_the_ones_the_schema_states(converter, good, bad):
    import re

    pattern = re.compile(converter.schema["pattern"])
    assert pattern.pattern == f"^{converter.regex}$"
    assert all(pattern.fullmatch(text) for text in good)
    assert not any(pattern.fullmatch(text) for text in bad)


def test_every_converter_is_installed_under_its_name(app):
    for name, converter in CONVERTERS.items():
        assert app.url_map.converters[name] is converter
