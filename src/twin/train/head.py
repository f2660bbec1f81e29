"""The output layer on exactly the trained tokens, in chunks: the loss without a logits tensor.

With a 262k-entry vocabulary (Gemma; Qwen: 152k) the output layer is most of a training step's
work. Asking the model for logits at the positions where *some* row of the batch has a trained
token (`logits_to_keep`, the union) computes every row at every such position: with replies at
different offsets most of those rows are wasted. Here the model runs without its output layer
(`logits_to_keep` empty, hidden states returned), the final hidden states of the trained
positions are gathered (n rows for n trained tokens), and the head is applied to them a chunk
at a time inside one autograd function that computes the loss and the gradient of the hidden
rows together, so neither the full logits tensor nor the chunks' logits outlive their chunk.
Costs stay those of a plain forward and backward through the head (2 + 2 FLOPs per weight and
row); the frozen output matrix gets no gradient.

Before relying on it for a model, the first call checks that the head applied to the returned
final hidden state reproduces the model's own logits (the last position, a few rows); a model
that transforms its logits in some other way falls back to the union for the whole run.
Gemma's final logit soft-capping (cap · tanh(z / cap)) is applied and differentiated here.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE = -100
# Logit elements computed at once (rows × vocabulary): 32M fp32 = 128 MB per chunk.
CHUNK_ELEMENTS = 1 << 25


@dataclass
class LossSum:
    """Sum of token losses, trained tokens it covers, and output-layer rows computed for it."""

    loss: torch.Tensor
    tokens: int
    head_rows: int


def _autocast(device: str, dtype: torch.dtype | None):
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def _inner(model):
    """The causal LM under DDP/PEFT wrappers (for its config and output layer)."""
    m = getattr(model, "module", model)  # DistributedDataParallel
    get_base = getattr(m, "get_base_model", None)  # peft.PeftModel
    return get_base() if callable(get_base) else m


def union_loss_sum(model, batch: dict, device: str, dtype: torch.dtype | None) -> LossSum:
    """The previous approach: logits at the union over the batch of positions whose next token
    is trained, for every row (kept as the fallback and as the benchmark's reference)."""
    target = batch["labels"][:, 1:]
    keep = (target != IGNORE).any(dim=0).nonzero().squeeze(1)
    n = int((target != IGNORE).sum())
    with _autocast(device, dtype):
        out = model(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
            logits_to_keep=keep.to(device),
        )
    logits = out.logits.float()
    picked = target[:, keep].to(device)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)),
        picked.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    return LossSum(loss, n, logits.size(0) * logits.size(1))


def _cap(model) -> float | None:
    cap = getattr(_inner(model).config, "final_logit_softcapping", None)
    return float(cap) if cap else None


def _capped(z: torch.Tensor, cap: float | None) -> torch.Tensor:
    return z if cap is None else cap * torch.tanh(z / cap)


class _ChunkedHeadLoss(torch.autograd.Function):
    """Σ cross-entropy(cap(h · Wᵀ + b), y) over rows h, chunk by chunk; d/dh computed in the
    same pass (softmax − one-hot, through the cap) so no chunk's logits are kept for backward."""

    @staticmethod
    def forward(ctx, hidden, w, bias, targets, cap, rows):  # noqa: D102
        loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad = torch.empty_like(hidden) if hidden.requires_grad else None
        for i in range(0, hidden.size(0), rows):
            h, y = hidden[i : i + rows].to(w.dtype), targets[i : i + rows]
            z = (h @ w.t()).float()
            if bias is not None:
                z += bias.float()
            t = torch.tanh(z / cap) if cap is not None else None
            if t is not None:
                z = cap * t
            lse = torch.logsumexp(z, dim=-1)
            loss += (lse - z.gather(1, y[:, None]).squeeze(1)).sum()
            if grad is not None:
                g = z.sub_(lse[:, None]).exp_()  # softmax, in z's memory
                g[torch.arange(len(y), device=g.device), y] -= 1
                if t is not None:
                    g.mul_(1 - t * t)
                grad[i : i + rows] = (g.to(w.dtype) @ w).to(grad.dtype)
        ctx.save_for_backward(grad if grad is not None else hidden.new_empty(0))
        ctx.want_grad = grad is not None
        return loss

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        (grad,) = ctx.saved_tensors
        g = grad * grad_out.to(grad.dtype) if ctx.want_grad else None
        return g, None, None, None, None, None


