"""GGUF files that llama.cpp and Ollama run: the merged model, or the base plus a LoRA adapter.

Why our own writer (with the `gguf` package) and not llama.cpp's converter scripts: those ship only
inside llama.cpp's sources, not in any wheel, and the facts that matter are few and measured
(docs/llamacpp.md):
- llama.cpp keeps attn_q/attn_k rows of llama-architecture models in its own order, and
  transformers un-permutes them when it loads a GGUF, so everything coming from transformers
  (merged weights, LoRA B rows) is permuted back here. Without it replies silently diverge.
- A LoRA adapter holds `blk.N.<tensor>.weight.lora_a` (r × in) and `.lora_b` (out × r) exactly as
  PEFT stores them, no transposes, with `adapter.lora.alpha`; a bad adapter makes llama.cpp crash
  on the first token rather than fail to load, so `validate_lora` checks it against the base first.

Supported: llama-architecture models (the default SmolLM2, Llama, the tiny test model) and Qwen2.
For other architectures export `--to merged` and run llama.cpp's convert_hf_to_gguf.py on it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from twin.errors import TwinError
from twin.runs import RunInfo

if TYPE_CHECKING:
    from gguf import GGUFWriter

QUANTS = ("q8_0", "f16", "f32")
# HF module name -> llama.cpp tensor name, per layer.
LAYER_TENSORS = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}
LORA_TENSORS = {
    k.split(".")[-1]: v for k, v in LAYER_TENSORS.items() if not k.endswith("layernorm")
}
ARCHITECTURES = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}
UNSUPPORTED = (
    "export --to merged and convert that folder with llama.cpp's convert_hf_to_gguf.py "
    "(in llama.cpp's sources)"
)

# The pre-tokenizer llama.cpp must use, recognised from tokenizer.json's pre_tokenizer.
_GPT2_RE = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
_QWEN2_RE = (
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
)
_LLAMA3_RE = _QWEN2_RE.replace("\\p{N}|", "\\p{N}{1,3}|")


# --- reading a GGUF header
#
# gguf.GGUFReader maps every value of the file into numpy views, which takes ~7 s for the
# default model's 49k-token vocabulary; the header alone is all these writers need.

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip
_NUMPY = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "?", 10: "<u8", 11: "<i8", 12: "<f8"}  # fmt: skip
STRING, ARRAY = 8, 9


@dataclass
class GGUFHeader:
    """Metadata (key -> (type, value, item type)) and tensors (name -> (ne dims, ggml type))."""

    fields: dict[str, tuple[int, object, int | None]]
    tensors: dict[str, tuple[list[int], int]]

    def get(self, key: str, default=None):
        field = self.fields.get(key)
        return field[1] if field is not None else default


def read_header(path: Path) -> GGUFHeader:
    """The metadata and tensor table of a GGUF file (v2/v3, little-endian)."""
    import mmap
    import struct

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        if buf[:4] != b"GGUF":
            raise TwinError(f"{path}: not a GGUF file")
        version, n_tensors, n_kv = struct.unpack_from("<IQQ", buf, 4)
        if version < 2:
            raise TwinError(f"{path}: GGUF version {version} is too old")
        pos = 24

        def string() -> str:
            nonlocal pos
            (n,) = struct.unpack_from("<Q", buf, pos)
            pos += 8 + n
            return bytes(buf[pos - n : pos]).decode("utf-8", errors="replace")

        def value(vtype: int):
            nonlocal pos
            if vtype == STRING:
                return string()
            fmt = _SCALARS[vtype]
            (v,) = struct.unpack_from(fmt, buf, pos)
            pos += struct.calcsize(fmt)
            return v

        fields: dict[str, tuple[int, object, int | None]] = {}
        for _ in range(n_kv):
            key = string()
            (vtype,) = struct.unpack_from("<I", buf, pos)
            pos += 4
            if vtype == ARRAY:
                itype, count = struct.unpack_from("<IQ", buf, pos)
                pos += 12
                if itype == STRING:
                    items = [string() for _ in range(count)]
                else:
                    dtype = np.dtype(_NUMPY[itype])
                    items = np.frombuffer(buf, dtype, count, pos).tolist()
                    pos += dtype.itemsize * count
                fields[key] = (vtype, items, itype)
            else:
                fields[key] = (vtype, value(vtype), None)
        tensors: dict[str, tuple[list[int], int]] = {}
        for _ in range(n_tensors):
            name = string()
            (n_dims,) = struct.unpack_from("<I", buf, pos)
            dims = list(struct.unpack_from(f"<{n_dims}Q", buf, pos + 4))
            ttype, _offset = struct.unpack_from("<IQ", buf, pos + 4 + 8 * n_dims)
            pos += 4 + 8 * n_dims + 12
            tensors[name] = (dims, ttype)
    return GGUFHeader(fields, tensors)


@dataclass(frozen=True)
class Arch:
    """What the writers need to know about a model's architecture."""

    name: str  # llama.cpp's architecture name
    n_layer: int
    n_head: int
    n_head_kv: int

    @property
    def permutes_qk(self) -> bool:
        """llama.cpp's llama models rotate interleaved pairs; HF's rotate halves."""
        return self.name == "llama"


