"""The chat loop: a conversation with a Generator, typed commands, and streaming output.

Kept apart from argument parsing so the loop can be driven by any input function and output
stream (a terminal, a pipe, a test). History is the user/assistant turns only; the Generator
adds the run's system prompt and trims the oldest turns to fit the model's context.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, replace
from datetime import datetime
from typing import TextIO

from twin.errors import TwinError
from twin.generate import Generator, Settings

TEMPERATURE_ADVICE = (
    "Temperature: lower is more precise and repeatable (0 always picks the likeliest word), "
    "higher is more creative and varied (around 0.7 sounds natural; above 1.2 rambles)."
)

HELP = f"""Commands:
  /reset          start a new conversation
  /history        show the conversation so far
  /temp T         set the temperature, e.g. /temp 0.8 (without T: show the settings)
  /top_p P        keep only the likeliest words making up P of the probability (0 < P <= 1)
  /max N          longest reply, in tokens
  /seed N|off     make replies reproducible (or random again)
  /save FILE      save the conversation as JSON
  /help           this help
  /quit           leave (Ctrl-D works too)
Start a message with // to send text that begins with /.
{TEMPERATURE_ADVICE}"""


def strip_stream(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces of a reply without leading or trailing whitespace, still streamed."""
    started = False
    held = ""
    for piece in pieces:
        if not started:
            piece = piece.lstrip()
            if not piece:
                continue
            started = True
        text = held + piece
        core = text.rstrip()
        held = text[len(core) :]
        if core:
            yield core


class Session:
    """One conversation with one model, with the settings a person can change as they go."""

    def __init__(
        self,
        generator: Generator,
        settings: Settings,
        out: TextIO | None = None,
        err: TextIO | None = None,
        name: str | None = None,
    ) -> None:
        self.gen = generator
        self.settings = settings
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.history: list[dict] = []
        self.name = name or generator.info.name or "twin"

    # --- talking

    def ask(self, text: str, prefix: str = "") -> str | None:
        """Send one message and stream the reply to `out`; None if generation failed."""
        self.history.append({"role": "user", "content": text})
        self._write(prefix)
        shown = []
        stream = self.gen.stream(self.history, self.settings)
        try:
            with contextlib.closing(stream):
                for piece in strip_stream(stream):
                    shown.append(piece)
                    self._write(piece)
        except KeyboardInterrupt:
            self._write(" [stopped]\n" if shown else "[stopped]\n")
        except (RuntimeError, TwinError) as e:
            self._write("\n")
            self.history.pop()
            print(
                f"error: {e}\n(the message was not kept; try again, /reset, or a smaller /max)",
                file=self.err,
                flush=True,
            )
            return None
        else:
            self._write("\n")
        reply = "".join(shown)
        if reply:
            self.history.append({"role": "assistant", "content": reply})
        else:
            self.history.pop()  # nothing was said: the turn did not happen
        return reply

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()

    # --- commands

    def command(self, line: str) -> bool:
        """Run a slash command; False when the person wants to leave."""
        name, _, arg = line.strip().partition(" ")
        name, arg = name.lower(), arg.strip()
        if name in ("/quit", "/exit", "/q"):
            return False
        handlers: dict[str, Callable[[str], None]] = {
            "/reset": self._reset,
            "/history": self._history,
            "/temp": self._temp,
            "/temperature": self._temp,
            "/top_p": self._top_p,
            "/max": self._max,
            "/seed": self._seed,
            "/save": self._save,
            "/help": lambda _: self._say(HELP),
        }
        handler = handlers.get(name)
        if handler is None:
            self._say(f"unknown command {name}; /help lists the commands")
        else:
            try:
                handler(arg)
            except ValueError as e:
                self._say(str(e))
        return True

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def describe_settings(self) -> str:
        s = self.settings
        seed = "random" if s.seed is None else s.seed
        return (
            f"temperature {s.temperature:g} · top_p {s.top_p:g} · "
            f"max {s.max_new_tokens} new tokens · seed {seed}"
        )

    def _reset(self, _: str) -> None:
        self.history.clear()
        self._say("conversation cleared")

    def _history(self, _: str) -> None:
        if not self.history:
            self._say("(no messages yet)")
            return
        if self.gen.info.system_prompt:
            self._say(f"(system) {self.gen.info.system_prompt}")
        for m in self.history:
            who = "you" if m["role"] == "user" else self.name
            self._say(f"{who}: {m['content']}")

    @staticmethod
    def _number(arg: str, kind: type, what: str, ok: Callable[[float], bool], expected: str):
        try:
            value = kind(arg)
        except ValueError:
            raise ValueError(f"{what} must be {expected}, got {arg!r}") from None
        if not ok(value):
            raise ValueError(f"{what} must be {expected}, got {arg}")
        return value

    def _temp(self, arg: str) -> None:
        if not arg:
            self._say(f"{self.describe_settings()}\n{TEMPERATURE_ADVICE}")
            return
        t = self._number(arg, float, "temperature", lambda v: 0 <= v <= 5, "a number from 0 to 5")
        self.settings = replace(self.settings, temperature=t)
        self._say(f"temperature {t:g}" + (" (greedy: always the likeliest word)" if t == 0 else ""))

    def _top_p(self, arg: str) -> None:
        p = self._number(arg, float, "top_p", lambda v: 0 < v <= 1, "a number in (0, 1]")
        self.settings = replace(self.settings, top_p=p)
        self._say(f"top_p {p:g}")

    def _max(self, arg: str) -> None:
        n = self._number(arg, int, "/max", lambda v: v >= 1, "a whole number >= 1")
        self.settings = replace(self.settings, max_new_tokens=n)
        self._say(f"replies up to {n} tokens")

    def _seed(self, arg: str) -> None:
        if arg.lower() in ("off", "none", ""):
            self.settings = replace(self.settings, seed=None)
            self._say("seed off: replies are random")
            return
        n = self._number(arg, int, "seed", lambda v: True, "a whole number or 'off'")
        self.settings = replace(self.settings, seed=n)
        self._say(f"seed {n}: the same conversation gives the same replies")

    def _save(self, arg: str) -> None:
        if not arg:
            raise ValueError("usage: /save FILE (for example /save chat.json)")
        from twin.atomic import atomic_write

        info = self.gen.info
        data = {
            "twin_chat": 1,
            "saved": datetime.now().isoformat(timespec="seconds"),
            "run": str(info.folder.resolve()) if info.folder else None,
            "base": info.base_spec,
            "system_prompt": info.system_prompt,
            "settings": asdict(self.settings),
            "messages": list(self.history),
        }
        try:
            with atomic_write(arg) as f:
                json.dump(data, f, ensure_ascii=False, indent=2)
        except OSError as e:
            raise ValueError(f"could not save to {arg}: {e.strerror or e}") from e
        self._say(f"saved {len(self.history)} messages to {arg}")

    # --- the loop

    def loop(self, read: Callable[[str], str] = input) -> None:
        """Read messages and commands until /quit, end of input or Ctrl-C at the prompt."""
        while True:
            try:
                line = read("you> ")
            except EOFError:
                self._write("\n")
                return
            except KeyboardInterrupt:
                self._write("\n")
                return
            text = line.strip()
            if not text:
                continue
            if text.startswith("/") and not text.startswith("//"):
                if not self.command(text):
                    return
                continue
            if text.startswith("//"):
                text = text[1:]
            self.ask(text, prefix=f"{self.name}> ")
