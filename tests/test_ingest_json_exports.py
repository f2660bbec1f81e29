"""Telegram Desktop, DiscordChatExporter and Messenger/Instagram JSON importers (docs/formats.md §4, §6)."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import read_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.ingest.formats import discord_json, messenger_json, telegram_json
from twin.ingest.pipeline import ingest

SHANGHAI = ZoneInfo("Asia/Shanghai")  # conftest sets TZ to this zone


def write_json(path: Path, obj, encoding: str = "utf-8", indent: int | None = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=indent), encoding=encoding)
    return path


def pick(msgs: list[dict], *keys: str) -> list[tuple]:
    return [tuple(m.get(k) for k in keys) for m in msgs]


def must_fail(twin, tmp_path, path: Path, *extra: str):
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "-o", out, *extra)
    assert r.code != 0
    assert str(path) in r.err
    assert not out.exists()
    return r


# ---------------------------------------------------------------- Telegram Desktop


def tg_time(unix: int) -> dict:
    """Telegram's `date` (local wall time, no offset) and `date_unixtime` for one instant."""
    local = datetime.fromtimestamp(unix, SHANGHAI).replace(tzinfo=None)
    return {"date": local.isoformat(), "date_unixtime": str(unix)}


T0 = 1682931600  # 2023-05-01 17:00:00 in Shanghai


def tg_msg(i: int, sender: str | None, uid: int | None, **fields) -> dict:
    msg = {"id": i, "type": "message", **tg_time(T0 + 10 * i)}
    if sender is not None or uid is not None:
        msg["from"] = sender
        msg["from_id"] = f"user{uid}"
    msg.setdefault("text", "")
    msg.update(fields)
    msg.setdefault("text_entities", [])
    return msg


def tg_service(i: int, actor: str, uid: int, action: str, **fields) -> dict:
    return {
        "id": i,
        "type": "service",
        **tg_time(T0 + 10 * i),
        "actor": actor,
        "actor_id": f"user{uid}",
        "action": action,
        "text": "",
        "text_entities": [],
        **fields,
    }


NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"

TG_SINGLE = {
    "name": "Alice",
    "type": "personal_chat",
    "id": 111,
    "messages": [
        tg_service(1, "Bob", 222, "phone_call", duration_seconds=65, discard_reason="hangup"),
        tg_msg(2, "Alice", 111, text="Hi!\nFree tonight?"),
        tg_msg(
            3,
            "Bob",
            222,
            reply_to_message_id=2,
            text=["Yes, see ", {"type": "link", "text": "https://example.org"}, "!"],
        ),
        tg_msg(4, "Alice", 111, file=NOT_INCLUDED, media_type="sticker", sticker_emoji="😂"),
        tg_msg(5, "Bob", 222, file=NOT_INCLUDED, media_type="video_message"),
        tg_msg(6, "Bob", 222, file=NOT_INCLUDED, media_type="voice_message"),
        tg_msg(7, "Alice", 111, photo="photos/photo_1.jpg", width=1280, text="our cat"),
        tg_msg(8, "Alice", 111, file="files/Plan.pdf", mime_type="application/pdf"),
        tg_msg(9, "Bob", 222, file=NOT_INCLUDED, media_type="animation"),
        tg_msg(10, "Bob", 222, file=NOT_INCLUDED, media_type="audio_file", performer="X"),
        tg_msg(11, "Bob", 222, file=NOT_INCLUDED, media_type="video_file"),
        tg_msg(12, "Bob", 222, file=NOT_INCLUDED, media_type="holographic_message"),
        tg_msg(13, "Alice", 111, location_information={"latitude": 52.5, "longitude": 13.4}),
        tg_msg(
            14,
            "Alice",
            111,
            place_name="Café Zur Post",
            address="Hauptstr. 1",
            location_information={"latitude": 52.5, "longitude": 13.4},
        ),
        tg_msg(15, "Bob", 222, contact_information={"first_name": "Eve", "last_name": "Li"}),
        tg_msg(16, "Bob", 222, poll={"question": "Pizza?", "closed": False, "answers": []}),
        {"id": 17, "type": "unsupported"},
        tg_msg(18, "Bob", 222, forwarded_from="News Channel", text="read this"),
        tg_msg(19, None, 333, text="from a deleted account"),
        tg_service(20, "Bob", 222, "pin_message", message_id=3),
    ],
}