def head_loss(hidden: torch.Tensor, head: torch.nn.Module, targets: torch.Tensor, cap=None):
    """Summed loss of `head` over the rows of `hidden` (n × H) against `targets` (n)."""
    weight = head.weight
    bias = getattr(head, "bias", None)
    rows = max(1, CHUNK_ELEMENTS // weight.size(0))
    if weight.requires_grad or (bias is not None and bias.requires_grad):
        # A trained output layer needs its own gradient: plain autograd, chunk by chunk.
        total = hidden.new_zeros((), dtype=torch.float32)
        for i in range(0, hidden.size(0), rows):
            z = _capped(head(hidden[i : i + rows]).float(), cap)
            total = total + F.cross_entropy(z, targets[i : i + rows], reduction="sum")
        return total
    device = hidden.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
    w = _frozen_cast(head, dtype or hidden.dtype)
    return _ChunkedHeadLoss.apply(hidden, w, bias, targets, cap, rows)


def _frozen_cast(head: torch.nn.Module, dtype: torch.dtype) -> torch.Tensor:
    """The frozen output matrix in the dtype the matmuls run in, cast once for the whole run.

    Autocast casts a weight that needs no gradient again at every use (its cache keeps only
    trainable leaves): for a 262k × 640 matrix that is 168M values read and written at every
    micro-batch. The copy is kept on the module, checked against the weight's identity and
    version (an in-place change, a reload), so it is never stale.
    """
    weight = head.weight.detach()
    if weight.dtype == dtype:
        return weight
    key = (weight.data_ptr(), head.weight._version, dtype)
    cached = getattr(head, "_twin_cast", None)
    if cached is None or cached[0] != key:
        cached = (key, weight.to(dtype))
        head._twin_cast = cached
    return cached[1]


class _NoLogits(torch.nn.Module):
    """Stands in for the output layer while the model runs for its hidden states only: with no
    position kept, the real layer would compute nothing, yet autocast would still cast its
    whole matrix first."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x.new_zeros(*x.shape[:-1], self.vocab)


@contextmanager
def _output_layer(inner, layer):
    """`layer` as the model's output layer for the block (the real one put back after)."""
    real = inner.get_output_embeddings()
    inner.set_output_embeddings(layer)
    try:
        yield
    finally:
        inner.set_output_embeddings(real)


def _head_matches(model, out, cap) -> bool:
    """Whether head(final hidden state) reproduces the model's logits at the last position."""
    hs = out.hidden_states[-1] if out.hidden_states else None
    if hs is None or out.logits is None or out.logits.size(1) != 1:
        return False
    head = _inner(model).get_output_embeddings()
    with torch.no_grad():
        mine = _capped(head(hs[:, -1:]).float(), cap)
    theirs = out.logits.detach().float()
    scale = max(1.0, float(theirs.abs().max()))
    return mine.shape == theirs.shape and float((mine - theirs).abs().max()) <= 1e-3 * scale


def loss_sum(model, batch: dict, device: str, dtype: torch.dtype | None) -> LossSum:
    """Sum of token losses over the trained tokens, the output layer run on exactly those."""
    inner = _inner(model)
    state = getattr(inner, "_twin_trained_head", None)
    if state is False or not callable(getattr(inner, "get_output_embeddings", None)):
        return union_loss_sum(model, batch, device, dtype)
    head = inner.get_output_embeddings()
    if head is None or getattr(head, "weight", None) is None:
        return union_loss_sum(model, batch, device, dtype)
    target = batch["labels"][:, 1:].to(device)
    trained = target != IGNORE
    n = int(trained.sum())
    cap = _cap(model)
    keep = 1 if state is None else torch.empty(0, dtype=torch.long, device=device)
    skip = nullcontext()
    if state is not None and getattr(inner, "lm_head", None) is head:
        skip = _output_layer(inner, _NoLogits(head.weight.size(0)))
    with _autocast(device, dtype):
        with skip:
            out = model(
                input_ids=batch["input_ids"].to(device),
                attention_mask=batch["attention_mask"].to(device),
                logits_to_keep=keep,
                output_hidden_states=True,
            )
        if state is None:  # first batch: make sure the shortcut computes the model's logits
            ok = _head_matches(model, out, cap)
            inner._twin_trained_head = ok
            if not ok:
                return union_loss_sum(model, batch, device, dtype)
        hidden = out.hidden_states[-1][:, :-1][trained]
        loss = head_loss(hidden, head, target[trained], cap)
    rows = n + (out.logits.size(0) * out.logits.size(1) if out.logits is not None else 0)
    return LossSum(loss, n, rows)
