"""`twin notebook`: check the inputs, settle the training config, build the wheel, write the
bundle zip and the notebook (both atomically, the notebook last: it names the bundle's id)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import sys
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

from twin import __version__
from twin.errors import TwinError
from twin.train.config import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class Made:
    notebook: Path
    bundle: Path
    info: dict
    target: str

    def summary(self) -> str:
        size = self.bundle.stat().st_size / 1e6
        where = (
            "upload it as a Kaggle Dataset (kept Private), import the notebook, attach the dataset"
            if self.target == "kaggle"
            else "put it in Google Drive (My Drive), upload the notebook to Colab"
        )
        return (
            f"notebook: {self.notebook}\n"
            f"bundle:   {self.bundle} ({size:.1f} MB: dataset, twin.toml, {Path(self.info['wheel']).name})\n"
            f"base {self.info['base']}, method {self.info['method']}; time {self.info['time_en']}\n"
            f"Next: {where}, turn on the GPU and Run All (the notebook's first cell says how)."
        )


def bundle_name(explicit: str | None, dataset: Path) -> str:
    """A Kaggle-friendly name: --name, else `twin-` and the person's name or the folder's."""
    person = None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        person = json.loads((dataset / "config.json").read_text(encoding="utf-8")).get("name")
    for candidate in (explicit, person, dataset.resolve().name, "clone"):
        slug = re.sub(r"[^a-z0-9]+", "-", str(candidate or "").lower()).strip("-")[:40]
        if slug:
            break
    if explicit:
        return slug
    return slug if slug.startswith("twin") else f"twin-{slug}"


def _toml_section(path: str, section: str) -> dict:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # load_train_config reports it with the file's name
    table = data.get(section, {})
    return table if isinstance(table, dict) else {}


def parse_sets(sets: list[str]) -> dict:
    """--set KEY=VALUE pairs as [train] values (VALUE in TOML syntax, else a plain string)."""
    known = {f.name for f in fields(TrainConfig)}
    out = {}
    for item in sets:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise TwinError(f"--set {item}: expected KEY=VALUE, e.g. --set lora_dropout=0.05")
        if key not in known:
            raise TwinError(
                f"--set {key}: not a [train] setting; known: {', '.join(sorted(known))}"
            )
        try:
            out[key] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value.strip()
    return out


def train_config(
    flags: dict, config: str | None, sets: list[str], default_base: str
) -> TrainConfig:
    """Defaults < twin.toml [train] < --set < named flags; the notebook's own default base
    (a GPU-sized hub model) when none of them names one."""
    from twin.train.config import load_train_config

    overrides = {**parse_sets(sets), **{k: v for k, v in flags.items() if v is not None}}
    named = "base" in overrides
    if config and not named:
        named = "base" in _toml_section(config, "train")
    if not named or overrides.get("base") == "auto":  # the notebook's auto: a GPU-sized base
        overrides["base"] = default_base
    return load_train_config(config, overrides)


def check_remote_code(base: str, trusted: bool) -> None:
    """A base that runs its own code (ChatGLM) needs --trust-remote-code now, not on Kaggle."""
    from twin import catalog

    entry = catalog.find(base)
    if entry is not None and entry.remote_code and not trusted:
        raise TwinError(
            f"--base {base}: {entry.name} runs Python code shipped with its weights; add "
            "--trust-remote-code if you trust its source (the notebook will pass it on)"
        )


def estimates(cfg: TrainConfig, dataset: Path, target: str) -> tuple[str, str, dict]:
    """(English, Chinese, figures) of the time estimate, for 2 and 1 T4s on Kaggle, 1 on Colab."""
    from twin.notebook.estimate import dataset_tokens, describe, describe_zh, estimate_time

    samples, tokens = dataset_tokens(dataset, cfg.max_len)
    gpus = (2, 1) if target == "kaggle" else (1,)
    found = [
        estimate_time(
            cfg.base,
            cfg.method,
            tokens,
            cfg.epochs,
            samples,
            gpus=n,
            max_steps=cfg.max_steps,
            batch_samples=cfg.batch * cfg.accum,
            gradient_checkpointing=cfg.gradient_checkpointing,
            max_new_tokens=cfg.max_new_tokens,
        )
        for n in gpus
    ]
    en = "; ".join(describe(e) for e in found)
    zh = "；".join(describe_zh(e) for e in found)
    figures = {
        "samples": samples,
        "tokens_per_epoch": tokens,
        "minutes": {f"{e.gpus}xT4": e.total and round(e.total, 1) for e in found},
    }
    return en, zh, figures


def make_notebook(
    dataset: Path,
    target: str,
    out: Path,
    flags: dict,
    config: str | None = None,
    sets: list[str] | None = None,
    name: str | None = None,
    space: bool = False,
    gguf: bool = False,
    default_base: str = "default",
    trust_remote_code: bool = False,
) -> Made:
    from twin.atomic import atomic_write
    from twin.notebook.bundle import check_dataset, notebook_base, write_bundle
    from twin.notebook.cells import build_notebook
    from twin.notebook.runtime import greeting
    from twin.notebook.wheel import build_wheel

    if target not in ("kaggle", "colab"):
        raise TwinError(f"--target {target}: expected kaggle or colab")
    n_train, n_dev = check_dataset(dataset)
    cfg = train_config(flags, config, sets or [], default_base)
    cfg = dataclasses.replace(cfg, base=notebook_base(cfg.base))
    check_remote_code(cfg.base, trust_remote_code)
    name = bundle_name(name, dataset)
    time_en, time_zh, figures = estimates(cfg, dataset, target)
    print("building the twin wheel from this twin …", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="twin-notebook-") as tmp:
        wheel = build_wheel(Path(tmp))
        extra = {
            "estimate": figures,
            "train_samples": n_train,
            "dev_samples": n_dev,
            "trust_remote_code": trust_remote_code,
        }
        bundle = out / f"{name}.zip"
        info = write_bundle(bundle, dataset, cfg, wheel, name, target, extra)
    meta = {
        **info,
        "train": n_train,
        "dev": n_dev,
        "time_en": time_en,
        "time_zh": time_zh,
        "version": __version__,
        "greeting": greeting(dataset),
        "space": space,
        "gguf": gguf,
    }
    notebook = out / f"{name}.ipynb"
    with atomic_write(notebook) as f:
        json.dump(build_notebook(meta, target), f, ensure_ascii=False, indent=1)
        f.write("\n")
    return Made(notebook, bundle, {**info, "time_en": time_en}, target)
