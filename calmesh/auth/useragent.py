"""A readable name for a sign-in's browser: "Firefox on Windows", not the raw
``User-Agent`` header. Pure (no Flask, no database) and deliberately small: it
names the browsers and systems people recognise in a Sessions list and leaves
anything else as the start of the header, which is still a clue.
"""

from __future__ import annotations

# First match wins, so the order matters: Edge and Opera say "Chrome" too, Chrome
# says "Safari", and every iPhone says "like Mac OS X".
BROWSERS: tuple[tuple[str, str], ...] = (
    ("Edg", "Edge"),  # Edg/ (desktop), EdgA/ (Android), EdgiOS/
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("Chrome/", "Chrome"),  # HeadlessChrome/ as well
    ("CriOS/", "Chrome"),
    ("Safari/", "Safari"),
)
SYSTEMS: tuple[tuple[str, str], ...] = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
# Command-line clients send "name/version" and no system.
TOOLS = ("curl", "Wget", "python-httpx", "python-requests")
RAW_LENGTH = 40


def _first(user_agent: str, table: tuple[tuple[str, str], ...]) -> str | None:
    return next((name for marker, name in table if marker in user_agent), None)


def describe(user_agent: str | None) -> str:
    """ "Chrome on Linux", "Safari on iPhone", "curl", … else the first 40 characters
    of ``user_agent`` ("unknown" when there is none)."""
    user_agent = (user_agent or "").strip()
    if not user_agent:
        return "unknown"
    for tool in TOOLS:
        if user_agent.lower().startswith(tool.lower() + "/"):
            return tool
    browser = _first(user_agent, BROWSERS)
    system = _first(user_agent, SYSTEMS)
    if browser and system:
        return f"{browser} on {system}"
    return browser or user_agent[:RAW_LENGTH]
