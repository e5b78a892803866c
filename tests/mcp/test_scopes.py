"""The README's tables stay true: the scope of every endpoint and tool as the code
declares it, and the tests that the seed/Cal.com mapping names exist."""

from __future__ import annotations

import re

from calmesh.mcp import scopes
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_the_readme_scope_table_is_the_one_the_code_generates():
    block = README.split(scopes.START, 1)[1].split(scopes.END, 1)[0].strip()
    assert block == scopes.table(), "run: python -m calmesh.mcp.scopes --write"


def test_every_tool_is_in_the_table_with_its_scope():
    table = scopes.table()
    for spec in scopes.catalog().values():
        assert f"`{spec.name}` ({spec.scope})" in table, spec.name


def test_the_seed_and_cal_com_mapping_names_tests_that_exist():
    named = set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", README))
    assert len(named) >= 10
    for path, test in named:
        source = (ROOT / path).read_text()
        assert re.search(rf"^(async )?def {test}\(", source, re.MULTILINE), f"{path}::{test}"
    tools = set(scopes.catalog())
    mapped = set(re.findall(r"\| `(calmesh_\w+)`", README.split("seed / Cal.com tool")[1]))
    assert mapped <= tools