def arch_of(config) -> Arch:
    archs = list(getattr(config, "architectures", None) or [])
    model_type = getattr(config, "model_type", "")
    name = next((ARCHITECTURES[a] for a in archs if a in ARCHITECTURES), None)
    if name is None and model_type in ("llama", "qwen2"):
        name = model_type
    if name is None:
        raise TwinError(
            f"GGUF export supports llama and qwen2 models, not {model_type or archs}; {UNSUPPORTED}"
        )
    rope = _rope(config)
    if rope.get("rope_type", "default") not in ("default", None):
        raise TwinError(
            f"GGUF export does not handle {rope['rope_type']!r} rope scaling; {UNSUPPORTED}"
        )
    heads = config.num_attention_heads
    return Arch(
        name, config.num_hidden_layers, heads, getattr(config, "num_key_value_heads", heads)
    )


def _rope(config) -> dict:
    params = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None)
    out = dict(params) if isinstance(params, dict) else {}
    if "rope_theta" not in out and getattr(config, "rope_theta", None) is not None:
        out["rope_theta"] = config.rope_theta
    if "rope_type" not in out and "type" in out:
        out["rope_type"] = out["type"]
    return out


def permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """Rows of a q/k weight (or LoRA B, or bias) from HF order to llama.cpp order."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def gguf_tensors(state: dict, config, arch: Arch) -> dict[str, np.ndarray]:
    """llama.cpp tensor names -> float32 arrays (HF row-major, which is llama.cpp's layout)."""
    tied = bool(getattr(config, "tie_word_embeddings", False))
    out: dict[str, np.ndarray] = {}
    unknown = []
    layer = re.compile(r"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")
    for key, tensor in state.items():
        if key.endswith("rotary_emb.inv_freq"):
            continue
        arr = tensor.detach().to("cpu").float().numpy()
        if key == "model.embed_tokens.weight":
            out["token_embd.weight"] = arr
        elif key == "model.norm.weight":
            out["output_norm.weight"] = arr
        elif key == "lm_head.weight":
            if not tied:
                out["output.weight"] = arr
        elif m := layer.match(key):
            i, module, kind = m.groups()
            name = LAYER_TENSORS.get(module)
            if name is None:
                unknown.append(key)
                continue
            if arch.permutes_qk and name == "attn_q":
                arr = permute_rows(arr, arch.n_head)
            elif arch.permutes_qk and name == "attn_k":
                arr = permute_rows(arr, arch.n_head_kv)
            out[f"blk.{i}.{name}.{kind}"] = arr
        else:
            unknown.append(key)
    if unknown:
        raise TwinError(
            f"GGUF export: the model has tensors llama.cpp's {arch.name} does not know "
            f"({', '.join(unknown[:4])}…); {UNSUPPORTED}"
        )
    return out


def _encode(name: str, arr: np.ndarray, quant: str):
    """(data, raw_dtype) for the writer: 1-D tensors stay F32, as llama.cpp's converter does."""
    from gguf import GGMLQuantizationType, quantize

    if arr.ndim == 1 or quant == "f32":
        return arr.astype(np.float32), None
    if quant == "q8_0" and arr.shape[-1] % 32 == 0:
        return quantize(arr.astype(np.float32), GGMLQuantizationType.Q8_0), (
            GGMLQuantizationType.Q8_0
        )
    return arr.astype(np.float16), None


def _copy_metadata(writer, header: GGUFHeader, skip: set[str]) -> None:
    """Every key of the base GGUF (hyperparameters, tokenizer) except those in `skip`."""
    from gguf import GGUFValueType

    for key, (vtype, val, itype) in header.fields.items():
        if key in skip:
            continue
        sub = GGUFValueType(itype) if itype is not None else None
        writer.add_key_value(key, val, GGUFValueType(vtype), sub_type=sub)


def _hparams(writer, config, arch: Arch, n_vocab: int) -> None:
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(arch.n_layer)
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(arch.n_head)
    writer.add_head_count_kv(arch.n_head_kv)
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_rope_freq_base(float(_rope(config).get("rope_theta", 10000.0)))
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // arch.n_head
    writer.add_rope_dimension_count(int(head_dim))
    if head_dim != config.hidden_size // arch.n_head:
        writer.add_key_length(int(head_dim))
        writer.add_value_length(int(head_dim))
    writer.add_vocab_size(n_vocab)


def pre_tokenizer_name(tokenizer_json: dict) -> str:
    """llama.cpp's name for the text splitting a byte-level BPE tokenizer does before merging."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [p.get("type") for p in parts]
    regexes = [(p.get("pattern") or {}).get("Regex") for p in parts if p.get("type") == "Split"]
    if kinds == ["ByteLevel"] and parts[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits"):
        return "smollm"
    if regexes == [_QWEN2_RE]:
        return "qwen2"
    if regexes == [_LLAMA3_RE]:
        return "llama-bpe"
    if kinds == ["Split", "ByteLevel"] and regexes == [_GPT2_RE]:
        return "gpt-2"
    raise TwinError(
        f"GGUF export: unrecognised pre-tokenizer {json.dumps(pre)[:200]}; {UNSUPPORTED}"
    )


def _tokenizer(writer, tokenizer, n_vocab: int) -> None:
    """A byte-level BPE tokenizer in llama.cpp's "gpt2" form."""
    from gguf import TokenType

    data = json.loads(tokenizer.backend_tokenizer.to_str())
    model = data.get("model") or {}
    if model.get("type") != "BPE":
        raise TwinError(
            f"GGUF export handles byte-level BPE tokenizers, not {model.get('type')}; {UNSUPPORTED}"
        )
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer_name(data))
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder  # id -> AddedToken
    tokens, types = [], []
    for i in range(n_vocab):
        token = by_id.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(TokenType.UNUSED)
        elif i in added:
            tokens.append(added[i].content)
            types.append(TokenType.CONTROL if added[i].special else TokenType.USER_DEFINED)
        else:
            tokens.append(token)
            types.append(TokenType.NORMAL)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    writer.add_token_merges(merges)
    for attr, add in (
        ("bos_token_id", writer.add_bos_token_id),
        ("eos_token_id", writer.add_eos_token_id),
        ("unk_token_id", writer.add_unk_token_id),
        ("pad_token_id", writer.add_pad_token_id),
    ):
        value = getattr(tokenizer, attr, None)
        if value is not None:
            add(int(value))
    probe = tokenizer("a")["input_ids"]
    writer.add_add_bos_token(bool(probe) and probe[0] == tokenizer.bos_token_id)


