"""WhatsApp "Export chat" TXT (docs/formats.md §5): Android and iOS lines, locales, media, date order."""

from __future__ import annotations

import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from conftest import read_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.ingest.formats import whatsapp_txt
from twin.ingest.pipeline import ingest

LRM = "\u200e"
NNBSP = "\u202f"


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def pick(msgs: list[dict], *keys: str) -> list[tuple]:
    return [tuple(m[k] for k in keys) for m in msgs]


ANDROID_GROUP = [
    f"1/4/23, 7:00{NNBSP}PM - Messages and calls are end-to-end encrypted. No one outside of "
    "this chat, not even WhatsApp, can read or listen to them. Tap to learn more.",
    f'1/4/23, 7:01{NNBSP}PM - Alice created group "Trip"',
    f"1/4/23, 7:01{NNBSP}PM - Alice added Bob and Carol",
    f"1/4/23, 7:02{NNBSP}PM - Alice: Who is coming: Friday or Saturday?",
    f"1/4/23, 7:03{NNBSP}PM - Bob: Saturday",
    "",
    "and I bring the tent",
    f"1/4/23, 7:04{NNBSP}PM - Carol: <Media omitted>",
    f"1/4/23, 7:05{NNBSP}PM - Carol: This message was deleted",
    f"1/4/23, 7:06{NNBSP}PM - Bob: See you there <This message was edited>",
    f"1/4/23, 7:07{NNBSP}PM - Alice: null",
    f"1/4/23, 7:08{NNBSP}PM - Alice: Location: https://maps.google.com/?q=52.52,13.40",
    f'1/4/23, 7:09{NNBSP}PM - Alice changed the subject to "Trip: 2023"',
    f"1/4/23, 7:10{NNBSP}PM - Bob: You deleted this message",
    f"1/13/23, 12:05{NNBSP}AM - Bob: after midnight",
]


def test_android_group_chat(ingest_file, tmp_path):
    path = write(tmp_path / "WhatsApp Chat with Trip.txt", ANDROID_GROUP)
    msgs = ingest_file(path, extra=("--me", "Bob"))
    assert pick(msgs, "sender", "kind", "text") == [
        (
            "",
            "system",
            "Messages and calls are end-to-end encrypted. No one outside of this chat, "
            "not even WhatsApp, can read or listen to them. Tap to learn more.",
        ),
        ("", "system", 'Alice created group "Trip"'),
        ("", "system", "Alice added Bob and Carol"),
        ("Alice", "text", "Who is coming: Friday or Saturday?"),
        ("Bob", "text", "Saturday\n\nand I bring the tent"),
        ("Carol", "other", ""),
        ("Carol", "recall", "This message was deleted"),
        ("Bob", "text", "See you there"),
        ("Alice", "other", ""),
        ("Alice", "location", "https://maps.google.com/?q=52.52,13.40"),
        ("", "system", 'Alice changed the subject to "Trip: 2023"'),
        ("Bob", "recall", "You deleted this message"),
        ("Bob", "text", "after midnight"),
    ]
    assert {m["chat"] for m in msgs} == {"whatsapp:Trip"}
    assert {m["chat_name"] for m in msgs} == {"Trip"}
    assert all(m["group"] for m in msgs)
    assert [m["me"] for m in msgs if m["sender"] == "Bob"] == [True] * 4
    assert not any(m["me"] for m in msgs if m["sender"] != "Bob")
    assert msgs[3]["time"] == "2023-01-04T19:02:00"
    assert msgs[-1]["time"] == "2023-01-13T00:05:00"
    assert [m["source"]["line"] for m in msgs[3:6]] == [4, 5, 8]
    assert msgs[0]["source"]["file"] == str(path)


def test_one_to_one_is_not_a_group_and_me_is_required(twin, ingest_file, tmp_path):
    path = write(
        tmp_path / "WhatsApp Chat - Alice.txt",
        [
            "20/06/2017, 20:27 - Messages and calls are end-to-end encrypted.",
            "20/06/2017, 20:28 - Alice: hi",
            "20/06/2017, 20:29 - Dan: hello",
        ],
    )
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "-o", out)
    assert r.code != 0
    assert "WhatsApp TXT" in r.err and "  Alice: 1 message\n" in r.err and "--me" in r.err
    assert "  : " not in r.err  # system lines are nobody's, so not offered as "me"
    assert not out.exists()
    msgs = ingest_file(path, extra=("--me", "dan"))
    assert pick(msgs, "chat_name", "sender", "me", "group") == [
        ("Alice", "", False, False),
        ("Alice", "Alice", False, False),
        ("Alice", "Dan", True, False),
    ]


