"""`twin eval`'s speed-ups keep its answers: batched replies equal one-at-a-time ones, replies stop
at the end-of-turn token, and the untuned base's cached result is reused only for identical
inputs."""

from __future__ import annotations

import json

import pytest
import torch

from twin.eval.batch import _RowSampler, batch_replies
from twin.generate import Generator, Settings
from twin.runs import read_run


def _eval(twin, tiny_run, tiny_dataset, out, *extra):
    r = twin(
        "eval", tiny_run, "--data", tiny_dataset, "--samples", "2", "--max-new-tokens", "4",
        "--temperature", "1.0", "-o", out, *extra,
    )  # fmt: skip
    assert r.code == 0, r.err
    return json.loads((out / "eval.json").read_text(encoding="utf-8")), r.err


def test_the_base_is_reused_only_for_identical_inputs(twin, tiny_run, tiny_dataset, tmp_path):
    first, err = _eval(twin, tiny_run, tiny_dataset, tmp_path / "a")
    assert "cached" not in first["systems"][1] and "reused" not in err
    # what it does is said before each wait, and the progress line keeps the whole label
    assert "loading" in err and "dev loss on" in err and f"  {tiny_run}: reply " in err
    again, err = _eval(twin, tiny_run, tiny_dataset, tmp_path / "b")
    run, base = again["systems"]
    assert base["kind"] == "base" and base["cached"] is True and "cached" not in run
    assert "reused from an earlier eval" in err
    assert base["dev_loss"] == first["systems"][1]["dev_loss"]
    assert [s["replies"] for s in again["samples"]] == [s["replies"] for s in first["samples"]]
    assert base["privacy"] == first["systems"][1]["privacy"]

    longer, _ = _eval(twin, tiny_run, tiny_dataset, tmp_path / "c", "--max-new-tokens", "5")
    assert "cached" not in longer["systems"][1]
    other_seed, _ = _eval(twin, tiny_run, tiny_dataset, tmp_path / "d", "--seed", "3")
    assert "cached" not in other_seed["systems"][1]
    fresh, _ = _eval(twin, tiny_run, tiny_dataset, tmp_path / "e", "--no-cache")
    assert "cached" not in fresh["systems"][1]


def test_a_reply_does_not_depend_on_its_batch(tiny_run, tiny_dataset):
    gen = Generator(read_run(tiny_run))
    histories = [
        [{"role": "user", "content": q}] for q in ("hello there", "how are you", "晚上 吃 什么")
    ]
    histories.append([*histories[0], {"role": "assistant", "content": "hi"}, *histories[1]])
    s = Settings(temperature=1.0, top_p=0.9, max_new_tokens=6)
    seeds = [11, 12, 13, 14]
    one_by_one = batch_replies(gen, histories, s, seeds, batch_size=1)
    batched = batch_replies(gen, histories, s, seeds, batch_size=4)
    assert batched == one_by_one
    assert batch_replies(gen, histories, s, [21, 22, 23, 24], batch_size=4) != batched
    greedy = Settings(temperature=0, max_new_tokens=6)
    assert batch_replies(gen, histories, greedy, seeds, 3) == batch_replies(
        gen, histories, greedy, seeds, 1
    )


def test_rows_stop_at_the_end_of_turn_token(tiny_run, monkeypatch):
    """Generation is told the end-of-turn id, and a row's text ends at it even when the batch
    ran on for longer rows."""
    gen = Generator(read_run(tiny_run))
    tok = gen.tokenizer
    end = tok.convert_tokens_to_ids("<|im_end|>")
    word = tok("lol", add_special_tokens=False)["input_ids"]
    seen = {}

    def fake_generate(**kwargs):
        seen.update(kwargs)
        ids = kwargs["input_ids"]
        tail = torch.tensor([word + [end] + word * 3, word * 4 + [end]])
        return torch.cat([ids, tail[:, : 4 * len(word) + 1]], dim=1)

    monkeypatch.setattr(gen.model, "generate", fake_generate)
    histories = [[{"role": "user", "content": "hello there"}], [{"role": "user", "content": "hi"}]]
    replies = batch_replies(gen, histories, Settings(temperature=0), [1, 2], batch_size=2)
    assert end in seen["eos_token_id"] and seen["attention_mask"].shape == seen["input_ids"].shape
    assert replies == ["lol", "lollollollol"] or replies == ["lollollollol", "lol"]


def test_row_sampler_keeps_to_the_nucleus_and_its_seed():
    scores = torch.log(torch.tensor([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]))
    picks = set()
    for seed in range(40):
        out = _RowSampler([seed, seed + 100], 1.0, 0.6)(None, scores)
        assert torch.isfinite(out).sum(dim=-1).tolist() == [1, 1]
        picks.add(int(out[0].argmax()))
    assert picks == {0, 1}  # 0.5 + 0.3 reach top_p 0.6; the 0.2 token is never drawn
    only = _RowSampler([1, 2], 1.0, 0.4)(None, scores)
    assert only.argmax(dim=-1).tolist() == [0, 0]
    a = _RowSampler([7, 8], 1.0, 1.0)
    b = _RowSampler([7, 9], 1.0, 1.0)
    draws_a = [a(None, scores).argmax(-1).tolist() for _ in range(20)]
    draws_b = [b(None, scores).argmax(-1).tolist() for _ in range(20)]
    assert [d[0] for d in draws_a] == [d[0] for d in draws_b]  # row 0: same seed, same draws


@pytest.mark.parametrize("bad", ["0", "x"])
def test_batch_flag_is_checked(twin, tiny_run, tiny_dataset, bad, capsys):
    with pytest.raises(SystemExit):
        twin("eval", tiny_run, "--data", tiny_dataset, "--batch", bad)
    assert "--batch" in capsys.readouterr().err
