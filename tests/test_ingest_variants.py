"""Exports as people actually have them (issue 13): a line of another layout never swallowed,
WhatsApp's `00:08 a. m.`, the hint's own --me accepted, Messenger/Instagram notices as system
lines, LINE/QQ TXT without their title lines, trimmed Telegram/Instagram JSON detected by content,
and no "Try --groups" once --groups is given. Every fixture here is written by hand in the shape
of the real export (docs/formats.md).
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from pathlib import Path

import pytest
from conftest import read_jsonl

from twin.ingest.formats import line_txt, messenger_json, qq_txt, telegram_json


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_json(path: Path, obj) -> Path:
    return write(path, json.dumps(obj, ensure_ascii=False, indent=1))


def pick(msgs: list[dict], *keys: str) -> list[tuple]:
    return [tuple(m[k] for k in keys) for m in msgs]


# ---------------------------------------------------------------- 3: a header of another layout

# The first line in one locale's layout, the other nineteen in another's (two exports joined).
MIXED = ["15/04/2016, 10:00 - Ana: first phone"] + [
    f"06.08.2016, 10:{i:02d} - {'Ben' if i % 2 else 'Ana'}: message {i}" for i in range(19)
]


def test_whatsapp_header_of_another_layout_is_read_not_swallowed(twin, tmp_path):
    path = write(tmp_path / "WhatsApp Chat with Ben.txt", "\n".join(MIXED) + "\n")
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "--me", "Ben", "-o", out)
    assert r.code == 0, r.err
    msgs = read_jsonl(out)
    assert len(msgs) == 20
    assert pick(msgs, "sender", "text")[0] == ("Ana", "first phone")
    assert msgs[0]["time"] == "2016-04-15T10:00:00"
    assert [m["text"] for m in msgs[1:]] == [f"message {i}" for i in range(19)]
    assert msgs[1]["time"] == "2016-08-06T10:00:00"
    assert "by me 9 (--me 'Ben')" in r.out
    assert "1 message(s) in another date/time layout" in r.out and "line 1" in r.out


def test_whatsapp_layouts_keep_their_own_day_month_order(ingest_file, tmp_path):
    # a US export (month first, 12-hour) joined with a German one (day first, 24-hour)
    lines = [
        "4/15/16, 9:00 PM - Ana: from the US phone",
        "4/16/16, 9:05 PM - Ben: still the US phone",
        "06.08.2016, 10:00 - Ana: from the German phone",
        "07.08.2016, 10:01 - Ben: zurück",
        "13.08.2016, 10:02 - Ana: later",
    ]
    msgs = ingest_file(write(tmp_path / "c.txt", "\n".join(lines) + "\n"), extra=("--me", "Ana"))
    assert [m["time"][:10] for m in msgs] == [
        "2016-04-15",
        "2016-04-16",
        "2016-08-06",
        "2016-08-07",
        "2016-08-13",
    ]


def test_whatsapp_mixed_clocks_in_one_ios_file(ingest_file, tmp_path):
    lines = [
        "[26.06.26, 15:30:00] Ana: Hallo!",
        "[26.06.26, 3:35:00 PM] Ben: Hi",
        "[27.06.26, 9:15:00 AM] Ana: Bis später!",
    ]
    msgs = ingest_file(
        write(tmp_path / "_chat.txt", "\n".join(lines) + "\n"), extra=("--me", "Ana")
    )
    assert [m["time"] for m in msgs] == [
        "2026-06-26T15:30:00",
        "2026-06-26T15:35:00",
        "2026-06-27T09:15:00",
    ]


IOS_IN_ANDROID = [*MIXED[1:6], "[06/08/2016, 10:30:00] Ana: a line of the other platform"]


def test_whatsapp_header_of_the_other_platform_is_an_error(twin, tmp_path):
    path = write(tmp_path / "chat.txt", "\n".join(IOS_IN_ANDROID) + "\n")
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "--me", "Ben", "-o", out)
    assert r.code != 0
    assert f"{path}, line 6" in r.err and "other platform" in r.err
    assert "06.08.2016, 10:00" in r.err
    assert not out.exists()


def test_whatsapp_header_of_the_other_platform_skipped_and_counted(twin, tmp_path):
    path = write(tmp_path / "chat.txt", "\n".join(IOS_IN_ANDROID) + "\n")
    out = tmp_path / "out.jsonl"
    r = twin("ingest", path, "--me", "Ben", "--skip-bad-rows", "-o", out)
    assert r.code == 0, r.err
    msgs = read_jsonl(out)
    assert [m["text"] for m in msgs] == [f"message {i}" for i in range(5)]
    assert "malformed row 1" in r.out and "line 6:" in r.out


def test_whatsapp_majority_layout_wins_whichever_line_comes_first(ingest_file, tmp_path):
    lines = MIXED[1:] + ["", "a second line of message 18"]
    msgs = ingest_file(write(tmp_path / "chat.txt", "\n".join(lines) + "\n"), extra=("--me", "Ana"))
    assert msgs[-1]["text"] == "message 18\n\na second line of message 18"


def test_whatsapp_summary_never_says_marked_in_the_file(twin, tmp_path):
    # only system lines: no sender for --me to match, and WhatsApp never marks the user
    lines = [
        "12/03/2023, 10:00 - Messages and calls are end-to-end encrypted.",
        "12/03/2023, 10:01 - Ana created group 'Trip'",
    ]
    chat = write(tmp_path / "WhatsApp Chat with Trip.txt", "\n".join(lines) + "\n")
    other = write(tmp_path / "WhatsApp Chat with Ben.txt", "12/03/2023, 10:02 - Ana: hi\n")
    r = twin("ingest", chat, other, "--me", "Ana", "-o", tmp_path / "out.jsonl")
    assert r.code == 0, r.err
    assert "marked in the file" not in r.out
    assert "by me 0 (--me 'Ana': no named sender in this file)" in r.out


# ---------------------------------------------------------------- 6: 00:08 a. m.

SPANISH = [
    "12/03/2023, 11:58 p. m. - Ana: casi medianoche",
    "13/03/2023, 00:08 a. m. - Luis: ya es martes",
    "13/03/2023, 12:30 a. m. - Ana: a dormir",
    "13/03/2023, 12:05 p. m. - Luis: mediodía",
]


def test_whatsapp_zero_hour_with_am_is_midnight(ingest_file, tmp_path):
    path = write(tmp_path / "WhatsApp Chat with Luis.txt", "\n".join(SPANISH) + "\n")
    msgs = ingest_file(path, extra=("--me", "Ana"))
    assert [m["time"] for m in msgs] == [
        "2023-03-12T23:58:00",
        "2023-03-13T00:08:00",
        "2023-03-13T00:30:00",
        "2023-03-13T12:05:00",
    ]


def test_whatsapp_dotted_am_pm_guesses_day_first(ingest_file, tmp_path):
    # no field over 12 and the dates do not decide: `a. m.` is a day-first locale (Spanish)
    lines = ["05/03/2023, 00:08 a. m. - Ana: hola", "05/03/2023, 1:00 p. m. - Luis: buenas"]
    msgs = ingest_file(write(tmp_path / "c.txt", "\n".join(lines) + "\n"), extra=("--me", "Ana"))
    assert msgs[0]["time"] == "2023-03-05T00:08:00"


def test_one_zero_hour_line_does_not_stop_a_folder(ingest_file, tmp_path):
    write(tmp_path / "export" / "WhatsApp Chat with Luis.txt", "\n".join(SPANISH) + "\n")
    write(tmp_path / "export" / "WhatsApp Chat with Eva.txt", "1/4/23, 7:02 PM - Eva: hi\n")
    msgs = ingest_file(tmp_path / "export", extra=("--me", "Ana"))
    assert len(msgs) == 5


# ---------------------------------------------------------------- 4: the hint's own --me


def discord_export(messages: list[tuple[str, str, str]]) -> dict:
    return {
        "guild": {"id": "0", "name": "Direct Messages", "iconUrl": ""},
        "channel": {"id": "555", "type": "DirectTextChat", "name": "pat", "topic": None},
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2024-02-01T10:00:00+00:00",
        "messages": [
            {
                "id": str(900 + i),
                "type": "Default",
                "timestamp": f"2024-02-01T09:{i:02d}:00+00:00",
                "content": text,
                "author": {"id": uid, "name": name.lower(), "nickname": name, "isBot": False},
                "attachments": [],
                "embeds": [],
                "stickers": [],
                "reactions": [],
                "mentions": [],
            }
            for i, (uid, name, text) in enumerate(messages)
        ],
    }


def telegram_chat(messages: list[tuple[str, str, str]]) -> dict:
    return {
        "name": "Pat",
        "type": "personal_chat",
        "id": 4242,
        "messages": [
            {
                "id": i + 1,
                "type": "message",
                "date": f"2024-02-01T09:{i:02d}:00",
                "date_unixtime": str(1706778000 + 60 * i),
                "from": name,
                "from_id": f"user{uid}",
                "text": text,
                "text_entities": [],
            }
            for i, (uid, name, text) in enumerate(messages)
        ],
    }


ROWS = [
    ("444444444444444444", "Sam Lee", "hi"),
    ("333333333333333333", "Pat", "hello"),
    ("444444444444444444", "Sam Lee", "how are you"),
]


def _hinted_me(err: str) -> str:
    """The value the "which sender is you" hint suggests, as a shell would pass it."""
    tail = err.split("e.g. --me ", 1)[1].strip().splitlines()[0]
    return shlex.split(tail)[0]


@pytest.mark.parametrize("kind", ["discord", "telegram"])
def test_the_hints_own_me_is_accepted(twin, tmp_path, kind):
    data = discord_export(ROWS) if kind == "discord" else telegram_chat(ROWS)
    path = write_json(tmp_path / "chat.json", data)
    r = twin("ingest", path, "-o", tmp_path / "out.jsonl")
    assert r.code != 0
    me = _hinted_me(r.err)
    assert "(id " in me  # the hint names the id
    for value in (me, "Sam Lee", "444444444444444444", repr(me)):
        out = tmp_path / "out.jsonl"
        r = twin("ingest", path, "--me", value, "-o", out)
        assert r.code == 0, (value, r.err)
        assert [m["me"] for m in read_jsonl(out)] == [True, False, True], value


def test_hinted_me_with_a_wrong_id_matches_nobody(twin, tmp_path):
    path = write_json(tmp_path / "chat.json", discord_export(ROWS))
    r = twin("ingest", path, "--me", "Sam Lee (id 1)", "-o", tmp_path / "out.jsonl")
    assert r.code != 0 and "matches no sender" in r.err


# ---------------------------------------------------------------- 5: Messenger/Instagram notices

NOTICES_EN = [
    "Pat reacted ❤ to your message",
    "Pat reacted 😂 to your message ",
    "Pat sent an attachment.",
    "You sent an attachment.",
    "Pat left the group.",
    "Pat named the group Hiking 2024.",
    "You named the group Weekend.",
    "Pat added Sam Lee to the group.",
    "Pat changed the group photo.",
    "Liked a message",
]
NOTICES_ZH = [
    "Pat对你的消息做出了回应 ❤",
    "Pat发送了附件。",
    "你发送了附件。",
    "Pat离开了群组。",
    "Pat将群组命名为周末爬山。",
    "Pat 傳送了附件。",
    "Pat 已離開群組。",
    "Pat 將群組命名為 週末。",
]


def messenger_2024(texts: list[str], **top) -> dict:
    """The 2024 layout: no `type` on messages, newest first."""
    messages = [
        {"sender_name": "Pat" if i % 2 else "Sam Lee", "timestamp_ms": 1706778000000 + i * 1000}
        | ({"content": t} if t is not None else {})
        for i, t in enumerate(texts)
    ]
    return {
        "participants": [{"name": "Pat"}, {"name": "Sam Lee"}],
        "messages": messages[::-1],
        "title": "Pat",
        "is_still_participant": True,
        "thread_path": "inbox/pat_123",
        "magic_words": [],
    } | top


@pytest.mark.parametrize("notices", [NOTICES_EN, NOTICES_ZH], ids=["english", "chinese"])
def test_messenger_notices_are_system_lines(ingest_file, tmp_path, notices):
    texts = ["real words", *notices, "more real words", "Pat unsent a message."]
    doc = messenger_2024(texts)
    for m in doc["messages"]:  # a notice is written under the name of whoever it is about
        if m.get("content", "").startswith("Pat"):
            m["sender_name"] = "Pat"
        elif m.get("content", "").startswith(("You", "你")):
            m["sender_name"] = "Sam Lee"
    path = write_json(tmp_path / "inbox" / "pat_123" / "message_1.json", doc)
    msgs = ingest_file(path, extra=("--me", "Sam Lee"))
    kinds = [m["kind"] for m in msgs]
    assert kinds == ["text", *["system"] * len(notices), "text", "recall"]
    assert msgs[0]["text"] == "real words"


NOTICES_2024 = [  # (sender, text, kind): Meta's wordings of 2024, English and Chinese
    ("Pat", "Pat sent 1 attachment.", "system"),
    ("Pat", "Instagram 用戶傳送了 1 份附件。", "system"),
    ("Pat", "A contact set your nickname to Sammy.", "system"),
    ("Pat", "1 位聯絡人將你的暱稱設為小名。", "system"),
    ("Pat", "You added 5 Pride text effects", "system"),
    ("Pat", "已新增 5 個 Pride 文字特效", "system"),
    ("Pat", "喜歡了一則訊息", "system"),
    ("Pat", "一位聯絡人已將主題變更為「彩虹驕傲」", "system"),
    ("Pat", "對你的訊息「」傳達了 😮 心情", "system"),
    ("Pat", "Audio call ended", "call"),
    ("Pat", "☎ 視訊通話已結束。", "call"),
    ("Pat", "You missed a call from 1 Messenger user.", "call"),
    ("Pat", "☎ 1 位 Messenger 用戶撥打了電話給你。", "call"),
    ("Pat", "Pat started an audio call", "call"),
    ("Pat", "你開始了語音通話", "call"),
    # sentences of a notice's shape that a person typed: the name is not the sender's
    ("Sam Lee", "I sent a photo.", "text"),
    ("Pat", "you named the group chat what?? 😂", "text"),
    ("Pat", "Tom left the group.", "text"),
    ("Sam Lee", "你回应我的消息了吗", "text"),
    ("Sam Lee", "我已退出群聊。", "text"),
]


def test_messenger_2024_notices_and_lookalikes_typed_by_people(ingest_file, tmp_path):
    doc = messenger_2024([t for _, t, _ in NOTICES_2024])
    for m, (sender, _, _) in zip(doc["messages"][::-1], NOTICES_2024, strict=True):
        m["sender_name"] = sender
    path = write_json(tmp_path / "inbox" / "pat_123" / "message_1.json", doc)
    msgs = ingest_file(path, extra=("--me", "Sam Lee"))
    assert [(m["text"], m["kind"]) for m in msgs] == [(t, k) for _, t, k in NOTICES_2024]


def test_messenger_end_to_end_encrypted_export(ingest_file, tmp_path):
    """Messenger's end-to-end encrypted chats: participants as plain names, threadName,
    senderName/text/timestamp/isUnsent/media, oldest first; strings in the same mojibake."""
    doc = {
        "participants": ["Sam Lee", "Pat Kim", "Jo"],
        "threadName": "Hiking crew",
        "messages": [
            {"senderName": "Pat Kim", "text": "caf\u00c3\u00a9 at 9?", "timestamp": 1700000000000,
             "type": "Generic", "isUnsent": False, "media": [], "reactions": []},
            {"senderName": "Sam Lee", "text": "yes", "timestamp": 1700000060000,
             "type": "Generic", "isUnsent": False, "media": [], "reactions": []},
            {"senderName": "Jo", "text": "", "timestamp": 1700000120000, "type": "Generic",
             "isUnsent": False, "media": [{"uri": "./media/trail.jpg"}], "reactions": []},
            {"senderName": "Jo", "text": "", "timestamp": 1700000180000, "type": "Generic",
             "isUnsent": False, "media": [{"uri": "./media/note.m4a"}], "reactions": []},
            {"senderName": "Sam Lee", "text": "oops", "timestamp": 1700000240000,
             "type": "Generic", "isUnsent": True, "media": [], "reactions": []},
        ],
    }  # fmt: skip
    path = write_json(tmp_path / "messages" / "hiking_3.json", doc)
    msgs = ingest_file(path, extra=("--me", "Sam Lee"))
    assert pick(msgs, "sender", "kind", "text") == [
        ("Pat Kim", "text", "café at 9?"),
        ("Sam Lee", "text", "yes"),
        ("Jo", "image", ""),
        ("Jo", "voice", ""),
        ("Sam Lee", "recall", "oops"),
    ]
    assert datetime.fromisoformat(msgs[0]["time"]).timestamp() == 1700000000  # Unix ms
    assert {(m["chat_name"], m["group"]) for m in msgs} == {("Hiking crew", True)}
    assert [m["me"] for m in msgs] == [False, True, False, False, True]


def test_messenger_notice_over_a_share_or_photo_is_no_caption():
    from twin.ingest.formats.messenger_json import _kind_and_text

    share = {"link": "https://example.org/reel/1"}
    msg = {"sender_name": "Pat", "content": "Pat sent an attachment.", "share": share}
    assert _kind_and_text(msg) == ("link", "https://example.org/reel/1")
    msg["content"] = "look at this"
    assert _kind_and_text(msg) == ("link", "look at this")
    photo = {"sender_name": "Pat", "content": "Pat sent a photo.", "photos": [{"uri": "a.jpg"}]}
    assert _kind_and_text(photo) == ("image", "")  # the notice is no caption
    photo["content"] = "the summit!"
    assert _kind_and_text(photo) == ("image", "the summit!")


def test_messenger_text_that_only_mentions_a_notice_stays_text():
    assert messenger_json._kind_and_text({"content": "I sent an attachment. Did you get it?"}) == (
        "text",
        "I sent an attachment. Did you get it?",
    )
    assert (
        messenger_json._kind_and_text({"content": "Pat left the group chat early lol"})[0] == "text"
    )


def test_messenger_notices_are_dropped_and_counted_by_build(twin, tmp_path):
    texts = []
    for i in range(6):
        texts += [f"question number {i} for you?", f"my considered answer number {i}"]
        texts += ["Pat reacted ❤ to your message", "You sent an attachment."]
    doc = messenger_2024(texts)
    for m in doc["messages"]:  # both notices are about Pat, who exported the chat
        if m["content"].startswith(("Pat reacted", "You sent")):
            m["sender_name"] = "Pat"
    path = write_json(tmp_path / "message_1.json", doc)
    out = tmp_path / "ds"
    r = twin("build", path, "--me", "Pat", "-o", out)
    assert r.code == 0, r.err
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert "system message" in json.dumps(stats)
    train = (out / "train.jsonl").read_text(encoding="utf-8")
    assert "reacted" not in train and "attachment" not in train


# ---------------------------------------------------------------- 7: LINE / QQ without the title

LINE_BODY = (
    "2024.01.02 Tuesday\n"
    "10:00\tSam Lee\tHi!\n"
    "10:01\tPat\tHello there\n"
    '10:02\tSam Lee\t"Two lines,\nthe second"\n'
)


def test_line_without_title_is_read_with_format(ingest_file, tmp_path):
    path = write(tmp_path / "Pat.txt", "Saved on: 2024/01/05 12:34\n\n" + LINE_BODY)
    msgs = ingest_file(path, extra=("--format", "line-txt", "--me", "Sam Lee"))
    assert pick(msgs, "sender", "text") == [
        ("Sam Lee", "Hi!"),
        ("Pat", "Hello there"),
        ("Sam Lee", "Two lines,\nthe second"),
    ]
    assert msgs[0]["chat_name"] == "Pat"
    # the very first line a day line: read too
    path = write(tmp_path / "Pat2.txt", LINE_BODY)
    assert len(ingest_file(path, extra=("--format", "line-txt", "--me", "Pat"))) == 3


def test_line_without_title_names_the_missing_line(twin, tmp_path):
    path = write(tmp_path / "Pat.txt", LINE_BODY)
    r = twin("ingest", path, "--me", "Pat", "-o", tmp_path / "out.jsonl")
    assert r.code != 0
    assert f"{path}, line 1" in r.err and "[LINE]" in r.err and "--format line-txt" in r.err
    assert line_txt.near_miss(LINE_BODY) is not None
    assert line_txt.near_miss("just some notes\n10:00 call mum\n") is None


def test_line_with_spaces_for_tabs(ingest_file, tmp_path):
    body = LINE_BODY.replace("\t", "    ").replace("10:01    Pat    ", "10:01 Pat ")
    path = write(tmp_path / "Pat.txt", "[LINE] Chat history with Pat\n\n" + body)
    msgs = ingest_file(path, extra=("--me", "Pat"))
    assert pick(msgs, "sender", "text") == [
        ("Sam Lee", "Hi!"),
        ("Pat", "Hello there"),
        ("Sam Lee", "Two lines,\nthe second"),
    ]
    # and without the title, with --format
    msgs = ingest_file(
        write(tmp_path / "b.txt", body), extra=("--format", "line-txt", "--me", "Pat")
    )
    assert len(msgs) == 3


QQ_BODY = (
    "\n"
    "================================================================\n"
    "消息分组:我的好友\n"
    "================================================================\n"
    "消息对象:阿强\n"
    "================================================================\n"
    "\n"
    "2024-01-02 3:04:05 阿强(10001)\n"
    "周末爬山吗\n"
    "\n"
    "2024-01-02 3:05:05 小明(10002)\n"
    "好\n"
)


def test_qq_without_title_is_read_with_format(ingest_file, tmp_path):
    path = write(tmp_path / "qq.txt", QQ_BODY)
    msgs = ingest_file(path, extra=("--format", "qq-txt", "--me", "10002"))
    assert pick(msgs, "chat_name", "sender", "me", "text") == [
        ("阿强", "阿强", False, "周末爬山吗"),
        ("阿强", "小明", True, "好"),
    ]
    # the first line already a header
    path = write(tmp_path / "qq2.txt", QQ_BODY.split("\n", 7)[7])
    assert len(ingest_file(path, extra=("--format", "qq-txt", "--me", "10002"))) == 2


def test_qq_without_title_names_the_missing_line(twin, tmp_path):
    path = write(tmp_path / "qq.txt", QQ_BODY)
    r = twin("ingest", path, "--me", "10002", "-o", tmp_path / "out.jsonl")
    assert r.code != 0
    assert f"{path}, line 1" in r.err and "消息记录" in r.err and "--format qq-txt" in r.err
    assert qq_txt.near_miss(QQ_BODY) is not None


def test_walked_folder_lists_the_near_miss(twin, tmp_path):
    write(tmp_path / "in" / "qq.txt", QQ_BODY)
    write(tmp_path / "in" / "WhatsApp Chat with Eva.txt", "1/4/23, 7:02 PM - Eva: hi\n")
    r = twin("ingest", tmp_path / "in", "--me", "Eva", "-o", tmp_path / "out.jsonl")
    assert r.code == 0, r.err
    assert "qq.txt (looks like a QQ message-manager TXT export" in r.out


# ---------------------------------------------------------------- 8: trimmed JSON


def test_telegram_with_only_date_unixtime_is_detected(ingest_file, tmp_path):
    data = {
        "messages": [
            {"id": 1, "date_unixtime": "1706778000", "from": "Pat", "text": "hi"},
            {"id": 2, "date_unixtime": "1706778060", "from": "Sam", "text": "hey"},
        ]
    }
    head = json.dumps(data)
    assert telegram_json.sniff(head, None)
    path = write_json(tmp_path / "ChatExport" / "result.json", data)
    msgs = ingest_file(path, extra=("--me", "Sam"))
    assert pick(msgs, "sender", "me", "text") == [("Pat", False, "hi"), ("Sam", True, "hey")]
    assert msgs[0]["chat"].startswith("telegram:")


def test_instagram_without_participants_is_detected(ingest_file, tmp_path):
    data = messenger_2024(["hi", "hey"])
    del data["participants"]
    assert messenger_json.sniff(json.dumps(data), None)
    path = write_json(tmp_path / "inbox" / "pat_123" / "message_1.json", data)
    msgs = ingest_file(path, extra=("--me", "Pat"))
    assert pick(msgs, "sender", "me", "text") == [("Sam Lee", False, "hi"), ("Pat", True, "hey")]


# ---------------------------------------------------------------- 10: "Try --groups"


def _group_chat(tmp_path: Path) -> Path:
    # a group chat where only one-word replies follow: nothing can become a sample
    lines = [f"1/4/23, 7:{i:02d} PM - {('Ana', 'Ben', 'Cy')[i % 3]}: x" for i in range(12)]
    return write(tmp_path / "WhatsApp Chat with Trip.txt", "\n".join(lines) + "\n")


def test_try_groups_only_when_groups_not_given(twin, tmp_path):
    path = _group_chat(tmp_path)
    without = twin("build", path, "--me", "Ana", "-o", tmp_path / "a")
    assert without.code != 0 and "Try --groups" in without.err
    given = twin("build", path, "--me", "Ana", "--groups", "-o", tmp_path / "b")
    assert given.code != 0 and "no training samples" in given.err
    assert "--groups" not in given.err.split("Where they went", 1)[1]


# ---------------------------------------------------------------- seen in real samples


def test_line_japanese_and_thai_day_lines(ingest_file, tmp_path):
    ja = "2025.12.30 火曜日\n23:43\tなつみ\tこんばんは\n23:47\tTaichi\tわ！\n"
    msgs = ingest_file(
        write(tmp_path / "ja.txt", ja), extra=("--format", "line-txt", "--me", "Taichi")
    )
    assert [m["time"] for m in msgs] == ["2025-12-30T23:43:00", "2025-12-30T23:47:00"]
    th = (
        "[LINE] ประวัติการแชทกับ Trip\n\n2024/01/15 จันทร์\n10:30\tUserA\tสวัสดีครับ\n10:31\tUserB\tสวัสดี!\n"
    )
    msgs = ingest_file(write(tmp_path / "th.txt", th), extra=("--me", "UserA"))
    assert [m["time"] for m in msgs] == ["2024-01-15T10:30:00", "2024-01-15T10:31:00"]


def test_whatsapp_encryption_notice_under_the_group_name_is_a_system_line(ingest_file, tmp_path):
    lines = [
        "15.04.2016, 15:04 - Trip: Messages and calls are end-to-end encrypted. No one outside "
        "of this chat, not even WhatsApp, can read or listen to them.",
        "06.08.2016, 13:23 - Ana: Hey guys!",
        "06.08.2016, 13:25 - Ben: Hey Ana",
    ]
    msgs = ingest_file(write(tmp_path / "c.txt", "\n".join(lines) + "\n"), extra=("--me", "Ana"))
    assert pick(msgs, "sender", "kind") == [("", "system"), ("Ana", "text"), ("Ben", "text")]


@pytest.mark.parametrize(
    "notice",
    [
        "Сообщения и звонки защищены сквозным шифрованием. Третьи лица не могут их прочитать.",
        "消息和通话已进行端到端加密。对话之外的任何人都无法读取或收听。",
        "Los mensajes y las llamadas están cifrados de extremo a extremo.",
    ],
)
def test_whatsapp_encryption_notice_in_other_languages_is_a_system_line(
    ingest_file, tmp_path, notice
):
    lines = [
        f"15.04.2016, 15:04 - Trip: {notice}",
        "06.08.2016, 13:23 - Ana: Hey guys!",
        "06.08.2016, 13:25 - Ben: Hey Ana",
    ]
    msgs = ingest_file(write(tmp_path / "c.txt", "\n".join(lines) + "\n"), extra=("--me", "Ana"))
    assert pick(msgs, "sender", "kind") == [("", "system"), ("Ana", "text"), ("Ben", "text")]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("Mensagem apagada", "recall"),
        ("这条消息已删除", "recall"),
        ("Это сообщение удалено", "recall"),
        ("Пропущенный голосовой вызов", "call"),
        ("未接语音通话", "call"),
        ("\u200eimagem ocultada", "image"),
        ("\u200eизображение отсутствует", "image"),
        ("\u200e貼圖已略去", "sticker"),
        ("\u200e此訊息已刪除", "recall"),
    ],
)
def test_whatsapp_deletions_calls_and_media_in_other_languages(ingest_file, tmp_path, body, kind):
    """Not text for training, and (iOS, after U+200E) still the sender's, not a system line."""
    lines = [
        "[31/12/2023, 22:00:00] Ana: oi",
        f"[31/12/2023, 22:01:00] Bob: {body}",
        "[31/12/2023, 22:02:00] Bob: tudo bem?",
    ]
    msgs = ingest_file(write(tmp_path / "c.txt", "\n".join(lines) + "\n"), extra=("--me", "Ana"))
    assert (msgs[1]["sender"], msgs[1]["kind"]) == ("Bob", kind)


