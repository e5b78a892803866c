"""tests/ mirrors calmesh/: every module has a test module of its own.

``calmesh/<package>/<module>.py`` is tested in ``tests/<package>/test_<module>.py``
and a package's ``__init__.py`` in ``tests/<package>/test_<package>.py``
(``calmesh/__init__.py``: ``tests/test_calmesh.py``). A package ``__init__.py``
that defines no function or class (a docstring, re-exports) has nothing of its
own to test and needs none. A test module counts when it has a test in it.

A new module comes with its test module: this test fails without one.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE, TESTS = ROOT / "calmesh", ROOT / "tests"

# Modules that cannot have a test module of their own, and why.
CANNOT = {
    # Two lines that call cli.main() for `python -m calmesh`; it runs only as
    # a program, and every test that starts one (tests/test_cli.py, the
    # end-to-end tests) goes through it.
    "calmesh/__main__.py": "runs only as `python -m calmesh`",
}


def where_tests_go(module: Path) -> Path:
    """Where the tests of ``module`` (a path under calmesh/) belong."""
    relative = module.relative_to(PACKAGE)
    if relative.name == "__init__.py":
        package = relative.parent
        name = package.name or "calmesh"
        return TESTS / package / f"test_{name}.py"
    return TESTS / relative.parent / f"test_{relative.stem}.py"


def has_code(module: Path) -> bool:
    """Whether the module defines a function or a class of its own."""
    tree = ast.parse(module.read_text())
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for node in ast.walk(tree)
    )


def has_tests(path: Path) -> bool:
    if not path.is_file():
        return False
    tree = ast.parse(path.read_text())
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
        for node in ast.walk(tree)
    )


def modules() -> dict[str, Path]:
    found = {}
    for module in sorted(PACKAGE.rglob("*.py")):
        if module.name == "__init__.py" and not has_code(module):
            continue
        found[module.relative_to(ROOT).as_posix()] = module
    return found


def test_every_module_has_a_test_module_of_its_own():
    missing = [
        f"{name}: tests go in {where_tests_go(module).relative_to(ROOT)}"
        for name, module in modules().items()
        if name not in CANNOT and not has_tests(where_tests_go(module))
    ]
    assert not missing, "modules without a test module:\n" + "\n".join(missing)


def test_the_lists_of_exceptions_name_modules_that_still_lack_tests():
    """An entry whose module is gone or now tested is taken out of its list."""
    known = modules()
    stale = [
        name
        for name in sorted(CANNOT)
        if name not in known or has_tests(where_tests_go(known[name]))
    ]
    assert not stale, "take these out of CANNOT in tests/test_layout.py: " + str(stale)


def test_the_mapping_of_modules_to_test_modules():
    assert where_tests_go(PACKAGE / "web" / "calendars.py") == TESTS / "web" / "test_calendars.py"
    assert where_tests_go(PACKAGE / "config.py") == TESTS / "test_config.py"
    assert where_tests_go(PACKAGE / "auth" / "__init__.py") == TESTS / "auth" / "test_auth.py"
    assert where_tests_go(PACKAGE / "__init__.py") == TESTS / "test_calmesh.py"
    assert (
        where_tests_go(PACKAGE / "engine" / "recurrence" / "parsing.py")
        == TESTS / "engine" / "recurrence" / "test_parsing.py"
    )
