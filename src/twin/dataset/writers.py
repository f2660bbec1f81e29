"""train/dev and the exports other tools read, assembled column-wise with Arrow.

A million-message export gives hundreds of thousands of lines in four formats. Each turn's text
is JSON-encoded once, and every line of every format is put together from those pieces by Arrow
string kernels, then written as one buffer: no per-line Python strings.

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
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.dataset.columns import ranges

encode_str = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring  # type: ignore[attr-defined]

# What json.dumps(ensure_ascii=False) escapes in a string; text without any is only quoted.
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'


def json_strings(texts: pa.Array) -> pa.Array:
    """Each text as a JSON string literal, as json.dumps(text, ensure_ascii=False) writes it."""
    texts = texts.cast(pa.large_string())
    quoted = _concat('"', texts, '"')
    escape = pc.match_substring_regex(texts, _NEEDS_ESCAPE).to_numpy(zero_copy_only=False)
    if not escape.any():
        return quoted
    rows = np.flatnonzero(escape)
    encoded = [encode_str(t) for t in texts.take(pa.array(rows)).to_pylist()]
    return pc.replace_with_mask(quoted, pa.array(escape), pa.array(encoded, pa.large_string()))


def _join(parts: pa.Array, lengths: np.ndarray, sep: str) -> pa.Array:
    """parts cut into consecutive groups of the given lengths, each group joined by sep."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), parts), _large(sep))


def _large(piece: pa.Array | str) -> pa.Array | pa.Scalar:
    if isinstance(piece, str):
        return pa.scalar(piece, pa.large_string())
    return piece.cast(pa.large_string())


