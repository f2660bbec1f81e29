"""The run's LoRA merged into its base: one plain transformers model folder (safetensors).

Anything that loads a Hugging Face model loads it — `AutoModelForCausalLM.from_pretrained(dir)`,
vLLM, TGI, llama.cpp's converter — with no PEFT and no twin. The run's chat template goes into the
tokenizer and its generation defaults into generation_config.json, so `apply_chat_template` and
`generate` behave as in `twin chat`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from twin.errors import TwinError
from twin.models import save_plain
from twin.runs import RunInfo


def base_dtype(info: RunInfo):
    """The dtype to save in: the base's own for Hugging Face models; float32 for GGUF bases.

    A GGUF base's weights are dequantized floats that no 16-bit type holds exactly, and
    float32 keeps the merged model's logits identical to base + adapter.
    """
    import torch

    from twin.models import load_config

    ref = info.base()
    if ref.is_gguf:
        return torch.float32
    config = load_config(ref)
    declared = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(declared, str):
        declared = getattr(torch, declared, None)
    return declared if declared in (torch.float16, torch.bfloat16, torch.float32) else torch.float32


def _generation_config(model, tokenizer, info: RunInfo) -> None:
    """The run's generation defaults and stop tokens, so plain `generate` stops where twin does."""
    g = info.generation
    gc = model.generation_config
    gc.do_sample = g.temperature > 0
    gc.temperature = g.temperature if g.temperature > 0 else None
    gc.top_p = g.top_p if g.temperature > 0 else None
    gc.max_new_tokens = g.max_new_tokens
    gc.repetition_penalty = g.repetition_penalty
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    for stop in info.chat_format.stop:
        tid = tokenizer.convert_tokens_to_ids(stop)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            eos.append(tid)
    if eos:
        gc.eos_token_id = sorted(set(eos))
    if gc.pad_token_id is None and tokenizer.pad_token_id is not None:
        gc.pad_token_id = tokenizer.pad_token_id


def export_merged(info: RunInfo, out: Path) -> Path:
    """Write the merged model into `out` (an empty folder); returns `out`."""
    from twin.runs import load_for_inference

    if info.method == "ptuning":
        raise TwinError(
            "a P-tuning run has a learned prefix, not weights that merge into the base; "
            "export it --to space (base + adapter) instead"
        )
    out = Path(out)
    model, tokenizer = load_for_inference(info)
    if info.chat_format.kind == "template" and info.chat_format.template:
        tokenizer.chat_template = info.chat_format.template
    _generation_config(model, tokenizer, info)
    tmp = Path(tempfile.mkdtemp(prefix=".merged-", dir=out))
    try:
        save_plain(model, tokenizer, tmp, base_dtype(info))
        for item in tmp.iterdir():
            shutil.move(str(item), out / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    (out / "README.md").write_text(_readme(info), encoding="utf-8")
    return out


def _readme(info: RunInfo) -> str:
    system = json.dumps(info.system_prompt, ensure_ascii=False)
    return f"""# {info.name or "twin"}: merged model

The LoRA adapter of a `twin` run merged into its base ({info.base().display}), saved as
safetensors with the tokenizer. It loads with plain transformers:

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")
tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")
messages = [{{"role": "system", "content": {system}}}, {{"role": "user", "content": "hi"}}]
inputs = tokenizer.apply_chat_template(
    messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
)
out = model.generate(**inputs)
print(tokenizer.decode(out[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True))
```

The system prompt used in training is {system}; the generation defaults are in
generation_config.json.
"""
