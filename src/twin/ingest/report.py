"""What ingest learned about one file: shown in the summary, and used to decide who is "me"."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from twin.errors import InputError
from twin.ingest.decode import sniff_encoding
from twin.ingest.sources import CountingReader, Source, read_head


@dataclass
class FileReport:
    file: str
    format: str = ""
    version: str = ""
    encoding: str = ""
    skip_bad_rows: bool = False
    messages: int = 0
    by_me: int = 0
    chats: set[str] = field(default_factory=set)
    kinds: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    # (sender_id or "", sender name) -> count, for messages whose `me` the file does not give
    unknown_senders: Counter = field(default_factory=Counter)
    # chat -> senders seen in it, to tell groups from 1:1 chats where the file does not say
    chat_senders: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    # (sender_id or "", sender name) -> other names the sender goes by here; --me matches them too
    sender_aliases: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    me_rule: str = ""
    bad_rows: list[str] = field(default_factory=list)
    on_bytes: Callable[[int], None] | None = None

    def skip(self, reason: str, n: int = 1) -> None:
        """Count input rows that do not become messages, under a reason a person understands."""
        self.skipped[reason] += n

    def bad_row(self, where: str, problem: str, expected: str) -> None:
        """A row that cannot be read: an error, or a counted skip with --skip-bad-rows."""
        if not self.skip_bad_rows:
            raise InputError(self.file, where, problem, expected)
        self.skipped["malformed row"] += 1
        if len(self.bad_rows) < 20:
            self.bad_rows.append(f"{where}: {problem}")

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def open_text(self, source: Source, newline: str | None = None) -> TextIO:
        """Open a source as text in the encoding sniffed from its bytes (recorded for the summary)."""
        if not source.encoding_verified:
            source.encoding = sniff_encoding(source, read_head(source))
            source.encoding_verified = True
        encoding = source.encoding
        if not self.encoding:
            self.encoding = encoding
        raw = source.open_binary()
        if self.on_bytes is not None:
            raw = io.BufferedReader(CountingReader(raw, self.on_bytes), buffer_size=1 << 16)
        return io.TextIOWrapper(raw, encoding=encoding, newline=newline)
