"""How long the notebook will take: an ESTIMATE from a formula, not a measurement.

Nothing here has been timed on a T4. `estimate_time` is the one function every time the
notebook and the README show comes from.

Training, for a base in twin's catalog (twin/catalog.py), uses the catalog's own T4 model: its
FLOPs per token (4 × the parameters outside the embedding/output matrices, plus the output layer
on the trained tokens), 25 % of the T4's 65 TFLOP/s fp16 peak, and a launch overhead per layer
and step of 4 samples. For a hub model outside the catalog, the parameter count is read from the
name (`…-1.5B-…`) and a token costs 4 FLOPs per parameter at the same speed. Then: QLoRA at half
that speed (de-quantising the 4-bit weights), two GPUs at 1.85× one, gradient checkpointing one
more forward pass (6 instead of 4).

The rest: download = 2 bytes per parameter (16-bit safetensors) at 60 MB/s, none for an embedded
base; eval = replies × new tokens ÷ decode speed for the run and the untuned base (20 replies
each plus the 15-prompt privacy probe), decode bounded by memory (4 bytes per parameter read per
token at 300 GB/s) and by 30 tokens/s of per-token overhead; installs = 2 minutes.

Tokens per sample are counted from the dataset's characters: about 1.5 Chinese/Japanese/Korean
characters or 4 other characters per token, plus 4 tokens of chat template per message, each
sample cut at max_len.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from twin import catalog

QLORA_FACTOR = 0.5
TWO_GPU_SPEEDUP = 1.85
DOWNLOAD_MB_S = 60.0
DECODE_BYTES_S = 300e9
DECODE_MAX_TOKENS_S = 30.0
INSTALL_S = 120.0
PROBES = 15
EVAL_SAMPLES = 20

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)([bm])(?![a-z])", re.IGNORECASE)


def base_parameters(base: str) -> float | None:
    """The base's parameter count: the catalog's, else read from a hub id's name
    (`Qwen2.5-1.5B-Instruct` -> 1.5e9, `gemma-3-270m` -> 2.7e8); None when it does not say."""
    entry = catalog.find(base)
    if entry is not None:
        return entry.params_b * 1e9
    name = base.rsplit("/", 1)[-1]
    sizes = [
        float(m.group(1)) * (1e9 if m.group(2).lower() == "b" else 1e6)
        for m in _SIZE.finditer(name)
    ]
    return sizes[-1] if sizes else None


def sample_tokens(messages: list[dict], max_len: int) -> int:
    """Estimated tokens of one training sample (see the module docstring)."""
    total = 0.0
    for m in messages:
        text = str(m.get("content", ""))
        cjk = len(_CJK.findall(text))
        total += cjk / 1.5 + (len(text) - cjk) / 4 + 4
    return min(max_len, math.ceil(total))


def dataset_tokens(dataset: Path, max_len: int) -> tuple[int, int]:
    """(training samples, estimated tokens in one pass) of a dataset folder's train.jsonl."""
    samples = tokens = 0
    with open(Path(dataset) / "train.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                samples += 1
                tokens += sample_tokens(json.loads(line)["messages"], max_len)
    return samples, tokens


@dataclass
class Estimate:
    """Minutes per part; `None` parts could not be estimated (unknown model size)."""

    gpus: int
    install: float
    download: float | None
    train: float | None
    eval: float | None

    @property
    def total(self) -> float | None:
        parts = (self.install, self.download, self.train, self.eval)
        return None if any(p is None for p in parts) else sum(parts)  # type: ignore[arg-type]


def estimate_time(
    base: str,
    method: str,
    tokens_per_epoch: int,
    epochs: float,
    samples: int,
    gpus: int = 1,
    max_steps: int | None = None,
    batch_samples: int = 16,
    gradient_checkpointing: bool = False,
    max_new_tokens: int = 128,
) -> Estimate:
    """Minutes on `gpus` T4s (1 or 2) by the formula in the module docstring."""
    params = base_parameters(base)
    install = INSTALL_S / 60
    if params is None:
        return Estimate(gpus, install, None, None, None)
    if max_steps is not None and samples:
        epochs = max_steps * batch_samples * gpus / samples
    train = train_seconds(base, params, tokens_per_epoch * epochs, samples * epochs)
    if gradient_checkpointing:
        train *= 1.5
    train /= QLORA_FACTOR if method == "qlora" else 1.0
    train /= TWO_GPU_SPEEDUP if gpus > 1 else 1.0
    entry = catalog.find(base)
    embedded = base == "default" or (entry is not None and entry.source == "embedded")
    download = 0.0 if embedded else 2 * params / (DOWNLOAD_MB_S * 1e6)
    decode = min(DECODE_MAX_TOKENS_S, DECODE_BYTES_S / (4 * params))
    replies = 2 * (EVAL_SAMPLES + PROBES)
    evaluate = replies * max_new_tokens / decode
    return Estimate(gpus, install, download / 60, train / 60, evaluate / 60)


def train_seconds(base: str, params: float, tokens: float, samples: float) -> float:
    """Seconds on one T4 to train on `samples` samples holding `tokens` tokens (bf16/fp16 LoRA)."""
    speed = catalog.T4_PEAK_FLOPS * catalog.T4_EFFICIENCY
    entry = catalog.find(base)
    if entry is None:
        return 4 * params * tokens / speed
    overhead = samples / catalog.BATCH * entry.layers * catalog.T4_LAYER_STEP_S
    return entry.train_flops_per_token() * tokens / speed + overhead


def describe(e: Estimate) -> str:
    """One line: 'about 25 min on 2 × T4 (train 9, download 1, eval 12, installs 2)'."""
    if e.total is None:
        return "no estimate (the base model's size is unknown)"
    parts = f"train {_m(e.train)}, download {_m(e.download)}, eval {_m(e.eval)}, installs {_m(e.install)}"
    return f"about {_m(e.total)} on {e.gpus} × T4 ({parts})"


def _m(minutes: float | None, units: tuple[str, str] = ("h", "min")) -> str:
    if minutes is None:
        return "?"
    if minutes >= 90:
        return f"{minutes / 60:.1f} {units[0]}"
    return f"{max(1, round(minutes))} {units[1]}"


def describe_zh(e: Estimate) -> str:
    """`describe` in Chinese."""
    if e.total is None:
        return "无法估算（不知道基础模型的大小）"

    def m(minutes: float | None) -> str:
        return _m(minutes, ("小时", "分钟"))

    parts = f"训练 {m(e.train)}、下载 {m(e.download)}、评估 {m(e.eval)}、安装 {m(e.install)}"
    return f"{e.gpus} × T4 约 {m(e.total)}（{parts}）"