def write_model_gguf(
    model,
    tokenizer,
    out_file: Path,
    *,
    quant: str = "q8_0",
    base_gguf: Path | None = None,
    name: str = "twin",
    chat_template: str | None = None,
    progress: bool = False,
) -> Path:
    """Write a transformers llama/qwen2 model as a GGUF file (atomically).

    With `base_gguf` (the model came from that file), its metadata and tokenizer are copied as
    they are and the tensor names and shapes are checked against it; otherwise both are built
    from the HF config and tokenizer.
    """
    from gguf import GGUFWriter, LlamaFileType
    from tqdm import tqdm

    if quant not in QUANTS:
        raise TwinError(f"GGUF type must be one of {', '.join(QUANTS)}, not {quant!r}")
    config = model.config
    arch = arch_of(config)
    tensors = gguf_tensors(model.state_dict(), config, arch)
    n_vocab = tensors["token_embd.weight"].shape[0]
    header = read_header(base_gguf) if base_gguf is not None else None
    if header is not None:
        expected = {name: tuple(dims) for name, (dims, _) in header.tensors.items()}
        ours = {k: tuple(reversed(v.shape)) for k, v in tensors.items()}
        if expected != ours:
            diff = sorted(set(expected.items()) ^ set(ours.items()))[:4]
            raise TwinError(
                f"GGUF export: tensors differ from the base {base_gguf} ({diff}); {UNSUPPORTED}"
            )
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.tmp")
    writer = GGUFWriter(tmp, arch.name)
    try:
        if header is not None:
            _copy_metadata(
                writer,
                header,
                skip={
                    "general.architecture",
                    "general.file_type",
                    "general.quantization_version",
                    "general.name",
                    "tokenizer.chat_template",
                },
            )
        else:
            _hparams(writer, config, arch, n_vocab)
            _tokenizer(writer, tokenizer, n_vocab)
        writer.add_name(name)
        if chat_template:
            writer.add_chat_template(chat_template)
        ftype = {
            "q8_0": LlamaFileType.MOSTLY_Q8_0,
            "f16": LlamaFileType.MOSTLY_F16,
            "f32": LlamaFileType.ALL_F32,
        }[quant]
        writer.add_file_type(int(ftype))
        writer.add_quantization_version(2)
        items = tqdm(tensors.items(), desc=f"GGUF {quant}", unit="tensor", disable=not progress)
        for tname, arr in items:
            data, raw = _encode(tname, arr, quant)
            writer.add_tensor(tname, data, raw_dtype=raw)
        _write_file(writer)
    finally:
        writer.close()
    os.replace(tmp, out_file)
    return out_file


