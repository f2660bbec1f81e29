"""Settings of `twin build`, with the reasons behind each default.

They come from defaults, then the `[build]` table of a twin.toml, then command-line flags; the
result is saved as dataset/config.json so that a dataset says how it was made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from twin.config_file import check_types, flag, load_section
from twin.errors import TwinError


def _redact_types() -> list[str]:
    # Imported when a config is made, not with this module: the CLI reads the fields for its
    # flags (`twin build --help` answers at once), and redact loads numpy and pyarrow.
    from twin.dataset.redact import TYPES

    return list(TYPES)


@dataclass
class BuildConfig:
    # Who the clone is: used in the system prompt. Default: your sender name in the export.
    name: str | None = field(
        default=None,
        metadata=flag("your display name for the system prompt (default: your name in the export)"),
    )
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
    groups: bool = field(
        default=False, metadata=flag("include group chats (speaker names in user turns)")
    )
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
    seed: int = field(default=0, metadata=flag("seed of the train/dev split (default 0)"))
    # Personal data types to redact (all by default), words never to redact, and words to block.
    redact: list[str] = field(default_factory=_redact_types)
    allow: list[str] = field(default_factory=list)
    block: list[str] = field(default_factory=list)
    # "replace": blocked words become <BLOCKED>; "drop": samples containing one are dropped.
    block_mode: str = "replace"
    # A Hugging Face tokenizer (hub id or folder, or "default") to count tokens exactly and chart
    # token lengths in the report. Without it, tokens are estimated from UTF-8 bytes.
    tokenizer: str | None = field(
        default=None,
        metadata=flag("count tokens with this tokenizer (hub id, folder, or 'default')"),
    )

    def __post_init__(self) -> None:
        check_types(self, "build config")
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
        types = _redact_types()
        unknown = set(self.redact) - set(types)
        if unknown:
            raise TwinError(
                f"build config: unknown redact types {sorted(unknown)}; known: {', '.join(types)}"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_config(path: str | None, overrides: dict) -> BuildConfig:
    """Defaults, then twin.toml's [build] table, then flags that were given (not None)."""
    return load_section(path, "build", BuildConfig, overrides)
