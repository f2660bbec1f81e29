"""Names stay private: every field that can reach a file `twin build` writes passes the same
redaction as message text (issue 13 items 1 and 9).

The test plants personal data in every field of the neutral schema (docs/formats.md) and in the
file's own name, then reads every file the build wrote, charts included.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import read_jsonl

from twin.dataset.names import NameRedactor, is_account_id
from twin.dataset.redact import Redactor
from twin.dataset.text import NAMELESS_PROMPTS

T0 = datetime(2023, 3, 12, 10, 0)

# Each secret, and the parts of it that must not survive either (a phone's digits, a domain).
SECRETS = {
    "+49 151 23456789": ["23456789"],
    "+44 7911 123456": ["7911 123456", "7911123456"],
    "carol@example.org": ["example.org"],
    "wxid_carolsecret": ["carolsecret"],
    "12345iru2zsmo22": ["iru2zsmo"],
    "wxid_mysecretid": ["mysecretid"],
    "13812345678": ["12345678"],
    "13712349876": ["12349876"],
    "13612340000": ["12340000"],
    "dave@mail.example.net": ["mail.example"],
    "wxid_chatsecret": ["chatsecret"],
    "wxid_sendersecret": ["sendersecret"],
    "13512341111": ["12341111"],
}


def _row(minute: int, sender: str, text: str, me: bool, chat: str, chat_name: str, **kw) -> dict:
    row = {
        "time": (T0 + timedelta(minutes=minute)).isoformat(),
        "chat": chat,
        "chat_name": chat_name,
        "group": chat.startswith("g"),
        "sender": sender,
        "sender_id": "wxid_sendersecret",
        "me": me,
        "kind": "text",
        "text": text,
        "id": f"id-13512341111-{minute}",
        "reply_to": {"id": "13512341111", "sender": "carol@example.org"},
        "source": {"file": "carol@example.org", "line": minute},
    }
    row.update(kw)
    return row


def planted(tmp_path: Path) -> Path:
    """A neutral file whose every field carries personal data, in a folder named by a phone."""
    me = "wxid_mysecretid"
    group = ("g-13812345678", "+49 151 23456789")
    one = ("wxid_chatsecret", "wxid_chatsecret")
    rows = [
        _row(0, "+44 7911 123456", "anyone up for lunch?", False, *group),
        _row(1, "carol@example.org", "me! call 13712349876", False, *group),
        _row(2, "wxid_carolsecret", "where?", False, *group),
        _row(3, "12345iru2zsmo22", "the usual place", False, *group),
        _row(4, "Dave dave@mail.example.net", "ok", False, *group),
        _row(5, me, "sure, noon at the usual place", True, *group),
        _row(6, "+44 7911 123456", "great", False, *group),
        _row(7, me, "see you all there then", True, *group),
        _row(20, "wxid_chatsecret", "hi how are you doing today", False, *one),
        _row(21, me, "fine thanks, and you?", True, *one),
        _row(22, "wxid_chatsecret", "scan_13612340000.pdf", False, *one, kind="file"),
        _row(23, me, "got the file, thank you", True, *one),
    ]
    folder = tmp_path / "export 13812345678"
    folder.mkdir()
    path = folder / "chat with carol@example.org.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return folder


def _leaks(out: Path) -> list[str]:
    found = []
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        data = f.read_bytes()
        for secret, parts in SECRETS.items():
            for piece in [secret, *parts]:
                if piece.encode("utf-8") in data:
                    found.append(f"{f.relative_to(out)}: {piece}")
    return found


@pytest.mark.parametrize("groups", [True, False])
def test_no_personal_data_in_any_file_build_writes(twin, tmp_path, groups):
    out = tmp_path / "ds"
    args = ["build", planted(tmp_path), "-o", out] + (["--groups"] if groups else [])
    r = twin(*args)
    assert r.code == 0, r.err
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"train.jsonl", "stats.json", "config.json", "report.html"} <= written
    assert any(w.startswith("exports/") for w in written)
    assert any(w.startswith("charts/") for w in written)
    assert _leaks(out) == []
    for secret in SECRETS:  # nor in what the build printed
        assert secret not in r.out + r.err

    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    names = stats["names_redacted"]
    assert names["file"] == 1
    assert names["chat"] == 2  # the group named by a phone, the 1:1 chat by an account id
    assert stats["redactions"]["PHONE"] >= 2 and stats["redactions"]["EMAIL"] >= 1
    # An account id is never the persona: the generic prompt (issue 13 item 9).
    assert stats["name"] is None
    assert stats["system_prompt"] == NAMELESS_PROMPTS["en"]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Chat 1" in report and "Chat 2" in report
    assert "export &lt;PHONE&gt;" in report or "export <PHONE>" in report
    if groups:
        turns = [m["content"] for s in read_jsonl(out / "train.jsonl") for m in s["messages"]]
        turns += [m["content"] for s in read_jsonl(out / "dev.jsonl") for m in s["messages"]]
        text = "\n".join(turns)
        # Senders named only by personal data or an id: stable neutral labels, one per person.
        assert "Member 1: anyone up for lunch?" in text
        assert "Member 1: great" in text
        assert "Member 2: me! call <PHONE>" in text
        assert "Member 3: where?" in text and "Member 4: the usual place" in text
        assert "Dave <EMAIL>: ok" in text  # a name with an address in it keeps the name
        assert names["sender"] == 5


def test_whatsapp_group_phone_senders(twin, tmp_path):
    """The issue's own case: unsaved contacts appear as phone numbers in a WhatsApp group."""
    folder = tmp_path / "wa"
    folder.mkdir()
    (folder / "WhatsApp Chat with +49 151 23456789.txt").write_text(
        "12/03/2023, 10:00 - +49 151 23456789: anyone up for lunch?\n"
        "12/03/2023, 10:01 - Anna: me too\n"
        "12/03/2023, 10:02 - Bob: sure, where?\n"
        "12/03/2023, 10:03 - +44 7911 123456: I'm in\n"
        "12/03/2023, 10:04 - Bob: great, see you at noon\n",
        encoding="utf-8",
    )
    out = tmp_path / "ds"
    r = twin("build", folder, "-o", out, "--me", "Bob", "--groups")
    assert r.code == 0, r.err
    assert _leaks(out) == []
    sample = read_jsonl(out / "train.jsonl")[0]["messages"]
    assert sample[1]["content"] == "Member 1: anyone up for lunch?\nAnna: me too"
    assert sample[3]["content"] == "Member 2: I'm in"
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert stats["redactions"]["PHONE"] == 4  # two senders, the chat and the file name
    assert stats["names_redacted"] == {"sender": 2, "chat": 1, "file": 1}


