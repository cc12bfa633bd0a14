"""User strings on a terminal: node, column and category names come from traces, so they are shown as
data. Control characters (newlines, ANSI and OSC escapes, bidi overrides) are written as escapes, and
rich never reads them as markup: `[link=...]`, `[/]` and `arr[i]` print literally."""

from __future__ import annotations

import argparse
import unicodedata
from typing import Any

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(character: str) -> str:
    if character in _NAMED:
        return _NAMED[character]
    if unicodedata.category(character) in {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}:
        code = ord(character)
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return character


def shown(text: object) -> str:
    """`text` as one printable line: every control or format character written as its escape (and, in
    text that has any, backslashes doubled, so that an escape cannot be forged). Plain names print as
    they are."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(_escape(character) for character in value)


def rich_text(text: object, style: str = "") -> Any:
    """A rich `Text`: never parsed as markup or emoji codes, and never highlighted."""
    from rich.text import Text

    return Text(shown(text), style=style)


def rich_markup(text: object) -> str:
    """`shown(text)` with rich markup escaped, for the few places rich only takes markup (progress bars)."""
    from rich.markup import escape

    return escape(shown(text))


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's formatter that shows each flag's default, except where there is none to show: an unset
    value (None, which the help explains) or an off switch."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)