IOS_CHAT = [
    f"[04/01/2023, 19:00:00] Trip: {LRM}Messages and calls are end-to-end encrypted.",
    f"[04/01/2023, 19:00:01] Trip to the Alps: 2023 edition: {LRM}Alice created group “Trip”",
    "[04/01/2023, 19:05:02] Alice: Hello all",
    "second line",
    f"{LRM}[04/01/2023, 19:05:03] Alice: {LRM}<attached: 00000012-PHOTO-2023-01-04-19-05-02.jpg>",
    f"{LRM}[04/01/2023, 19:05:04] Bob: {LRM}image omitted",
    f"{LRM}[04/01/2023, 19:05:05] Bob: {LRM}video omitted",
    f"{LRM}[04/01/2023, 19:05:06] Bob: {LRM}audio omitted",
    f"{LRM}[04/01/2023, 19:05:07] Bob: {LRM}sticker omitted",
    f"{LRM}[04/01/2023, 19:05:08] Bob: {LRM}GIF omitted",
    f"{LRM}[04/01/2023, 19:05:09] Bob: {LRM}Plan.pdf • {LRM}3 pages {LRM}document omitted",
    f"{LRM}[04/01/2023, 19:05:10] Bob: {LRM}Contact card omitted",
    f"{LRM}[04/01/2023, 19:05:11] Carol: {LRM}Missed voice call",
    f"{LRM}[04/01/2023, 19:05:12] Carol: {LRM}Missed video call",
    f"{LRM}[04/01/2023, 19:05:13] Carol: {LRM}This message was deleted.",
    f"{LRM}[04/01/2023, 19:05:14] Alice: {LRM}You deleted this message.",
    f"[04/01/2023, 19:05:15] Alice: Fixed it {LRM}<This message was edited>",
    f"{LRM}[04/01/2023, 19:05:16] Alice: {LRM}<attached: 00000013-AUDIO-2023-01-04-19-05-16.opus>",
    f"{LRM}[04/01/2023, 19:05:17] Bob: {LRM}<attached: 00000014-Budget.xlsx>",
    f"[13/01/2023, 08:00:00] Carol: {LRM}<attached: 00000015-STICKER-2023-01-13-08-00-00.webp>",
]


def test_ios_zip_with_media(twin, tmp_path):
    chat = "\n".join(IOS_CHAT) + "\n"
    zpath = tmp_path / "WhatsApp Chat - Trip.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("_chat.txt", chat)
        z.writestr("00000012-PHOTO-2023-01-04-19-05-02.jpg", b"\xff\xd8\xff\xe0 not a photo")
    out = tmp_path / "messages.jsonl"
    r = twin("ingest", zpath, "-o", out, "--me", "Alice")
    assert r.code == 0, r.err
    msgs = read_jsonl(out)
    assert pick(msgs, "sender", "kind", "text") == [
        ("", "system", "Messages and calls are end-to-end encrypted."),
        ("", "system", "Alice created group “Trip”"),
        ("Alice", "text", "Hello all\nsecond line"),
        ("Alice", "image", ""),
        ("Bob", "image", ""),
        ("Bob", "video", ""),
        ("Bob", "voice", ""),
        ("Bob", "sticker", ""),
        ("Bob", "sticker", ""),
        ("Bob", "file", "Plan.pdf"),
        ("Bob", "other", ""),
        ("Carol", "call", "Missed voice call"),
        ("Carol", "call", "Missed video call"),
        ("Carol", "recall", "This message was deleted."),
        ("Alice", "recall", "You deleted this message."),
        ("Alice", "text", "Fixed it"),
        ("Alice", "voice", ""),
        ("Bob", "file", "Budget.xlsx"),
        ("Carol", "sticker", ""),
    ]
    assert {m["chat"] for m in msgs} == {"whatsapp:Trip"}
    assert all(m["group"] for m in msgs)
    assert [m["me"] for m in msgs].count(True) == 5
    assert msgs[2]["time"] == "2023-01-04T19:05:02"
    assert msgs[2]["source"] == {"file": f"{zpath}!/_chat.txt", "line": 3}
    assert msgs[3]["source"]["line"] == 5
    assert msgs[-1]["time"] == "2023-01-13T08:00:00"
    assert "WhatsApp TXT iOS, day/month/year, 24-hour clock" in r.out
    assert "day/month order: day first (line 20 has 13/01/2023, 08:00:00)" in r.out
    assert "Passed over 1 media file(s)" in r.out