def test_telegram_single_chat(ingest_file, tmp_path):
    path = write_json(tmp_path / "ChatExport_2023-05-02" / "result.json", TG_SINGLE)
    msgs = ingest_file(path, extra=("--me", "222"))
    assert pick(msgs, "sender", "kind", "text") == [
        ("Bob", "call", "phone call: 65 s; hangup"),
        ("Alice", "text", "Hi!\nFree tonight?"),
        ("Bob", "text", "Yes, see https://example.org!"),
        ("Alice", "sticker", "😂"),
        ("Bob", "video", ""),
        ("Bob", "voice", ""),
        ("Alice", "image", "our cat"),
        ("Alice", "file", ""),
        ("Bob", "sticker", ""),
        ("Bob", "file", ""),
        ("Bob", "video", ""),
        ("Bob", "other", ""),
        ("Alice", "location", ""),
        ("Alice", "location", "Café Zur Post, Hauptstr. 1"),
        ("Bob", "other", "Eve Li"),
        ("Bob", "other", "Pizza?"),
        ("Bob", "text", "read this"),
        ("user333", "text", "from a deleted account"),
        ("Bob", "system", "pin message"),
    ]
    assert {m["chat"] for m in msgs} == {"telegram:111"}
    assert {m["chat_name"] for m in msgs} == {"Alice"}
    assert not any(m["group"] for m in msgs)
    assert [m["me"] for m in msgs] == [m["sender_id"] == "user222" for m in msgs]
    assert msgs[0]["time"] == "2023-05-01T17:00:10+08:00"
    assert msgs[1]["id"] == "2" and msgs[1]["sender_id"] == "user111"
    assert msgs[2]["reply_to"] == {"id": "2"}
    assert [m.get("forwarded", False) for m in msgs].count(True) == 1
    assert msgs[16]["forwarded"] is True
    assert msgs[-1]["source"] == {"file": str(path), "item": "messages[19]"}


def test_telegram_single_chat_needs_me_and_counts_skips(twin, tmp_path):
    path = write_json(tmp_path / "result.json", TG_SINGLE)
    r = must_fail(twin, tmp_path, path)
    assert "--me" in r.err and "Alice (id user111)" in r.err and "Bob (id user222)" in r.err
    out = tmp_path / "ok.jsonl"
    r = twin("ingest", path, "-o", out, "--me", "Bob")
    assert r.code == 0, r.err
    assert "Telegram Desktop JSON single chat (personal_chat)" in r.out
    assert "unsupported message (Telegram exported only its id) 1" in r.out
    assert "media_type 'holographic_message' is new to twin" in r.out
    assert len(read_jsonl(out)) == 19


def test_telegram_hint_leaves_out_notices_without_an_author(twin, tmp_path):
    """A pinned message with no `actor` is nobody: the "who are you" list has no `: 1 message`."""
    doc = json.loads(json.dumps(TG_SINGLE))
    doc["messages"].append({"id": 900, "type": "service", "date": "2024-01-05T10:00:00",
                            "date_unixtime": "1704448800", "action": "pin_message",
                            "message_id": 1, "text": ""})  # fmt: skip
    r = must_fail(twin, tmp_path, write_json(tmp_path / "result.json", doc))
    listed = r.err.split("Senders found:\n", 1)[1].split("Pass --me", 1)[0]
    assert listed and all(line.strip()[:1] not in (":", "") for line in listed.splitlines())


TG_FULL = {
    "about": "Here is the data you requested.",
    "personal_information": {
        "user_id": 222,
        "first_name": "Bob",
        "last_name": "",
        "phone_number": "+00 000 000 0000",
    },
    "contacts": {"about": "…", "list": []},
    "chats": {
        "about": "This page lists all chats from this export.",
        "list": [
            {
                "name": "Alice",
                "type": "personal_chat",
                "id": 111,
                "messages": [
                    tg_msg(1, "Alice", 111, text="hi Bob"),
                    tg_msg(2, "Bob", 222, text="hi Alice"),
                ],
            },
            {
                "name": "Hiking 徒步",
                "type": "private_supergroup",
                "id": 1500000001,
                "messages": [
                    tg_service(1, "Carol", 333, "create_group", title="Hiking", members=["Bob"]),
                    tg_service(2, "Bob", 222, "group_call", duration=300),
                    tg_msg(3, "Carol", 333, text="Saturday?"),
                    tg_msg(4, "Bob", 222, text="yes"),
                    {
                        **tg_msg(5, "Hiking 徒步", 0, text="admin note"),
                        "from_id": "channel1500000001",
                    },
                ],
            },
            {"type": "saved_messages", "id": 222, "messages": [tg_msg(1, "Bob", 222, text="note")]},
        ],
    },
    "left_chats": {
        "about": "…",
        "list": [
            {
                "name": "Old news",
                "type": "public_channel",
                "id": 1700000002,
                "messages": [{**tg_msg(1, "Old news", 0, text="news"), "from_id": "channel17"}],
            }
        ],
    },
}


