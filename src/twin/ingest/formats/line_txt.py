"""LINE "Export chat history" TXT, in its English, Japanese and Chinese wordings.

```
[LINE] Chat history with Alice
Saved on: 2024/01/05 12:34

2024.01.02 Tuesday
10:00	Alice	Hi!
10:01	Bob	"Two lines,
the second with a ""quote"" in it"
10:02	Alice	[Sticker]
10:03		Alice unsent a message.
```
A day line gives the date, each message line `time<TAB>name<TAB>text` the minute; lines with no
name are system notices. Text with line breaks is wrapped in double quotes, inner quotes doubled.
The file does not say which sender is the exporter: that comes from --me.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from twin.ingest.formats._common import naive_time
from twin.ingest.report import FileReport
from twin.ingest.shown import shape
from twin.ingest.sources import Source
from twin.messages import FileLine, Message

NAME = "line-txt"
LABEL = "LINE TXT"
ME = "--me"  # how the user's messages are found: twin.ingest.importer.MeRule

# (pattern on the title line, wording, is it a group) — the first match wins
_TITLES = [
    (re.compile(r"^\[LINE\]\s*Chat history with (.+)$"), "English", None),
    (re.compile(r"^\[LINE\]\s*Chat history in (.+)$"), "English", True),
    (re.compile(r"^\[LINE\]\s*(.+)とのトーク履歴$"), "Japanese", None),
    (re.compile(r"^\[LINE\]\s*(.+)のトーク履歴$"), "Japanese", True),
    (re.compile(r"^\[LINE\]\s*(?:与|與)(.+)的聊天(?:记录|記錄)$"), "Chinese", None),
    (re.compile(r"^\[LINE\]\s*(.+)的聊天(?:记录|記錄)$"), "Chinese", True),
    (re.compile(r"^\[LINE\]\s*(.*)$"), "", None),
]
_TIME = re.compile(r"^(?:(上午|下午|午前|午後)\s*)?(\d{1,2}):(\d{2})(?:\s*([AaPp][Mm]))?$")
_DAY_YMD = re.compile(
    r"^(\d{4})[./-](\d{1,2})[./-](\d{1,2})(?:\s*[(（]?\s*([^\s()（）]+?)\s*[)）]?)?\s*$"
)
_DAY_WMDY = re.compile(r"^([^\W\d_]+)\.?,?\s+(\d{1,2})/(\d{1,2})/(\d{4})\s*$")
_WEEKDAYS = {
    **{d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{d: i for i, d in enumerate("月火水木金土日")},
    **{d: i for i, d in enumerate("一二三四五六日")},
    "天": 6,
    # Thai exports: `2024/01/15 จันทร์`
    **{d: i for i, d in enumerate(("จันทร์", "อังคาร", "พุธ", "พฤหัสบดี", "ศุกร์", "เสาร์", "อาทิตย์"))},
}

MEDIA = {
    "image": ("[Photo]", "[写真]", "[照片]", "[Album]", "[アルバム]", "Photos"),
    "sticker": ("[Sticker]", "[スタンプ]", "[贴图]", "[貼圖]", "Stickers"),
    "video": ("[Video]", "[動画]", "[视频]", "[影片]", "Videos"),
    "voice": ("[Voice message]", "[ボイスメッセージ]", "[语音信息]", "[語音訊息]"),
    "file": ("[File]", "[ファイル]", "[文件]", "[檔案]"),
    "location": ("[Location]", "[位置情報]", "[位置]"),
    "other": ("[Contact]", "[連絡先]", "[联系人]", "[聯絡人資訊]"),
}
_MEDIA_EXACT = {label: kind for kind, labels in MEDIA.items() for label in labels}
# file and location labels may be followed by a name or an address
_MEDIA_PREFIX = tuple(
    (label, kind) for kind in ("file", "location") for label in MEDIA[kind] if label[0] == "["
)
# "X unsent a message." and its translations; group 1 is who unsent it, when named
_UNSENT = re.compile(
    r"^(?:(.*?) unsent a message\.?|Message unsent\.?|(.*?)がメッセージの送信を取り消しました"
    r"|(.*?)已收回訊息|(.*?)撤回了一条消息)$"
)
_YOU = frozenset(["You", "あなた", "你", "您"])


# `10:00 Alice Hi!` where an editor or a copy turned the tabs into spaces
_SPACED = re.compile(
    r"^((?:(?:上午|下午|午前|午後)\s*)?\d{1,2}:\d{2}(?:\s*[AaPp][Mm](?=\s))?)[ \u3000]+(\S.*)$"
)
_WIDE_GAP = re.compile(r"[ \u3000]{2,}")


def sniff(head: str, source: Source) -> bool:
    return head.lstrip("\ufeff").lstrip().startswith("[LINE]")


def near_miss(head: str) -> tuple[str, str] | None:
    """(where, what is missing) when the start of a file is LINE's body without its title line
    (guides tell people to delete it); ingest names it rather than "unknown format"."""
    days = messages = 0
    for line in head.lstrip("\ufeff").split("\n")[:40]:
        line = line.rstrip("\r")
        if day_of(line.strip()) is not None:
            days += 1
        elif days and (_split_tabs(line) or _split_spaces(line)):
            messages += 1
    if days and messages:
        return "line 1", "the title line '[LINE] Chat history with …' is missing"
    return None


def _split_tabs(line: str) -> tuple[str, str] | None:
    head, tab, rest = line.partition("\t")
    return (head, rest) if tab and time_of(head) is not None else None


def _split_spaces(line: str) -> tuple[str, str] | None:
    """(time, `name<TAB>text`) from a line whose tabs became spaces: the name ends at the first
    run of two or more spaces, else at the first space (a name with a space in it is then cut)."""
    m = _SPACED.match(line)
    if m is None or time_of(m.group(1)) is None:
        return None
    rest = m.group(2)
    if _UNSENT.match(rest.strip()):
        return m.group(1), rest  # `12:30 Aがメッセージの送信を取り消しました`: a notice, no sender
    gap = _WIDE_GAP.search(rest)
    if gap is not None:
        return m.group(1), rest[: gap.start()] + "\t" + rest[gap.end() :]
    name, _, text = rest.partition(" ")
    return m.group(1), name + "\t" + text


def weekday(token: str | None) -> int | None:
    """0 for Monday … 6 for Sunday, from `Tuesday`, `Tue`, `火`, `周二`, `星期二`, `週二`."""
    if not token:
        return None
    t = token.strip().lower()
    for prefix in ("星期", "周", "週", "禮拜", "礼拜", "วัน"):
        t = t.removeprefix(prefix)
    t = t.removesuffix("曜日")  # Japanese `2025.12.30 火曜日`
    if t in _WEEKDAYS:
        return _WEEKDAYS[t]
    return _WEEKDAYS.get(t[:3]) if len(t) >= 3 and t[:3].isascii() else None


def day_of(line: str) -> tuple[date, bool] | None:
    """The date of a day line, and whether the weekday printed on it agrees; None if not one."""
    m = _DAY_YMD.match(line)
    if m:
        try:
            d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
        wd = weekday(m.group(4))
        if m.group(4) and wd is None:
            return None  # `2024/01/02 something`: not a day line
        return d, wd is None or wd == d.weekday()
    m = _DAY_WMDY.match(line)
    if m:
        wd = weekday(m.group(1))
        if wd is None:
            return None
        a, b, year = int(m.group(2)), int(m.group(3)), int(m.group(4))
        # US order first; the weekday decides
        candidates = [_date_or_none(year, m, d) for m, d in ((a, b), (b, a))]
        candidates = [d for d in candidates if d is not None]
        for d in candidates:
            if d.weekday() == wd:
                return d, True
        return (candidates[0], False) if candidates else None
    return None


def _date_or_none(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def time_of(field: str) -> timedelta | None:
    """The time of a message line, from the start of its day. LINE writes 00:53 after midnight
    as 24:53 under the day before: that is the next day's 00:53."""
    m = _TIME.match(field.strip())
    if not m:
        return None
    hour, minute = int(m.group(2)), int(m.group(3))
    half = m.group(1) or m.group(4)
    if half:
        if hour > 12:
            return None
        pm = half.lower() == "pm" or half in ("下午", "午後")
        hour = hour % 12 + (12 if pm else 0)
    if hour > 24 or minute > 59:
        return None
    return timedelta(hours=hour, minutes=minute)


