"""An Ollama model: the merged GGUF plus a Modelfile (template, system prompt, defaults, stops).

Ollama templates are Go templates, while a run's chat format is a Jinja template (or ChatGLM's
rounds), and no general translation exists. The run's template is therefore matched against the
turn layouts Ollama models use — ChatML (Qwen, SmolLM, the tiny test model), Llama 3, Phi-3 — by
rendering probe conversations both ways, including a default system preamble the template may add
on its own (SmolLM2's does). The Go template is written only when every probe renders identically;
otherwise the Modelfile says so and Ollama falls back to the GGUF's own tokenizer.chat_template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from twin.errors import TwinError
from twin.runs import RunInfo


@dataclass(frozen=True)
class Layout:
    """How one turn of each role is wrapped, and what starts the reply."""

    name: str
    system: tuple[str, str]
    user: tuple[str, str]
    assistant: tuple[str, str]
    generation: str
    bos: str = ""  # added by the tokenizer, so not part of the Ollama template
    preamble: str = ""  # what the template writes when there is no system message

    def render(self, messages: list[dict]) -> str:
        """What the Go template below produces for these messages (for the probes)."""
        system = [m for m in messages if m["role"] == "system"]
        out = self.bos
        if system:
            out += self.system[0] + system[0]["content"] + self.system[1]
        else:
            out += self.preamble
        for m in messages:
            if m["role"] in ("user", "assistant"):
                pre, post = getattr(self, m["role"])
                out += pre + m["content"] + post
        return out + self.generation

    def go_template(self) -> str:
        s, u, a = self.system, self.user, self.assistant
        otherwise = f"{{{{ else }}}}{self.preamble}" if self.preamble else ""
        return (
            f"{{{{ if .System }}}}{s[0]}{{{{ .System }}}}{s[1]}{otherwise}{{{{ end }}}}"
            "{{ range .Messages }}"
            f'{{{{ if eq .Role "user" }}}}{u[0]}{{{{ .Content }}}}{u[1]}'
            f'{{{{ else if eq .Role "assistant" }}}}{a[0]}{{{{ .Content }}}}{a[1]}'
            "{{ end }}{{ end }}"
            f"{self.generation}"
        )


def _chatml(role: str) -> tuple[str, str]:
    return (f"<|im_start|>{role}\n", "<|im_end|>\n")


def _llama3(role: str) -> tuple[str, str]:
    return (f"<|start_header_id|>{role}<|end_header_id|>\n\n", "<|eot_id|>")


def _phi3(role: str) -> tuple[str, str]:
    return (f"<|{role}|>\n", "<|end|>\n")


LAYOUTS = [
    Layout("chatml", _chatml("system"), _chatml("user"), _chatml("assistant"), "<|im_start|>assistant\n"),
    Layout(
        "llama3",
        _llama3("system"),
        _llama3("user"),
        _llama3("assistant"),
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        bos="<|begin_of_text|>",
    ),
    Layout("phi3", _phi3("system"), _phi3("user"), _phi3("assistant"), "<|assistant|>\n"),
]  # fmt: skip

_S, _U1, _A1, _U2 = "\x01system text\x01", "\x01first\x01", "\x01reply\x01", "\x01second\x01"
PROBES = [
    [
        {"role": "system", "content": _S},
        {"role": "user", "content": _U1},
        {"role": "assistant", "content": _A1},
        {"role": "user", "content": _U2},
    ],
    [
        {"role": "user", "content": _U1},
        {"role": "assistant", "content": _A1},
        {"role": "user", "content": _U2},
    ],
    [{"role": "system", "content": _S}, {"role": "user", "content": _U1}],
    [{"role": "user", "content": _U1}],
]


def match_layout(render) -> Layout | None:
    """The layout that renders every probe exactly as `render(messages)` does, if one does."""
    for layout in LAYOUTS:
        try:
            alone = render(PROBES[3])
        except Exception:  # templates may refuse some shapes (e.g. strict role alternation)
            return None
        tail = layout.user[0] + _U1 + layout.user[1] + layout.generation
        if not (alone.startswith(layout.bos) and alone.endswith(tail)):
            continue
        preamble = alone[len(layout.bos) : len(alone) - len(tail)]
        candidate = replace(layout, preamble=preamble)
        try:
            if all(render(p) == candidate.render(p) for p in PROBES):
                return candidate
        except Exception:
            return None
    return None


def _quote(text: str, what: str) -> str:
    if '"""' in text:
        raise TwinError(f'the {what} contains """, which a Modelfile cannot quote')
    return f'"""{text}"""'


def modelfile(info: RunInfo, gguf_name: str, layout: Layout | None, context: int) -> str:
    g = info.generation
    lines = [
        f"# Ollama model for {info.name or 'a twin'}, made by `twin export --to ollama`.",
        f"#   ollama create {ollama_name(info)} -f Modelfile && ollama run {ollama_name(info)}",
        f"FROM ./{gguf_name}",
    ]
    stops = [s for s in info.chat_format.stop if s]
    if layout is not None:
        lines.append(f"# chat format: {layout.name}, as in training")
        lines.append(f"TEMPLATE {_quote(layout.go_template(), 'chat template')}")
        end = layout.assistant[1].strip()
        if end and end not in stops:
            stops.append(end)
    else:
        lines.append(
            "# The run's chat template has no known Ollama equivalent, so no TEMPLATE is set:"
        )
        lines.append("# Ollama uses the template stored in the GGUF (tokenizer.chat_template).")
    if info.system_prompt:
        lines.append(f"SYSTEM {_quote(info.system_prompt, 'system prompt')}")
    lines += [
        f"PARAMETER temperature {g.temperature}",
        f"PARAMETER top_p {g.top_p}",
        f"PARAMETER num_predict {g.max_new_tokens}",
        f"PARAMETER repeat_penalty {g.repetition_penalty}",
        f"PARAMETER num_ctx {context}",
    ]
    for stop in stops:
        escaped = stop.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'PARAMETER stop "{escaped}"')
    return "\n".join(lines) + "\n"


def ollama_name(info: RunInfo) -> str:
    base = info.name or (info.folder.name if info.folder else "twin")
    slug = re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip("-._")
    return f"{slug}-twin" if slug else "twin"


def export_ollama(info: RunInfo, out: Path, quant: str = "q8_0", progress: bool = False) -> Path:
    """Write model-<quant>.gguf and Modelfile into `out`; returns the Modelfile's path."""
    from twin.export.gguf import run_model_gguf
    from twin.models import load_config, load_tokenizer

    if info.chat_format.kind == "chatglm":
        raise TwinError("ChatGLM models have no GGUF export, so no Ollama export either")
    out = Path(out)
    gguf = run_model_gguf(info, out / f"model-{quant}.gguf", quant, progress)
    tokenizer = load_tokenizer(info.base())
    layout = match_layout(
        lambda msgs: info.chat_format.render(tokenizer, msgs, add_generation_prompt=True)
    )
    config = load_config(info.base())
    context = min(4096, int(getattr(config, "max_position_embeddings", 2048) or 2048))
    path = out / "Modelfile"
    path.write_text(modelfile(info, gguf.name, layout, context), encoding="utf-8")
    return path