def test_android_export_folder_with_media(ingest_file, tmp_path):
    folder = tmp_path / "export"
    write(
        folder / "WhatsApp Chat with Alice.txt",
        [
            "04/01/2023, 19:02 - Alice: IMG-20230104-WA0001.jpg (file attached)",
            "Look at this",
            "04/01/2023, 19:03 - Eve: PTT-20230104-WA0002.opus (file attached)",
            "04/01/2023, 19:04 - Eve: Report.pdf (file attached)",
            "04/01/2023, 19:05 - Eve: VID-20230104-WA0003.mp4 (file attached)",
        ],
    )
    write(folder / "WhatsApp Chat with Bob.txt", ["2019-01-01 12:00 - Bob: happy new year"])
    (folder / "IMG-20230104-WA0001.jpg").write_bytes(b"\xff\xd8\xff")
    (folder / "PTT-20230104-WA0002.opus").write_bytes(b"OggS")
    msgs = ingest_file(folder, extra=("--me", "Eve"))
    assert pick(msgs, "chat", "sender", "me", "kind", "text") == [
        ("whatsapp:Alice", "Alice", False, "image", "Look at this"),
        ("whatsapp:Alice", "Eve", True, "voice", ""),
        ("whatsapp:Alice", "Eve", True, "file", "Report.pdf"),
        ("whatsapp:Alice", "Eve", True, "video", ""),
        ("whatsapp:Bob", "Bob", False, "text", "happy new year"),
    ]
    assert msgs[-1]["time"] == "2019-01-01T12:00:00"


@pytest.mark.parametrize(
    ("line", "time", "version"),
    [
        ("1/4/23, 7:02 PM - A: x", "2023-01-04T19:02:00", "Android, month/day/year, 12-hour"),
        (f"1/4/23, 7:02{NNBSP}PM - A: x", "2023-01-04T19:02:00", "Android, month/day/year"),
        ("1/4/23, 12:30\u00a0AM - A: x", "2023-01-04T00:30:00", "Android, month/day/year"),
        ("[04/01/2023, 19:02:11] A: x", "2023-01-04T19:02:11", "iOS, day/month/year, 24-hour"),
        ("04/01/2023, 19:02 - A: x", "2023-01-04T19:02:00", "Android, day/month/year"),
        ("2019-01-01 12:00 - A: x", "2019-01-01T12:00:00", "Android, year-month-day, 24-hour"),
        ("[2019-01-01, 12:00:00] A: x", "2019-01-01T12:00:00", "iOS, year-month-day"),
        ("[1.1.2019, 12.00.00] A: x", "2019-01-01T12:00:00", "iOS, day/month/year, 24-hour"),
        ("1.1.2019, 12.00 - A: x", "2019-01-01T12:00:00", "Android, day/month/year"),
        ("20/6/2017 8:28 p. m. - A: x", "2017-06-20T20:28:00", "Android, day/month/year, 12"),
        ("20/6/2017 12:28 a. m. - A: x", "2017-06-20T00:28:00", "Android, day/month/year, 12"),
        ("20/6/2017 8:28 a.m. - A: x", "2017-06-20T08:28:00", "Android, day/month/year"),
        ("13/1/19, 9:05 - A: x", "2019-01-13T09:05:00", "Android, day/month/year"),
        (f"[1/4/23, 7:02:11{NNBSP}PM] A: x", "2023-01-04T19:02:11", "iOS, month/day/year, 12"),
        (f"{LRM}[04/01/2023, 19:02:11] A: {LRM}image omitted", "2023-01-04T19:02:11", "iOS"),
    ],
)
def test_locale_variants(twin, tmp_path, line, time, version):
    path = write(tmp_path / "chat.txt", [line])
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "-o", out, "--me", "A")
    assert r.code == 0, r.err
    (msg,) = read_jsonl(out)
    assert msg["time"] == time
    assert msg["sender"] == "A" and msg["me"] is True
    assert msg["chat"] == "whatsapp:chat"
    assert f"WhatsApp TXT {version}" in r.out


def _times_and_note(twin, tmp_path, lines):
    path = write(tmp_path / "chat.txt", lines)
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "-o", out, "--me", "A")
    assert r.code == 0, r.err
    return [m["time"][:10] for m in read_jsonl(out)], r.out


