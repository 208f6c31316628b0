r"""Text that is not valid Unicode, found at the boundary before any work is done on it.

A JSON string may spell a lone UTF-16 surrogate (`"\udcff"`), and Python decodes undecodable command-line
bytes to lone surrogates too (`surrogateescape`). Such a `str` works until something encodes it as
UTF-8 (a JSON response, a log line, the trace store, the MCP wire), and then fails far from its cause,
after the work was done. crossroads therefore **rejects** such text where it enters (HTTP request
models, MCP tools, CLI arguments and stdin) with a message naming the field and the position, rather
than normalising it: replacing the character would silently change a question the caller can fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

_SURROGATE = re.compile("[\ud800-\udfff]")
"""A surrogate code point in a Python `str` is always lone: a valid pair is decoded into one code point."""


@dataclass(frozen=True)
class BadText:
    """Where the first code point that is not valid Unicode was found."""

    path: str
    """Dotted path of the field (`messages.0.content`), empty for a bare string."""
    index: int
    codepoint: int

    def describe(self, what: str | None = None) -> str:
        """One line for the caller; never contains the offending character (it cannot be encoded)."""
        name = what or self.path or "the text"
        return (
            f"{name}: not valid Unicode (a lone surrogate U+{self.codepoint:04X} at character {self.index},"
            " usually bytes that are not UTF-8); send the text as UTF-8"
        )


def find_bad_text(value: Any, path: str = "") -> BadText | None:
    """The first lone surrogate in a string, or in the keys and values of nested dicts and lists."""
    if isinstance(value, str):
        match = _SURROGATE.search(value)
        return BadText(path, match.start(), ord(match.group())) if match else None
    if isinstance(value, dict):
        entries = cast("dict[object, object]", value)  # isinstance on Any leaves the element types unknown
        for key, item in entries.items():
            name = _printable(str(key))
            where = f"{path}.{name}" if path else name
            found = find_bad_text(key, where) or find_bad_text(item, where)
            if found:
                return found
    elif isinstance(value, list | tuple):
        items = cast("list[object] | tuple[object, ...]", value)
        for i, item in enumerate(items):
            found = find_bad_text(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def _printable(text: str) -> str:
    """`text` with lone surrogates spelled as escapes, so a field name can go into an error message."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def decode_utf8(data: bytes, what: str) -> str:
    """`data` as UTF-8, or ValueError naming `what` and the byte offset of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{what}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); send the text as UTF-8"
        ) from None
