"""What an ingest error may show of the input: where, and the shape of what is there, never
the words (an error is pasted into issues and chats; a message line is somebody's message).

`shape` keeps what tells a layout apart — separators, digit counts, spacing — and folds each
run of letters (any script) into one `A`: `12/03/2023, 10:00 - Anna: hi` reads
`99/99/9999, 99:99 - A: A`.
"""

from __future__ import annotations

import re

_LETTERS = re.compile(r"[^\W\d_]+")
_DIGIT = re.compile(r"\d")
_PLAIN_VALUE = re.compile(r"[0-9A-Za-z_:.+\-/ \[\],]{0,32}")


def shape(text: str, limit: int = 40) -> str:
    """The line's shape, quoted, for an error or a note."""
    folded = _DIGIT.sub("9", _LETTERS.sub("A", text.strip()))
    if len(folded) > limit:
        folded = folded[:limit] + "…"
    return repr(folded)


def value(v: object) -> str:
    """A field's value for an error: quoted when it is a short plain value (a time, a flag, a
    kind, one short word like 昨天) without personal data, else only its shape."""
    from twin.dataset.redact import Redactor

    text = str(v)
    plain = _PLAIN_VALUE.fullmatch(text) or (len(text) <= 8 and not any(c.isspace() for c in text))
    if plain and Redactor().redact(text) == text:
        return repr(v)
    return f"a value shaped like {shape(text)}"


def header(cells: list[str]) -> str:
    """A CSV header for an error: the names when they look like column names, else its shape
    (with --format forced on another file, the "header" is somebody's message)."""
    if all(len(c) <= 24 and not any(ch.isspace() for ch in c.strip()) for c in cells):
        from twin.dataset.redact import Redactor

        joined = ",".join(cells)
        if Redactor().redact(joined) == joined:
            return repr(joined)
    return f"shaped like {shape(','.join(cells))}"