def test_day_month_order_decided_by_a_field_over_12_anywhere_in_the_file(twin, tmp_path):
    lines = [f"{d}, 10:00 - A: x" for d in ("03/04/2023", "05/04/2023", "04/04/2023")]
    times, out = _times_and_note(twin, tmp_path, [*lines, "13/04/2023, 10:00 - A: x"])
    assert times == ["2023-04-03", "2023-04-04", "2023-04-05", "2023-04-13"]
    assert "day/month order: day first (line 4 has 13/04/2023, 10:00)" in out
    times, out = _times_and_note(twin, tmp_path, [*lines, "04/13/2023, 10:00 - A: x"])
    assert times == ["2023-03-04", "2023-04-04", "2023-04-13", "2023-05-04"]
    assert "day/month order: month first (line 4 has 04/13/2023, 10:00)" in out


def test_day_month_order_decided_by_dates_running_forward(twin, tmp_path):
    # 12-hour clock with "/" would guess month first; the dates only run forward day first
    dates = ("01/02/2023", "05/02/2023", "10/02/2023", "02/03/2023")
    times, out = _times_and_note(twin, tmp_path, [f"{d}, 9:00 AM - A: x" for d in dates])
    assert times == ["2023-02-01", "2023-02-05", "2023-02-10", "2023-03-02"]
    assert "day/month order: day first (no date field is over 12" in out
    # iOS 24-hour would guess day first; the dates only run forward month first
    dates = ("01/02/2023", "01/05/2023", "01/10/2023", "02/03/2023")
    times, out = _times_and_note(twin, tmp_path, [f"[{d}, 09:00:00] A: x" for d in dates])
    assert times == ["2023-01-02", "2023-01-05", "2023-01-10", "2023-02-03"]
    assert "day/month order: month first (no date field is over 12" in out


def test_day_month_order_guessed_from_the_locale_when_nothing_decides(twin, tmp_path):
    times, out = _times_and_note(twin, tmp_path, ["3/4/23, 9:00 AM - A: x"])
    assert times == ["2023-03-04"]
    assert "guessed month first from the locale (12-hour clock with /)" in out
    times, out = _times_and_note(twin, tmp_path, ["[03/04/2023, 09:00:00] A: x"])
    assert times == ["2023-04-03"]
    assert "guessed day first" in out


def test_authors_and_system_lines(ingest_file, tmp_path):
    path = write(
        tmp_path / "chat.txt",
        [
            "01/02/2023, 10:00 - Maria de la Cruz Fernández: hola: qué tal",
            "01/02/2023, 10:01 - Maria de la Cruz Fernández: bien",
            "01/02/2023, 10:02 - Security code changed. Tap for more info: now",
            '01/02/2023, 10:03 - Bob changed the group description to "Rules: none"',
            "01/02/2023, 10:04 - +49 170 1234567: ok",
            "01/02/2023, 10:05 - You were added",
        ],
    )
    msgs = ingest_file(path, extra=("--me", "+49 170 1234567"))
    assert pick(msgs, "sender", "kind", "text") == [
        ("Maria de la Cruz Fernández", "text", "hola: qué tal"),
        ("Maria de la Cruz Fernández", "text", "bien"),
        ("", "system", "Security code changed. Tap for more info: now"),
        ("", "system", 'Bob changed the group description to "Rules: none"'),
        ("+49 170 1234567", "text", "ok"),
        ("", "system", "You were added"),
    ]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_bom_and_utf16(ingest_file, tmp_path, encoding):
    path = write(tmp_path / "_chat.txt", ["[04/01/2023, 19:05:02] Alice: 你好"], encoding)
    (msg,) = ingest_file(path, extra=("--me", "Alice"))
    assert (msg["sender"], msg["text"], msg["chat_name"]) == ("Alice", "你好", tmp_path.name)


def test_impossible_date_names_file_and_line(twin, tmp_path):
    path = write(
        tmp_path / "chat.txt",
        ["1/13/23, 9:00 AM - A: x", "2/30/23, 9:00 AM - A: y"],
    )
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "-o", out, "--me", "A")
    assert r.code != 0
    assert f"{path}, line 2: impossible date/time '2/30/23, 9:00 AM' read as m/d/y" in r.err
    assert not out.exists()
    r = twin("ingest", path, "-o", out, "--me", "A", "--skip-bad-rows")
    assert r.code == 0 and "malformed row 1" in r.out


def test_forced_format_on_another_file_says_what_was_expected(twin, tmp_path):
    path = write(tmp_path / "notes.txt", ["shopping list", "1/4/23, 7:02 PM - A: x"])
    assert not whatsapp_txt.sniff(path.read_text(), None)
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "-o", out, "--format", "whatsapp-txt", "--me", "A")
    assert r.code != 0
    assert f"{path}, line 1: text before the first timestamped line" in r.err
    assert "'[04/01/2023, 19:05:02] Name: text' (iOS)" in r.err
    assert not out.exists()