def _write_file(writer: GGUFWriter) -> None:
    """Header, metadata, then tensors: the order a GGUF file holds them in."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()


# --- LoRA adapters


def _adapter_config(folder: Path) -> dict:
    path = folder / "adapter_config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TwinError(f"{path}: unreadable adapter config ({e})") from e


def lora_tensors(folder: Path, arch: Arch) -> tuple[dict[str, np.ndarray], float]:
    """GGUF LoRA tensors of a PEFT adapter folder, and the alpha to record.

    The scale llama.cpp applies is alpha / rank. When that is not how the adapter scales (rsLoRA,
    per-module ranks or alphas), the scale is folded into B and alpha is written as 0, which
    llama.cpp reads as "scale 1".
    """
    from safetensors.numpy import load_file

    cfg = _adapter_config(folder)
    if cfg.get("peft_type") != "LORA":
        raise TwinError(
            f"{folder}: a {cfg.get('peft_type')} adapter cannot be a llama.cpp LoRA; only LoRA runs can"
        )
    if cfg.get("use_dora"):
        raise TwinError(f"{folder}: DoRA adapters have no llama.cpp form; export --gguf merged")
    alpha = float(cfg.get("lora_alpha") or cfg["r"])
    rslora = bool(cfg.get("use_rslora"))
    patterned = bool(cfg.get("rank_pattern") or cfg.get("alpha_pattern"))
    weights_file = folder / "adapter_model.safetensors"
    if not weights_file.is_file():
        raise TwinError(f"{weights_file}: missing (only safetensors adapters are read)")
    raw = load_file(str(weights_file))
    pattern = re.compile(r"(layers\.(\d+)\.(?:self_attn|mlp)\.(\w+))\.lora_([AB])\.weight$")
    pairs: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    paths: dict[tuple[int, str], str] = {}
    for key, value in raw.items():
        m = pattern.search(key)
        if m is None or m.group(3) not in LORA_TENSORS:
            raise TwinError(
                f"{weights_file}: {key} has no place in a llama.cpp LoRA adapter "
                "(only attention and MLP projections do); export --gguf merged instead"
            )
        _, layer, module, ab = m.groups()
        path = key.rsplit(".lora_", 1)[0]
        slot = (int(layer), LORA_TENSORS[module])
        pairs.setdefault(slot, {})[ab] = value.astype(np.float32)
        paths[slot] = path
    fold = rslora or patterned
    out: dict[str, np.ndarray] = {}
    for (layer, name), ab in sorted(pairs.items()):
        if set(ab) != {"A", "B"}:
            raise TwinError(f"{weights_file}: layer {layer} {name} lacks lora_A or lora_B")
        a, b = ab["A"], ab["B"]
        if fold:
            rank = a.shape[0]
            module_alpha = _pattern_value(cfg.get("alpha_pattern"), paths[(layer, name)], alpha)
            b = b * (module_alpha / (rank**0.5 if rslora else rank))
        if arch.permutes_qk and name == "attn_q":
            b = permute_rows(b, arch.n_head)
        elif arch.permutes_qk and name == "attn_k":
            b = permute_rows(b, arch.n_head_kv)
        out[f"blk.{layer}.{name}.weight.lora_a"] = a
        out[f"blk.{layer}.{name}.weight.lora_b"] = b
    if not out:
        raise TwinError(f"{weights_file}: no LoRA weights found")
    return out, (0.0 if fold else alpha)


def _pattern_value(patterns: dict | None, module_path: str, default: float) -> float:
    """PEFT's per-module override: a pattern matches a module path's tail."""
    for pat, value in (patterns or {}).items():
        if re.match(rf"(.*\.)?({pat})$", module_path):
            return float(value)
    return default


def write_lora_gguf(adapter_folder: Path, config, out_file: Path) -> Path:
    """A llama.cpp LoRA adapter from a PEFT adapter folder, for the base with `config`."""
    from gguf import GGUFWriter

    arch = arch_of(config)
    tensors, alpha = lora_tensors(Path(adapter_folder), arch)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.tmp")
    writer = GGUFWriter(tmp, arch.name)
    try:
        writer.add_type("adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", alpha)
        for name, arr in tensors.items():
            writer.add_tensor(name, arr)
        _write_file(writer)
    finally:
        writer.close()
    os.replace(tmp, out_file)
    return out_file


def validate_lora(adapter_file: Path, base_file: Path) -> None:
    """Raise TwinError unless llama.cpp can apply this adapter to this base.

    llama.cpp 0.3.x accepts a bad adapter at load time and then crashes the process on the first
    token, so every rule it checks is checked here first.
    """
    adapter, base = read_header(adapter_file), read_header(base_file)
    where = f"{adapter_file}"
    if adapter.get("general.type") != "adapter" or adapter.get("adapter.type") != "lora":
        raise TwinError(f"{where}: not a GGUF LoRA adapter (general.type/adapter.type)")
    a_arch, b_arch = adapter.get("general.architecture"), base.get("general.architecture")
    if a_arch != b_arch:
        raise TwinError(f"{where}: adapter architecture {a_arch} != base architecture {b_arch}")
    shapes = {name: dims for name, (dims, _) in base.tensors.items()}
    names = re.compile(
        r"^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight\.lora_([ab])$"
    )
    pairs: dict[str, dict[str, list[int]]] = {}
    for name, (dims, _) in adapter.tensors.items():
        m = names.match(name)
        if m is None:
            raise TwinError(f"{where}: tensor {name} is not a name llama.cpp accepts")
        pairs.setdefault(name[: -len(".lora_a")], {})[m.group(2)] = dims
    if not pairs:
        raise TwinError(f"{where}: holds no LoRA tensors")
    for target, ab in pairs.items():
        if set(ab) != {"a", "b"}:
            raise TwinError(f"{where}: {target} lacks lora_a or lora_b")
        if target not in shapes:
            raise TwinError(f"{where}: {target} is not a tensor of the base {base_file}")
        base_shape, a, b = shapes[target], ab["a"], ab["b"]
        if a[0] != base_shape[0] or b[1] != base_shape[1]:
            raise TwinError(
                f"{where}: {target} lora_a {a} / lora_b {b} do not fit the base tensor {base_shape}"
            )
        if a[1] != b[0]:
            raise TwinError(f"{where}: {target} lora_a and lora_b ranks differ ({a[1]} vs {b[0]})")


# --- from a run


def run_model_gguf(
    info: RunInfo, out_file: Path, quant: str = "q8_0", progress: bool = False
) -> Path:
    """The run's adapter merged into its base, as one GGUF."""
    from twin.runs import load_for_inference

    _check_lora(info)
    model, tokenizer = load_for_inference(info)
    ref = info.base()
    return write_model_gguf(
        model,
        tokenizer,
        out_file,
        quant=quant,
        base_gguf=Path(ref.path) / ref.gguf_file if ref.is_gguf else None,
        name=info.name or "twin",
        chat_template=info.chat_format.template,
        progress=progress,
    )


