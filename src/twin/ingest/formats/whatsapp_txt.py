"""WhatsApp "Export chat" TXT, Android and iOS, every date/time locale (docs/formats.md §5).

Android: `1/4/23, 7:02 PM - Author: text`, one file per chat (`WhatsApp Chat with X.txt`).
iOS: `[04/01/2023, 19:05:02] Author: text` in `_chat.txt` inside a zip with the media; U+200E
marks media and system lines. A line without a timestamp continues the message above it.

Whether `04/01/2023` is day or month first cannot be told from one line, so the whole file is
read first (WhatsApp files are small) and the order decided once: a field > 12 decides; else the
order under which the dates run forward; else the locale's habit (12-hour clock with `/` is the
US, month first). The decision is written to the summary. The file does not say who "me" is.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from twin.ingest.formats._common import naive_time
from twin.ingest.report import FileReport
from twin.ingest.shown import shape
from twin.ingest.sources import Source
from twin.messages import FileLine, Message

NAME = "whatsapp-txt"
LABEL = "WhatsApp TXT"
ME = "--me"  # how the user's messages are found: twin.ingest.importer.MeRule

_SP = "[ \u202f\u00a0]"
_STAMP = (
    r"(?P<d1>\d{1,4})(?P<ds>[./-])(?P<d2>\d{1,2})(?P=ds)(?P<d3>\d{1,4})[,\u060c]?" + _SP + "{1,2}"
    r"(?:klo" + _SP + ")?"  # Finnish: `13.6.2018 klo 21.25`
    r"(?:(?P<ap2>上午|下午|午前|午後)" + _SP + "?)?"  # Chinese, Japanese: `2023/3/12 下午8:05`
    r"(?P<h>\d{1,2})(?P<ts>[:.])(?P<mi>\d{2})(?:(?P=ts)(?P<s>\d{2}))?"
    r"(?:" + _SP + r"?(?P<ap>[AaPp])\.?" + _SP + r"?[Mm]\.?|" + _SP + r"(?P<ap3>[\u0635\u0645]))?"
)
ANDROID = re.compile(_STAMP + _SP + "[-\u2013]" + _SP + "(?P<rest>.*)", re.S)
IOS = re.compile(r"\[" + _STAMP + r"\]" + _SP + "(?P<rest>.*)", re.S)
_MARKS = "\u200e\u200f\ufeff"  # left-to-right / right-to-left marks, BOM

_FILE_NAME = re.compile(r"^WhatsApp Chat (?:with|-) (.+)$")
_QUOTES = frozenset('"“”„«»')
_EDITED = re.compile(r"[\s\u200e]*<This message was edited>\s*$")
# iOS media, in the wordings of a few locales: `<attached: …>`, `<adjunto: …>`, `<Anhang: …>`,
# also written `< attached: … >`
_ATTACHED = re.compile(
    r"<\s?(?:attached|adjunto|anexado|Anhang|allegato|pi\u00e8ce jointe|bijlage|ek)\s?:\s?"
    r"([^>]+?)\s?>"
)
# Android media: `IMG-….jpg (file attached)` in a few locales, or `….jpg <attached>`
_FILE_ATTACHED = re.compile(
    r"^(.+\.\w{1,5}) (?:\((?:file attached|archivo adjunto|arquivo anexado|Datei angeh\u00e4ngt"
    r"|fichier joint|file allegato|bestand bijgevoegd)\)|<attached>)$"
)
_DOCUMENT = re.compile(r"^(.*?)\s*document omitted$")
_PAGES = re.compile(r"\s*•.*$")

OMITTED = {
    "<media omitted>": "other",
    "image omitted": "image",
    "video omitted": "video",
    "audio omitted": "voice",
    "sticker omitted": "sticker",
    "gif omitted": "sticker",
    "contact card omitted": "other",
    "null": "other",  # a view-once photo or video
    # Android's `<Media omitted>` in other locales
    "<medien ausgelassen>": "other",
    "<multimedia omitido>": "other",
    "<archivo omitido>": "other",
    "<mídia oculta>": "other",
    "<médias omis>": "other",
    "<media omessi>": "other",
    "<media weggelaten>": "other",
    "<medya dahil edilmedi>": "other",
    "<media tidak disertakan>": "other",
    "<без медиафайлов>": "other",
    "<メディアなし>": "other",
    "<省略影音内容>": "other",
    # iOS `image omitted` and the rest in other locales
    "imagem ocultada": "image",
    "vídeo ocultado": "video",
    "áudio ocultado": "voice",
    "figurinha omitida": "sticker",
    "изображение отсутствует": "image",
    "видео отсутствует": "video",
    "аудиофайл отсутствует": "voice",
    "стикер отсутствует": "sticker",
    "圖片已略去": "image",
    "影片已略去": "video",
    "音訊已略去": "voice",
    "貼圖已略去": "sticker",
    "图片已忽略": "image",
    "视频已忽略": "video",
    "音频已忽略": "voice",
    "贴图已忽略": "sticker",
    "bild weggelassen": "image",
    "video weggelassen": "video",
    "audio weggelassen": "voice",
    "sticker weggelassen": "sticker",
    "imagen omitida": "image",
    "video omitido": "video",
    "audio omitido": "voice",
    "sticker omitido": "sticker",
}
RECALLS = (  # compared in lower case, without a final full stop
    "this message was deleted",
    "you deleted this message",
    "mensagem apagada",
    "esta mensagem foi apagada",
    "você apagou esta mensagem",
    "这条消息已删除",
    "此消息已删除",
    "你删除了此消息",
    "此訊息已刪除",
    "你已刪除此訊息",
    "это сообщение удалено",
    "вы удалили это сообщение",
    "diese nachricht wurde gelöscht",
    "du hast diese nachricht gelöscht",
    "se eliminó este mensaje",
    "eliminaste este mensaje",
    "ce message a été supprimé",
    "vous avez supprimé ce message",
    "questo messaggio è stato eliminato",
    "hai eliminato questo messaggio",
)
# The encryption notice, which old Android exports write under the group's name as if it wrote it
# (English, then the locales with the most WhatsApp users; each notice's opening words)
_ENCRYPTION_NOTICE = re.compile(
    r"^(?:Messages and calls are end-to-end encrypted|Messages (?:you send )?to this "
    r"(?:group|chat)(?: and calls)? are now secured with end-to-end encryption"
    r"|Сообщения и звонки защищены сквозным шифрованием"
    r"|Nachrichten und Anrufe sind Ende-zu-Ende-verschl\u00fcsselt"
    r"|Los mensajes y (?:las )?llamadas est\u00e1n cifrados de extremo a extremo"
    r"|As mensagens e (?:as )?chamadas (?:s\u00e3o protegidas com a )?criptografia de ponta a ponta"
    r"|Les messages et (?:les )?appels sont chiffr\u00e9s de bout en bout"
    r"|I messaggi e (?:le )?chiamate sono crittografati end-to-end"
    r"|Berichten en (?:oproepen|gesprekken) zijn end-to-end versleuteld"
    r"|Mesajlar ve aramalar u\u00e7tan uca \u015fifreli"
    r"|Pesan dan panggilan terenkripsi secara end-to-end"
    r"|消息和通话都?(?:已进行|已经)?端到端加密)",
    re.I,
)
MISSED_CALLS = (
    "missed voice call",
    "missed video call",
    "пропущенный голосовой вызов",
    "пропущенный видеовызов",
    "пропущенный аудиозвонок",
    "пропущенный видеозвонок",
    "chamada de voz perdida",
    "chamada de vídeo perdida",
    "未接语音通话",
    "未接视频通话",
    "未接語音通話",
    "未接視訊通話",
    "verpasster sprachanruf",
    "verpasster videoanruf",
    "llamada de voz perdida",
    "videollamada perdida",
    "appel vocal manqué",
    "appel vidéo manqué",
)

_TAG_KINDS = {
    "PHOTO": "image",
    "IMG": "image",
    "VIDEO": "video",
    "VID": "video",
    "AUDIO": "voice",
    "PTT": "voice",
    "AUD": "voice",
    "STICKER": "sticker",
    "STK": "sticker",
    "GIF": "sticker",
}
_EXT_KINDS = {
    **dict.fromkeys(("jpg", "jpeg", "png", "heic", "gif", "bmp"), "image"),
    **dict.fromkeys(("mp4", "mov", "3gp", "avi", "mkv", "webm"), "video"),
    **dict.fromkeys(("opus", "ogg", "m4a", "aac", "mp3", "amr", "wav"), "voice"),
    "webp": "sticker",
    "vcf": "other",
}
_LABELLED = ("file",)  # kinds whose file name is worth keeping as the text


def _strip_marks(line: str) -> tuple[str, bool]:
    stripped = line.lstrip(_MARKS)
    return stripped, len(stripped) != len(line)


def sniff(head: str, source: Source) -> bool:
    for line in head.split("\n", 50)[:50]:
        line, _ = _strip_marks(line.strip())
        if line:
            return bool(ANDROID.match(line) or IOS.match(line))
    return False


@dataclass(slots=True)
class _Entry:
    line: int
    match: re.Match
    marked: bool  # U+200E before the timestamp (iOS media and system lines)
    style: _Style
    more: list[str] = field(default_factory=list)  # continuation lines


@dataclass(frozen=True)
class _Style:
    ios: bool
    date_sep: str
    time_sep: str
    twelve_hour: bool
    # `a. m.`/`p. m.` (Spanish and other locales that write the day first) or Arabic `ص`/`م`,
    # not `AM`/`PM`
    dotted: bool = field(default=False, compare=False)

    @classmethod
    def of(cls, m: re.Match, ios: bool) -> _Style:
        dotted = m["ap"] is not None and "." in m.string[m.start("ap") : m.start("ap") + 4]
        dotted = dotted or m["ap3"] is not None
        return cls(ios, m["ds"], m["ts"], _meridiem(m) is not None, dotted)

    def matches(self, m: re.Match) -> bool:
        return (
            m["ds"] == self.date_sep
            and m["ts"] == self.time_sep
            and (_meridiem(m) is not None) == self.twelve_hour
        )


def _header(line: str) -> tuple[re.Match, bool] | None:
    """The match of a line that starts like a message header (Android or iOS), and whether iOS."""
    m = ANDROID.match(line)
    if m is not None:
        return m, False
    m = IOS.match(line)
    return (m, True) if m is not None else None


def _file_style(lines: list[str]) -> tuple[_Style, str] | None:
    """The header layout most lines use (ties: the first seen), so one odd line cannot set it,
    with the date text of its first line (for error messages)."""
    styles: Counter = Counter()
    examples: dict[_Style, str] = {}
    for raw in lines:
        found = _header(_strip_marks(raw)[0])
        if found is not None:
            style = _Style.of(*found)
            styles[style] += 1
            examples.setdefault(style, _date_text(found[0]))
    if not styles:
        return None
    style = styles.most_common(1)[0][0]
    return style, examples[style]


def _read(source: Source, report: FileReport) -> tuple[list[_Entry], _Style | None]:
    """Every timestamped line with the lines that continue it, in file order.

    A line that starts like a header is never folded into the message above. One in another
    date/time layout than most lines (another date separator or clock: files joined from two
    phones' exports, or a phone whose locale changed) is read as a message in its own layout; one
    of the other platform's layout (`[…]` in an Android file, or the reverse) is a bad row (an
    error, or a counted skip with --skip-bad-rows).
    """
    with report.open_text(source) as f:
        lines = [raw.rstrip("\n") for raw in f]
    found = _file_style(lines)
    entries: list[_Entry] = []
    if found is None:
        return entries, None
    style, example = found
    regex = IOS if style.ios else ANDROID
    mixed: list[_Entry] = []
    for n, raw in enumerate(lines, 1):
        line, marked = _strip_marks(raw)
        m = regex.match(line)
        if m is not None:
            entry = _Entry(n, m, marked, _Style.of(m, style.ios))
            entries.append(entry)
            if entry.style != style:
                mixed.append(entry)
            continue
        other = _header(line)
        if other is not None:
            report.bad_row(
                f"line {n}",
                f"a message header in the other platform's layout ({_date_text(other[0])!r})",
                f"one platform's layout throughout the file, like {example!r} (was the file "
                "joined from two exports? fix or remove the line, or pass --skip-bad-rows)",
            )
        elif entries:
            entries[-1].more.append(raw)
        elif not line.strip():
            report.skip("blank line")
        else:
            report.bad_row(
                f"line {n}",
                f"text before the first timestamped line, shaped like {shape(line)}",
                "a WhatsApp export starting with a line like '1/4/23, 7:02 PM - Name: text' "
                "(Android) or '[04/01/2023, 19:05:02] Name: text' (iOS)",
            )
    if mixed:
        first = mixed[0]
        report.note(
            f"{len(mixed)} message(s) in another date/time layout than the rest (first: line "
            f"{first.line}, {_date_text(first.match)!r}) were read in their own layout"
        )
    return entries, style


def _meridiem(m: re.Match) -> str | None:
    """ "a", "p", or None on a 24-hour clock: `AM`/`p. m.` after the time, `上午`/`午後` before it."""
    if m["ap"] is not None:
        return m["ap"].lower()
    if m["ap2"] is not None:
        return "p" if m["ap2"] in ("下午", "午後") else "a"
    if m["ap3"] is not None:  # Arabic: ص (sabahan) before noon, م (masa'an) after
        return "p" if m["ap3"] == "\u0645" else "a"
    return None


def _hour(m: re.Match) -> int:
    h = int(m["h"])
    meridiem = _meridiem(m)
    if meridiem is None:
        return h
    # `00:08 a. m.` (some Android locales write the midnight hour as 00) is 12:08 a.m.
    return h % 12 + (12 if meridiem == "p" else 0)


def _year(text: str) -> int:
    return int(text) + 2000 if len(text) <= 2 else int(text)


def _date_text(m: re.Match) -> str:
    return m.string[: m.start("rest")].rstrip(" -\u2013]\u202f\u00a0").lstrip("[")


def _day_first(entries: list[_Entry], style: _Style, report: FileReport) -> bool:
    """Decide for the whole file whether `a/b/yy` is day/month (True) or month/day (False)."""
    ambiguous = [e for e in entries if len(e.match["d1"]) <= 2]
    if not ambiguous:
        return True  # year first: `2019-01-01`
    first_big = next((e for e in ambiguous if int(e.match["d1"]) > 12), None)
    second_big = next((e for e in ambiguous if int(e.match["d2"]) > 12), None)
    if first_big and second_big:
        n_first = sum(1 for e in ambiguous if int(e.match["d1"]) > 12)
        n_second = sum(1 for e in ambiguous if int(e.match["d2"]) > 12)
        day_first = n_first >= n_second
        report.note(
            f"day/month order: {'day' if day_first else 'month'} first by majority, but dates "
            f"disagree (line {first_big.line}: {_date_text(first_big.match)}; "
            f"line {second_big.line}: {_date_text(second_big.match)})"
        )
        return day_first
    if first_big or second_big:
        e = first_big or second_big
        day_first = first_big is not None
        report.note(
            f"day/month order: {'day' if day_first else 'month'} first "
            f"(line {e.line} has {_date_text(e.match)})"
        )
        return day_first

    def inversions(day_first: bool) -> int:
        count = 0
        last = None
        for e in ambiguous:
            m = e.match
            a, b = int(m["d1"]), int(m["d2"])
            key = (
                _year(m["d3"]),
                *((b, a) if day_first else (a, b)),
                _hour(m),
                int(m["mi"]),
                int(m["s"] or 0),
            )
            if last is not None and key < last:
                count += 1
            last = key
        return count

    dm, md = inversions(True), inversions(False)
    if dm != md:
        day_first = dm < md
        report.note(
            f"day/month order: {'day' if day_first else 'month'} first (no date field is over 12; "
            f"read this way the dates run forward with {min(dm, md)} step(s) back, "
            f"against {max(dm, md)} the other way)"
        )
        return day_first
    day_first = not (style.twelve_hour and style.date_sep == "/" and not style.dotted)
    report.note(
        f"day/month order: guessed {'day' if day_first else 'month'} first from the locale "
        f"({'12-hour clock with /' if not day_first else 'not a US-style 12-hour clock'}); "
        "no date in the file decides it"
    )
    return day_first


def _time(e: _Entry, day_first: bool, report: FileReport) -> tuple[str, float] | None:
    m = e.match
    d1, d2, d3 = m["d1"], m["d2"], m["d3"]
    if len(d1) > 2:
        y, mo, d = int(d1), int(d2), int(d3)
    elif day_first:
        y, mo, d = _year(d3), int(d2), int(d1)
    else:
        y, mo, d = _year(d3), int(d1), int(d2)
    h = int(m["h"])
    try:
        if _meridiem(m) is not None and not 0 <= h <= 12:
            raise ValueError("hour must be in 0..12 with AM/PM")
        dt = datetime(y, mo, d, _hour(m), int(m["mi"]), int(m["s"] or 0))
    except ValueError as err:
        order = "y-m-d" if len(d1) > 2 else ("d/m/y" if day_first else "m/d/y")
        report.bad_row(
            f"line {e.line}",
            f"impossible date/time {_date_text(m)!r} read as {order} ({err})",
            "a real date and time, in one day/month order throughout the file",
        )
        return None
    return naive_time(dt)


def _authors(entries: list[_Entry]) -> Counter:
    """How often each text before the first ': ' appears; a name seen twice is a real author."""
    counts: Counter = Counter()
    for e in entries:
        rest = e.match["rest"]
        i = rest.find(": \u200e")
        if i < 0:
            i = rest.find(": ")
        if i > 0:
            counts[rest[:i]] += 1
    return counts


# An unsaved contact's name is their number as the phone shows it (`+34 612 34 56 78`, `+1 (555)
# 123-4567`), sometimes between direction marks: never a system sentence, however many groups.
_PHONE_NAME = re.compile(r"[\u202a\u200e]?\+?[\d ()\u00a0.-]{7,}[\u202c]?")


def _is_author(name: str, counts: Counter) -> bool:
    """Reject what is a system sentence with a colon (`Alice changed the subject to "Trip: 2023"`)."""
    if len(name) > 60 or name != name.strip() or any(c in _QUOTES for c in name):
        return False
    if _PHONE_NAME.fullmatch(name) and sum(c.isdigit() for c in name) >= 7:
        return True
    return counts[name] >= 2 or len(name.split()) <= 4


def _media_kind(name: str) -> str:
    base = PurePosixPath(name).name
    for token in re.split(r"[-_ ]", base.upper()):
        kind = _TAG_KINDS.get(token)
        if kind:
            return kind
    ext = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    return _EXT_KINDS.get(ext, "file")


def _file_label(name: str) -> str:
    return re.sub(r"^\d{8}-", "", PurePosixPath(name).name)


def classify(body: str) -> tuple[str, str]:
    """(kind, text) of what an author wrote: media markers, deletions, calls, or plain text.

    `body` is the message text with its continuation lines and without U+200E at its start.
    """
    body = _EDITED.sub("", body)
    first, _, caption = body.partition("\n")
    core = first.replace("\u200e", "").strip()
    low = core.lower()
    kind = OMITTED.get(low)
    if kind is not None:
        return kind, caption
    if low.rstrip(".") in RECALLS:
        return "recall", core
    if low in MISSED_CALLS:
        return "call", core
    m = _ATTACHED.search(core)
    if m is not None:
        kind = _media_kind(m[1])
        after = core[m.end() :].strip()
        text = "\n".join(t for t in (after, caption) if t)
        if not text and kind in _LABELLED:
            before = _PAGES.sub("", core[: m.start()]).strip()
            text = before or _file_label(m[1])
        return kind, text
    m = _FILE_ATTACHED.match(core)
    if m is not None:
        kind = _media_kind(m[1])
        return kind, caption or (m[1] if kind in _LABELLED else "")
    m = _DOCUMENT.match(core)
    if m is not None:
        return "file", caption or _PAGES.sub("", m[1]).strip()
    if low.startswith("location: http"):
        return "location", core.split(": ", 1)[1]
    return "text", body


def _chat_name(source: Source) -> str:
    stem = source.name.rsplit(".", 1)[0] if "." in source.name else source.name
    m = _FILE_NAME.match(stem)
    if m:
        return m[1]
    if stem.lower() != "_chat":
        return stem
    # iOS `_chat.txt`: the chat is named by the zip (or the folder it was unzipped into)
    for name in (source.zip_path.stem if source.zip_path else "", source.parent_name):
        if name:
            m = _FILE_NAME.match(name)
            return m[1] if m else name
    return stem


def parse(source: Source, report: FileReport) -> Iterator[Message]:
    entries, style = _read(source, report)
    if style is None:
        return
    by_style: dict[_Style, list[_Entry]] = {}
    for e in entries:
        by_style.setdefault(e.style, []).append(e)
    # each layout its own day/month order: a file joined from a US and a German export has both
    orders = {s: _day_first(group, s, report) for s, group in by_style.items()}
    day_first = orders[style]
    if any(len(e.match["d1"]) > 2 for e in entries):
        order = "year-month-day"
    else:
        order = "day/month/year" if day_first else "month/day/year"
    report.version = (
        f"{'iOS' if style.ios else 'Android'}, {order}, "
        f"{'12-hour' if style.twelve_hour else '24-hour'} clock"
    )
    counts = _authors(entries)
    chat_name = _chat_name(source)
    chat = f"whatsapp:{chat_name}"
    display = source.display
    for e in entries:
        timed = _time(e, orders[e.style], report)
        if timed is None:
            continue
        rest = first = e.match["rest"]
        if e.more:
            rest = "\n".join([rest, *e.more]).rstrip("\n")
        sender = ""
        # iOS media and system text starts with U+200E after the name, whatever the name holds
        i = first.find(": \u200e")
        if i < 0:
            i = first.find(": ")
            if i > 0 and not _is_author(first[:i], counts):
                i = -1
        if i > 0:
            sender, body = rest[:i], rest[i + 2 :]
            body, marked = _strip_marks(body)
            kind, text = classify(body)
            if kind == "text" and _ENCRYPTION_NOTICE.match(body):
                sender, kind = "", "system"
            if kind == "text" and marked:
                # iOS: a system line under the group's (or contact's) name, text after U+200E
                sender, kind, text = "", "system", body.replace("\u200e", "")
        else:
            kind, text = "system", _strip_marks(rest)[0].replace("\u200e", "")
        yield Message(
            chat=chat,
            chat_name=chat_name,
            sender=sender,
            me=None if sender else False,  # a system line is nobody's, so never a --me candidate
            group=None,
            time=timed[0],
            ts=timed[1],
            kind=kind,
            text=text,
            source=FileLine(display, e.line),
        )