def test_telegram_full_export_marks_me_and_groups(ingest_file, tmp_path):
    path = write_json(tmp_path / "DataExport" / "result.json", TG_FULL)
    msgs = ingest_file(path)
    by_chat: dict[str, list[dict]] = {}
    for m in msgs:
        by_chat.setdefault(m["chat"], []).append(m)
    assert set(by_chat) == {
        "telegram:111",
        "telegram:1500000001",
        "telegram:222",
        "telegram:1700000002",
    }
    assert pick(by_chat["telegram:111"], "sender", "me", "group") == [
        ("Alice", False, False),
        ("Bob", True, False),
    ]
    hiking = by_chat["telegram:1500000001"]
    assert pick(hiking, "sender", "me", "kind", "text") == [
        ("Carol", False, "system", "create group: Hiking; Bob"),
        ("Bob", True, "call", "group call: 300 s"),
        ("Carol", False, "text", "Saturday?"),
        ("Bob", True, "text", "yes"),
        ("Hiking 徒步", False, "text", "admin note"),
    ]
    assert all(m["group"] for m in hiking)
    assert hiking[0]["source"]["item"] == "chats.list[1].messages[0]"
    assert pick(by_chat["telegram:222"], "chat_name", "me", "group") == [
        ("Saved Messages", True, False)
    ]
    left = by_chat["telegram:1700000002"]
    assert pick(left, "chat_name", "me", "group") == [("Old news", False, True)]
    assert left[0]["source"]["item"] == "left_chats.list[0].messages[0]"


def test_telegram_full_export_summary(twin, tmp_path):
    path = write_json(tmp_path / "result.json", TG_FULL)
    r = twin("ingest", path, "-o", tmp_path / "out.jsonl")
    assert r.code == 0, r.err
    assert "full export (3 chats, 1 left chats)" in r.out
    assert "marked in the file" in r.out


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_telegram_bom_and_utf16(ingest_file, tmp_path, encoding):
    path = write_json(tmp_path / "result.json", TG_SINGLE, encoding=encoding)
    msgs = ingest_file(path, extra=("--me", "Bob"))
    assert len(msgs) == 19 and msgs[3]["text"] == "😂"


def test_telegram_repairs_x_escapes(ingest_file, tmp_path):
    """Telegram Desktop writes control characters as \\x0B, which is not JSON."""
    chat = {"name": "Alice", "type": "personal_chat", "id": 111, "messages": [tg_msg(1, "A", 1)]}
    text = json.dumps(chat).replace('"text": ""', '"text": "a\\x0Bb \\\\x41"')
    path = tmp_path / "result.json"
    path.write_text(text, encoding="utf-8")
    msgs = ingest_file(path, extra=("--me", "A"))
    assert msgs[0]["text"] == "a\x0bb \\x41"


def test_telegram_old_export_without_unixtime(ingest_file, tmp_path):
    msg = tg_msg(1, "Alice", 111, text="old")
    del msg["date_unixtime"]
    chat = {"name": "Alice", "type": "personal_chat", "id": 111, "messages": [msg]}
    msgs = ingest_file(write_json(tmp_path / "result.json", chat), extra=("--me", "Alice"))
    assert msgs[0]["time"] == "2023-05-01T17:00:10"


def test_telegram_malformed_json_names_line_and_column(twin, tmp_path):
    path = tmp_path / "result.json"
    path.write_text(
        '{\n "name": "Alice",\n "type": "personal_chat",\n "id": 111,\n "messages": [\n'
        '  {"id": 1, "type": "message", "date": "2023-05-01T17:00:00", "text": "a"}\n'
        '  {"id": 2, "type": "message", "date": "2023-05-01T17:00:01", "text": "b"}\n'
        " ]\n}\n",
        encoding="utf-8",
    )
    r = must_fail(twin, tmp_path, path, "--me", "Alice")
    assert "line 7, column 3" in r.err and "Expecting ',' delimiter" in r.err


def test_telegram_cut_short_says_so(twin, tmp_path):
    path = write_json(tmp_path / "result.json", TG_SINGLE)
    path.write_text(path.read_text(encoding="utf-8")[:2000], encoding="utf-8")
    r = must_fail(twin, tmp_path, path, "--me", "Bob")
    assert "ends too early" in r.err and "line " in r.err and "column " in r.err


