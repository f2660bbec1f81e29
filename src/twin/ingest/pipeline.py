"""ingest: export files in, one sorted message stream out.

Parsers stream rows into per-chat lists; the only thing held in memory is the messages
themselves, for the sort by (chat, time, source order). Who is "me" and which chats are groups
is decided once every file has been read, because some formats only reveal it across files.
"""

from __future__ import annotations

import lzma
import re
import sys
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from twin.atomic import atomic_write
from twin.errors import InputError, TwinError, UnknownMeError
from twin.ingest import formats
from twin.ingest.decode import decode_head, guess_encoding, sniff_encoding
from twin.ingest.dedupe import drop_duplicates
from twin.ingest.importer import Importer, NearMissImporter, TableImporter
from twin.ingest.magic import SQLITE_HINT, binary_kind
from twin.ingest.report import FileReport
from twin.ingest.sources import Source, read_head, walk
from twin.ingest.table import MessageTable, TablePart, part_from_messages
from twin.messages import Message
from twin.words import plural

# What reading a damaged zip member raises (seek errors, bad compressed data, an encrypted
# member: RuntimeError, an unknown method: NotImplementedError); for a file on disk they are bugs.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    RuntimeError,
    NotImplementedError,
)

SenderKey = tuple[str, str]  # (sender_id or "", sender name)


@dataclass
class IngestResult:
    reports: list[FileReport]
    chats: dict[str, list[Message]]
    ignored: list[str] = field(default_factory=list)
    media_skipped: int = 0
    special_skipped: list[str] = field(default_factory=list)
    me_keys: dict[str, set[SenderKey]] = field(default_factory=dict)
    chat_group: dict[str, bool] = field(default_factory=dict)
    # Files read column-wise (ingest(columnar=True)); their messages are not in `chats`.
    parts: list[TablePart] = field(default_factory=list)
    # Messages read but dropped as given twice, by reason (twin.ingest.dedupe); in `total`.
    duplicates: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(r.messages for r in self.reports)

    def messages(self) -> Iterator[Message]:
        """All messages sorted stably by chat, time, source order."""
        if self.parts:
            raise RuntimeError("messages() needs ingest(columnar=False); use table() instead")
        for chat in sorted(self.chats):
            yield from self.chats[chat]

    def table(self) -> MessageTable:
        """All messages as sorted columns (see twin.ingest.table)."""
        parts = [*self.parts]
        if self.chats:
            parts.append(part_from_messages(self.chats))
        return MessageTable.concat(parts, self.chat_group)


_HINTED = re.compile(r"^(?P<name>.*?)\s*\(id (?P<id>[^()]+)\)$", re.S)


def matches_me(value: str, key: SenderKey) -> bool:
    """Does --me VALUE name this sender? Names and ids both count; Telegram's 'user' prefix is
    optional; and `Name (id 123)`, as the "which sender is you" hint prints it, counts too
    (by its id where the sender has one)."""
    v = value.strip()
    if len(v) > 1 and v[0] == v[-1] and v[0] in "'\"":
        v = v[1:-1].strip()  # the hint's quotes, pasted into a shell that keeps them (cmd.exe)
    v = v.casefold()
    sender_id, sender = key[0].casefold(), key[1].strip().casefold()
    if not v:
        return False
    if v in (sender, sender_id, sender_id.removeprefix("user")):
        return True
    hinted = _HINTED.match(v)
    if hinted is None:
        return False
    if sender_id:
        return hinted["id"].strip() in (sender_id, sender_id.removeprefix("user"))
    return hinted["name"] == sender


def detect(head: str, source: Source) -> Importer | None:
    for module in formats.each_format():
        if module.sniff(head, source):
            return module
    return None


def _format_list() -> str:
    return ", ".join(f"{m.NAME} ({m.LABEL})" for m in formats.all_formats())


