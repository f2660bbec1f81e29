"""Replies to many prompts at once, for `twin eval`.

One prompt at a time leaves a CPU mostly waiting on per-token overheads; a batch of left-padded
prompts (sorted by length, so little padding) shares them. Each row stops at the run's
end-of-turn token, and the batch ends when every row has.

Sampling stays reproducible per reply, whatever batch it lands in: `_RowSampler` draws every
row's next token from that reply's own seeded generator (after the repetition penalty, with the
temperature and top-p applied here), and generation runs greedily over the one token it leaves.
"""

from __future__ import annotations

from collections.abc import Callable

from twin.errors import TwinError
from twin.generate import Generator, Settings, cut_at_stops


class _RowSampler:
    """A logits processor that samples each row with its own seeded torch.Generator."""

    def __init__(self, seeds: list[int], temperature: float, top_p: float) -> None:
        self.seeds, self.temperature, self.top_p = seeds, temperature, top_p
        self._gens = None

    def __call__(self, input_ids, scores):
        import torch

        if self._gens is None:
            self._gens = [torch.Generator(device=scores.device).manual_seed(s) for s in self.seeds]
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            ordered, index = probs.sort(dim=-1, descending=True)
            # drop a token once the ones before it already hold top_p of the mass
            drop = ordered.cumsum(dim=-1) - ordered >= self.top_p
            drop[:, 0] = False
            probs = probs.scatter(-1, index, ordered.masked_fill(drop, 0.0))
        out = torch.full_like(scores, float("-inf"))
        for row, gen in enumerate(self._gens):
            token = torch.multinomial(probs[row], 1, generator=gen)
            out[row, token] = 0.0
        return out


def batch_replies(
    gen: Generator,
    histories: list[list[dict]],
    settings: Settings,
    seeds: list[int],
    batch_size: int = 8,
    on_done: Callable[[int], object] | None = None,
) -> list[str]:
    """The reply to every history (in order); `on_done(n)` after each batch of n replies."""
    prompts = [gen.prompt_ids(h, settings.max_new_tokens) for h in histories]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    replies: list[str] = [""] * len(prompts)
    for start in range(0, len(order), max(1, batch_size)):
        rows = order[start : start + max(1, batch_size)]
        texts = _generate_rows(gen, [prompts[i] for i in rows], settings, [seeds[i] for i in rows])
        for i, text in zip(rows, texts, strict=True):
            replies[i] = text
        if on_done is not None:
            on_done(len(rows))
    return replies


def _generate_rows(
    gen: Generator, prompts: list[list[int]], s: Settings, seeds: list[int]
) -> list[str]:
    import torch
    from transformers import LogitsProcessorList

    tok = gen.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=gen.device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=gen.device)
    stops = [x for x in gen.info.chat_format.stop if x]
    eos, text_stops = gen._stop_tokens(stops)
    kwargs: dict = {
        "input_ids": ids,
        "attention_mask": mask,
        "max_new_tokens": s.max_new_tokens,
        "repetition_penalty": s.repetition_penalty,
        "pad_token_id": pad,
        "do_sample": False,
    }
    if eos:
        kwargs["eos_token_id"] = eos
    if text_stops:
        kwargs.update(stop_strings=text_stops, tokenizer=tok)
    if s.temperature and s.temperature > 0:
        kwargs["logits_processor"] = LogitsProcessorList(
            [_RowSampler(seeds, s.temperature, s.top_p)]
        )
    try:
        with torch.no_grad():
            out = gen.model.generate(**kwargs)
    except RuntimeError as e:
        raise TwinError(f"generation failed: {e}") from e
    texts = []
    for row in out[:, width:].tolist():
        ends = [k for k, t in enumerate(row) if t in eos]
        text = tok.decode(row[: ends[0]] if ends else row, skip_special_tokens=True)
        texts.append("".join(cut_at_stops([text], stops)).strip())
    return texts
