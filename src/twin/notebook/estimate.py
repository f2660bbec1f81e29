"""How long the notebook will take: an ESTIMATE from a formula, not a measurement.

Nothing here has been timed on a T4. The one function to replace when measured figures exist
(the base-model catalog's time per 1,000 samples on a T4) is `estimate_time`; everything the
notebook and the README say about time comes from it.

Formula (per part, in seconds):
- train = 4 × parameters × tokens ÷ (GPUs × speed-up × effective FLOP/s): a forward pass costs
  2 FLOPs per parameter per token and the backward pass through frozen weights (LoRA, QLoRA,
  P-tuning train only small added weights) another 2; gradient checkpointing adds a forward.
  One T4 is taken to sustain 13 TFLOP/s in fp16 (20 % of its 65 TFLOP/s tensor-core peak);
  QLoRA at half that (de-quantising the 4-bit weights); two GPUs at 1.85× one.
- download = 2 bytes per parameter (16-bit safetensors) at 60 MB/s; the embedded base: none.
- eval = replies × new tokens ÷ decode speed, for the run and the untuned base, plus the
  privacy probe; decode is bounded by memory (4 bytes per parameter read per token at 300 GB/s)
  and by 30 tokens/s of per-token overhead.
- installs: 2 minutes.
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

from twin.models import DEFAULT_NAME

T4_TFLOPS = 13.0
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
    """The base's parameter count: the embedded default's is known; a hub id's is read from its
    name (`Qwen2.5-1.5B-Instruct` -> 1.5e9, `gemma-3-270m` -> 2.7e8); None when it does not say."""
    name = DEFAULT_NAME if base == "default" else base.rsplit("/", 1)[-1]
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
    tokens = tokens_per_epoch * epochs
    flops = (6 if gradient_checkpointing else 4) * params * tokens
    speed = T4_TFLOPS * 1e12 * (QLORA_FACTOR if method == "qlora" else 1.0)
    speed *= TWO_GPU_SPEEDUP if gpus > 1 else 1.0
    download = 0.0 if base == "default" else 2 * params / (DOWNLOAD_MB_S * 1e6)
    decode = min(DECODE_MAX_TOKENS_S, DECODE_BYTES_S / (4 * params))
    replies = 2 * (EVAL_SAMPLES + PROBES)
    evaluate = replies * max_new_tokens / decode
    return Estimate(gpus, install, download / 60, flops / speed / 60, evaluate / 60)


def describe(e: Estimate) -> str:
    """One line: 'about 25 min on 2 × T4 (train 9, download 1, eval 12, installs 2)'."""
    if e.total is None:
        return "no estimate (the base model's size is unknown)"
    parts = f"train {_m(e.train)}, download {_m(e.download)}, eval {_m(e.eval)}, installs {_m(e.install)}"
    return f"about {_m(e.total)} on {e.gpus} × T4 ({parts})"


def _m(minutes: float | None) -> str:
    if minutes is None:
        return "?"
    if minutes >= 90:
        return f"{minutes / 60:.1f} h"
    return f"{max(1, round(minutes))} min"


def describe_zh(e: Estimate) -> str:
    """`describe` in Chinese."""
    if e.total is None:
        return "无法估算（不知道基础模型的大小）"

    def m(minutes: float | None) -> str:
        if minutes is None:
            return "?"
        if minutes >= 90:
            return f"{minutes / 60:.1f} 小时"
        return f"{max(1, round(minutes))} 分钟"

    parts = f"训练 {m(e.train)}、下载 {m(e.download)}、评估 {m(e.eval)}、安装 {m(e.install)}"
    return f"{e.gpus} × T4 约 {m(e.total)}（{parts}）"