def is_twelve_hour(field: str) -> bool:
    m = _TIME.match(field.strip())
    return bool(m and (m.group(1) or m.group(4)))


def _scan(s: str) -> str:
    """Inside a quoted text: 'open' (no closing quote yet), 'closed' (ends with the closing
    quote) or 'bad' (a lone quote inside: the text was not quoted after all)."""
    i, n = 0, len(s)
    while i < n:
        j = s.find('"', i)
        if j < 0:
            return "open"
        if j + 1 < n and s[j + 1] == '"':
            i = j + 2
            continue
        return "closed" if j == n - 1 else "bad"
    return "open"


# What LINE writes under the name of whoever used an album, a note or an event: not words of
# theirs (Japanese exports; read from public samples)
_NOTICE = re.compile(
    r"^(?:アルバム(?:「.*」)?(?:に写真を追加しました|を作成しました|を削除しました)"
    r"|ノートに投稿しました|イベント「.*」が(?:作成|削除|変更)されました)。?$"
)


def kind_and_text(text: str, system: bool) -> tuple[str, str]:
    stripped = text.strip()
    kind = _MEDIA_EXACT.get(stripped)
    if kind is not None:
        return kind, ""
    for label, kind in _MEDIA_PREFIX:
        if stripped.startswith(label):
            return kind, stripped[len(label) :].strip()
    if stripped.startswith("☎"):
        return "call", stripped.lstrip("☎").strip()
    if system or _NOTICE.match(stripped):
        return "system", stripped
    return "text", text


