"""Text log lines carry names as data: a newline or escape in a node name cannot forge or colour a line."""

from __future__ import annotations

import json
import logging

from scmfit.server.logs import JsonFormatter, TextFormatter


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("scmfit.test", logging.INFO, __file__, 1, message, args, None)


def test_text_lines_escape_control_characters_in_messages_and_arguments() -> None:
    line = TextFormatter("%(levelname)s %(message)s").format(
        record("request failed: cycle through %s", "a\nINFO forged\x1b[31m\u202eé")
    )
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    assert line == "INFO request failed: cycle through a\\nINFO forged\\x1b[31m\\u202eé"


def test_json_lines_keep_the_name_exactly() -> None:
    name = "a\nb\x1b[31m"
    line = JsonFormatter().format(record("node %s", name))
    assert "\n" not in line and json.loads(line)["message"] == f"node {name}"
