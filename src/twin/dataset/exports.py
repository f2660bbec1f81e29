"""The dataset in the formats other tools read.

- tutorial_{train,dev}.json: the tutorial's {"content", "summary"} lines, so its ChatGLM P-tuning
  script (prompt_column content, response_column summary) runs unchanged;
- chatglm_{train,dev}.json: ChatGLM's {"prompt", "response", "history"} lines;
- sharegpt_{train,dev}.json + dataset_info.json: what LLaMA-Factory loads (`dataset_dir` = this
  folder, dataset names twin_train / twin_dev).
Only replies that are trained on (no weight 0) become responses; the rest stays as history.
"""

from __future__ import annotations

import json
from pathlib import Path


def _pairs(messages: list[dict]) -> list[tuple[str, str, bool]]:
    out = []
    turns = [m for m in messages if m["role"] != "system"]
    for i in range(0, len(turns) - 1, 2):
        user, assistant = turns[i], turns[i + 1]
        out.append((user["content"], assistant["content"], assistant.get("weight", 1) != 0))
    return out


def write_exports(folder: Path, splits: dict[str, list[dict]]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for split, samples in splits.items():
        tutorial = folder / f"tutorial_{split}.json"
        chatglm = folder / f"chatglm_{split}.json"
        sharegpt = folder / f"sharegpt_{split}.json"
        with (
            open(tutorial, "w", encoding="utf-8") as ft,
            open(chatglm, "w", encoding="utf-8") as fc,
        ):
            for sample in samples:
                history: list[list[str]] = []
                for user, reply, trained in _pairs(sample["messages"]):
                    if trained:
                        ft.write(
                            json.dumps({"content": user, "summary": reply}, ensure_ascii=False)
                            + "\n"
                        )
                        fc.write(
                            json.dumps(
                                {"prompt": user, "response": reply, "history": list(history)},
                                ensure_ascii=False,
                            )
                            + "\n"
                        )
                    history.append([user, reply])
        conversations = []
        for sample in samples:
            system = next((m["content"] for m in sample["messages"] if m["role"] == "system"), "")
            turns = [
                {"from": "human" if m["role"] == "user" else "gpt", "value": m["content"]}
                for m in sample["messages"]
                if m["role"] != "system"
            ]
            conversations.append({"conversations": turns, "system": system})
        sharegpt.write_text(
            json.dumps(conversations, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        files.update(
            {
                f"tutorial_{split}": tutorial.name,
                f"chatglm_{split}": chatglm.name,
                f"sharegpt_{split}": sharegpt.name,
            }
        )
    info = {
        f"twin_{split}": {
            "file_name": f"sharegpt_{split}.json",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system"},
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
            },
        }
        for split in splits
    }
    (folder / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    files["dataset_info"] = "dataset_info.json"
    return files
