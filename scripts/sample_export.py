"""The WeChatMsg (>=1.0.2) messages.csv both sample-export scripts write: its header, its rows,
and a clock that moves on after every message (by a seeded random gap, so a script's file is the
same on every run)."""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

HEADER = ["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime", "Remark", "NickName", "Sender"]


class Export:
    """Rows of one export; `t` is the time of the next message (scripts move it on too)."""

    def __init__(self, rng: random.Random, start: datetime, gap_seconds: tuple[int, int]) -> None:
        self.rng, self.t, self.gap = rng, start, gap_seconds
        self.rows: list[list] = []

    @property
    def next_id(self) -> int:
        return len(self.rows) + 1

    def add(self, chat: tuple, kind: int, me: bool, text: str, sender: str) -> None:
        """One message in `chat` (talker id, remark, nickname); "我" is the sender of mine."""
        talker, remark, nick = chat
        self.rows.append([self.next_id, talker, kind, 0, int(me), int(self.t.timestamp()), "", text,
                          self.t.strftime("%Y-%m-%d %H:%M:%S"), remark, nick, "我" if me else sender])
        self.t += timedelta(seconds=self.rng.randint(*self.gap))

    def write(self, out: Path) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8-sig", newline="") as f:
            csv.writer(f).writerows([HEADER, *self.rows])
        print(f"wrote {len(self.rows)} messages to {out}")