def test_telegram_bad_message_names_item(twin, tmp_path):
    chat = {
        "name": "Alice",
        "type": "personal_chat",
        "id": 111,
        "messages": [tg_msg(1, "A", 1), {**tg_msg(2, "A", 1), "date_unixtime": "soon"}],
    }
    path = write_json(tmp_path / "result.json", chat)
    r = must_fail(twin, tmp_path, path, "--me", "A")
    assert "messages[1]" in r.err and "date_unixtime='soon'" in r.err
    r = twin("ingest", path, "-o", tmp_path / "ok.jsonl", "--me", "A", "--skip-bad-rows")
    assert r.code == 0 and "malformed row 1" in r.out


# ---------------------------------------------------------------- DiscordChatExporter


def dc_author(uid: str, name: str, nickname: str | None = None) -> dict:
    return {
        "id": uid,
        "name": name,
        "discriminator": "0000",
        "nickname": nickname or name,
        "color": None,
        "isBot": False,
        "roles": [],
        "avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png",
    }


ALICE = dc_author("100000000000000001", "alice_w", "Alice W.")
BOB = dc_author("100000000000000002", "bob")
CAROL = dc_author("100000000000000003", "carol", "Caro")


def dc_msg(i: int, author: dict, content: str = "", **fields) -> dict:
    msg = {
        "id": str(1100000000000000000 + i),
        "type": "Default",
        "timestamp": f"2023-05-01T09:{i:02d}:00.123+00:00",
        "timestampEdited": None,
        "callEndedTimestamp": None,
        "isPinned": False,
        "content": content,
        "author": author,
        "attachments": [],
        "embeds": [],
        "stickers": [],
        "reactions": [],
        "mentions": [],
    }
    msg.update(fields)
    return msg


def attachment(name: str) -> dict:
    return {
        "id": "1",
        "url": f"https://cdn.discordapp.com/{name}",
        "fileName": name,
        "fileSizeBytes": 1,
    }


def dc_export(channel: dict, messages: list[dict], guild: str = "Hikers") -> dict:
    gid = "0" if guild == "Direct Messages" else "900000000000000001"
    return {
        "guild": {"id": gid, "name": guild, "iconUrl": ""},
        "channel": channel,
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2023-05-02T10:00:00+00:00",
        "messages": messages,
        "messageCount": len(messages),
    }


GUILD_CHANNEL = {
    "id": "800000000000000001",
    "type": "GuildTextChat",
    "categoryId": "700000000000000001",
    "category": "Text Channels",
    "name": "general",
    "topic": None,
}

DC_GUILD = dc_export(
    GUILD_CHANNEL,
    [
        dc_msg(0, ALICE, "Joined the server.", type="GuildMemberJoin"),
        dc_msg(1, ALICE, "Who's in for **Saturday**?\nBring water"),
        dc_msg(2, BOB, "me!", type="Reply", reference={"messageId": "1100000000000000001"}),
        dc_msg(3, BOB, "the view", attachments=[attachment("IMG_0001.JPG")]),
        dc_msg(4, CAROL, "", attachments=[attachment("voice-message.ogg")]),
        dc_msg(5, CAROL, "", attachments=[attachment("clip.mp4")]),
        dc_msg(6, ALICE, "", attachments=[attachment("route.gpx")]),
        dc_msg(7, BOB, "", stickers=[{"id": "1", "name": "Wave", "format": "Apng"}]),
        dc_msg(8, ALICE, "Started a call that lasted 5 minutes.", type="Call"),
        dc_msg(9, BOB, "Pinned a message.", type="ChannelPinnedMessage"),
        dc_msg(10, CAROL, "", embeds=[{"title": "Trail map", "url": "https://example.org"}]),
        dc_msg(
            11,
            CAROL,
            "",
            reference={"type": "Forward", "messageId": "1"},
            forwardedMessage={"content": "forwarded words", "attachments": []},
        ),
        dc_msg(12, BOB, "thanks", type="20"),
        dc_msg(13, BOB, "boost!", type="8"),
    ],
)


def test_discord_guild_channel(ingest_file, tmp_path):
    path = write_json(tmp_path / "Hikers - general [800000000000000001].json", DC_GUILD, indent=2)
    msgs = ingest_file(path, extra=("--me", "Alice W."))
    assert pick(msgs, "sender", "kind", "text") == [
        ("Alice W.", "system", "Joined the server."),
        ("Alice W.", "text", "Who's in for **Saturday**?\nBring water"),
        ("bob", "text", "me!"),
        ("bob", "image", "the view"),
        ("Caro", "voice", ""),
        ("Caro", "video", ""),
        ("Alice W.", "file", ""),
        ("bob", "sticker", "Wave"),
        ("Alice W.", "call", "Started a call that lasted 5 minutes."),
        ("bob", "system", "Pinned a message."),
        ("Caro", "link", "Trail map"),
        ("Caro", "text", "forwarded words"),
        ("bob", "text", "thanks"),
        ("bob", "system", "boost!"),
    ]
    assert {m["chat"] for m in msgs} == {"discord:800000000000000001"}
    assert {m["chat_name"] for m in msgs} == {"Hikers #general"}
    assert all(m["group"] for m in msgs)
    assert [m["me"] for m in msgs] == [m["sender"] == "Alice W." for m in msgs]
    assert msgs[1]["sender_id"] == "100000000000000001"
    assert msgs[1]["id"] == "1100000000000000001"
    assert msgs[1]["time"] == "2023-05-01T09:01:00.123000+00:00"
    assert msgs[2]["reply_to"] == {"id": "1100000000000000001"}
    assert msgs[11]["forwarded"] is True
    assert msgs[3]["source"] == {"file": str(path), "item": "messages[3]"}


