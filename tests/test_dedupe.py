"""Nothing counted twice (issue 13 item 2): the ways people hand twin the same messages twice.

Every fixture is written here: an iOS WhatsApp zip beside its own extracted `_chat.txt`, the
same file in two folders, overlapping exports of one chat from two dates, a Discord export that
repeats a message id, and the same for WeChatMsg CSV (read column-wise by `twin build`).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from conftest import read_jsonl

from twin.ingest.dedupe import DUPLICATE_FILE, DUPLICATE_MESSAGE
from twin.ingest.pipeline import ingest


def ios_lines(n: int, start: int = 0) -> str:
    """n iOS WhatsApp lines, Anna and me (Bob) taking turns, one minute apart."""
    out = []
    for i in range(start, start + n):
        who = "Bob" if i % 2 else "Anna"
        out.append(f"[12/03/2023, 10:{i:02d}:00] {who}: message number {i} from {who}")
    return "\n".join(out) + "\n"


def android(lines: list[tuple[int, str, str]]) -> str:
    return "".join(f"12/03/2023, 10:{m:02d} - {who}: {text}\n" for m, who, text in lines)


def build(twin, tmp_path: Path, *inputs, extra=()) -> tuple[dict, list, str]:
    out = tmp_path / "ds"
    r = twin("build", *inputs, "-o", out, "--no-report", *extra)
    assert r.code == 0, r.err
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    samples = read_jsonl(out / "train.jsonl") + read_jsonl(out / "dev.jsonl")
    return stats, samples, r.out


def no_doubled_turns(samples: list[dict]) -> None:
    for s in samples:
        for m in s["messages"][1:]:
            lines = m["content"].split("\n")
            assert len(lines) == len(set(lines)), m["content"]


def test_ios_zip_beside_its_extracted_chat_txt(twin, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    text = ios_lines(20)
    with zipfile.ZipFile(folder / "WhatsApp Chat - Anna.zip", "w") as z:
        z.writestr("_chat.txt", text)
    (folder / "_chat.txt").write_text(text, encoding="utf-8")

    stats, samples, out = build(twin, tmp_path, folder, extra=("--me", "Bob"))
    assert stats["messages"]["input"] == 40
    assert stats["messages"]["dropped"][DUPLICATE_FILE] == 20
    assert DUPLICATE_MESSAGE not in stats["messages"]["dropped"]
    assert stats["messages"]["used"] == 20
    assert stats["steps"][1] == {"step": "drop messages read twice", "messages": 20}
    no_doubled_turns(samples)
    assert f"20  {DUPLICATE_FILE}" in out

    r = twin("ingest", folder, "-o", tmp_path / "m.jsonl", "--me", "Bob")
    assert r.code == 0, r.err
    assert len(read_jsonl(tmp_path / "m.jsonl")) == 20
    assert f"Dropped 20 messages read twice: {DUPLICATE_FILE}" in r.out
    assert "20 messages dropped as duplicate file" in r.out and "the same messages as" in r.out


def test_same_file_in_two_folders(twin, tmp_path):
    chat = android([(i, "Bob" if i % 2 else "Anna", f"line {i}") for i in range(10)])
    for sub in ("phone", "backup"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "WhatsApp Chat with Anna.txt").write_text(chat, encoding="utf-8")
    stats, samples, _ = build(
        twin, tmp_path, tmp_path / "phone", tmp_path / "backup", extra=("--me", "Bob")
    )
    assert stats["messages"]["input"] == 20
    assert stats["messages"]["dropped"] == {DUPLICATE_FILE: 10}
    assert stats["messages"]["used"] == 10
    no_doubled_turns(samples)


def test_overlapping_exports_of_one_chat_from_two_dates(twin, tmp_path):
    """Two exports share minutes 4-7; "ok" sent twice in one minute is two messages, kept
    twice (not four times, not once)."""
    early = [(i, "Bob" if i % 2 else "Anna", f"line {i}") for i in range(8)]
    early.insert(5, (4, "Anna", "ok"))
    early.insert(6, (4, "Anna", "ok"))
    late = [m for m in early if m[0] >= 4] + [
        (i, "Bob" if i % 2 else "Anna", f"line {i}") for i in range(8, 12)
    ]
    for sub, lines in (("2023-03", early), ("2023-04", late)):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "WhatsApp Chat with Anna.txt").write_text(android(lines), "utf-8")
    result = ingest([str(tmp_path / "2023-03"), str(tmp_path / "2023-04")], me="Bob")
    texts = [m.text for m in result.messages()]
    assert texts.count("ok") == 2
    assert texts == [f"line {i}" for i in range(5)] + ["ok", "ok"] + [
        f"line {i}" for i in range(5, 12)
    ]
    assert result.total == len(early) + len(late)
    assert result.duplicates == {DUPLICATE_MESSAGE: 6}

    stats, samples, _ = build(twin, tmp_path, tmp_path / "2023-03", tmp_path / "2023-04",
                              extra=("--me", "Bob"))  # fmt: skip
    assert stats["messages"]["dropped"][DUPLICATE_MESSAGE] == 6
    assert stats["messages"]["input"] == 20


def test_repeats_inside_one_file_are_kept(tmp_path):
    """Same minute, sender and text twice in one file: two messages, not a duplicate."""
    path = tmp_path / "WhatsApp Chat with Anna.txt"
    path.write_text(android([(0, "Anna", "ha"), (0, "Anna", "ha"), (1, "Bob", "ha")]), "utf-8")
    result = ingest([str(path)], me="Bob")
    assert [m.text for m in result.messages()] == ["ha", "ha", "ha"]
    assert not result.duplicates


def discord(messages: list[tuple[int, str, str]]) -> dict:
    authors = {
        "anna": {"id": "100000000000000001", "name": "anna", "nickname": "Anna"},
        "bob": {"id": "100000000000000002", "name": "bob", "nickname": "Bob"},
    }
    return {
        "guild": {"id": "0", "name": "Direct Messages", "iconUrl": ""},
        "channel": {"id": "800000000000000009", "type": "DirectTextChat", "name": "anna"},
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2023-05-02T10:00:00+00:00",
        "messages": [
            {
                "id": str(1100000000000000000 + i),
                "type": "Default",
                "timestamp": f"2023-05-01T09:{minute:02d}:00.000+00:00",
                "content": text,
                "author": authors[who],
                "attachments": [],
                "embeds": [],
                "stickers": [],
                "reactions": [],
                "mentions": [],
            }
            for i, minute, who, text in [(m[0], m[0], m[1], m[2]) for m in messages]
        ],
    }


def test_discord_export_repeating_a_message_id(twin, tmp_path):
    """The exporter wrote message 3 twice (a page boundary); an edited copy of message 5 too."""
    rows = [(i, "bob" if i % 2 else "anna", f"text {i}") for i in range(8)]
    data = discord(rows)
    repeat = dict(data["messages"][3])
    edited = dict(data["messages"][5], content="text 5 (edited)")
    data["messages"][4:4] = [repeat]
    data["messages"].append(edited)
    path = tmp_path / "Direct Messages - anna [800000000000000009].json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = ingest([str(path)], me="bob")
    texts = [m.text for m in result.messages()]
    assert texts == [f"text {i}" for i in range(8)]
    assert result.duplicates == {DUPLICATE_MESSAGE: 2}

    stats, samples, _ = build(twin, tmp_path, path, extra=("--me", "bob"))
    assert stats["messages"]["input"] == 10
    assert stats["messages"]["dropped"][DUPLICATE_MESSAGE] == 2
    no_doubled_turns(samples)


# WeChatMsg CSV (the column-wise path of `twin build`)
HEADER = ["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status",
          "StrContent", "StrTime", "Remark", "NickName", "Sender"]  # fmt: skip
T0 = 1701396000  # 2023-12-01 10:00:00 +08:00


def wechatmsg(path: Path, minutes: range) -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(HEADER)
    for i in minutes:
        me = i % 2
        t = T0 + 60 * i
        w.writerow(
            [i + 1, 1, 1, 0, me, t, "", f"第{i}句话", "", "小明", "Ming", "" if me else "Ming"]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize("columnar", [True, False])
def test_wechatmsg_csv_twice_and_overlapping(tmp_path, columnar):
    a = wechatmsg(tmp_path / "a" / "小明.csv", range(10))
    wechatmsg(tmp_path / "b" / "小明.csv", range(10))  # the same file again
    wechatmsg(tmp_path / "c" / "小明.csv", range(6, 14))  # a later export, 4 shared
    result = ingest([str(tmp_path / d) for d in "abc"], columnar=columnar)
    assert result.total == 28
    assert result.duplicates == {DUPLICATE_FILE: 10, DUPLICATE_MESSAGE: 4}
    table = result.table()
    assert len(table) == 14
    assert table.texts(list(range(14))) == [f"第{i}句话" for i in range(14)]
    assert any("the same messages as " + str(a) in n for r in result.reports for n in r.notes)


def test_wechatmsg_csv_build_counts_them(twin, tmp_path):
    wechatmsg(tmp_path / "a" / "小明.csv", range(10))
    wechatmsg(tmp_path / "b" / "小明.csv", range(6, 14))
    stats, samples, _ = build(twin, tmp_path, tmp_path / "a", tmp_path / "b")
    assert stats["messages"]["input"] == 18
    assert stats["messages"]["dropped"][DUPLICATE_MESSAGE] == 4
    used_or_dropped = stats["messages"]["used"] + sum(stats["messages"]["dropped"].values())
    assert used_or_dropped == 18
    no_doubled_turns(samples)