class _Pending:
    __slots__ = ("line", "when", "sender", "system", "parts", "raw", "quoted", "blanks")

    def __init__(self, line: int, when: datetime, sender: str, system: bool, text: str) -> None:
        self.line = line
        self.when = when
        self.sender = sender
        self.system = system
        self.parts = [text]
        self.raw: list[tuple[int, str]] = []  # lines read inside quotes, to re-read if unquoted
        self.quoted = False
        self.blanks = 0  # blank lines read since its last line: its text may go on after them


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    display = source.display
    stem = source.name.rsplit(".", 1)[0]
    day: date | None = None
    pending: _Pending | None = None
    twelve_hour = False
    backlog: deque[tuple[int, str]] = deque()  # lines to read again after a false opening quote

    def finish(p: _Pending) -> Message:
        return _message(p, chat, chat_name, group, display)

    f = report.open_text(source)
    with f:
        lines = enumerate((raw.rstrip("\r\n") for raw in f), 1)
        chat_name, group, wording = _head(lines, stem, report, backlog)
        chat = f"line:{chat_name}"
        while True:
            if backlog:
                n, line = backlog.popleft()
            else:
                item = next(lines, None)
                if item is None:
                    if pending is not None and pending.quoted:
                        report.note("a message opened a quote that never closed")
                        pending = _unquote_failed(pending, backlog)
                        continue
                    break
                n, line = item
            if pending is not None and pending.quoted:
                pending, closed = _quoted_line(pending, n, line, backlog)
                if closed:
                    yield finish(pending)
                    pending = None
                continue
            if not line.strip():
                # The message ends at the next message or date line; until then a blank line
                # may be inside its text (LINE's older PC export leaves multi-line texts
                # unquoted, blank lines and all).
                if pending is not None:
                    pending.blanks += 1
                continue
            head, rest, when = _time_and_rest(line, day, report)
            if when is not None:
                if pending is not None:
                    yield finish(pending)
                    pending = None
                if day is None:
                    report.bad_row(
                        f"line {n}",
                        "a message before any date line",
                        "a date line like '2024.01.02 Tuesday' or '2024/01/02(火)' first",
                    )
                    continue
                twelve_hour = twelve_hour or is_twelve_hour(head)
                pending = _opened(n, datetime.combine(day, time()) + when, rest)
                continue
            found = day_of(line.strip())
            if found is not None:
                if pending is not None:
                    yield finish(pending)
                    pending = None
                day = found[0]
                if not found[1]:
                    report.note(f"line {n}: the weekday on the date line does not match the date")
                continue
            if pending is not None:
                # unquoted text after a message: keep it with that message rather than lose it
                pending.parts += [""] * pending.blanks + [line]
                pending.blanks = 0
                report.note("some multi-line messages were not wrapped in quotes")
            elif day is not None:
                report.bad_row(
                    f"line {n}",
                    f"a line shaped like {shape(line)} is neither a date line nor a message",
                    "'HH:MM<TAB>name<TAB>text' or a date line",
                )
            # before the first date line: the export's header (title, "Saved on: …")
        if pending is not None:
            yield finish(pending)
    report.version = ", ".join(v for v in (wording, "12-hour times" if twelve_hour else "") if v)