@pytest.mark.parametrize("me", ["alice_w", "Alice W.", "100000000000000001", "ALICE_W"])
def test_discord_me_by_name_nickname_or_id(ingest_file, tmp_path, me):
    path = write_json(tmp_path / "general.json", DC_GUILD)
    msgs = ingest_file(path, extra=("--me", me))
    assert sum(m["me"] for m in msgs) == 4


def test_discord_direct_messages_and_group_dms(ingest_file, tmp_path):
    dm = dc_export(
        {"id": "600000000000000001", "type": "DirectTextChat", "name": "bob"},
        [dc_msg(1, ALICE, "hey"), dc_msg(2, BOB, "hi")],
        guild="Direct Messages",
    )
    group_dm = dc_export(
        {"id": "600000000000000002", "type": "DirectGroupTextChat", "name": "trip"},
        [dc_msg(1, ALICE, "plan?"), dc_msg(2, BOB, "sat")],
        guild="Direct Messages",
    )
    old = dc_export(
        {"id": "600000000000000003", "name": "bob, carol"},
        [dc_msg(1, ALICE, "a"), dc_msg(2, BOB, "b"), dc_msg(3, CAROL, "c")],
        guild="Direct Messages",
    )
    write_json(tmp_path / "dms" / "dm.json", dm)
    write_json(tmp_path / "dms" / "group.json", group_dm)
    write_json(tmp_path / "dms" / "old.json", old)
    msgs = ingest_file(tmp_path / "dms", extra=("--me", "alice_w"))
    group = {m["chat"]: m["group"] for m in msgs}
    names = {m["chat"]: m["chat_name"] for m in msgs}
    assert group == {
        "discord:600000000000000001": False,
        "discord:600000000000000002": True,
        "discord:600000000000000003": True,
    }
    assert names["discord:600000000000000001"] == "bob"


def test_discord_offsets_order_by_instant(ingest_file, tmp_path):
    """Times keep the offset they were written with, and sort by the instant they name."""
    export = dc_export(
        GUILD_CHANNEL,
        [
            dc_msg(1, ALICE, "first", timestamp="2023-05-01T10:00:00.1234567+02:00"),
            dc_msg(2, BOB, "second", timestamp="2023-05-01T08:30:00Z"),
            dc_msg(3, CAROL, "third", timestamp="2023-05-01T04:45:00-04:00"),
        ],
    )
    msgs = ingest_file(write_json(tmp_path / "c.json", export), extra=("--me", "bob"))
    assert pick(msgs, "text", "time") == [
        ("first", "2023-05-01T10:00:00.123456+02:00"),
        ("second", "2023-05-01T08:30:00+00:00"),
        ("third", "2023-05-01T04:45:00-04:00"),
    ]


def test_discord_malformed_json_names_line_and_column(twin, tmp_path):
    text = json.dumps(DC_GUILD, indent=2)
    text = text.replace('"isPinned": false,\n', '"isPinned": false\n', 1)
    path = tmp_path / "general.json"
    path.write_text(text, encoding="utf-8")
    line = text[: text.index('"isPinned": false\n')].count("\n") + 2
    r = must_fail(twin, tmp_path, path, "--me", "bob")
    assert f"line {line}, column 7" in r.err and "Expecting ',' delimiter" in r.err


def test_discord_bad_timestamp_names_item(twin, tmp_path):
    export = dc_export(GUILD_CHANNEL, [dc_msg(1, ALICE, "a", timestamp="yesterday")])
    path = write_json(tmp_path / "general.json", export)
    r = must_fail(twin, tmp_path, path, "--me", "bob")
    assert "messages[0]" in r.err and "timestamp='yesterday'" in r.err


# ---------------------------------------------------------------- Messenger / Instagram


def mojibake(value):
    """What Facebook does to every string: UTF-8 bytes written out as if they were Latin-1."""
    if isinstance(value, str):
        return value.encode("utf-8").decode("latin-1")
    if isinstance(value, list):
        return [mojibake(v) for v in value]
    if isinstance(value, dict):
        return {k: mojibake(v) for k, v in value.items()}
    return value