@pytest.mark.parametrize(
    "number", ["+34 612 34 56 78", "+1 (555) 123-4567", "\u202a+44 7700 900123\u202c"]
)
def test_whatsapp_phone_senders_as_phones_write_them(twin, tmp_path, number):
    """However the phone groups the digits (pairs in Spain, brackets in the US, direction marks
    around it), an unsaved contact's number is a sender, not a system line, and becomes a label."""
    chat = tmp_path / "WhatsApp Chat with Team.txt"
    chat.write_text(
        f"12/03/2023, 10:00 - {number}: anyone up for lunch?\n"
        "12/03/2023, 10:01 - Anna: me too\n"
        "12/03/2023, 10:02 - Bob: sure, where?\n",
        encoding="utf-8",
    )
    out = tmp_path / "ds"
    r = twin("build", chat, "-o", out, "--me", "Bob", "--groups")
    assert r.code == 0, r.err
    digits = "".join(c for c in number if c.isdigit())
    for f in out.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert number.encode("utf-8") not in data and digits[-6:].encode() not in data, f
    sample = read_jsonl(out / "train.jsonl")[0]["messages"]
    assert sample[1]["content"] == "Member 1: anyone up for lunch?\nAnna: me too"


def test_pywxdump_account_id_on_both_sides_is_not_the_persona(twin, tmp_path):
    """A PyWxDump file whose talker is the same id for both sides: the generic prompt."""
    account = "12345iru2zsmo22"
    header = ["id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "msg", "src", "CreateTime"]  # fmt: skip
    rows = [header]
    for i, (me, text) in enumerate(
        [("0", "晚上吃什么？"), ("1", "火锅吧，七点见"), ("0", "好呀"), ("1", "不见不散哦")]
    ):
        t = f"2023-12-01 10:0{i}:00"
        rows.append([str(i + 1), str(7594861486645126960 + i), "文本", me, account, account, text, "", t])  # fmt: skip
    path = tmp_path / "export" / account / f"{account}_0_5000.csv"
    path.parent.mkdir(parents=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    out = tmp_path / "ds"
    r = twin("build", path, "-o", out)
    assert r.code == 0, r.err
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert stats["name"] is None
    assert stats["system_prompt"] == NAMELESS_PROMPTS["zh"]
    assert account not in (out / "train.jsonl").read_text(encoding="utf-8")
    assert _leaks(out) == []

    # --name still names the persona.
    r = twin("build", path, "-o", out, "--name", "阿明")
    assert r.code == 0, r.err
    assert (
        "你是阿明" in json.loads((out / "stats.json").read_text(encoding="utf-8"))["system_prompt"]
    )


@pytest.mark.parametrize(
    "name",
    ["wxid_abc123", "12345iru2zsmo22", "123456789", "user123456789", "gh_3dfda90e39d6",
     "12345678901@chatroom", "wxid_x@openim", "444444444444444444"],
)  # fmt: skip
def test_account_ids(name):
    assert is_account_id(name)


@pytest.mark.parametrize(
    "name", ["Anna", "阿明", "2pac", "Bob 2", "alice2000", "Mr. 123", "me", "2023exports"]
)
def test_names_that_are_names(name):
    assert not is_account_id(name)


def test_name_redactor_is_stable_and_counts():
    names = NameRedactor(Redactor())
    assert names("+49 151 23456789") == "Member 1"
    assert names("wxid_abc123") == "Member 2"
    assert names("+49 151 23456789") == "Member 1"
    assert names("Anna") == "Anna"
    assert names("Anna 13812345678") == "Anna <PHONE>"
    assert names("+49 151 23456789", "chat") == "Chat 1"
    assert names("chat with a@b.com here.txt", "file") == "chat with <EMAIL> here.txt"
    assert names("export/5678iru2zsmo22/5678iru2zsmo22_0_5000.csv", "file") == (
        "export/<ACCOUNT_ID>/<ACCOUNT_ID>_0_5000.csv"
    )
    assert names("export/wxid_abc123/msg_2023.csv", "file") == "export/<WECHAT_ID>/msg_2023.csv"
    assert names.replaced == {"sender": 3, "chat": 1, "file": 3}
    counts = {"PHONE": 3, "ACCOUNT_ID": 2, "EMAIL": 1, "WECHAT_ID": 2}
    assert names.redactor.counts == counts


def test_blocked_words_are_not_written_anywhere(twin, tmp_path):
    """The words of the block list are themselves private: not even config.json keeps them."""
    src = tmp_path / "m.jsonl"
    rows = [
        _row(0, "Anna", "is Falcon Project still on?", False, "c1", "Anna"),
        _row(1, "Bob", "yes, Falcon Project is on", True, "c1", "Anna"),
        _row(2, "Falcon Project", "hello", False, "g1", "Falcon Project team"),
        _row(3, "Bob", "hello to you all", True, "g1", "Falcon Project team"),
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    config = tmp_path / "twin.toml"
    config.write_text('[build]\nblock = ["Falcon Project"]\n', "utf-8")
    out = tmp_path / "ds"
    r = twin("build", src, "-o", out, "--config", config, "--groups")
    assert r.code == 0, r.err
    for f in (p for p in out.rglob("*") if p.is_file()):
        assert b"Falcon" not in f.read_bytes(), f
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["block"] == ["<BLOCKED>"]
