"""What request data may reach a log: capability tokens redacted, control
characters escaped.

Several URLs are capabilities: a calendar feed (``/feeds/<token>.ics``), a
visitor's manage link and a participant's vote link (``?token=``), an OAuth
callback (``?code=&state=``), the first-run link (``/setup?token=``). Logs are
kept, shipped and pasted into bug reports, so none of these may be written
there. A URL is the visitor's text: a raw newline or escape sequence in it must
not forge log lines or drive the terminal that reads them.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"

# Query parameters whose value opens something, in any URL we log.
SECRET_PARAMETERS = frozenset(
    {
        "token",
        "code",
        "state",
        "session_state",
        "id_token",
        "access_token",
        "refresh_token",
        "secret",
        "key",
        "api_key",
        "password",
    }
)
# Request headers logged only as "[redacted]" (should a log format name them).
SECRET_HEADERS = frozenset({"authorization", "cookie", "x-csrf-token", "x-calmesh-signature"})

_FEED = re.compile(r"(/feeds/)[^/?#\s]+", re.IGNORECASE)
# A query parameter: after "?", "&" or ";", or opening a bare query string.
_PARAMETER = re.compile(r"(^|[?&;])([^=&;#?/\s]+)=([^&;#\s]*)")


def redact(text: str) -> str:
    """``text`` (a URL, a path, a request line) with capability tokens replaced."""
    text = _FEED.sub(r"\1" + REDACTED, text)

    def _value(match: re.Match[str]) -> str:
        name = unquote_plus(match.group(2)).strip().lower()
        if name in SECRET_PARAMETERS and match.group(3):
            return f"{match.group(1)}{match.group(2)}={REDACTED}"
        return match.group(0)

    return _PARAMETER.sub(_value, text)


def escape(text: str) -> str:
    """Control and other unprintable characters, ``"`` and ``\\`` as ``\\xNN``
    (``\\uNNNN``): one log line stays one line, quoted fields stay closed."""
    out = []
    for char in text:
        if char.isprintable() and char not in '"\\':
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)


def safe(text: str) -> str:
    """Redacted and escaped: fit for any log line."""
    return escape(redact(text))