def write_fb(path: Path, thread: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Facebook escapes every non-ASCII byte: "\u00e2\u0080\u0099" for ’
    path.write_text(json.dumps(mojibake(thread), indent=2), encoding="utf-8")
    return path


MS0 = 1682931600000  # 2023-05-01 17:00:00 in Shanghai


def fb_msg(k: int, sender: str, **fields) -> dict:
    return {
        "sender_name": sender,
        "timestamp_ms": MS0 + 1000 * k,
        "is_geoblocked_for_viewer": False,
        **fields,
    }


FB_NEWEST = [
    fb_msg(9, "Zoë Müller", content="Reacted ❤️ to your message"),
    fb_msg(8, "Zoë Müller", is_unsent=True),
    fb_msg(7, "Léa", call_duration=125, content="Léa called you."),
    fb_msg(6, "Léa", share={"link": "https://example.org/x"}, content="https://example.org/x"),
    fb_msg(5, "Léa", sticker={"uri": "messages/stickers_used/1.png"}),
    fb_msg(4, "Zoë Müller", files=[{"uri": "a.pdf"}]),
    fb_msg(4, "Zoë Müller", gifs=[{"uri": "a.gif"}]),
    fb_msg(4, "Zoë Müller", audio_files=[{"uri": "a.mp4"}]),
    fb_msg(3, "Léa", videos=[{"uri": "a.mp4"}]),
    fb_msg(3, "Léa", photos=[{"uri": "a.jpg"}], content="view from the top 🏔️"),
    fb_msg(2, "Zoë Müller", content="I’m in — see you at 9 😊"),
]
FB_OLDEST = [
    fb_msg(1, "Léa", content="On y va demain ?"),
    fb_msg(0, "Zoë Müller", type="Subscribe", users=[{"name": "Léa"}]),
]


def fb_thread(messages: list[dict], **fields) -> dict:
    thread = {
        "participants": [{"name": "Zoë Müller"}, {"name": "Léa"}],
        "messages": messages,
        "title": "Léa",
        "is_still_participant": True,
        "thread_path": "inbox/lea_abcdef1234",
        "magic_words": [],
    }
    thread.update(fields)
    return thread


def test_messenger_thread_split_over_files(ingest_file, tmp_path):
    folder = tmp_path / "messages" / "inbox" / "lea_abcdef1234"
    write_fb(folder / "message_1.json", fb_thread(FB_NEWEST))
    write_fb(folder / "message_2.json", fb_thread(FB_OLDEST))
    msgs = ingest_file(tmp_path / "messages", extra=("--me", "Zoë Müller"))
    assert pick(msgs, "sender", "kind", "text") == [
        ("Zoë Müller", "system", "added Léa"),
        ("Léa", "text", "On y va demain ?"),
        ("Zoë Müller", "text", "I’m in — see you at 9 😊"),
        ("Léa", "image", "view from the top 🏔️"),
        ("Léa", "video", ""),
        ("Zoë Müller", "voice", ""),
        ("Zoë Müller", "sticker", ""),
        ("Zoë Müller", "file", ""),
        ("Léa", "sticker", ""),
        ("Léa", "link", "https://example.org/x"),
        ("Léa", "call", "Léa called you."),
        ("Zoë Müller", "recall", ""),
        ("Zoë Müller", "system", "Reacted ❤️ to your message"),
    ]
    assert {m["chat"] for m in msgs} == {"messenger:inbox/lea_abcdef1234"}
    assert {m["chat_name"] for m in msgs} == {"Léa"}
    assert not any(m["group"] for m in msgs)
    assert [m["me"] for m in msgs] == [m["sender"] == "Zoë Müller" for m in msgs]
    assert msgs[0]["time"] == "2023-05-01T17:00:00+08:00"
    assert msgs[0]["source"]["item"] == "messages[1]"
    assert msgs[0]["source"]["file"].endswith("message_2.json")
    assert msgs[2]["source"]["item"] == "messages[10]"
    assert "id" not in msgs[0]


def test_messenger_group_millisecond_times_and_summary(twin, tmp_path):
    thread = fb_thread(
        [
            fb_msg(1, "Léa", content="b", timestamp_ms=MS0 + 250),
            fb_msg(0, "Ana", content="a"),
            fb_msg(0, "Zoë Müller", content="c", timestamp_ms=MS0 - 1),
        ],
        participants=[{"name": "Zoë Müller"}, {"name": "Léa"}, {"name": "Ana"}],
        title="Trip 🚗",
        thread_path="inbox/trip_99",
    )
    path = write_fb(tmp_path / "message_1.json", thread)
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "-o", out, "--me", "zoë müller")
    assert r.code == 0, r.err
    msgs = read_jsonl(out)
    assert pick(msgs, "chat_name", "group", "text", "time") == [
        ("Trip 🚗", True, "c", "2023-05-01T16:59:59.999000+08:00"),
        ("Trip 🚗", True, "a", "2023-05-01T17:00:00+08:00"),
        ("Trip 🚗", True, "b", "2023-05-01T17:00:00.250000+08:00"),
    ]
    assert "Messenger/Instagram JSON Latin-1 mojibake repaired in" in r.out


