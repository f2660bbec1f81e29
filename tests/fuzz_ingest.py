"""A seeded mutation fuzzer for ingest (issue 17 item 6): zero tracebacks, zero hangs.

Every importer gets a small valid export written here by hand (the shapes of docs/formats.md);
each case mutates one (bytes: flips, cuts, repeats, splices of hostile tokens such as huge Unix
times, deep nesting, stray encodings; JSON: a leaf replaced by a value of another type) and runs
`ingest` on it, detected and with the format forced, with and without --skip-bad-rows, row- and
column-wise. A TwinError is the right answer to bad input; anything else is a bug, and so is a
case still running after its deadline.

Run by tests/test_ingest_fuzz.py in a subprocess (so a hang inside C code cannot stop the test
run); run it by hand for longer: `python tests/fuzz_ingest.py --seconds 600 --seed 7`.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import random
import signal
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

from twin.errors import TwinError
from twin.ingest.pipeline import ingest, summary, write_jsonl


def _zip(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
        z.writestr("IMG-20230104-WA0001.jpg", b"\xff\xd8\xff")
    return buf.getvalue()


def _json(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=1).encode()


WHATSAPP_ANDROID = (
    "1/4/23, 7:00 PM - Messages and calls are end-to-end encrypted.\n"
    "1/4/23, 7:02 PM - Pat: Who is coming: Friday or Saturday?\n"
    "1/4/23, 7:03 PM - Sam Lee: Saturday\n\nand I bring the tent\n"
    "1/4/23, 7:04 PM - Eva: <Media omitted>\n"
    "1/13/23, 12:05 AM - Pat: after midnight\n"
)
WHATSAPP_IOS = (
    "[13.03.23, 00:08:01] Pat: hola\n"
    "[13.03.23, 00:09:12] Luis: \u200eimage omitted\n"
    "[13.03.23, 00:10:00] Luis: \u200eLuis changed the group name\n"
    "[14.03.23, 12:00:00] Pat: mediodía\n"
)
TELEGRAM = {
    "name": "Sam Lee",
    "type": "personal_chat",
    "id": 4242,
    "messages": [
        {
            "id": 1,
            "type": "message",
            "date": "2023-05-01T17:00:00",
            "date_unixtime": "1682931600",
            "from": "Pat",
            "from_id": "user1",
            "text": ["see ", {"type": "link", "text": "https://example.org"}],
            "text_entities": [],
        },
        {
            "id": 2,
            "type": "message",
            "date": "2023-05-01T17:01:00",
            "date_unixtime": "1682931660",
            "from": "Sam Lee",
            "from_id": "user2",
            "reply_to_message_id": 1,
            "photo": "photos/p.jpg",
            "text": "nice",
        },
        {
            "id": 3,
            "type": "service",
            "date": "2023-05-01T17:02:00",
            "date_unixtime": "1682931720",
            "actor": "Pat",
            "actor_id": "user1",
            "action": "phone_call",
            "duration_seconds": 30,
            "text": "",
        },
    ],
}
TELEGRAM_FULL = {
    "about": "export",
    "personal_information": {"user_id": 1, "first_name": "Pat"},
    "chats": {"about": "chats", "list": [TELEGRAM]},
    "left_chats": {"about": "left", "list": []},
}
DISCORD = {
    "guild": {"id": "900", "name": "Hikers", "iconUrl": ""},
    "channel": {"id": "800", "type": "GuildTextChat", "category": "Text", "name": "general"},
    "dateRange": {"after": None, "before": None},
    "exportedAt": "2024-02-01T10:00:00+00:00",
    "messages": [
        {
            "id": str(700 + i),
            "type": "Default" if i else "GuildMemberJoin",
            "timestamp": f"2024-02-01T09:{i:02d}:00.123+00:00",
            "content": text,
            "author": {"id": uid, "name": name.lower(), "nickname": name, "isBot": False},
            "attachments": [{"id": "1", "url": "u", "fileName": "a.png", "fileSizeBytes": 1}]
            if i == 2
            else [],
            "embeds": [],
            "stickers": [],
            "reactions": [],
            "mentions": [],
            **({"reference": {"messageId": "701"}} if i == 3 else {}),
        }
        for i, (uid, name, text) in enumerate(
            [("1", "Pat", "Joined."), ("2", "Sam", "hi"), ("1", "Pat", ""), ("2", "Sam", "ok")]
        )
    ],
}
MESSENGER = {
    "participants": [{"name": "Pat"}, {"name": "Sam"}],
    "messages": [
        {"sender_name": "Sam", "timestamp_ms": 1706778004000, "content": "Pat left the group."},
        {"sender_name": "Pat", "timestamp_ms": 1706778003000, "photos": [{"uri": "p.jpg"}]},
        {"sender_name": "Sam", "timestamp_ms": 1706778002000, "content": "Ã\u00a9tÃ\u00a9 ok"},
        {"sender_name": "Pat", "timestamp_ms": 1706778001000, "content": "hi", "is_unsent": False},
        {"sender_name": "Sam", "timestamp_ms": 1706778000000, "call_duration": 5},
    ],
    "title": "Sam",
    "thread_path": "inbox/sam_1",
}
QQ_JSON = {
    "metadata": {"name": "QQChatExporter", "version": "5.0.0"},
    "chatInfo": {"name": "Sam", "type": "private"},
    "statistics": {},
    "messages": [
        {
            "id": str(i),
            "timestamp": 1682931600000 + i * 1000,
            "time": f"2023-05-01 17:00:0{i}",
            "sender": {
                "uid": f"u{i % 2}",
                "uin": str(10001 + i % 2),
                "name": ("Pat", "Sam")[i % 2],
            },
            "type": "text",
            "content": {"text": f"message {i}", "elements": [{"type": "text", "data": {}}]},
        }
        for i in range(4)
    ],
}
LINE = (
    "[LINE] Chat history with Sam\nSaved on: 2024/01/05 12:34\n\n2024.01.02 Tuesday\n"
    '10:00\tPat\tHi!\n10:01\tSam\t"Two lines,\nthe second"\n10:02\tSam\t[Sticker]\n'
    "10:03\t\tSam unsent a message.\n\n2024.01.03 Wednesday\n09:00 PM\tPat\tnight\n"
)
QQ_TXT = (
    "消息记录（此消息记录为文本格式，不支持重新导入）\n\n"
    + "=" * 64
    + "\n消息分组:我的群聊\n"
    + "=" * 64
    + "\n消息对象:爬山群\n"
    + "=" * 64
    + "\n\n"
    "2024-01-02 3:04:05 【管理员】Pat(10001)\n周末爬山吗\n\n"
    "2024-01-02 3:05:05 Sam(10002)\n[图片]\n\n"
    "2024-01-02 3:06:05 系统消息(10000)\nSam撤回了一条消息\n"
)
NEUTRAL_JSONL = "".join(
    json.dumps(row, ensure_ascii=False) + "\n"
    for row in [
        {"chat": "c1", "sender": "Pat", "time": "2024-01-02T03:04:05", "text": "hi", "me": True},
        {"chat": "c1", "sender": "Sam", "time": 1704164700, "text": "yo", "kind": "text"},
        {
            "chat": "c1",
            "sender": "Sam",
            "time": "2024-01-02T03:06:05Z",
            "text": "",
            "kind": "image",
        },
    ]
)
NEUTRAL_CSV = (
    "chat,sender,time,text,me\nc1,Pat,2024-01-02T03:04:05,hi,1\n"
    'c1,Sam,2024-01-02T03:05:05,"two, lines\nhere",0\n'
)
WECHATMSG_CSV = (
    "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,"
    "NickName,Sender\n"
    "1,1,1,0,0,1682931600,2,晚上吃什么？,2023-05-01 17:00:00,,Sam,Sam\n"
    '2,1,1,0,1,1682931630,2,"火锅吧，\n七点见",2023-05-01 17:00:30,,Sam,\n'
    "3,1,3,0,0,1682931640,2,,2023-05-01 17:00:40,,Sam,Sam\n"
    "4,1,10000,0,0,1682931650,2,你撤回了一条消息,2023-05-01 17:00:50,,Sam,\n"
)
WECHAT2025_CSV = (
    "消息ID,类型,发送人,时间,内容,备注,昵称,更多信息\n"
    "5412345678901234561,文本,Sam,2024-12-01 10:00:00,晚上吃什么？,Sam,Sam,more\n"
    "5412345678901234562,文本,Pat,2024-12-01 10:00:30,火锅吧,,Pat,more\n"
    "5412345678901234563,图片,Sam,2024-12-01 10:00:40,【图片】,Sam,Sam,more\n"
    "5412345678901234564,系统消息,,2024-12-01 10:07:00,你撤回了一条消息,,,more\n"
)
PYWXDUMP_CSV = (
    "id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime\n"
    "1,7594861486645126962,文本,0,wxid_sam01,wxid_sam01,晚上吃什么？,,2023-12-01 10:00:00\n"
    "2,7594861486645126963,文本,1,我,wxid_sam01,火锅吧,,2023-12-01 10:00:30\n"
    "3,7594861486645126964,图片,0,wxid_sam01,wxid_sam01,图片,a.dat,2023-12-01 10:00:40\n"
)
CHATLOG_CSV = (
    "Time,SenderName,Sender,TalkerName,Talker,Content\n"
    "2024-05-01 12:00:00,Sam,wxid_sam01,Sam,wxid_sam01,晚上吃什么？\n"
    "2024-05-01 12:00:30,,wxid_pat02,Sam,wxid_sam01,火锅吧\n"
    "2024-05-01 12:00:40,Sam,wxid_sam01,Sam,wxid_sam01,![图片](http://127.0.0.1:5030/image/a)\n"
    '2024-05-01 12:01:00,Sam,wxid_sam01,Sam,wxid_sam01,"> 我(wxid_pat02) 05-01 12:00:30\n> 火锅吧\n好"\n'
)
QCE_TXT = (
    "[QQChatExporter V5 / https://github.com/shuakami/qq-chat-exporter]\n\n"
    "===============================================\n           QQ聊天记录导出文件\n"
    "===============================================\n\n聊天名称: Sam\n聊天类型: 私聊\n\n\n"
    "Sam:\n时间: 2024-01-02 08:00:00\n内容: 晚上吃什么？\n\n\n"
    "Pat:\n时间: 2024-01-02 08:01:00\n内容: [回复 Sam: 晚上吃什么？]\n火锅吧\n回复: Sam - 晚上吃什么？\n\n\n"
    "Sam:\n时间: 2024-01-02 08:02:00\n内容: [图片: a.jpg]\n资源: 1 个文件\n  - image: a.jpg\n\n"
    "===============================================\n              导出完成\n"
)
CHATLOG_JSON = [
    {"seq": 1, "time": "2024-05-01T12:00:00+08:00", "talker": "wxid_sam01", "talkerName": "Sam",
     "isChatRoom": False, "sender": "wxid_sam01", "senderName": "Sam", "isSelf": False, "type": 1,
     "subType": 0, "content": "晚上吃什么？"},
    {"seq": 2, "time": "2024-05-01T12:00:30+08:00", "talker": "wxid_sam01", "talkerName": "Sam",
     "isChatRoom": False, "sender": "wxid_pat02", "senderName": "", "isSelf": True, "type": 1,
     "subType": 0, "content": "火锅吧"},
    {"seq": 3, "time": "2024-05-01T12:00:40+08:00", "talker": "wxid_sam01", "talkerName": "Sam",
     "isChatRoom": False, "sender": "wxid_sam01", "senderName": "Sam", "isSelf": False, "type": 49,
     "subType": 6, "content": "", "contents": {"title": "a.pdf"}},
]  # fmt: skip
WECHATMSG_TXT = (
    "2024-12-01 10:00:00 Sam\n晚上吃什么？\n\n2024-12-01 10:00:40 Sam\n【图片】\n\n"
    "2024-12-01 10:01:00 Pat\n好呀\n引用：Sam: 晚上吃什么？\n\n2024-12-01 10:01:40\n你撤回了一条消息\n"
)

# name -> (file name, bytes, the format's --format value, --me)
SEEDS: dict[str, tuple[str, bytes, str, str]] = {
    "whatsapp-android": ("WhatsApp Chat with Trip.txt", WHATSAPP_ANDROID.encode(), "whatsapp-txt", "Pat"),
    "whatsapp-ios-zip": ("WhatsApp Chat - Luis.zip", _zip("_chat.txt", WHATSAPP_IOS.encode()), "whatsapp-txt", "Pat"),
    "telegram": ("result.json", _json(TELEGRAM), "telegram-json", "Pat"),
    "telegram-full": ("result.json", _json(TELEGRAM_FULL), "telegram-json", "Pat"),
    "discord": ("Hikers - general [800].json", _json(DISCORD), "discord-json", "Pat"),
    "messenger": ("message_1.json", _json(MESSENGER), "messenger-json", "Pat"),
    "qq-json": ("qq.json", _json(QQ_JSON), "qq-json", "Pat"),
    "line": ("[LINE] Sam.txt", LINE.encode(), "line-txt", "Pat"),
    "qq-txt": ("qq.txt", QQ_TXT.encode(), "qq-txt", "10001"),
    "neutral-jsonl": ("m.jsonl", NEUTRAL_JSONL.encode(), "neutral", "Sam"),
    "neutral-csv": ("m.csv", NEUTRAL_CSV.encode(), "neutral", "Pat"),
    "wechatmsg-csv": ("Sam.csv", WECHATMSG_CSV.encode("utf-8-sig"), "wechatmsg-csv", "Pat"),
    "wechat2025-csv": ("Sam.csv", WECHAT2025_CSV.encode("utf-8-sig"), "wechat2025-csv", "Pat"),
    "pywxdump-csv": ("wxid_sam01_0_5000.csv", PYWXDUMP_CSV.encode(), "pywxdump-csv", "Pat"),
    "wechatmsg-txt": ("Sam.txt", WECHATMSG_TXT.encode(), "wechatmsg-txt", "Pat"),
    "chatlog-csv": ("chatlog.csv", CHATLOG_CSV.encode(), "chatlog-csv", "Pat"),
    "qce-txt": ("Sam.txt", QCE_TXT.encode(), "qce-txt", "Pat"),
    "chatlog-json": ("chatlog.json", _json(CHATLOG_JSON), "chatlog-json", "Pat"),
}  # fmt: skip

HOSTILE = [
    b"99999999999999",
    b"-99999999999999",
    b"1e308",
    b"NaN",
    b"-1",
    b"0",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b'"',
    b"\\",
    b"\\x0B",
    b"\n",
    b"\r\n",
    b"\t",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"[" * 5000,
    b'{"a":' * 3000,
    b"00:08 a. m.",
    b"12/03/2023, 00:08 - ",
    b"[13.03.23, 25:61:00] ",
    b"2024-13-45 3:04:05 x(10001)",
    b"\xe2\x80\x8e",
    b"=" * 64,
    "消息对象:".encode(),
    "消息记录".encode(),
    b"[LINE] ",
    b"A" * 70000,
    b"null",
    b"true",
    b'"date_unixtime": "',
    b'"timestamp_ms": ',
    b"9" * 400,
]
JSON_VALUES = [
    None,
    True,
    0,
    -1,
    99999999999999,
    1e308,
    -1e308,
    "",
    "x" * 1000,
    [],
    {},
    [[]],
    "NaN",
]


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        i = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a byte
            j = min(i, len(buf) - 1)
            buf[j] = rng.randrange(256)
        elif op == 1:  # cut a span
            del buf[i : i + rng.randint(1, 64)]
        elif op == 2:  # repeat a span
            span = bytes(buf[i : i + rng.randint(1, 200)])
            buf[i:i] = span * rng.randint(1, 20)
        elif op == 3:  # splice a hostile token
            buf[i:i] = rng.choice(HOSTILE)
        elif op == 4:  # replace a run of digits (times, ids) with a hostile number
            digits = [k for k in range(len(buf)) if 48 <= buf[k] <= 57]
            if digits:
                k = rng.choice(digits)
                end = k
                while end < len(buf) and 48 <= buf[end] <= 57:
                    end += 1
                buf[k:end] = rng.choice([b"99999999999999", b"0", b"1e308", b"-5", b"9" * 30])
        else:  # truncate
            del buf[i:]
    return bytes(buf)


def mutate_json(data: bytes, rng: random.Random) -> bytes:
    obj = json.loads(data)
    for _ in range(rng.randint(1, 3)):
        parent, key = _random_slot(obj, rng)
        if parent is None:
            break
        parent[key] = copy.deepcopy(rng.choice(JSON_VALUES))
    return json.dumps(obj, ensure_ascii=False).encode()


def _random_slot(obj, rng: random.Random):
    """A random (container, key) in the tree, walking down from the top."""
    parent, key = None, None
    node = obj
    while isinstance(node, (dict, list)) and node:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, rng.choice(keys)
        node = node[key]
        if rng.random() < 0.25:
            break
    return parent, key


class Hung(BaseException):
    """Raised by the alarm; not an Exception, so no handler on the way can take it for bad input."""


def _on_alarm(signum, frame):
    raise Hung()


def run_case(
    path: Path, fmt: str, me: str | None, skip: bool, columnar: bool, out: Path
) -> str | None:
    """None when ingest read the file or refused it with a TwinError; else what went wrong."""
    signal.setitimer(signal.ITIMER_REAL, 10)
    try:
        result = ingest(
            [str(path)], fmt=fmt, me=me, skip_bad_rows=skip, progress=False, columnar=columnar
        )
        summary(result, str(out))
        if columnar:
            result.table()
        else:
            write_jsonl(result, str(out))
    except TwinError:
        return None
    except Hung:
        return "hang: still running after 10 s"
    except Exception:
        return traceback.format_exc(limit=-6)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return None


def fuzz(seconds: float, seed: int, progress: Path | None) -> dict:
    old_handler = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        return _fuzz(seconds, seed, progress)
    finally:
        signal.signal(signal.SIGALRM, old_handler)


def _fuzz(seconds: float, seed: int, progress: Path | None) -> dict:
    rng = random.Random(seed)
    names = sorted(SEEDS)
    failures: dict[str, dict] = {}
    cases = 0
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="twin-fuzz-") as tmp:
        root = Path(tmp)
        while time.monotonic() - start < seconds:
            name = names[cases % len(names)]
            file_name, data, fmt_name, me = SEEDS[name]
            case_seed = rng.randrange(2**32)
            case_rng = random.Random(case_seed)
            if file_name.endswith(".json") and case_rng.random() < 0.4:
                mutated = mutate_json(data, case_rng)
            else:
                mutated = mutate_bytes(data, case_rng)
            folder = root / f"case{cases}"
            folder.mkdir()
            path = folder / file_name
            path.write_bytes(mutated)
            fmt = "auto" if case_rng.random() < 0.5 else fmt_name
            who = me if case_rng.random() < 0.8 else None
            skip = case_rng.random() < 0.5
            columnar = case_rng.random() < 0.3
            if progress is not None:
                progress.write_text(f"{name} seed={case_seed} fmt={fmt} skip={skip}\n")
            problem = run_case(path, fmt, who, skip, columnar, folder / "out.jsonl")
            cases += 1
            if problem is not None:
                lines = problem.strip().splitlines()
                key = lines[-1].split(":")[0] + " " + (lines[-3] if len(lines) > 2 else "")
                entry = failures.setdefault(key, {"count": 0})
                entry["count"] += 1
                if "problem" not in entry:
                    entry.update(seed=name, case_seed=case_seed, fmt=fmt, skip=skip,
                                 columnar=columnar, problem=problem[-3000:],
                                 input=mutated[:400].decode("utf-8", "replace"))  # fmt: skip
            for f in folder.iterdir():
                f.unlink()
            folder.rmdir()
    return {"cases": cases, "seconds": round(time.monotonic() - start, 1), "failures": failures}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--out", type=Path, help="write the result as JSON here")
    p.add_argument("--progress", type=Path, help="the case being run, for a parent that kills us")
    args = p.parse_args(argv)
    result = fuzz(args.seconds, args.seed, args.progress)
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(
        f"{result['cases']} cases in {result['seconds']} s, {len(result['failures'])} failure kinds"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