def _concat(*pieces: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of arrays and plain strings."""
    return pc.binary_join_element_wise(*map(_large, pieces), _large(""))


def _write(f: BinaryIO, lines: pa.Array, cut: int = 0) -> None:
    """Write every value of lines back to back, less the last `cut` bytes."""
    lines = lines.cast(pa.large_string())
    if len(lines):
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
        first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
        f.write(memoryview(lines.buffers()[2])[first : last - cut])


# How many samples are put together and written at once: each step's arrays stay a few MB (in
# the CPU's caches, their memory reused from one slice to the next), not a copy of the file.
SLICE = 4096


@dataclass
class Samples:
    """The samples of a build, as columns over one shared table of turns.

    Sample i is turns start[i]:stop[i]: a user turn first, then alternating, my reply last.
    """

    content: pa.Array  # per turn: the text as a JSON string literal
    assistant: np.ndarray  # per turn: bool
    trained: np.ndarray  # per turn: an assistant turn trained on (else weight 0)
    system: str  # the system prompt as a JSON string literal
    start: np.ndarray  # per sample
    stop: np.ndarray
    chat: np.ndarray  # per sample: chat index; with time, its conversation (the unit of the split)
    time: np.ndarray  # per sample: when its conversation started
    n: np.ndarray  # per sample: input messages used

    def __len__(self) -> int:
        return len(self.start)

    def select(self, mask: np.ndarray | slice) -> Samples:
        return Samples(
            self.content,
            self.assistant,
            self.trained,
            self.system,
            self.start[mask],
            self.stop[mask],
            self.chat[mask],
            self.time[mask],
            self.n[mask],
        )

    def slices(self) -> list[Samples]:
        """The samples in consecutive runs of SLICE (the last shorter)."""
        return [self.select(slice(a, a + SLICE)) for a in range(0, len(self), SLICE)]

    def trained_replies(self) -> int:
        return int(np.count_nonzero(self.trained[ranges(self.start, self.stop)]))

    def messages(self, i: int) -> list[dict]:
        """Sample i as plain dicts, for the report."""
        out = [{"role": "system", "content": json.loads(self.system)}]
        for t in range(int(self.start[i]), int(self.stop[i])):
            m = {"role": "assistant" if self.assistant[t] else "user"}
            m["content"] = json.loads(self.content[t].as_py())
            if self.assistant[t] and not self.trained[t]:
                m["weight"] = 0
            out.append(m)
        return out

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(the user turn of every (user, reply) pair, pairs per sample)."""
        per_sample = (self.stop - self.start) // 2
        within = ranges(np.zeros_like(per_sample), per_sample)  # pair number inside its sample
        return np.repeat(self.start, per_sample) + 2 * within, per_sample


def write_split(path: Path, samples: Samples) -> None:
    """train.jsonl / dev.jsonl: OpenAI-style {"messages": [...]} lines; weight 0 = context only."""
    head = f'{{"messages": [{{"role": "system", "content": {samples.system}}}, '
    with open(path, "wb") as f:
        for part in samples.slices():
            turns = ranges(part.start, part.stop)
            assistant = part.assistant[turns]
            untrained = pa.array(assistant & ~part.trained[turns])
            fragments = _concat(
                pc.if_else(
                    pa.array(assistant),
                    _large('{"role": "assistant", "content": '),
                    _large('{"role": "user", "content": '),
                ),
                part.content.take(pa.array(turns)),
                pc.if_else(untrained, _large(', "weight": 0}'), _large("}")),
            )
            _write(f, _concat(head, _join(fragments, part.stop - part.start, ", "), "]}\n"))


def write_exports(folder: Path, split: str, samples: Samples) -> dict[str, str]:
    """The three exports of one split (train or dev); their file names by export name."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {k: f"{k}_{split}" for k in _EXPORTS}
    with ExitStack() as stack:
        files = {k: stack.enter_context(open(folder / f"{n}.json", "wb")) for k, n in names.items()}
        files["sharegpt"].write(b"[\n")
        for i, part in enumerate(samples.slices()):
            tutorial, chatglm, sharegpt = _export_lines(part)
            _write(files["tutorial"], tutorial)
            _write(files["chatglm"], chatglm)
            if i:
                files["sharegpt"].write(b",\n")
            _write(files["sharegpt"], sharegpt, cut=2)  # the list's last item takes no comma
        files["sharegpt"].write(b"\n]\n")
    return {n: f"{n}.json" for n in names.values()}


def _export_lines(samples: Samples) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The samples' lines of the tutorial, ChatGLM and ShareGPT exports."""
    users, per_sample = samples.pairs()
    user = samples.content.take(pa.array(users))
    reply = samples.content.take(pa.array(users + 1))
    trained = samples.trained[users + 1]
    rows = np.flatnonzero(trained)
    user_t, reply_t = user.take(pa.array(rows)), reply.take(pa.array(rows))
    tutorial = _concat('{"content": ', user_t, ', "summary": ', reply_t, "}\n")

    # ChatGLM history of a pair: the pairs before it in its sample.
    history_items = _concat("[", user, ", ", reply, "]")
    first_pair = np.repeat(np.cumsum(per_sample) - per_sample, per_sample)[rows]
    history = _join(history_items.take(pa.array(ranges(first_pair, rows))), rows - first_pair, ", ")
    chatglm = _concat(
        '{"prompt": ', user_t, ', "response": ', reply_t, ', "history": [', history, "]}\n"
    )

    pairs = _concat('{"from": "human", "value": ', user, '}, {"from": "gpt", "value": ', reply, "}")
    sharegpt = _concat(
        '{"conversations": [',
        _join(pairs, per_sample, ", "),
        f'], "system": {samples.system}}},\n',
    )
    return tutorial, chatglm, sharegpt


_EXPORTS = ("tutorial", "chatglm", "sharegpt")


def write_dataset_info(folder: Path, splits: list[str]) -> dict[str, str]:
    """dataset_info.json: how LLaMA-Factory finds the ShareGPT exports."""
    folder.mkdir(parents=True, exist_ok=True)
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
    return {"dataset_info": "dataset_info.json"}
