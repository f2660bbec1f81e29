"""From one chat's messages to conversations, turns and sample windows.

A chat is cut into conversations at long pauses; inside one, consecutive messages of a side are
one turn. Your turns are the assistant's, everyone else's the user's — and a conversation you
start never puts your words into a user turn (one competitor leaks the answer into the prompt
that way): your opening turn is dropped or follows an empty user turn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from twin.dataset.config import BuildConfig
from twin.messages import Message


class Turn:
    __slots__ = ("role", "texts", "n")

    def __init__(self, role: str, text: str, n: int = 1) -> None:
        self.role = role  # "user" or "assistant"
        self.texts = [text]
        self.n = n  # messages in this turn

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


@dataclass
class Session:
    chat: str
    start: float
    turns: list[Turn]

    @property
    def n(self) -> int:
        return sum(t.n for t in self.turns)


# Why a message is not in the dataset; each message lands under exactly one of these or is used.
SYSTEM = "system message"
RECALL = "recall notice"
EMPTY = "empty message"
GROUP = "group chat (pass --groups to include)"
MEDIA_SPLIT = "media message (media = split)"
OPENER = "conversation opened by me (no prompt before it)"
UNANSWERED = "others' messages after my last reply"
NO_REPLY = "conversation without a reply by me"
TOO_LONG = "turn pair longer than max_tokens"
NOTHING_TO_LEARN = "sample whose replies are all too short, too long, or only emoji/placeholders"
DUPLICATE = "duplicate sample"
BLOCKED = "sample with a blocked word (block_mode = drop)"


def sessions(
    chat: str,
    messages: list[Message],
    cfg: BuildConfig,
    placeholders: dict[str, str],
    group: bool,
    dropped: Counter,
) -> Iterator[Session]:
    """Cut one chat into conversations of alternating turns, counting every message left out."""
    gap = cfg.session_gap_minutes * 60
    merge = cfg.merge_window_minutes * 60
    split_on_media = cfg.media == "split"
    turns: list[Turn] = []
    start = last_ts = 0.0
    last_role = ""
    for m in messages:
        kind = m.kind
        if kind == "text":
            text = m.text.strip()
            if not text:
                dropped[EMPTY] += 1
                continue
            if m.forwarded:
                text = f"{placeholders['forwarded']} {text}"
        elif kind == "system":
            dropped[SYSTEM] += 1
            continue
        elif kind == "recall":
            dropped[RECALL] += 1
            continue
        elif split_on_media:
            dropped[MEDIA_SPLIT] += 1
            if turns:
                yield Session(chat, start, turns)
                turns = []
            continue
        else:
            text = placeholders[kind]
            extra = m.text.strip()
            if extra:
                text = f"{text} {extra}"
        role = "assistant" if m.me else "user"
        if group and role == "user":
            text = f"{m.sender}: {text}"
        ts = m.ts
        if turns:
            dt = ts - last_ts
            if dt > gap or (role == last_role and dt > merge):
                yield Session(chat, start, turns)
                turns = []
        if not turns:
            start = ts
            turns.append(Turn(role, text))
        elif role == last_role:
            t = turns[-1]
            t.texts.append(text)
            t.n += 1
        else:
            turns.append(Turn(role, text))
        last_ts = ts
        last_role = role
    if turns:
        yield Session(chat, start, turns)


def normalise(session: Session, cfg: BuildConfig, dropped: Counter) -> list[Turn] | None:
    """Turns that start with the user and end with my reply, or None (counted) if none remain."""
    turns = session.turns
    if not any(t.role == "assistant" for t in turns):
        dropped[NO_REPLY] += session.n
        return None
    if turns[0].role == "assistant":
        if cfg.opener == "drop":
            dropped[OPENER] += turns[0].n
            turns = turns[1:]
        else:
            turns = [Turn("user", "", 0), *turns]
    if turns and turns[-1].role == "user":
        dropped[UNANSWERED] += turns[-1].n
        turns = turns[:-1]
    if not turns:
        return None
    return turns


def windows(
    turns: list[Turn], lengths: list[int], cfg: BuildConfig, dropped: Counter
) -> Iterator[list[int]]:
    """Split alternating user/assistant turns into windows of whole pairs within the budgets.

    Yields lists of turn indices. `lengths` are token counts of the turns. A pair that alone
    exceeds the token budget is dropped (counted); a window always starts with a user turn.
    """
    budget = cfg.max_tokens
    max_pairs = max(1, cfg.max_turns // 2)
    window: list[int] = []
    used = 0
    for i in range(0, len(turns) - 1, 2):
        pair = lengths[i] + lengths[i + 1]
        if pair > budget:
            dropped[TOO_LONG] += turns[i].n + turns[i + 1].n
            if window:
                yield window
            window, used = [], 0
            continue
        if window and (used + pair > budget or len(window) // 2 >= max_pairs):
            yield window
            window, used = [], 0
        window.extend((i, i + 1))
        used += pair
    if window:
        yield window
