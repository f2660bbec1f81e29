"""Exported GGUF files run in llama.cpp (llama-cpp-python) and agree with transformers.

Skipped as a whole, saying why, when llama-cpp-python is not installed (it compiles llama.cpp,
~10 minutes). What is compared:
- F32 files (merged, or base + GGUF LoRA): logits within 0.1 of transformers + PEFT and the same
  greedy replies. A missing Q/K permutation shows as logit errors of ~9.
- the files users get by default (merged Q8_0; the default model's own Q4_1 base + LoRA): they
  load and answer, and differ from transformers no more than quantization makes the untuned base
  differ (llama.cpp multiplies 4/8-bit weights with quantized activations), so greedy replies can
  part after a few tokens; the counts are printed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

llama_cpp = pytest.importorskip(
    "llama_cpp",
    reason="llama-cpp-python is not installed (pip install llama-cpp-python); "
    "GGUF exports are not run through llama.cpp",
)

from twin.errors import TwinError  # noqa: E402
from twin.generate import Generator, Settings  # noqa: E402
from twin.runs import read_run  # noqa: E402
from twin.serve.engine import LlamaCppGenerator, load_engine  # noqa: E402

GREEDY = Settings(temperature=0, max_new_tokens=32)


# How far llama.cpp's logits from an f32 GGUF, with an f32 KV cache, may be from transformers'
# f32 ones (largest difference over the vocabulary; 4e-5 measured on the default model).
AGREE = 1e-3
# llama_cpp.Llama arguments for an f32 KV cache (GGML type 0); its default is f16.
F32_CACHE = {"type_k": 0, "type_v": 0}


def llama_logits(model: Path, ids: list[int], lora: Path | None = None) -> np.ndarray:
    llm = llama_cpp.Llama(
        model_path=str(model),
        **F32_CACHE,
        lora_path=str(lora) if lora else None,
        n_ctx=512,
        logits_all=True,
        verbose=False,
    )
    try:
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)])
    finally:
        llm.close()


def torch_logits(gen: Generator, ids: list[int]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return gen.model(torch.tensor([ids])).logits[0].numpy()


def replies(gen, prompts: list[str], settings: Settings = GREEDY) -> list[str]:
    return [gen.reply([{"role": "user", "content": p}], settings) for p in prompts]


# --- the tiny run


@pytest.fixture(scope="module")
def tiny_gguf(tiny_run, tmp_path_factory) -> Path:
    from twin.export.gguf import export_gguf

    out = tmp_path_factory.mktemp("tiny_gguf")
    export_gguf(read_run(tiny_run), out, "f32", "both")
    export_gguf(read_run(tiny_run), out, "q8_0", "merged")
    return out


@pytest.fixture(scope="module")
def tiny_gen(tiny_run) -> Generator:
    return Generator(read_run(tiny_run))


def tiny_prompts():
    from tiny import QUESTIONS

    return QUESTIONS


@pytest.mark.parametrize("route", ["merged", "base+lora"])
def test_tiny_f32_matches_transformers(tiny_gguf, tiny_gen, route):
    model = tiny_gguf / ("model-f32.gguf" if route == "merged" else "base.gguf")
    lora = tiny_gguf / "adapter.gguf" if route == "base+lora" else None
    for prompt in tiny_prompts():
        ids = tiny_gen.prompt_ids([{"role": "user", "content": prompt}], 32)
        diff = np.abs(torch_logits(tiny_gen, ids) - llama_logits(model, ids, lora)).max()
        assert diff < 1e-3, (prompt, diff)
    engine = LlamaCppGenerator(tiny_gen.info, model, lora)
    try:
        # the random tiny model emits broken UTF-8 byte tokens, which transformers shows as
        # U+FFFD and llama-cpp-python drops: compare the text around them
        def clean(texts):
            return [t.replace("\ufffd", "") for t in texts]

        assert clean(replies(engine, tiny_prompts())) == clean(replies(tiny_gen, tiny_prompts()))
    finally:
        engine.close()


def test_tiny_q8_0_loads_and_answers(tiny_gguf, tiny_gen):
    engine = LlamaCppGenerator(tiny_gen.info, tiny_gguf / "model-q8_0.gguf")
    try:
        pieces = list(engine.stream([{"role": "user", "content": "hello there"}], GREEDY))
        assert all(isinstance(p, str) for p in pieces)
        sampled = engine.reply(
            [{"role": "user", "content": "hi"}], Settings(temperature=1.0, max_new_tokens=8, seed=1)
        )
        assert isinstance(sampled, str)
    finally:
        engine.close()


def test_mismatched_adapter_is_refused_before_llama_cpp_sees_it(tiny_gguf, tiny_gen, tmp_path):
    """llama.cpp would accept this file and crash on the first token; twin refuses it."""
    import shutil

    from gguf import GGUFWriter

    w = GGUFWriter(tmp_path / "bad.gguf", "llama")
    w.add_type("adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", 16.0)
    w.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((64, 8), np.float32))  # transposed
    w.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((64, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    shutil.copyfile(tiny_gguf / "base.gguf", tmp_path / "base.gguf")
    with pytest.raises(TwinError, match="do not fit"):
        LlamaCppGenerator(tiny_gen.info, tmp_path / "base.gguf", tmp_path / "bad.gguf")


def test_serve_engine_makes_and_reuses_a_cached_gguf(tiny_run, tmp_path, monkeypatch):
    import openai

    from twin.serve.config import page_config
    from twin.serve.server import ServeOptions, Server, bind, build_app

    monkeypatch.setenv("TWIN_CACHE", str(tmp_path / "cache"))
    info = read_run(tiny_run)
    engine = load_engine(info, "llamacpp")
    cached = engine.model_path
    assert cached.is_file() and str(cached).startswith(str(tmp_path / "cache"))
    stamp = cached.stat().st_mtime_ns
    app, close = build_app(engine, page_config(info), ServeOptions(port=0, page=False, api=True))
    server = Server(app, bind("127.0.0.1", 0)).start()
    try:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0)
        r = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hello there"}], max_tokens=8
        )
        assert isinstance(r.choices[0].message.content, str)
        chunks = list(
            client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "hello there"}],
                max_tokens=8,
                stream=True,
            )
        )
        assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    finally:
        server.stop()
        close()
        engine.close()
    again = load_engine(info, "llamacpp")
    try:
        assert again.model_path == cached and cached.stat().st_mtime_ns == stamp
    finally:
        again.close()


# --- the default model (slow)


@pytest.fixture(scope="module")
def default_files(tmp_path_factory):
    """A default-model run and its GGUF exports: the defaults users get, and F32 ones."""
    from default_run import make_default_run

    from twin.export.gguf import export_gguf, write_model_gguf
    from twin.models import load_model, load_tokenizer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TWIN_CACHE", str(tmp_path_factory.getbasetemp() / "twin-cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        root = tmp_path_factory.mktemp("default_gguf")
        run = make_default_run(root / "run")
        info = read_run(run)
        out = root / "gguf"
        export_gguf(info, out, "q8_0", "both")  # model-q8_0.gguf, base.gguf (Q4_1), adapter.gguf
        export_gguf(info, out, "f32", "merged")  # model-f32.gguf
        ref = info.base()
        write_model_gguf(
            load_model(ref),
            load_tokenizer(ref),
            out / "base-f32.gguf",
            quant="f32",
            base_gguf=Path(ref.path) / ref.gguf_file,
        )
        yield info, out


@pytest.mark.slow
def test_default_model_in_llama_cpp(default_files, monkeypatch):
    from default_run import PROMPTS

    from twin.runs import base_info

    info, out = default_files
    gen = Generator(info)
    expected = replies(gen, PROMPTS)
    untuned = Generator(base_info("default", info.system_prompt))
    assert replies(untuned, PROMPTS[:2]) != expected[:2]  # the adapter matters

    # exact routes: the same greedy replies. llama.cpp keeps its attention (KV) cache in f16 by
    # default, which alone moves the logits by up to ~0.02 over a reply (see docs/llamacpp.md):
    # for this comparison the engine runs with an f32 cache, as llama_logits does. Two f32
    # implementations still sum in different orders (and the adapter route computes
    # W·x + B·(A·x) instead of (W + B·A)·x), so where two tokens tie to float rounding greedy
    # may take the other one: allowed only at a true tie, with the logits equal there.
    real_llama = llama_cpp.Llama
    monkeypatch.setattr(llama_cpp, "Llama", lambda *a, **k: real_llama(*a, **{**F32_CACHE, **k}))
    for model, lora in ((out / "model-f32.gguf", None), (out / "base-f32.gguf", out / "adapter.gguf")):  # fmt: skip
        engine = LlamaCppGenerator(info, model, lora)
        try:
            got = replies(engine, PROMPTS)
        finally:
            engine.close()
        for prompt, a, b in zip(PROMPTS, got, expected, strict=True):
            if a != b:
                _assert_tie(gen, prompt, a, b, model, lora)
    monkeypatch.setattr(llama_cpp, "Llama", real_llama)

    # quantized routes: logits as close as the untuned Q4_1 base itself gets
    ids = gen.prompt_ids([{"role": "user", "content": PROMPTS[1]}], 32)
    noise = np.abs(torch_logits(untuned, ids) - llama_logits(out / "base.gguf", ids)).max()
    reference = torch_logits(gen, ids)
    report = []
    for name, model, lora in (
        ("merged Q8_0", out / "model-q8_0.gguf", None),
        ("Q4_1 base + LoRA", out / "base.gguf", out / "adapter.gguf"),
    ):
        diff = np.abs(reference - llama_logits(model, ids, lora)).max()
        assert diff < 2.5 * noise + 0.5, (name, diff, noise)
        engine = LlamaCppGenerator(info, model, lora)
        try:
            got = replies(engine, PROMPTS)
        finally:
            engine.close()
        assert all(g.strip() for g in got)
        same = sum(a == b for a, b in zip(got, expected, strict=True))
        report.append(f"{name}: max logit diff {diff:.2f}, greedy {same}/{len(PROMPTS)} identical")
    print(f"\nllama.cpp vs transformers (Q4_1 base alone differs by {noise:.2f}):")
    print("\n".join(report))


def _assert_tie(gen, prompt: str, got: str, expected: str, model: Path, lora: Path) -> None:
    """Two greedy replies part where transformers' top two logits tie (to float rounding) and
    llama.cpp's logits there equal transformers'."""
    prompt_ids = gen.prompt_ids([{"role": "user", "content": prompt}], 64)
    a = gen.tokenizer(got, add_special_tokens=False)["input_ids"]
    b = gen.tokenizer(expected, add_special_tokens=False)["input_ids"]
    k = next(i for i, (x, y) in enumerate(zip(a + [-1], b + [-2], strict=False)) if x != y)
    ids = prompt_ids + b[:k]
    ours = torch_logits(gen, ids)[-1]
    theirs = llama_logits(model, ids, lora)[-1]
    # a tie within what the two implementations' logits may differ by (checked right after)
    top2 = np.sort(ours)[-2:]
    assert top2[1] - top2[0] < AGREE, (prompt, k, top2)
    assert np.abs(ours - theirs).max() < AGREE, (prompt, k)


def test_qwen2_architecture_model_and_adapter(tmp_path):
    """Qwen2 (q/k/v biases, no row permutation): the writers' other architecture."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from tiny import make_tokenizer
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from twin.export.gguf import validate_lora, write_lora_gguf, write_model_gguf

    folder = tmp_path / "qwen"
    tok = make_tokenizer(folder)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():  # random biases, so a dropped or misplaced bias shows
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.5)
    model.save_pretrained(folder)
    write_model_gguf(model, tok, tmp_path / "base.gguf", quant="f32")
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", use_rslora=True)
    )
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    peft_model.save_pretrained(tmp_path / "adapter")
    write_lora_gguf(tmp_path / "adapter", config, tmp_path / "adapter.gguf")
    validate_lora(tmp_path / "adapter.gguf", tmp_path / "base.gguf")
    ids = tok("hello there how are you", add_special_tokens=False)["input_ids"]
    base = Qwen2ForCausalLM.from_pretrained(folder).eval()
    with torch.no_grad():
        want_base = base(torch.tensor([ids])).logits[0].numpy()
        adapted = PeftModel.from_pretrained(base, str(tmp_path / "adapter")).eval()  # in place
        want = adapted(torch.tensor([ids])).logits[0].numpy()
    got_base = llama_logits(tmp_path / "base.gguf", ids)
    assert np.abs(want_base - got_base).max() < 1e-3
    got = llama_logits(tmp_path / "base.gguf", ids, tmp_path / "adapter.gguf")
    assert np.abs(want - want_base).max() > 0.01  # the adapter changes the logits
    assert np.abs(want - got).max() < 1e-3  # and llama.cpp applies it the same way (rsLoRA)
