"""The message schema's own pieces (docs/architecture.md, "The messages.jsonl schema")."""

from __future__ import annotations

import json
import pickle

from twin.messages import FileLine, Message


def _message(source: dict | FileLine) -> Message:
    return Message(
        chat="wechat:7:阿强",
        chat_name="阿强",
        sender="阿强",
        time="2023-05-01T10:00:00+08:00",
        kind="text",
        text='他说 "好的"\n然后',
        source=source,
        me=False,
        group=False,
        id="12",
    )


def test_a_file_line_source_is_written_and_compared_as_its_dict():
    as_dict = {"file": 'chats/消息 "1".csv', "line": 12345}
    line = FileLine(as_dict["file"], as_dict["line"])
    assert line == as_dict and as_dict == line and dict(line) == as_dict
    assert line["file"] == as_dict["file"] and line.get("item") is None
    assert _message(line).to_json() == _message(as_dict).to_json()
    assert json.loads(_message(line).to_json())["source"] == as_dict
    assert _message(line).to_dict() == _message(as_dict).to_dict()
    assert pickle.loads(pickle.dumps(_message(line))) == _message(as_dict)