def test_messenger_keeps_strings_that_are_not_mojibake(ingest_file, tmp_path):
    thread = fb_thread([fb_msg(0, "Léa", content="café")], thread_path="inbox/x_1")
    path = tmp_path / "message_1.json"
    path.write_text(json.dumps(thread), encoding="utf-8")  # written correctly, not mangled
    msgs = ingest_file(path, extra=("--me", "Léa"))
    assert pick(msgs, "sender", "text") == [("Léa", "café")]


def test_messenger_equal_times_keep_their_order(ingest_file, tmp_path):
    same = [fb_msg(0, "Léa", content=c) for c in ("third", "second", "first")]
    path = write_fb(
        tmp_path / "message_1.json", fb_thread([fb_msg(1, "Léa", content="last"), *same])
    )
    msgs = ingest_file(path, extra=("--me", "Léa"))
    assert [m["text"] for m in msgs] == ["first", "second", "third", "last"]


def test_messenger_without_thread_path_keys_on_title(ingest_file, tmp_path):
    thread = fb_thread([fb_msg(0, "Léa", content="a")])
    del thread["thread_path"]
    write_fb(tmp_path / "a" / "message_1.json", thread)
    write_fb(tmp_path / "a" / "message_2.json", thread)
    msgs = ingest_file(tmp_path / "a", extra=("--me", "Léa"))
    assert {m["chat"] for m in msgs} == {"messenger:Léa"}


def test_messenger_malformed_json_names_line_and_column(twin, tmp_path):
    path = write_fb(tmp_path / "message_1.json", fb_thread(FB_NEWEST))
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    r = must_fail(twin, tmp_path, path, "--me", "Léa")
    assert "line " in r.err and ", column " in r.err and "ends too early" in r.err


def test_messenger_bad_timestamp_names_item(twin, tmp_path):
    thread = fb_thread([fb_msg(1, "Léa", content="b"), fb_msg(0, "Léa", timestamp_ms="noon")])
    path = write_fb(tmp_path / "message_1.json", thread)
    r = must_fail(twin, tmp_path, path, "--me", "Léa")
    assert "messages[1]" in r.err and "timestamp_ms='noon'" in r.err


# ---------------------------------------------------------------- detection


def test_sniff_tells_the_three_apart(tmp_path):
    heads = {
        "telegram": json.dumps(TG_SINGLE, indent=1)[:4000],
        "telegram-full": json.dumps(TG_FULL, indent=1)[:300],
        "discord": json.dumps(DC_GUILD, indent=2)[:4000],
        "messenger": json.dumps(mojibake(fb_thread(FB_NEWEST)), indent=2)[:4000],
    }
    got = {
        name: [m.NAME for m in (telegram_json, discord_json, messenger_json) if m.sniff(h, None)]
        for name, h in heads.items()
    }
    assert got == {
        "telegram": ["telegram-json"],
        "telegram-full": ["telegram-json"],
        "discord": ["discord-json"],
        "messenger": ["messenger-json"],
    }
    assert not any(
        m.sniff('{"time": 1, "chat": "a", "sender": "b", "text": "c"}', None)
        for m in (telegram_json, discord_json, messenger_json)
    )


# ---------------------------------------------------------------- round trips

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")
_names = ["Zoë", "李雷", "Ольга", "Bob ’B’", "😀 Ana"]


def _run(path: Path, me: str | None = None) -> list[dict]:
    result = ingest([str(path)], me=me, progress=False)
    return [m.to_dict() for m in result.messages()]


