"""The run folder: a standard PEFT adapter plus everything needed to use it again.

`twin_run.json` records the base model reference, the chat format (template), the system
prompt, generation defaults and the training config, so chat, eval, serve and export never ask
for anything typed at training time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from twin.chat_format import ChatFormat
from twin.errors import TwinError
from twin.generate import Settings
from twin.models import BaseRef, resolve_base

RUN_FILE = "twin_run.json"


class RunFolder:
    """The one place that knows a run folder's layout (docs/architecture.md, "The run folder").

    RUN/
      adapter_config.json, adapter_model.safetensors   the adapter to use (best by dev loss, else last)
      tokenizer files, loss.png
      twin_run.json             what chat/eval/serve/export need (written when the run ends)
      twin_train_config.json    the training settings (written first; --resume checks against it)
      metrics.jsonl             one line per optimizer step
      best/                     the adapter with the lowest dev loss so far
      checkpoints/step-N/       resumable checkpoints; checkpoints/latest names the newest complete one
    """

    TRAIN_CONFIG = "twin_train_config.json"
    METRICS = "metrics.jsonl"
    CHECKPOINTS = "checkpoints"
    LATEST = "latest"
    BEST = "best"
    LOSS_PLOT = "loss.png"
    # What a run writes before its first checkpoint: a folder holding only these was killed
    # before it saved anything that could be resumed, and is started over.
    _BEFORE_FIRST_CHECKPOINT = frozenset({TRAIN_CONFIG, METRICS, BEST, ".best.tmp", CHECKPOINTS})

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    @property
    def train_config(self) -> Path:
        return self.path / self.TRAIN_CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / self.METRICS

    @property
    def best(self) -> Path:
        return self.path / self.BEST

    @property
    def best_tmp(self) -> Path:
        return self.path / ".best.tmp"

    @property
    def loss_plot(self) -> Path:
        return self.path / self.LOSS_PLOT

    @property
    def checkpoints(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def latest_pointer(self) -> Path:
        return self.checkpoints / self.LATEST

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step-{step}"

    def checkpoint_tmp(self, step: int) -> Path:
        return self.checkpoints / f".tmp-step-{step}"

    def checkpoint_steps(self) -> list[Path]:
        """The complete checkpoint folders, oldest first."""
        if not self.checkpoints.is_dir():
            return []
        found = [p for p in self.checkpoints.glob("step-*") if p.is_dir()]
        return sorted(found, key=lambda p: int(p.name.split("-")[1]))

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint, or None (never saved, or only a half-written one)."""
        if not self.latest_pointer.is_file():
            return None
        path = self.checkpoints / self.latest_pointer.read_text(encoding="utf-8").strip()
        return path if (path / "trainer_state.json").is_file() else None

    @staticmethod
    def of_checkpoint(path: str | Path) -> RunFolder | None:
        """The run a `RUN/checkpoints/step-N` folder belongs to, or None if it is not one."""
        path = Path(path)
        if path.parent.name != RunFolder.CHECKPOINTS:
            return None
        run = RunFolder(path.parent.parent)
        return run if run.run_file.is_file() else None

    @staticmethod
    def containing(folder: str | Path) -> RunFolder | None:
        """The run folder itself, or the run a checkpoint folder belongs to; None for neither."""
        run = RunFolder(folder)
        return run if run.run_file.is_file() else RunFolder.of_checkpoint(folder)

    def holds_run(self) -> bool:
        """A finished run, or one with a checkpoint to resume."""
        return self.run_file.is_file() or self.latest_pointer.is_file()

    def is_empty(self) -> bool:
        return not self.path.exists() or not any(self.path.iterdir())

    def never_checkpointed(self) -> bool:
        """Started by `twin train` but stopped before its first checkpoint (nothing to resume)."""
        if not self.train_config.is_file() or self.holds_run():
            return False
        return all(p.name in self._BEFORE_FIRST_CHECKPOINT for p in self.path.iterdir())

    def clear_unfinished(self) -> None:
        """Remove what a run killed before its first checkpoint left behind."""
        import shutil

        for p in self.path.iterdir():
            if p.name in self._BEFORE_FIRST_CHECKPOINT:
                shutil.rmtree(p) if p.is_dir() else p.unlink()

    def write_info(self, data: dict) -> None:
        self.run_file.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")

    def read_train_config(self) -> dict:
        return json.loads(self.train_config.read_text(encoding="utf-8"))

    def write_train_config(self, data: dict) -> None:
        self.train_config.write_text(json.dumps(data, indent=2), encoding="utf-8")

    def start_metrics(self) -> None:
        self.metrics.write_text("", encoding="utf-8")

    def append_metrics(self, record: dict) -> None:
        with open(self.metrics, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict]:
        if not self.metrics.is_file():
            return []
        lines = self.metrics.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def truncate_metrics(self, step: int) -> None:
        """Forget metrics logged after the checkpoint being resumed: those steps run again."""
        if not self.metrics.is_file():
            return
        keep = [m for m in self.read_metrics() if m["step"] <= step]
        self.metrics.write_text("".join(json.dumps(m) + "\n" for m in keep), encoding="utf-8")