def test_whatsapp_arabic_locale_digits_comma_and_meridiem(ingest_file, tmp_path):
    """Arabic-Indic digits, the Arabic comma after the date, ص (a.m.) and م (p.m.); day first."""
    lines = [
        "٠٣/٠٢/٢٠٢٣، ١٠:٠٥ م - Ana: مرحبا",
        "٠٤/٠٢/٢٠٢٣، ٩:٠٠ ص - Bob: صباح الخير",
    ]
    msgs = ingest_file(write(tmp_path / "ar.txt", "\n".join(lines) + "\n"), extra=("--me", "Ana"))
    assert pick(msgs, "sender", "time") == [
        ("Ana", "2023-02-03T22:05:00"),
        ("Bob", "2023-02-04T09:00:00"),
    ]


def test_whatsapp_attached_markers_with_spaces_or_after_the_file_name(ingest_file, tmp_path):
    lines = [
        "3/6/18, 1:55 p.m. - Jo: < attached: 00000042-PHOTO-2020-06-07-15-13-20.jpg >",
        "3/6/18, 1:56 p.m. - Jo: 2015-08-04-PHOTO-00004762.jpg \u200e<attached>",
        "3/6/18, 1:57 p.m. - Ana: VID-20180306-WA0001.mp4 <attached>",
        "3/6/18, 1:58 p.m. - Ana: <attached> is what the app writes",
    ]
    msgs = ingest_file(write(tmp_path / "a.txt", "\n".join(lines) + "\n"), extra=("--me", "Ana"))
    assert pick(msgs, "kind", "text") == [
        ("image", ""),
        ("image", ""),
        ("video", ""),
        ("text", "<attached> is what the app writes"),
    ]


