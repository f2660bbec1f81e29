"""`--base auto`: the base chosen from the person's own replies and this machine.

The language that matters is the one the clone must write: the person's replies (the
assistant turns of train.jsonl that are trained on), not the friends' messages. Each reply's
letters are counted by script — Latin letters against CJK characters (Han, kana, Hangul) and
other non-Latin letters (Cyrillic, Thai, Arabic, …) — and the reply is "non-Latin" when those
are at least as many as its Latin letters. (Replies, not letters, are counted: one Chinese
character says about what a whole English word does, so letter counts would make a person who
writes half in Chinese look English.) When at least MULTILINGUAL_SHARE of the replies are
non-Latin, the clone needs the multilingual embedded base (SmolLM2 writes English only);
otherwise SmolLM2, smaller and faster, is the better embedded base.

Neither embedded base is strong; with a CUDA GPU and hub access a hub model is recommended,
printed with the command that trains it (never downloaded unasked).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from twin.errors import TwinError

MULTILINGUAL_SHARE = 0.2
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff]")


@dataclass(frozen=True)
class Script:
    """Letters of a text by script."""

    latin: int
    cjk: int
    other: int

    @property
    def total(self) -> int:
        return self.latin + self.cjk + self.other


def count_scripts(texts: list[str]) -> Script:
    latin = cjk = other = 0
    for text in texts:
        for ch in text:
            if not ch.isalpha():
                continue
            if ord(ch) < 0x250:
                latin += 1
            elif _CJK.match(ch):
                cjk += 1
            else:
                other += 1
    return Script(latin, cjk, other)


def non_latin_replies(texts: list[str]) -> tuple[float, Script]:
    """(share of replies with letters written mainly in a non-Latin script, letters of those)."""
    counted = [count_scripts([t]) for t in texts]
    counted = [s for s in counted if s.total]
    non_latin = [s for s in counted if s.cjk + s.other >= s.latin]
    share = len(non_latin) / len(counted) if counted else 0.0
    return share, Script(0, sum(s.cjk for s in non_latin), sum(s.other for s in non_latin))


@dataclass(frozen=True)
class Choice:
    spec: str  # the --base value chosen
    reason: str  # one line: which and why
    recommendation: str | None = None  # a stronger hub base and its command, when worth it

    def line(self) -> str:
        return f"base: auto → {self.reason}"


def reply_texts(dataset_dir: str | Path) -> list[str]:
    """The person's trained replies in a dataset folder (train.jsonl, then dev.jsonl)."""
    from twin.train.data import read_split

    folder = Path(dataset_dir)
    texts = []
    for name in ("train.jsonl", "dev.jsonl"):
        for messages in read_split(folder / name):
            texts += [
                m["content"]
                for m in messages
                if m["role"] == "assistant" and m.get("weight", 1) != 0
            ]
    return texts


def _gpu() -> tuple[bool, float | None]:
    """(a CUDA GPU is there, its memory in GB)."""
    try:
        import torch

        if torch.cuda.is_available():
            return True, torch.cuda.get_device_properties(0).total_memory / 1e9
    except (ImportError, RuntimeError):
        pass
    return False, None


def choose(dataset_dir: str | Path, gpu: tuple[bool, float | None] | None = None) -> Choice:
    """The base for a clone of the person in `dataset_dir` (see the module docstring)."""
    from twin import catalog, hub

    texts = reply_texts(dataset_dir)
    if not texts:
        raise TwinError(f"{dataset_dir}: no replies to choose a base from (train.jsonl is empty)")
    share, s = non_latin_replies(texts)
    multi = share >= MULTILINGUAL_SHARE
    pct = round(100 * share)
    if multi:
        what = "Chinese/Japanese/Korean" if s.cjk >= s.other else "a non-Latin script"
        entry = catalog.find("gemma3-270m")
        reason = (
            f"{entry.alias} ({entry.name}, multilingual): {pct}% of your replies are mainly in "
            f"{what}, and SmolLM2 writes English only"
        )
    else:
        entry = catalog.find("smollm2-135m")
        reason = (
            f"{entry.alias} ({entry.name}): {100 - pct}% of your replies are mainly in Latin "
            "letters (English), which SmolLM2 writes well, and it trains faster than the "
            "multilingual base"
        )
    has_gpu, memory = gpu if gpu is not None else _gpu()
    recommendation = None
    if has_gpu and hub.hub_reachable():
        rec = catalog.recommended_hub(multi, memory)
        method = "lora" if rec.lora_memory_gb() <= (memory or 16) * 0.85 else "qlora"
        recommendation = (
            f"this machine has a GPU{f' ({memory:.0f} GB)' if memory else ''} and hub access: "
            f"{rec.name} ({rec.params_b:g}B, {rec.license}) makes a much stronger clone:\n"
            f"  twin train {dataset_dir} -o run --base {rec.alias} --method {method}"
        )
    return Choice(entry.spec, reason, recommendation)


def auto_spec(target: str | Path) -> Choice:
    """`--base auto` for a dataset folder, or for a run folder: the base that run was trained
    on (so `twin chat --base auto RUN` is that run's model untuned)."""
    from twin.runs import RunFolder

    path = Path(target)
    run_file = RunFolder(path).run_file
    if run_file.is_file():
        try:
            spec = json.loads(run_file.read_text(encoding="utf-8"))["base"]["spec"]
        except (ValueError, KeyError, TypeError) as e:
            raise TwinError(f"{run_file}: unreadable run description ({e})") from e
        return Choice(spec, f"{spec}: the base run {path} was trained on")
    if (path / "train.jsonl").is_file():
        return choose(path)
    raise TwinError(
        f"--base auto needs a dataset folder (from `twin build`) or a run folder to choose from; "
        f"{target} is neither"
    )