def test_sniff():
    assert whatsapp_txt.sniff("\n1/4/23, 7:02 PM - A: x\n", None)
    assert whatsapp_txt.sniff(f"{LRM}[04/01/2023, 19:05:02] A: x", None)
    assert not whatsapp_txt.sniff("time,chat,sender,text\n2023-01-01 12:00,c,s,t\n", None)
    assert not whatsapp_txt.sniff("[LINE] Chat history with A\n", None)
    assert not whatsapp_txt.sniff("2023-01-01 12:00:00 Alice(12345)\nhi\n", None)


# --- round trip: a small writer in the exporters' styles, read back by the importer ----------


def _h12(dt: datetime) -> tuple[int, str]:
    return dt.hour % 12 or 12, "AM" if dt.hour < 12 else "PM"


def _android_us(dt: datetime) -> str:
    h, ap = _h12(dt)
    return f"{dt.month}/{dt.day}/{dt.year % 100:02d}, {h}:{dt.minute:02d}{NNBSP}{ap} - "


def _android_eu(dt: datetime) -> str:
    return f"{dt:%d/%m/%Y}, {dt:%H:%M} - "


def _android_iso(dt: datetime) -> str:
    return f"{dt:%Y-%m-%d %H:%M} - "


def _ios_eu(dt: datetime) -> str:
    return f"[{dt:%d.%m.%y}, {dt:%H:%M:%S}] "


def _ios_us(dt: datetime) -> str:
    h, ap = _h12(dt)
    return f"[{dt.month}/{dt.day}/{dt:%y}, {h}:{dt:%M:%S}{NNBSP}{ap}] "


# style -> (stamp writer, has seconds, media lines as (written body, kind, text))
STYLES = {
    "android-us": (_android_us, False),
    "android-eu": (_android_eu, False),
    "android-iso": (_android_iso, False),
    "ios-eu": (_ios_eu, True),
    "ios-us": (_ios_us, True),
}
ANDROID_MEDIA = [
    ("<Media omitted>", "other", ""),
    ("This message was deleted", "recall", "This message was deleted"),
    ("null", "other", ""),
]
IOS_MEDIA = [
    (f"{LRM}image omitted", "image", ""),
    (f"{LRM}sticker omitted", "sticker", ""),
    (f"{LRM}audio omitted", "voice", ""),
    (f"{LRM}<attached: 00000012-PHOTO-2023-01-04-19-05-02.jpg>", "image", ""),
    (f"{LRM}This message was deleted.", "recall", "This message was deleted."),
]
NAMES = ["Alice", "Bob Smith", "+49 170 1234567", "张伟", "José María", "Ōta-san"]
_line = st.text(
    st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"),
        blacklist_characters=f"{LRM}\u200f\ufeff",
    ),
    max_size=25,
)


def _plain(lines: list[str]) -> bool:
    first = lines[0].strip().lower()
    if lines[-1] == "" and len(lines) > 1:
        return False
    if any(w in first for w in ("omitted", "<", "deleted", "call", "location:", "attached")):
        return False
    if first == "null":
        return False
    return not any(
        whatsapp_txt.ANDROID.match(x.lstrip()) or whatsapp_txt.IOS.match(x.lstrip())
        for x in lines[1:]
    )


_text = st.lists(_line, min_size=1, max_size=3).filter(_plain).map("\n".join)
_message = st.tuples(
    st.sampled_from(NAMES),
    st.one_of(_text.map(lambda t: (None, t)), st.integers(0, 4).map(lambda i: (i, None))),
    st.datetimes(datetime(2009, 1, 1), datetime(2035, 12, 31)),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(st.sampled_from(sorted(STYLES)), st.lists(_message, min_size=1, max_size=8))
def test_round_trip(style, messages):
    stamp, seconds = STYLES[style]
    ios = style.startswith("ios")
    media = IOS_MEDIA if ios else ANDROID_MEDIA
    me = messages[0][0]
    messages.sort(key=lambda m: m[2])
    lines, expected = [], []
    for sender, (media_index, text), dt in messages:
        if not seconds:
            dt = dt.replace(second=0)
        dt = dt.replace(microsecond=0)
        if text is None:
            body, kind, text = media[media_index % len(media)]
        else:
            body, kind = text, "text"
        lines.append((LRM if ios and kind != "text" else "") + stamp(dt) + f"{sender}: {body}")
        expected.append((sender, sender == me, dt.isoformat(), kind, text))
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "WhatsApp Chat with Test.txt", lines)
        result = ingest([str(path)], me=me)
    got = [(m.sender, m.me, m.time, m.kind, m.text) for m in result.messages()]
    assert got == expected
