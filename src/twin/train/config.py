"""Settings of `twin train`: defaults, the [train] table of twin.toml, then flags.

Method presets carry what is known to work: P-tuning v2 with the tutorial's ChatGLM settings
(pre_seq_len 128, learning rate 2e-2), LoRA with rank 8 on every linear layer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from twin.config_file import check_types, flag, load_section
from twin.errors import TwinError
from twin.generate import Settings

METHODS = ("lora", "qlora", "ptuning")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
# Learning rates that work per method (P-tuning trains a prefix from scratch: much higher).
DEFAULT_LR = {"lora": 2e-4, "qlora": 2e-4, "ptuning": 2e-2}


@dataclass
class TrainConfig:
    # "auto": chosen from the language of the person's replies (twin.base_choice); "default" is
    # the embedded SmolLM2, "gemma3-270m" the embedded multilingual base; `twin models` lists more.
    base: str = field(
        default="auto",
        metadata=flag(
            "auto | ALIAS from `twin models` (default, gemma3-270m, qwen2.5-1.5b, …) | HUB_ID | "
            "DIR | FILE.gguf (default: auto, chosen from your replies' language)"
        ),
    )
    method: str = field(
        default="lora",
        metadata=flag("lora (default), qlora (CUDA), ptuning (P-tuning v2)", choices=METHODS),
    )
    # One of these bounds the run; max_steps wins when both are given (in twin.toml; the flags
    # exclude each other).
    max_steps: int | None = field(
        default=None, metadata=flag("optimizer steps to run", exclusive="length")
    )
    epochs: float = field(
        default=1.0,
        metadata=flag("passes over the training set (default 1)", exclusive="length"),
    )
    # None: the method's default (DEFAULT_LR)
    lr: float | None = field(
        default=None, metadata=flag("learning rate (default: 2e-4 LoRA, 2e-2 P-tuning)")
    )
    # LoRA rank and scale; alpha = 2 × rank is the common choice.
    rank: int = field(default=8, metadata=flag("LoRA rank (default 8)"))
    alpha: float | None = None
    # Dropout on the LoRA inputs. 0.05-0.1 regularises a little; on a CPU its random numbers
    # cost ~25% of a training step (profiled on the default model), so it is off by default.
    lora_dropout: float = 0.0
    target_modules: str = "all-linear"
    # P-tuning v2 prefix length (the tutorial's pre_seq_len).
    pre_seq_len: int = 128
    # Tokens per sample; longer samples lose their oldest turns first.
    max_len: int = field(default=1024, metadata=flag("tokens per sample (default 1024)"))
    # Samples per step per process, and steps accumulated per optimizer update.
    batch: int = field(default=4, metadata=flag("samples per step per process (default 4)"))
    accum: int = field(default=4, metadata=flag("gradient accumulation steps (default 4)"))
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    # "auto": bf16 autocast where the CPU/GPU computes bf16 natively (faster there), fp16 on older
    # GPUs, else fp32 (CPUs that only emulate bf16, plain AVX-512/AVX2, are ~3× slower in bf16).
    precision: str = field(default="auto", metadata=flag("default auto", choices=PRECISIONS))
    gradient_checkpointing: bool = False
    # Batches are formed from samples of similar length (less padding, ≈1.6× faster than
    # padding everything to max_len); each batch is padded to its own longest sample.
    group_by_length: bool = True
    eval_every: int | None = None  # None: about 10 evaluations per run
    eval_samples: int = 200  # dev samples used for dev loss (all when fewer)
    early_stopping: int = 0  # evaluations without improvement before stopping (0: never)
    save_every: int | None = None  # None: at every evaluation
    keep_checkpoints: int = 2
    log_every: int = 1
    seed: int = 0
    # Generation defaults saved in the run for chat/serve/eval (see twin.generate.Settings).
    temperature: float = Settings.temperature
    top_p: float = Settings.top_p
    max_new_tokens: int = Settings.max_new_tokens
    repetition_penalty: float = Settings.repetition_penalty

    def __post_init__(self) -> None:
        check_types(self, "train config")
        if self.method not in METHODS:
            raise TwinError(
                f"train config: method must be one of {', '.join(METHODS)}, not {self.method!r}"
            )
        checks = [
            (self.max_steps is None or self.max_steps > 0, "max_steps must be > 0"),
            (self.epochs > 0, "epochs must be > 0"),
            (self.lr is None or self.lr > 0, "lr must be > 0"),
            (self.rank > 0, "rank must be > 0"),
            (self.pre_seq_len > 0, "pre_seq_len must be > 0"),
            (self.max_len >= 16, "max_len must be >= 16"),
            (self.batch > 0 and self.accum > 0, "batch and accum must be > 0"),
            (self.precision in PRECISIONS, "precision must be auto, bf16, fp16 or fp32"),
            (0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)"),
            (0 <= self.lora_dropout < 1, "lora_dropout must be in [0, 1)"),
            (self.keep_checkpoints >= 1, "keep_checkpoints must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise TwinError(f"train config: {message}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]

    @property
    def lora_alpha(self) -> float:
        return self.alpha if self.alpha is not None else 2.0 * self.rank

    @property
    def generation(self) -> Settings:
        """The generation defaults this run will be saved with."""
        return Settings(self.temperature, self.top_p, self.max_new_tokens, self.repetition_penalty)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_train_config(path: str | None, overrides: dict) -> TrainConfig:
    """Defaults, then twin.toml's [train] table, then flags that were given (not None)."""
    return load_section(path, "train", TrainConfig, overrides)