def run_adapter_gguf(
    info: RunInfo, out_dir: Path, quant: str = "q8_0", progress: bool = False
) -> tuple[Path, Path]:
    """(base.gguf, adapter.gguf): the base as llama.cpp reads it, and the run's LoRA for it.

    A GGUF base is copied as it is (llama.cpp then sees exactly the weights training saw);
    any other base is written with `quant`.
    """
    import shutil

    from twin.models import load_config, load_model, load_tokenizer

    _check_lora(info)
    ref = info.base()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base_out = out_dir / "base.gguf"
    if ref.is_gguf:
        shutil.copyfile(Path(ref.path) / ref.gguf_file, base_out)
    else:
        write_model_gguf(
            load_model(ref),
            load_tokenizer(ref),
            base_out,
            quant=quant,
            name=f"{ref.display} (base)",
            chat_template=info.chat_format.template,
            progress=progress,
        )
    config = load_config(ref)
    adapter = write_lora_gguf(info.folder, config, out_dir / "adapter.gguf")
    validate_lora(adapter, base_out)
    return base_out, adapter


def _check_lora(info: RunInfo) -> None:
    if info.folder is None:
        return
    if info.method == "ptuning":
        raise TwinError(
            "P-tuning runs keep a learned prefix that llama.cpp cannot run; serve them with "
            "--engine transformers or export --to space"
        )


