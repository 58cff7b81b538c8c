"""Text for a human's terminal: characters from servers are shown, never obeyed.

Everything the CLI prints can carry text a server chose (error messages,
handles, record URIs and values). A terminal obeys control characters: ESC
starts CSI/OSC sequences that move the cursor, clear the screen, set the
window title or plant hyperlinks; some terminals read C1 characters (U+0080
to U+009F, e.g. U+009B as CSI) the same way; bidirectional overrides and
isolates (the "Trojan Source" characters) make text display in an order that
differs from what it is. These helpers replace each such character with a
visible escape:

- :func:`printable` for human text: every C0 control (including tab and
  newline: each printed line is one line), DEL, every C1 control, the
  bidi embeddings, overrides, isolates and marks, and the line and paragraph
  separators become ``\\xNN`` / ``\\uNNNN``.
- :func:`safe_json` for JSON text: ``json.dumps`` already escapes C0
  controls inside strings but (with ``ensure_ascii=False``) leaves DEL, C1
  and the bidi characters raw; they become ``\\uNNNN`` escapes, so the text
  is still JSON and decodes to the same value.
"""

from __future__ import annotations

import re

__all__ = ["printable", "safe_json"]

# DEL, C1, Arabic letter mark, LRM/RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI,
# line and paragraph separators.
_RISKY = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_UNSAFE_TEXT = re.compile(f"[\x00-\x1f{_RISKY}]")
# Inside JSON text the only raw C0 characters are the layout's own newlines:
# json.dumps escapes those inside strings.
_UNSAFE_JSON = re.compile(f"[{_RISKY}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def printable(text: str) -> str:
    """``text`` with control, C1 and bidi-control characters shown as escapes."""
    return _UNSAFE_TEXT.sub(_escape, text)


def safe_json(text: str) -> str:
    """JSON text with the characters ``json.dumps`` left raw escaped as ``\\uNNNN``."""
    return _UNSAFE_JSON.sub(_json_escape, text)