_tg_message = st.tuples(
    st.integers(0, 2),  # sender; 0 is the exporter
    st.sampled_from(["text", "sticker", "image", "voice", "video", "file"]),
    _text,
    st.integers(0, 4000),  # seconds after the previous message
    st.booleans(),  # text as a list of entities
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_tg_message, min_size=1, max_size=20), group=st.booleans())
def test_telegram_round_trip(messages, group):
    unix, out, expected = T0, [], []
    for i, (who, kind, text, gap, as_list) in enumerate(messages):
        unix += gap
        msg = {"id": i + 1, "type": "message", **tg_time(unix)}
        msg.update({"from": _names[who], "from_id": f"user{1000 + who}", "text": text})
        if as_list:
            msg["text"] = [text[:1], {"type": "bold", "text": text[1:]}]
        if kind == "sticker":
            msg.update(media_type="sticker", sticker_emoji=text, text="")
        elif kind == "image":
            msg["photo"] = "photos/p.jpg"
        elif kind == "file":
            msg["file"] = "files/f.bin"
        elif kind in ("voice", "video"):
            msg.update(
                file="f", media_type={"voice": "voice_message", "video": "video_message"}[kind]
            )
        out.append(msg)
        wall = datetime.fromtimestamp(unix, SHANGHAI).isoformat()
        expected.append((_names[who], who == 0, wall, kind, text))
    chat = {"name": "G", "type": "private_group" if group else "personal_chat", "id": 5}
    export = {
        "personal_information": {"user_id": 1000},
        "chats": {"about": "", "list": [{**chat, "messages": out}]},
    }
    with tempfile.TemporaryDirectory() as d:
        msgs = _run(write_json(Path(d) / "result.json", export))
    assert pick(msgs, "sender", "me", "time", "kind", "text") == expected
    assert all(m["group"] is group for m in msgs)


_dc_message = st.tuples(
    st.integers(0, 2),
    st.sampled_from(["text", "image", "voice", "video", "file", "sticker"]),
    _text,
    st.integers(0, 4000),
    st.integers(-48, 56),  # offset in quarter hours
    st.integers(0, 999),  # milliseconds
)
_DC_FILES = {"image": "a.png", "voice": "voice-message.ogg", "video": "b.mov", "file": "c.zip"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_dc_message, min_size=1, max_size=20))
def test_discord_round_trip(messages):
    messages = [(0, *messages[0][1:]), *messages[1:]]  # --me must match someone
    unix, out, expected = T0, [], []
    authors = [dc_author(str(10**17 + n), f"user{n}", _names[n]) for n in range(3)]
    for i, (who, kind, text, gap, quarters, ms) in enumerate(messages):
        unix += gap
        tz = timezone(timedelta(minutes=15 * quarters))
        when = datetime.fromtimestamp(unix, tz).replace(microsecond=1000 * ms)
        msg = dc_msg(i, authors[who], text, timestamp=when.isoformat())
        if kind == "sticker":
            msg.update(content="", stickers=[{"id": "1", "name": text, "format": "Png"}])
        elif kind != "text":
            msg["attachments"] = [attachment(_DC_FILES[kind])]
        out.append(msg)
        shown = when.isoformat(timespec="seconds" if ms == 0 else "microseconds")
        expected.append((_names[who], who == 0, shown, kind, text))
    expected.sort(key=lambda e: datetime.fromisoformat(e[2]))  # stable, as the pipeline sorts
    with tempfile.TemporaryDirectory() as d:
        msgs = _run(write_json(Path(d) / "c.json", dc_export(GUILD_CHANNEL, out)), me="user0")
    assert pick(msgs, "sender", "me", "time", "kind", "text") == expected


_fb_message = st.tuples(
    st.integers(0, 2),
    st.sampled_from(["text", "image", "recall", "sticker"]),
    _text,
    st.integers(0, 3_000_000),  # milliseconds after the previous message
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_fb_message, min_size=1, max_size=20))
def test_messenger_round_trip(messages):
    messages = [(0, *messages[0][1:]), *messages[1:]]  # --me must match someone
    ms, out, expected = MS0, [], []
    for who, kind, text, gap in messages:
        ms += gap
        msg = {"sender_name": _names[who], "timestamp_ms": ms}
        if kind == "recall":
            msg["is_unsent"] = True
            text = ""
        elif kind == "sticker":
            msg["sticker"] = {"uri": "s.png"}
            text = ""
        else:
            msg["content"] = text
            if kind == "image":
                msg["photos"] = [{"uri": "p.jpg"}]
        out.append(msg)
        when = datetime.fromtimestamp(ms / 1000, SHANGHAI)
        shown = when.isoformat(timespec="seconds" if ms % 1000 == 0 else "microseconds")
        expected.append((_names[who], who == 0, shown, kind, text))
    thread = fb_thread(out[::-1], participants=[{"name": n} for n in _names[:3]], title="T")
    with tempfile.TemporaryDirectory() as d:
        msgs = _run(write_fb(Path(d) / "message_1.json", thread), me=_names[0])
    assert pick(msgs, "sender", "me", "time", "kind", "text") == expected
    assert all(m["group"] for m in msgs)