def export_gguf(
    info: RunInfo, out: Path, quant: str = "q8_0", mode: str = "merged", progress: bool = False
) -> list[Path]:
    """`twin export --to gguf`: the merged model and/or base + adapter, with a how-to-run note."""
    out = Path(out)
    written: list[Path] = []
    if mode in ("merged", "both"):
        written.append(run_model_gguf(info, out / f"model-{quant}.gguf", quant, progress))
    if mode in ("adapter", "both"):
        written.extend(run_adapter_gguf(info, out, quant, progress))
    lines = ["# Running this export with llama.cpp", ""]
    names = [p.name for p in written]
    if f"model-{quant}.gguf" in names:
        lines += [
            "The run's adapter merged into its base, one file:",
            "",
            f"    llama-cli -m model-{quant}.gguf -cnv",
            f"    llama-server -m model-{quant}.gguf      # OpenAI-compatible server",
            "",
        ]
    if "adapter.gguf" in names:
        lines += [
            "The base model and the run's LoRA adapter, applied at load time:",
            "",
            "    llama-cli -m base.gguf --lora adapter.gguf -cnv",
            "",
        ]
    lines += [
        "From Python (pip install llama-cpp-python):",
        "",
        "    from llama_cpp import Llama",
        f"    llm = Llama(model_path='{names[0]}')",
        "",
        f"Chat format: the model was trained with the template stored in the GGUF "
        f"(tokenizer.chat_template); system prompt: {info.system_prompt!r}.",
    ]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written
