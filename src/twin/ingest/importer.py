"""What an importer is: the contract every module in `twin.ingest.formats` fulfils.

An importer is a module (one per export format, see docs/formats.md) with:

- `NAME`: the `--format` value, `LABEL`: the format's name for people;
- `ME`: how the user's own messages are found (`MeRule` below);
- `sniff(head, source) -> bool`: whether the decoded start of a file is this format (decided
  from the content, never from the file name);
- `parse(source, report) -> Iterator[Message]`: the messages, in file order. A message's `me`
  and `group` are set when the file says so and left None otherwise: ingest decides them once
  every file is read (from `--me`, and from the senders each chat has);
- optionally `read_table(source, report) -> TablePart | None`: the whole file as columns, for
  `twin build` (`TableImporter`). It fills the report as ingest would from `parse`; None means
  the file is not one it reads, and `parse` then reads it;
- optionally `near_miss(head) -> (where, missing) | None` (`NearMissImporter`): for a file that
  sniff refused but that is this format with a line removed, what is missing.

Both readers record on `report` what the summary shows: rows skipped (with the reason), bad
rows, notes, the version. `registry()` checks every module against these protocols when it is
imported, so a missing member fails loudly instead of being probed for with getattr.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from twin.ingest.report import FileReport
    from twin.ingest.sources import Source
    from twin.ingest.table import TablePart
    from twin.messages import Message

MeRule = Literal["file", "file or --me", "--me", "--me or guess"]
"""How an importer finds the user's messages:

- "file": the file marks every message (WeChatMsg's IsSender);
- "file or --me": the file marks them when it has the user's id (Telegram's personal
  information, a neutral file's `me` column); otherwise `--me` names the user;
- "--me": the file never says (WhatsApp, Discord, Messenger): `--me` names the user;
- "--me or guess": `--me`, or, with no `--me`, the one sender present in every chat (WeChat 4.0
  exports, one file per chat).
"""

ME_RULES: tuple[MeRule, ...] = ("file", "file or --me", "--me", "--me or guess")


@runtime_checkable
class Importer(Protocol):
    """One export format (a module in twin.ingest.formats)."""

    NAME: str
    LABEL: str
    ME: MeRule

    def sniff(self, head: str, source: Source) -> bool: ...

    def parse(self, source: Source, report: FileReport) -> Iterator[Message]: ...


@runtime_checkable
class TableImporter(Importer, Protocol):
    """A format that can also read a whole file as columns (for `twin build`)."""

    def read_table(self, source: Source, report: FileReport) -> TablePart | None: ...


@runtime_checkable
class NearMissImporter(Importer, Protocol):
    """A format people often edit out of detection's reach (a title line deleted): it can say
    what is missing instead of the file being "no format twin knows"."""

    def near_miss(self, head: str) -> tuple[str, str] | None:
        """(where, what is missing) when `head` is this format's body without what sniff needs."""
        ...


def check(module: object) -> Importer:
    """The module as an Importer, or a TypeError naming what it lacks."""
    members = ("NAME", "LABEL", "ME", "sniff", "parse")
    missing = [m for m in members if not hasattr(module, m)]
    if missing or not isinstance(module, Importer):
        raise TypeError(f"{module!r} is not an importer: it lacks {', '.join(missing)}")
    if module.ME not in ME_RULES:
        raise TypeError(f"{module!r}: ME must be one of {ME_RULES}, not {module.ME!r}")
    return module
