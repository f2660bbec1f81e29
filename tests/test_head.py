"""The output layer on exactly the trained tokens (twin.train.head): same loss and gradients as
full logits, output-layer rows equal to the trained tokens, chunking, and the safe fallback."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from twin.train import head as H
from twin.train.data import IGNORE


def _batch(vocab: int, seed: int = 0) -> dict:
    """Three rows whose trained tokens sit at different offsets (the union wastes rows)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (3, 24), generator=g)
    labels = torch.full_like(ids, IGNORE)
    for row, (a, b) in enumerate([(3, 7), (10, 15), (18, 24)]):
        labels[row, a:b] = ids[row, a:b]
    attention = torch.ones_like(ids)
    attention[0, 20:] = 0  # right padding in one row
    labels[0, 20:] = IGNORE
    return {"input_ids": ids, "labels": labels, "attention_mask": attention}


def _full_logits_loss(model, batch) -> torch.Tensor:
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits[:, :-1].float()
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)),
        batch["labels"][:, 1:].reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )


def _grads(model, fn) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = fn()
    loss.backward()
    return float(loss.detach()), [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from tiny import make_gemma_model, make_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("head")
    llama = AutoModelForCausalLM.from_pretrained(make_model(root / "llama"))
    gemma = AutoModelForCausalLM.from_pretrained(make_gemma_model(root / "gemma", softcap=5.0))
    return {"llama": llama, "gemma": gemma}


@pytest.mark.parametrize("name", ["llama", "gemma"])
@pytest.mark.parametrize("frozen_head", [True, False])
def test_same_loss_and_gradients_as_full_logits(models, name, frozen_head, monkeypatch):
    """Frozen output layer (as with LoRA): twin's fused chunk function; trained: autograd."""
    model = models[name]
    model.__dict__.pop("_twin_trained_head", None)
    weight = model.get_output_embeddings().weight
    monkeypatch.setattr(weight, "requires_grad", not frozen_head)  # restored after the test
    batch = _batch(model.config.vocab_size)
    ref_loss, ref_grads = _grads(model, lambda: _full_logits_loss(model, batch))
    monkeypatch.setattr(H, "CHUNK_ELEMENTS", model.config.vocab_size * 4)  # 4 rows a chunk
    for _ in range(2):  # the first call checks the shortcut, the second uses it alone
        result = {}

        def run(result=result):
            result["r"] = H.loss_sum(model, batch, "cpu", None)
            return result["r"].loss

        loss, grads = _grads(model, run)
        assert loss == pytest.approx(ref_loss, rel=1e-5)
        assert len(grads) == len(ref_grads)
        for a, b in zip(grads, ref_grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert model._twin_trained_head is True
    trained = int((batch["labels"][:, 1:] != IGNORE).sum())
    assert result["r"].tokens == trained
    assert result["r"].head_rows == trained  # exactly the trained tokens, nothing else


def test_union_computes_many_more_rows(models):
    model = models["gemma"]
    batch = _batch(model.config.vocab_size)
    union = H.union_loss_sum(model, batch, "cpu", None)
    exact = H.loss_sum(model, batch, "cpu", None)
    assert float(union.loss) == pytest.approx(float(exact.loss), rel=1e-5)
    assert union.tokens == exact.tokens
    assert union.head_rows == 3 * union.tokens  # every row at every trained position
    assert exact.head_rows == exact.tokens


def test_falls_back_when_the_head_does_not_reproduce_the_logits(models):
    """A model whose logits are not head(final hidden state) as twin computes them keeps the
    union approach for the run (Llama ignores a soft-cap its config is given; twin would not)."""
    model = models["llama"]
    model.__dict__.pop("_twin_trained_head", None)
    model.config.final_logit_softcapping = 2.0
    try:
        batch = _batch(model.config.vocab_size)
        r = H.loss_sum(model, batch, "cpu", None)
        assert model._twin_trained_head is False
        assert float(r.loss) == pytest.approx(float(_full_logits_loss(model, batch)), rel=1e-5)
        assert r.head_rows > r.tokens
    finally:
        model.config.final_logit_softcapping = None
        model.__dict__.pop("_twin_trained_head", None)


def test_a_trained_output_layer_gets_its_gradient():
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 50, bias=False)
    hidden = torch.randn(7, 8, requires_grad=True)
    y = torch.randint(0, 50, (7,))
    loss = H.head_loss(hidden, head, y, cap=3.0)
    loss.backward()
    ref = F.cross_entropy(3.0 * torch.tanh(head(hidden) / 3.0), y, reduction="sum")
    assert float(loss) == pytest.approx(float(ref), rel=1e-5)
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0


def test_chunked_function_matches_autograd_with_bias_and_cap(monkeypatch):
    torch.manual_seed(1)
    weight, bias = torch.randn(40, 6), torch.randn(40)
    hidden = torch.randn(9, 6, requires_grad=True)
    y = torch.randint(0, 40, (9,))
    monkeypatch.setattr(H, "CHUNK_ELEMENTS", 80)  # 2 rows a chunk
    head = torch.nn.Linear(6, 40)
    head.weight.data, head.bias.data = weight, bias
    head.requires_grad_(False)
    loss = H.head_loss(hidden, head, y, cap=4.0)
    (g,) = torch.autograd.grad(loss * 2.0, hidden)
    h2 = hidden.detach().clone().requires_grad_(True)
    ref = F.cross_entropy(4.0 * torch.tanh((h2 @ weight.t() + bias) / 4.0), y, reduction="sum")
    (g_ref,) = torch.autograd.grad(ref * 2.0, h2)
    assert float(loss) == pytest.approx(float(ref), rel=1e-5)
    torch.testing.assert_close(g, g_ref, rtol=1e-4, atol=1e-6)


def test_chunked_function_under_bf16_autocast_is_close_to_fp32():
    """Under autocast the matrix is cast once and the matmuls run in bf16; loss and gradient
    stay close to fp32 and come back in the hidden states' own dtype."""
    torch.manual_seed(2)
    head = torch.nn.Linear(16, 300, bias=False).requires_grad_(False)
    hidden = torch.randn(12, 16, requires_grad=True)
    y = torch.randint(0, 300, (12,))
    (g32,) = torch.autograd.grad(H.head_loss(hidden, head, y), hidden)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = H.head_loss(hidden, head, y)
    (g16,) = torch.autograd.grad(loss, hidden)
    ref = F.cross_entropy(head(hidden), y, reduction="sum")
    assert float(loss) == pytest.approx(float(ref), rel=2e-2)
    assert g16.dtype == torch.float32
    torch.testing.assert_close(g16, g32, rtol=5e-2, atol=5e-2)


def test_the_models_own_output_layer_is_not_run_once_the_shortcut_is_checked(models, monkeypatch):
    """With no position kept the model's head would compute nothing, but autocast would still
    cast its whole matrix: after the first (checking) batch the module is not called at all
    (the frozen matrix is used directly), and it is back in place after every batch."""
    model = models["gemma"]
    model.__dict__.pop("_twin_trained_head", None)
    real = model.get_output_embeddings()
    monkeypatch.setattr(real.weight, "requires_grad", False)  # frozen, as with LoRA
    calls = []
    hook = real.register_forward_hook(lambda *_: calls.append(1))
    try:
        batch = _batch(model.config.vocab_size)
        first = H.loss_sum(model, batch, "cpu", None)
        assert calls  # the check: the model's logits at the last position, and twin's
        checked = len(calls)
        second = H.loss_sum(model, batch, "cpu", None)
        assert len(calls) == checked
        assert model.get_output_embeddings() is real
        assert float(second.loss) == pytest.approx(float(first.loss), rel=1e-6)
    finally:
        hook.remove()
        model.__dict__.pop("_twin_trained_head", None)


def test_the_cast_matrix_is_kept_and_follows_changes_to_the_weight():
    """Under autocast the frozen matrix is cast once per run, not per batch; an in-place change
    to the weight (a reload, a merge) is seen at the next call."""
    torch.manual_seed(3)
    head = torch.nn.Linear(16, 300, bias=False).requires_grad_(False)
    hidden = torch.randn(12, 16)
    y = torch.randint(0, 300, (12,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        before = float(H.head_loss(hidden, head, y))
        cast = head._twin_cast[1]
        H.head_loss(hidden, head, y)
        assert head._twin_cast[1] is cast  # not cast again
        head.weight.mul_(3.0)
        after = float(H.head_loss(hidden, head, y))
    assert head._twin_cast[1] is not cast
    ref = float(F.cross_entropy(head(hidden), y, reduction="sum"))
    assert after == pytest.approx(ref, rel=2e-2)
    assert after != pytest.approx(before, rel=1e-3)
