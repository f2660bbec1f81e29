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
from twin.models import BaseRef, resolve_base

RUN_FILE = "twin_run.json"


@dataclass
class Generation:
    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 128
    repetition_penalty: float = 1.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class RunInfo:
    folder: Path | None  # None: an untuned base model
    base_spec: str
    chat_format: ChatFormat
    system_prompt: str | None
    generation: Generation
    method: str | None = None
    train: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    name: str | None = None

    @property
    def label(self) -> str:
        return str(self.folder) if self.folder else f"{self.base_spec} (untuned)"

    def base(self) -> BaseRef:
        return resolve_base(self.base_spec)


def write_run_info(folder: Path, data: dict) -> None:
    (folder / RUN_FILE).write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def read_run(folder: str | Path) -> RunInfo:
    """A run folder written by `twin train` (or a checkpoint inside it)."""
    path = Path(folder)
    info_path = path / RUN_FILE
    checkpoint = None
    if (
        not info_path.is_file()
        and (path.parent.parent / RUN_FILE).is_file()
        and path.parent.name == "checkpoints"
    ):
        checkpoint, info_path = path, path.parent.parent / RUN_FILE  # run/checkpoints/step-N
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
        gen = Generation(**data.get("generation", {}))
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
        )
    except (ValueError, KeyError, TypeError) as e:
        raise TwinError(f"{info_path}: unreadable run description ({e})") from e


def base_info(spec: str, system_prompt: str | None = None) -> RunInfo:
    """An untuned base model described like a run, for comparisons (`--base`)."""
    from twin.chat_format import choose_format
    from twin.models import load_config, load_tokenizer

    ref = resolve_base(spec)
    fmt = choose_format(load_tokenizer(ref), load_config(ref))
    return RunInfo(None, spec, fmt, system_prompt, Generation())


def load_for_inference(info: RunInfo, device: str = "cpu"):
    """(model, tokenizer) ready for generation: the base with the run's adapter, in eval mode."""
    import torch

    from twin.models import load_model, load_tokenizer

    ref = info.base()
    tokenizer = load_tokenizer(ref)
    model = load_model(ref, dtype=torch.float32, device=device)
    if info.folder is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(info.folder))
        if info.method in ("lora", "qlora", None):
            model = model.merge_and_unload()  # same outputs, faster generation
    model.eval()
    return model, tokenizer