def ingest(
    paths: list[str],
    fmt: str = "auto",
    me: str | None = None,
    skip_bad_rows: bool = False,
    progress: bool | None = None,
    columnar: bool = False,
) -> IngestResult:
    """Read every export under `paths`. Raises TwinError/InputError on anything it cannot read.

    With `columnar`, importers that can read a whole file as columns do so (result.parts), for
    callers that take result.table() rather than message objects.
    """
    forced = None
    if fmt != "auto":
        forced = formats.by_name(fmt)
        if forced is None:
            raise TwinError(
                f"unknown --format {fmt!r}; known formats: {', '.join(formats.names())}"
            )
    found = walk(paths)
    try:
        result = IngestResult(
            reports=[],
            chats={},
            media_skipped=found.media_skipped,
            special_skipped=found.special_skipped,
        )
        total_bytes = sum(s.size() for s in found.sources)
        bar = None
        if progress if progress is not None else sys.stderr.isatty():
            from tqdm import tqdm  # imported only when shown: a tenth of a short build's start

            bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc="ingest", leave=False)
        for source in found.sources:
            try:
                _read_source(source, forced, skip_bad_rows, bar and bar.update, result, columnar)
            except ZIP_ERRORS as e:
                if source.member is None:
                    raise
                raise InputError(
                    source.display,
                    None,
                    f"the zip member is damaged ({e})",
                    "an intact zip (and no password: twin does not read encrypted members)",
                ) from e
            except RecursionError:
                raise InputError(
                    source.display,
                    None,
                    "the data is nested too deeply to read",
                    "a chat export (none nests more than a few dozen levels)",
                ) from None
        if bar is not None:
            bar.close()
    finally:
        found.close()
    if not result.reports:
        raise TwinError(
            f"no chat export found in {', '.join(paths)}"
            + (f" (passed over: {', '.join(result.ignored[:5])})" if result.ignored else "")
        )
    _resolve_me(result, me)
    _resolve_groups(result)
    _apply(result)
    result.duplicates, notes = drop_duplicates(
        result.chats, result.parts, len(result.reports) - len(result.parts)
    )
    for r in result.reports:
        for note in notes.get(r.file, ()):
            r.note(note)
    return result


def _apply(result: IngestResult) -> None:
    """Sort each chat by time (stable: source order breaks ties) and set `me` and `group`."""
    me_keys = result.me_keys
    for chat, msgs in result.chats.items():
        msgs.sort(key=_by_time)
        group = result.chat_group.get(chat, False)
        for m in msgs:
            if m.me is None:
                m.me = (m.sender_id or "", m.sender) in me_keys.get(m.source["file"], ())
            if m.group is None:
                m.group = group


def _read_source(
    source: Source,
    forced: Importer | None,
    skip_bad_rows: bool,
    on_bytes: Callable[[int], object] | None,
    result: IngestResult,
    columnar: bool = False,
) -> None:
    module = _detect_or_none(source, forced)
    if module is None:
        miss = _near_miss(source)
        if miss is not None:
            if source.explicit:
                raise InputError(source.display, miss[1], miss[2], miss[3])
            result.ignored.append(f"{source.display} ({miss[2]}; {miss[3]})")
            return
        if source.explicit:
            raise InputError(
                source.display,
                None,
                "not a chat export format twin knows",
                f"one of: {_format_list()}; or pass --format NAME if detection failed",
            )
        result.ignored.append(source.display)
        return
    report = FileReport(file=source.display, format=module.NAME, skip_bad_rows=skip_bad_rows)
    report.on_bytes = on_bytes
    part = None
    if columnar and isinstance(module, TableImporter):
        part = module.read_table(source, report)
    if part is not None:
        result.parts.append(part)
    else:
        _read_file(module, source, report, result.chats)
    result.reports.append(report)


def _near_miss(source: Source) -> tuple[str, str, str, str] | None:
    """(format, where, problem, expected) for a file that is a known format with a line missing
    that detection needs (LINE and QQ TXT without their title lines)."""
    if source.encoding is None:
        return None
    head = decode_head(read_head(source), source.encoding)
    for module in formats.each_format():
        found = module.near_miss(head) if isinstance(module, NearMissImporter) else None
        if found is not None:
            where, problem = found
            name = module.NAME
            return (
                name,
                where,
                f"looks like a {module.LABEL} export, but {problem}",
                (f"the file as exported, or --format {name} to read it without that line"),
            )
    return None


def _by_time(m: Message) -> float:
    return m.ts


