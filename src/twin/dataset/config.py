"""Settings of `twin build`, with the reasons behind each default.

They come from defaults, then the `[build]` table of a twin.toml, then command-line flags; the
result is saved as dataset/config.json so that a dataset says how it was made.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field

from twin.config_file import load_section
from twin.dataset.redact import TYPES
from twin.errors import TwinError

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass


@dataclass
class BuildConfig:
    # Who the clone is: used in the system prompt. Default: your sender name in the export.
    name: str | None = None
    # The system prompt; {name} is replaced. Default: one in the language you write in.
    system_prompt: str | None = None
    # A pause longer than this starts a new conversation. An hour: shorter splits slow
    # back-and-forth, longer glues an evening's chat to the next morning's unrelated one.
    session_gap_minutes: float = 60.0
    # Messages of one sender this close together are one turn (people send thoughts in bursts).
    # A longer silence between two messages of the same side also starts a new conversation,
    # because nobody answered the first one.
    merge_window_minutes: float = 10.0
    # Non-text messages: "placeholder" keeps them as [image]/[图片] in context (the reply often
    # refers to them); "split" ends the conversation there instead.
    media: str = "placeholder"
    # Placeholder language: "auto" follows the script you write in, or "en" / "zh".
    placeholder_language: str = "auto"
    # Group chats are left out: their replies answer several people at once. True takes them in,
    # with speaker names in the user turns.
    groups: bool = False
    # A conversation you start has no question before your first turn. "drop" leaves that turn
    # out; "empty-user" keeps it after an empty user turn. Never is it put into a user turn.
    opener: str = "drop"
    # Your replies shorter than this (in characters, whitespace and placeholders not counted) are
    # kept as context but not trained on. 2 keeps "好的", "ok", "哈哈" (they are how people talk)
    # and leaves out lone "嗯"/"k". The tutorial's "> 5" dropped most natural Chinese replies.
    min_reply_chars: int = 2
    # Longer replies are usually pasted text, not your voice: kept as context, not trained.
    max_reply_chars: int = 1000
    # A sample holds at most this many turns and this many tokens (estimated, or counted with
    # --tokenizer); longer conversations are cut into several samples at user turns.
    max_turns: int = 16
    max_tokens: int = 1024
    # Share of conversations held out for dev loss and eval, with a floor so small datasets still
    # get a usable dev set (but never more than a fifth of the conversations).
    dev_fraction: float = 0.05
    min_dev_samples: int = 20
    seed: int = 0
    # Personal data types to redact (all by default), words never to redact, and words to block.
    redact: list[str] = field(default_factory=lambda: list(TYPES))
    allow: list[str] = field(default_factory=list)
    block: list[str] = field(default_factory=list)
    # "replace": blocked words become <BLOCKED>; "drop": samples containing one are dropped.
    block_mode: str = "replace"
    # A Hugging Face tokenizer (hub id or folder, or "default") to count tokens exactly and chart
    # token lengths in the report. Without it, tokens are estimated from UTF-8 bytes.
    tokenizer: str | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not _type_ok(value, f.type):
                raise TwinError(
                    f"build config: {f.name} must be {_describe(f.type)}, not {value!r}"
                )
        checks = [
            (self.media in ("placeholder", "split"), "media must be 'placeholder' or 'split'"),
            (
                self.placeholder_language in ("auto", "en", "zh"),
                "placeholder_language must be auto, en or zh",
            ),
            (self.opener in ("drop", "empty-user"), "opener must be 'drop' or 'empty-user'"),
            (self.block_mode in ("replace", "drop"), "block_mode must be 'replace' or 'drop'"),
            (self.session_gap_minutes > 0, "session_gap_minutes must be > 0"),
            (
                0 <= self.merge_window_minutes <= self.session_gap_minutes,
                "merge_window_minutes must be between 0 and session_gap_minutes",
            ),
            (self.min_reply_chars >= 0, "min_reply_chars must be >= 0"),
            (
                self.max_reply_chars >= self.min_reply_chars,
                "max_reply_chars must be >= min_reply_chars",
            ),
            (self.max_turns >= 2, "max_turns must be >= 2"),
            (self.max_tokens >= 16, "max_tokens must be >= 16"),
            (0 <= self.dev_fraction < 0.5, "dev_fraction must be in [0, 0.5)"),
            (self.min_dev_samples >= 0, "min_dev_samples must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise TwinError(f"build config: {message}")
        unknown = set(self.redact) - set(TYPES)
        if unknown:
            raise TwinError(
                f"build config: unknown redact types {sorted(unknown)}; known: {', '.join(TYPES)}"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_KINDS = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false"}


def _type_ok(value, annotation: str) -> bool:
    """Does a value (from TOML or a flag) fit a field annotated like 'int' or 'str | None'?"""
    for option in annotation.split(" | "):
        if option == "None" and value is None:
            return True
        if option == "list[str]" and isinstance(value, list):
            return all(isinstance(v, str) for v in value)
        if option == "bool" and isinstance(value, bool):
            return True
        if isinstance(value, bool):  # TOML true is not a number
            continue
        if option == "str" and isinstance(value, str):
            return True
        if option == "int" and isinstance(value, int):
            return True
        if option == "float" and isinstance(value, (int, float)):
            return True
    return False


def _describe(annotation: str) -> str:
    return " or ".join(
        "a list of strings" if o == "list[str]" else _KINDS.get(o, "unset")
        for o in annotation.split(" | ")
        if o != "None"
    )


def load_config(path: str | None, overrides: dict) -> BuildConfig:
    """Defaults, then twin.toml's [build] table, then flags that were given (not None)."""
    return load_section(path, "build", BuildConfig, overrides)