def test_whatsapp_localized_media_markers_and_finnish_klo(ingest_file, tmp_path):
    lines = [
        "10.12.2024, 14:30 - Jo: <Medien ausgelassen>",
        "10.12.2024, 14:31 - Ana: <Archivo omitido>",
        "10.12.2024, 14:32 - Jo: IMG-20241210-WA0001.jpg (Datei angehängt)",
        "13.12.2024 klo 21.25 - Ana: tämä on testi",
    ]
    msgs = ingest_file(write(tmp_path / "a.txt", "\n".join(lines) + "\n"), extra=("--me", "Ana"))
    assert pick(msgs, "kind", "text") == [
        ("other", ""),
        ("other", ""),
        ("image", ""),
        ("text", "tämä on testi"),
    ]
    assert msgs[-1]["time"] == "2024-12-13T21:25:00"
    ios = "[26/06/2026, 3:00:00 PM] Alex: <adjunto: 00000004-AUDIO-2026-06-26-20-31-14.opus>\n"
    msgs = ingest_file(write(tmp_path / "_chat.txt", ios), extra=("--me", "Alex"))
    assert pick(msgs, "kind", "text") == [("voice", "")]


def test_qq_without_separator_lines(ingest_file, tmp_path):
    text = (
        "消息记录（此消息记录为文本格式，不支持重新导入）\n消息分组:最近联系人\n消息对象:阿强\n"
        "2023-11-29 19:25:07 小明\n晚上吃什么\n\n2023-11-29 19:26:07 阿强\n火锅\n"
    )
    msgs = ingest_file(write(tmp_path / "qq.txt", text), extra=("--me", "小明"))
    assert pick(msgs, "chat_name", "sender", "text") == [
        ("阿强", "小明", "晚上吃什么"),
        ("阿强", "阿强", "火锅"),
    ]


def test_line_title_after_blank_lines_names_the_chat(ingest_file, tmp_path):
    text = "\n[LINE] Chat history with Pat\nSaved on: 2018/03/25 19:57\n\n" + LINE_BODY
    msgs = ingest_file(write(tmp_path / "x.txt", text), extra=("--me", "Pat"))
    assert {m["chat_name"] for m in msgs} == {"Pat"}


def test_whatsapp_chinese_and_japanese_meridiem_before_the_time(ingest_file, tmp_path):
    lines = [
        "2023/3/12 上午12:05 - 小明: 睡了吗",
        "2023/3/12 下午8:05 - 阿狸: 晚上吃什么",
        "2023/3/12 午後9:00 - 小明: 火锅",
    ]
    msgs = ingest_file(write(tmp_path / "c.txt", "\n".join(lines) + "\n"), extra=("--me", "阿狸"))
    assert [m["time"] for m in msgs] == [
        "2023-03-12T00:05:00",
        "2023-03-12T20:05:00",
        "2023-03-12T21:00:00",
    ]
    assert pick(msgs, "sender", "text")[1] == ("阿狸", "晚上吃什么")
