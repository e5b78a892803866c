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

# Modules that have none yet: what was left when the rule came (issue 12).
# This list only shrinks; never add to it. Its test below fails once a listed
# module has its test module, so the entry is then taken out.
NOT_YET = {
    # api/, mcp/ and web/public.py are being restructured (issue 12.2, 12.3,
    # 12.5); their new modules come with tests. Their behaviour is tested today
    # through tests/api/test_*.py, tests/mcp/test_tools.py, test_openapi_fuzz.py.
    "calmesh/mcp/common.py",
    "calmesh/mcp/server.py",
    "calmesh/web/public.py",
    # Providers become self-contained integrations with one contract suite
    # (issue 12.4); tests/providers/ is being moved then.
    # Side effects became a package of their own (issue 12.1); the outbox
    # lanes and the sync jobs are tested today in tests/services/test_outbox.py
    # and tests/services/test_sync.py.
    "calmesh/services/events.py",
    "calmesh/jobs/outbox.py",
    "calmesh/jobs/sync.py",
    # Tested through the pages and the API that use them; tests of their own
    # are owed.
    "calmesh/services/booking_pages.py",
    "calmesh/services/bookings.py",
    "calmesh/services/calendars.py",
    "calmesh/services/poll_results.py",
    "calmesh/services/users.py",
    "calmesh/web/poll_public.py",
    "calmesh/web/__init__.py",
    "calmesh/mcp/__init__.py",
    "calmesh/auth/__init__.py",
    "calmesh/ops/__init__.py",
    "calmesh/__init__.py",
    "calmesh/schema.py",
    "calmesh/server.py",
}


# Modules merged while the rule was being written (2 December 2026), by
# helpers who add their mirrored tests: each entry names who owes them. Not a
# place for new modules either; the test below fails once one is tested.
OWED = {
    "calmesh/effects/booking_mail.py": "effects",
    "calmesh/effects/booking_writeback.py": "effects",
    "calmesh/effects/delivery.py": "effects",
    "calmesh/effects/drafts.py": "effects",
    "calmesh/effects/mail.py": "effects",
    "calmesh/effects/outbox.py": "effects",
    "calmesh/effects/poll_writeback.py": "effects",
    "calmesh/effects/webhook.py": "effects",
    "calmesh/effects/writeback.py": "effects",
    "calmesh/effects/visitor_mail.py": "visitors (rendered in tests/test_i18n.py)",
    "calmesh/services/overview.py": "ownerb (tests/web/test_overview.py)",
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
        if name not in {*CANNOT, *NOT_YET, *OWED} and not has_tests(where_tests_go(module))
    ]
    assert not missing, "modules without a test module:\n" + "\n".join(missing)


def test_the_lists_of_exceptions_name_modules_that_still_lack_tests():
    """An entry whose module is gone or now tested is taken out of its list."""
    known = modules()
    stale = [
        name
        for name in sorted({*CANNOT, *NOT_YET, *OWED})
        if name not in known or has_tests(where_tests_go(known[name]))
    ]
    assert not stale, "take these out of CANNOT, NOT_YET or OWED in tests/test_layout.py: " + str(
        stale
    )


def test_the_mapping_of_modules_to_test_modules():
    assert where_tests_go(PACKAGE / "web" / "calendars.py") == TESTS / "web" / "test_calendars.py"
    assert where_tests_go(PACKAGE / "config.py") == TESTS / "test_config.py"
    assert where_tests_go(PACKAGE / "auth" / "__init__.py") == TESTS / "auth" / "test_auth.py"
    assert where_tests_go(PACKAGE / "__init__.py") == TESTS / "test_calmesh.py"
    assert (
        where_tests_go(PACKAGE / "engine" / "recurrence" / "parsing.py")
        == TESTS / "engine" / "recurrence" / "test_parsing.py"
    )