def _head(
    lines: Iterator[tuple[int, str]], stem: str, report: FileReport, backlog: deque
) -> tuple[str, bool | None, str]:
    """(chat name, group, title wording) from the title line, after any blank lines. Without a
    title (read only with --format: detection needs it) the chat is named after the file and
    the first line goes back to be read as body."""
    n, first = next(lines, (0, ""))
    while not first.lstrip("\ufeff").strip() and n:
        n, first = next(lines, (0, ""))
    first = first.lstrip("\ufeff").strip()
    if first.startswith("[LINE]"):
        return _title(first, stem)
    report.note("no '[LINE] …' title line: the chat is named after the file")
    backlog.append((n, first))
    return stem, None, ""


def _quoted_line(
    p: _Pending, n: int, line: str, backlog: deque[tuple[int, str]]
) -> tuple[_Pending, bool]:
    """A line read inside a quoted text: (the message, whether this line closed its quote).

    A lone quote means the opening quote was part of the text: the first line is kept as
    written and the lines after it are read again as ordinary lines.
    """
    p.raw.append((n, line))
    state = _scan(line)
    if state == "open":
        p.parts.append(line)
        return p, False
    if state == "closed":
        p.parts.append(line[:-1])
        p.parts = ["\n".join(p.parts).replace('""', '"')]
        p.quoted = False
        return p, True
    return _unquote_failed(p, backlog), False


def _opened(n: int, when: datetime, rest: str) -> _Pending:
    """The message a `time<TAB>sender<TAB>text` line opens (text in quotes may go on)."""
    sender, tab, text = rest.partition("\t")
    if not tab:  # `time<TAB>text`: a notice from LINE itself
        sender, text = "", rest
    sender = sender.strip()
    pending = _Pending(n, when, sender, not sender, text)
    if text.startswith('"'):
        state = _scan(text[1:])
        if state == "closed":
            pending.parts = [text[1:-1].replace('""', '"')]
        elif state == "open":
            pending.parts = [text[1:]]
            pending.quoted = True
    return pending


def _title(first: str, stem: str) -> tuple[str, bool | None, str]:
    """(chat name, group, wording) from the `[LINE] …` title line."""
    for pattern, title_wording, is_group in _TITLES:
        m = pattern.match(first)
        if m:
            return m.group(1).strip() or stem, is_group, title_wording
    return stem, None, ""


def _time_and_rest(
    line: str, day: date | None, report: FileReport
) -> tuple[str, str, timedelta | None]:
    """(time text, what follows it, the time or None) of a message line: `HH:MM<TAB>…`, or with
    spaces where LINE writes tabs (once a date line was read)."""
    head, tab, rest = line.partition("\t")
    when = time_of(head) if tab else None
    if when is None and not tab and day is not None:
        spaced = _split_spaces(line)
        if spaced is not None:
            head, rest = spaced
            when = time_of(head)
            report.note(
                "spaces where LINE writes tabs: each name read up to the first run of "
                "spaces (a name with a space in it may be cut)"
            )
    return head, rest, when


def _unquote_failed(p: _Pending, backlog: deque[tuple[int, str]]) -> _Pending:
    """Undo a quote that turned out not to open a multi-line text."""
    backlog.extendleft(reversed(p.raw))
    p.parts = ['"' + p.parts[0]]
    p.raw = []
    p.quoted = False
    return p


def _message(p: _Pending, chat: str, chat_name: str, group, display: str) -> Message:
    text = "\n".join(p.parts)
    kind, text = kind_and_text(text, p.system)
    sender, me = p.sender, None
    unsent = _UNSENT.match(text.strip())
    if unsent:
        kind = "recall"
        who = next((g for g in unsent.groups() if g), "")
        if p.system:
            sender = who.strip()
        if sender in _YOU:
            me = True  # "You unsent a message.": the file names the exporter here
    if not sender:
        me = False  # a notice from LINE itself
    timed = naive_time(p.when)
    return Message(
        chat=chat,
        chat_name=chat_name,
        sender=sender,
        me=me,
        group=group,
        time=timed[0],
        ts=timed[1],
        kind=kind,
        text=text,
        source=FileLine(display, p.line),
    )