def _detect_or_none(source: Source, forced: Importer | None = None) -> Importer | None:
    head = read_head(source)
    if not head.strip():
        if source.explicit:
            raise InputError(source.display, None, "the file is empty", "a chat export")
        return None
    kind = binary_kind(head, source.name)
    if kind is not None:
        if not source.explicit:
            return None  # an image or archive in a walked folder is not ours to read
        raise InputError(
            source.display,
            None,
            f"not a chat export ({kind})",
            SQLITE_HINT if "SQLite" in kind else f"a chat export file ({_format_list()})",
        )
    if forced is not None:
        return forced
    if source.encoding is None:
        source.encoding = guess_encoding(head)
        if source.encoding is None:
            if not source.explicit:
                return None  # a binary file in a walked folder is not ours to read
            sniff_encoding(source, head)  # raises, naming the first undecodable byte
    return detect(decode_head(head, source.encoding), source)


def _read_file(
    module: Importer, source: Source, report: FileReport, chats: dict[str, list[Message]]
) -> None:
    kinds = report.kinds
    unknown = report.unknown_senders
    chat_senders = report.chat_senders
    seen_chats = report.chats
    n = by_me = 0
    for m in module.parse(source, report):
        msgs = chats.get(m.chat)
        if msgs is None:
            msgs = chats[m.chat] = []
        msgs.append(m)
        n += 1
        kinds[m.kind] += 1
        if m.chat not in seen_chats:
            seen_chats.add(m.chat)
            chat_senders[m.chat] = set()
        key = (m.sender_id or "", m.sender)
        if m.me is None:
            unknown[key] += 1
        elif m.me:
            by_me += 1
        if m.me is not True and m.sender and m.kind not in ("system", "recall"):
            chat_senders[m.chat].add(key)
    report.messages = n
    report.by_me = by_me


def _resolve_me(result: IngestResult, me: str | None) -> None:
    needing = [r for r in result.reports if r.unknown_senders]
    for r in result.reports:
        if not r.unknown_senders and not r.me_rule:
            r.me_rule = _settled_rule(r, me)
    if not needing:
        return
    if me is not None:
        matched_any = False
        for r in needing:
            keys = {
                k
                for k in r.unknown_senders
                if matches_me(me, k)
                or any(matches_me(me, (k[0], a)) for a in r.sender_aliases.get(k, ()))
            }
            result.me_keys[r.file] = keys
            r.by_me += sum(r.unknown_senders[k] for k in keys)
            r.me_rule = f"--me {me!r}"
            if keys:
                matched_any = True
            else:
                r.note(f"--me {me!r} matched no sender in this file")
        if not matched_any:
            raise TwinError(
                f"--me {me!r} matches no sender in {_files(needing)}.\n"
                + _candidates(needing)
                + "\nPass --me with one of these names or ids."
            )
        return
    _guess_me_across_chats(result, needing)
    still = [r for r in needing if r.file not in result.me_keys]
    if still:
        labels = sorted({formats.by_name(r.format).LABEL for r in still})
        raise UnknownMeError(
            f"cannot tell which sender is you in {_files(still)}: "
            f"{' and '.join(labels)} exports do not mark your own messages.\n"
            + _candidates(still)
            + "\nPass --me with your name or id as it appears above, e.g. --me "
            + repr(_top_senders(still)[0][0]),
            senders=_top_senders(still),
        )


def _settled_rule(r: FileReport, me: str | None) -> str:
    """How `me` was decided in a file where no sender was left undecided.

    "marked in the file" only where the format can mark the user (ME rule "file" or "file or
    --me"); a WhatsApp, Discord or Messenger file with no named sender had nothing for --me.
    """
    if r.by_me or formats.by_name(r.format).ME in ("file", "file or --me"):
        return "marked in the file"
    return (f"--me {me!r}: " if me is not None else "") + "no named sender in this file"


