"""Counts in sentences: "1 message", "2 messages" (a wrong plural reads like a bug)."""

from __future__ import annotations

_IRREGULAR = {"reply": "replies"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """`n word` with the word in the singular for exactly one, else its plural (`many`, or +s)."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {many or _IRREGULAR.get(word) or word + 's'}"
