"""Shared pieces of the studio tests: a WhatsApp export that does not say who "me" is."""

from __future__ import annotations

from pathlib import Path

QUESTIONS = ["hello there", "what are you doing tonight", "how are you", "see you tomorrow?"]
ANSWERS = ["lol sounds good", "i am fine thanks", "see you tomorrow lol", "haha ok"]


def whatsapp_export(path: Path, days: int = 12) -> Path:
    """An Android WhatsApp 'Export chat' TXT between Alice and Bob (Bob is the owner)."""
    lines = []
    for day in range(1, days + 1):
        for i in range(4):
            minute = 10 + i * 2
            q, a = QUESTIONS[(day + i) % 4], ANSWERS[(day + i) % 4]
            lines.append(f"{day:02d}/03/2023, 20:{minute:02d} - Alice: {q}")
            lines.append(f"{day:02d}/03/2023, 20:{minute + 1:02d} - Bob: {a}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