def _guess_me_across_chats(result: IngestResult, needing: list[FileReport]) -> None:
    """Formats that allow it (WeChat 4.0 exports): me is the one sender present in every chat."""
    by_format: dict[str, list[FileReport]] = {}
    for r in needing:
        if formats.by_name(r.format).ME == "--me or guess":
            by_format.setdefault(r.format, []).append(r)
    for group in by_format.values():
        chat_keys: dict[str, set[SenderKey]] = {}
        for r in group:
            for chat, keys in r.chat_senders.items():
                chat_keys.setdefault(chat, set()).update(keys)
        if all(any(k[1] == "我" for k in r.unknown_senders) for r in group):
            # the exporter names the user 我 (WeChatMsg 2025 does): one chat is enough
            name, why = "我", "how the exporter names you"
        elif len(chat_keys) < 2:
            continue
        else:
            names = {k[1] for k in set.intersection(*chat_keys.values())}
            if len(names) != 1:
                continue
            name, why = names.pop(), f"the only sender in all {len(chat_keys)} chats"
        for r in group:
            keys = {k for k in r.unknown_senders if k[1] == name}
            result.me_keys[r.file] = keys
            r.by_me += sum(r.unknown_senders[k] for k in keys)
            r.me_rule = f"guessed: {name!r} is {why} (override with --me)"


def _resolve_groups(result: IngestResult) -> None:
    """A chat the file does not label is a group when more than one other person wrote in it."""
    for r in result.reports:
        me_keys = result.me_keys.get(r.file, set())
        for chat, keys in r.chat_senders.items():
            others = keys - me_keys
            result.chat_group[chat] = result.chat_group.get(chat, False) or len(others) > 1


def _files(reports: list[FileReport]) -> str:
    names = [r.file for r in reports]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more files" if len(names) > 3 else "")


def _top_senders(reports: list[FileReport]) -> list[tuple[str, int]]:
    counts: Counter = Counter()
    for r in reports:
        for (sender_id, sender), n in r.unknown_senders.items():
            label = sender or sender_id
            if not label:
                continue  # a notice without an author (a pinned message): nobody to name
            if sender_id and sender and sender_id != sender:
                label = f"{sender} (id {sender_id})"
            counts[label] += n
    return counts.most_common() or [("?", 0)]


def _candidates(reports: list[FileReport]) -> str:
    top = _top_senders(reports)
    lines = [f"  {name}: {plural(n, 'message')}" for name, n in top[:15]]
    if len(top) > 15:
        lines.append(f"  … and {len(top) - 15} more senders")
    return "Senders found:\n" + "\n".join(lines)


def write_jsonl(result: IngestResult, path: str) -> int:
    """Write messages.jsonl atomically; returns the number of messages written."""
    n = 0
    with atomic_write(path) as f:
        for m in result.messages():
            f.write(m.to_json())
            f.write("\n")
            n += 1
    return n


def summary(result: IngestResult, output: str | None = None) -> str:
    """The per-file report a person reads after ingest."""
    total_me = sum(r.by_me for r in result.reports)
    lines = [
        f"Read {len(result.reports)} file(s): {result.total} messages in {len(result.chats)} chats, "
        f"{total_me} by me" + (f" -> {output}" if output else "")
    ]
    for reason, n in result.duplicates.most_common():
        lines.append(f"Dropped {n} messages read twice: {reason}")
    for r in result.reports:
        module = formats.by_name(r.format)
        fmt = module.LABEL + (f" {r.version}" if r.version else "")
        lines.append("")
        lines.append(r.file)
        lines.append(f"  format    {fmt}   (encoding {r.encoding or 'n/a'})")
        lines.append(
            f"  chats     {len(r.chats)}   messages {r.messages}   by me {r.by_me} ({r.me_rule})"
        )
        kinds = ", ".join(f"{k} {n}" for k, n in r.kinds.most_common())
        lines.append(f"  kinds     {kinds or '-'}")
        if r.skipped:
            lines.append("  skipped   " + ", ".join(f"{k} {n}" for k, n in r.skipped.most_common()))
        for bad in r.bad_rows[:5]:
            lines.append(f"    {bad}")
        for note in r.notes:
            lines.append(f"  note      {note}")
    if result.ignored:
        lines.append("")
        lines.append(f"Passed over {len(result.ignored)} file(s) of no known chat format:")
        lines.extend(f"  {name}" for name in result.ignored[:10])
        if len(result.ignored) > 10:
            lines.append(f"  … and {len(result.ignored) - 10} more")
    if result.media_skipped:
        lines.append(
            f"Passed over {result.media_skipped} media file(s) (images, audio, video, documents)."
        )
    if result.special_skipped:
        lines.append(
            f"Passed over {len(result.special_skipped)} file(s) that are not regular files "
            "(pipes, devices, sockets, broken or looping links)."
        )
    return "\n".join(lines)