@dataclass
class RunInfo:
    folder: Path | None  # None: an untuned base model
    base_spec: str
    chat_format: ChatFormat
    system_prompt: str | None
    generation: Settings
    method: str | None = None
    train: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    name: str | None = None
    trust_remote_code: bool = False  # trained with --trust-remote-code (its base runs own code)

    @property
    def label(self) -> str:
        return str(self.folder) if self.folder else f"{self.base_spec} (untuned)"

    def base(self) -> BaseRef:
        """The run's base; one that runs its own code needs --trust-remote-code again here: a
        run shared by someone else must not run code its user did not ask for."""
        ref = resolve_base(self.base_spec)
        if self.trust_remote_code and not ref.trust_remote_code:
            raise TwinError(
                f"{self.label}: its base {self.base_spec} runs Python code shipped with it (the "
                f"run was trained with --trust-remote-code, as its {RUN_FILE} records); twin "
                "runs such code only when asked: add --trust-remote-code if you trust "
                f"{self.base_spec}"
            )
        return ref


def write_run_info(folder: Path, data: dict) -> None:
    RunFolder(folder).write_info(data)


def read_run(folder: str | Path) -> RunInfo:
    """A run folder written by `twin train` (or a checkpoint inside it)."""
    path = Path(folder)
    info_path = RunFolder(path).run_file
    checkpoint = None
    owner = None if info_path.is_file() else RunFolder.of_checkpoint(path)
    if owner is not None:
        checkpoint, info_path = path, owner.run_file  # run/checkpoints/step-N
    if not info_path.is_file():
        if not path.exists():
            raise TwinError(f"{folder}: no such run folder")
        raise TwinError(
            f"{folder}: not a twin run ({RUN_FILE} missing); train one with `twin train`"
        )
    if not ((checkpoint or path) / "adapter_config.json").is_file():
        raise TwinError(f"{checkpoint or path}: has no adapter (adapter_config.json missing)")
    try:
        data = json.loads(info_path.read_text(encoding="utf-8"))
        gen = Settings.from_dict(data.get("generation", {}))
        return RunInfo(
            folder=checkpoint or path,
            base_spec=data["base"]["spec"],
            chat_format=ChatFormat.from_dict(data["chat_format"]),
            system_prompt=data.get("system_prompt"),
            generation=gen,
            method=data.get("train", {}).get("method"),
            train=data.get("train", {}),
            result=data.get("result", {}),
            name=data.get("name"),
            trust_remote_code=bool(data["base"].get("trust_remote_code", False)),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise TwinError(f"{info_path}: unreadable run description ({e})") from e


def base_info(spec: str, system_prompt: str | None = None) -> RunInfo:
    """An untuned base model described like a run, for comparisons (`--base`)."""
    from twin.chat_format import choose_format
    from twin.models import load_config, load_tokenizer

    ref = resolve_base(spec)
    fmt = choose_format(load_tokenizer(ref), load_config(ref))
    return RunInfo(None, spec, fmt, system_prompt, Settings())


def load_for_inference(info: RunInfo, device: str = "cpu"):
    """(model, tokenizer) ready for generation: the base with the run's adapter, in eval mode.

    On a CPU in float32; on a GPU in 16 bits (bf16 from compute capability 8.0, else fp16), and a
    QLoRA run on its 4-bit base, as it was trained: a 7B base in float32 fills 30 GB, more than
    a free T4 has.
    """
    import torch

    from twin.models import cuda_has_native_bf16, load_model, load_tokenizer

    ref = info.base()
    tokenizer = load_tokenizer(ref)
    dtype = torch.float32
    cuda = device.startswith("cuda")
    if cuda:
        dtype = torch.bfloat16 if cuda_has_native_bf16(device) else torch.float16
    four_bit = cuda and info.method == "qlora" and info.folder is not None
    model = load_model(ref, dtype=dtype, device=device, quantize_4bit=four_bit)
    if info.folder is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(info.folder))
        if info.method in ("lora", None) or (info.method == "qlora" and not four_bit):
            model = model.merge_and_unload()  # same outputs, faster generation
    model.eval()
    return model, tokenizer
