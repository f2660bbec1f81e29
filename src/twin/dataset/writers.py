"""Writers for train/dev and the exports other tools read, built from pre-encoded strings.

A million-message export gives hundreds of thousands of lines in four formats; each turn's text
is JSON-encoded once and every format is assembled from those pieces, which is several times
faster than encoding each format's dicts again.

Exports:
- tutorial_{train,dev}.json: the tutorial's {"content", "summary"} lines, so its ChatGLM P-tuning
  script (prompt_column content, response_column summary) runs unchanged;
- chatglm_{train,dev}.json: ChatGLM's {"prompt", "response", "history"} lines;
- sharegpt_{train,dev}.json + dataset_info.json: what LLaMA-Factory loads (`dataset_dir` = the
  exports folder, dataset names twin_train / twin_dev).
Only replies that are trained on (no weight 0) become responses; the rest stays as history.
ShareGPT has no per-turn weight, so LLaMA-Factory trains on every reply of a sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

encode_str = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring  # type: ignore[attr-defined]


@dataclass
class Sample:
    key: tuple  # (chat, conversation start): the unit of the train/dev split
    system: str  # JSON-encoded system prompt
    turns: list[tuple[str, str, bool]]  # (role, JSON-encoded content, trained)
    n: int  # input messages in this sample
    trained: int  # assistant turns trained on

    def messages(self) -> list[dict]:
        """The sample as plain dicts (decoded), for the report."""
        out = [{"role": "system", "content": json.loads(self.system)}]
        for role, content, trained in self.turns:
            m = {"role": role, "content": json.loads(content)}
            if role == "assistant" and not trained:
                m["weight"] = 0
            out.append(m)
        return out


def _line(sample: Sample) -> str:
    parts = [f'{{"role": "system", "content": {sample.system}}}']
    for role, content, trained in sample.turns:
        weight = "" if trained or role == "user" else ', "weight": 0'
        parts.append(f'{{"role": "{role}", "content": {content}{weight}}}')
    return '{"messages": [' + ", ".join(parts) + "]}\n"


def write_split(path: Path, samples: list[Sample]) -> None:
    """train.jsonl / dev.jsonl: OpenAI-style {"messages": [...]} lines; weight 0 = context only."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(_line(s) for s in samples)


def write_exports(folder: Path, splits: dict[str, list[Sample]]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for split, samples in splits.items():
        tutorial, chatglm, sharegpt = [], [], []
        for s in samples:
            history: list[str] = []
            turns = s.turns
            conv = []
            for i in range(0, len(turns) - 1, 2):
                user, reply = turns[i][1], turns[i + 1][1]
                if turns[i + 1][2]:
                    tutorial.append(f'{{"content": {user}, "summary": {reply}}}\n')
                    chatglm.append(
                        f'{{"prompt": {user}, "response": {reply}, "history": [{", ".join(history)}]}}\n'
                    )
                history.append(f"[{user}, {reply}]")
                conv.append(
                    f'{{"from": "human", "value": {user}}}, {{"from": "gpt", "value": {reply}}}'
                )
            sharegpt.append(f'{{"conversations": [{", ".join(conv)}], "system": {s.system}}}')
        names = {
            f"tutorial_{split}": f"tutorial_{split}.json",
            f"chatglm_{split}": f"chatglm_{split}.json",
        }
        (folder / names[f"tutorial_{split}"]).write_text("".join(tutorial), encoding="utf-8")
        (folder / names[f"chatglm_{split}"]).write_text("".join(chatglm), encoding="utf-8")
        (folder / f"sharegpt_{split}.json").write_text(
            "[\n" + ",\n".join(sharegpt) + "\n]\n", encoding="utf-8"
        )
        names[f"sharegpt_{split}"] = f"sharegpt_{split}.json"
        files.update(names)
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
