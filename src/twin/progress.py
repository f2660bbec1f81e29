"""Progress that is never silent: a tqdm bar on a terminal, a plain line every few seconds elsewhere.

A bar redraws itself with carriage returns, which a log file or `make demo 2>&1 | tee demo.log`
cannot show; tqdm therefore stays off when stderr is not a terminal, and a long step then looked
like a hang. `Progress` writes, when stderr is not a terminal, one plain line every `every`
seconds (and one at the end):

    train: step 12/30 (40%), loss 2.345, 450 tokens/s, 0:40 elapsed, ETA 1:00

`say()` is for waits that have no count (loading a model, a first dev loss): one line saying what
is being done, so every wait of more than a moment is explained.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def clock(seconds: float) -> str:
    """0:07, 12:30, 1:02:03: short, and unambiguous in a log."""
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def duration(seconds: float) -> str:
    """90 s, 35 min, 2.2 h: a length of time as people say it (tables, ETAs on a page)."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def say(message: str, stream: TextIO | None = None) -> None:
    """One line on stderr about what is happening now (flushed: it precedes a wait)."""
    out = stream if stream is not None else sys.stderr
    print(message, file=out, flush=True)


class Progress:
    """Counts steps of a long task and shows them: tqdm on a terminal, plain lines otherwise.

    `update(n, **fields)` advances the count; fields (loss=…, tokens/s=…) are shown beside it.
    `enabled=False` shows nothing (callers that draw their own progress, or tests).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "step",
        *,
        initial: int = 0,
        enabled: bool = True,
        tty: bool | None = None,
        every: float = 5.0,
        stream: TextIO | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = self._start_n = initial
        self.fields: dict[str, object] = {}
        self.every = every
        self._stream = stream if stream is not None else sys.stderr
        self._now = now
        self._start = self._last = now()
        self._printed_n: int | None = None
        self._bar = None
        self._plain = False
        if not enabled:
            return
        if tty is None:
            tty = bool(getattr(self._stream, "isatty", lambda: False)())
        if tty:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, initial=initial, desc=desc, unit=unit, file=self._stream, leave=True
            )
        else:
            self._plain = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1, **fields: object) -> None:
        """Advance by n; fields replace the ones shown (keyword names: `tokens_s` shows as tokens/s)."""
        self.n += n
        if fields:
            self.fields.update(fields)
        if self._bar is not None:
            if fields:
                self._bar.set_postfix({_name(k): v for k, v in self.fields.items()}, refresh=False)
            self._bar.update(n)
        elif self._plain and self._now() - self._last >= self.every:
            self._print()

    def close(self) -> None:
        """The bar closed, or a last plain line when the count moved since the previous one."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._plain and self._printed_n != self.n:
            self._print()
        self._plain = False

    def line(self) -> str:
        """The plain progress line for the count so far."""
        elapsed = self._now() - self._start
        parts = [f"{self.desc}: {self.unit} {self.n}/{self.total}"]
        if self.total:
            parts[0] += f" ({100 * self.n // self.total}%)"
        parts += [
            f"{_value(v)} {_name(k)}" if _is_rate(k) else f"{_name(k)} {_value(v)}"
            for k, v in self.fields.items()
        ]
        parts.append(f"{clock(elapsed)} elapsed")
        done = self.n - self._start_n
        if done > 0 and self.n < self.total:
            parts.append(f"ETA {clock(elapsed / done * (self.total - self.n))}")
        return ", ".join(parts)

    def _print(self) -> None:
        print(self.line(), file=self._stream, flush=True)
        self._last = self._now()
        self._printed_n = self.n


def _name(key: str) -> str:
    return key.replace("_s", "/s") if key.endswith("_s") else key


def _is_rate(key: str) -> bool:
    return key.endswith("_s")


def _value(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)
