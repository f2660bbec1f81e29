"""Loading a whole-file JSON export, with errors that point at the line and column that broke.

Telegram Desktop, DiscordChatExporter and Facebook/Instagram write one JSON document per file, so
these importers read the file whole (the brief allows it for JSON) and walk the parsed tree.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from twin.errors import InputError
from twin.ingest.report import FileReport
from twin.ingest.sources import Source

# Given the text and the error, a repaired text to try once more, or None.
Repair = Callable[[str, json.JSONDecodeError], "str | None"]


def loads(text: str) -> object:
    """json.loads, with nesting too deep for Python's parser reported as a JSONDecodeError.

    A hostile or broken file nested thousands of levels deep otherwise raises RecursionError.
    No chat export nests more than a few dozen levels.
    """
    try:
        return json.loads(text)
    except RecursionError:
        depth = len(text) - len(text.lstrip("[{ \t\r\n"))
        raise json.JSONDecodeError(
            "nested too deeply for a chat export", text, min(depth, len(text))
        ) from None


def load_json(
    source: Source, report: FileReport, expected: str, repair: Repair | None = None
) -> object:
    """The parsed document; malformed JSON raises an InputError naming line and column."""
    with report.open_text(source) as f:
        text = f.read()
    try:
        return loads(text)
    except json.JSONDecodeError as first:
        error = first
    if repair is not None:
        fixed = repair(text, error)
        if fixed is not None:
            try:
                return loads(fixed)
            except json.JSONDecodeError as second:
                error, text = second, fixed
    problem = f"invalid JSON ({error.msg})"
    if not text[error.pos :].strip() or error.msg.startswith("Unterminated string"):
        problem += ": the file ends too early (was the export interrupted or cut short?)"
    raise InputError(
        source.display, f"line {error.lineno}, column {error.colno}", problem, expected
    ) from None


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
