"""The readable browser names of Profile → Sessions, from real User-Agent headers."""

from __future__ import annotations

import pytest

from calmesh.auth.useragent import describe

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
CASES = [
    (CHROME_LINUX, "Chrome on Linux"),
    (CHROME_LINUX.replace("Chrome/", "HeadlessChrome/"), "Chrome on Linux"),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Firefox on Windows",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        "Safari on iPhone",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        "Edge on macOS",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        "Safari on macOS",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36",
        "Chrome on Android",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
        "Chrome on iPhone",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
        "Opera on Windows",
    ),
    ("curl/8.5.0", "curl"),
    ("python-httpx/0.27.0", "python-httpx"),
    ("Laptop browser", "Laptop browser"),
    ("Firefox/121.0", "Firefox"),  # a browser without a system: just the browser
    (
        "SomeBot/1.0 (+https://example.org/bot; a very long self-description)",
        "SomeBot/1.0 (+https://example.org/bot; a",
    ),
    ("", "unknown"),
    (None, "unknown"),
    ("   ", "unknown"),
]


@pytest.mark.parametrize(("user_agent", "expected"), CASES)
def test_describe_names_the_browser_and_system(user_agent, expected):
    assert describe(user_agent) == expected


def test_anything_unrecognised_is_cut_to_forty_characters():
    assert len(describe("x" * 500)) == 40
