"""Replies from a run (or an untuned base), token by token.

Shared by chat, eval and serve: the prompt is rendered with the run's own chat format and system
prompt, history is trimmed to fit the model's context, and generation runs in a thread that
feeds a streamer with a timeout, so a crash in generation cannot hang a caller.
"""

from __future__ import annotations

import argparse
import math
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING

from twin.errors import TwinError

if TYPE_CHECKING:
    from twin.runs import RunInfo


@dataclass
class Settings:
    """How replies are sampled: the one set of generation settings in twin.

    A run saves its defaults (twin_run.json "generation", from the [train] table); chat flags,
    eval, the page and the API change them per reply. `seed` is per request and never saved.
    """

    temperature: float = 0.7  # 0: greedy
    top_p: float = 0.9
    max_new_tokens: int = 128
    repetition_penalty: float = 1.0
    seed: int | None = None

    def to_dict(self) -> dict:
        """The defaults as a run saves them (without the per-request seed)."""
        saved = asdict(self)
        del saved["seed"]
        return saved

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        """From twin_run.json; unknown keys are an error (TypeError) like any malformed run."""
        return cls(**data)

    def updated(self, **changes) -> Settings:
        """A copy with the changes that are given (not None)."""
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if v is not None and k in known})


def add_sampling_flags(p: argparse.ArgumentParser, top_p: bool = True) -> None:
    """The flags that change `Settings` (chat, eval), checked as they are parsed."""
    p.add_argument(
        "--temperature",
        type=_number_at_least(0.0),
        metavar="T",
        help="lower = more precise, higher = more creative; 0 = greedy (default: the run's, 0.7)",
    )
    if top_p:
        p.add_argument(
            "--top-p",
            type=_share,
            metavar="P",
            help="sample only from the likeliest words making up P of the probability "
            "(default: the run's)",
        )
    p.add_argument(
        "--max-new-tokens",
        type=positive_int,
        metavar="N",
        help="longest reply in tokens (default: the run's)",
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {n}")
    return n


def _number_at_least(low: float):
    def number(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low <= x < math.inf:  # also refuses nan
            raise argparse.ArgumentTypeError(f"expected a number >= {low:g}, got {text}")
        return x

    return number


def _share(text: str) -> float:
    x = _number_at_least(0.0)(text)
    if not 0 < x <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text}")
    return x


class Generator:
    """A loaded model that answers conversations in the run's format."""

    def __init__(self, info: RunInfo, device: str = "cpu", model=None, tokenizer=None) -> None:
        self.info = info
        if model is None or tokenizer is None:
            from twin.runs import load_for_inference

            model, tokenizer = load_for_inference(info, device)
        self.model, self.tokenizer = model, tokenizer
        self.device = device
        self._lock = threading.Lock()  # one generation at a time per model
        cfg = getattr(model, "config", None)
        limit = getattr(cfg, "max_position_embeddings", None) or 2048
        tok_limit = getattr(tokenizer, "model_max_length", None)
        if tok_limit and tok_limit < 10**6:
            limit = min(limit, tok_limit)
        self.context = int(limit)
        prefix = info.train.get("pre_seq_len") if info.method == "ptuning" else 0
        self.context -= int(prefix or 0)

    def defaults(self) -> Settings:
        """The run's saved generation defaults (a copy, free to change)."""
        return replace(self.info.generation)

    def conversation(self, history: list[dict]) -> list[dict]:
        """The run's system prompt followed by the history (user/assistant turns)."""
        msgs = [m for m in history if m["role"] in ("user", "assistant")]
        if self.info.system_prompt:
            return [{"role": "system", "content": self.info.system_prompt}, *msgs]
        return msgs

    def prompt_ids(self, history: list[dict], max_new_tokens: int) -> list[int]:
        """Token ids of the prompt; the oldest turns (in pairs) are dropped until it fits.

        One render when the whole history fits. Otherwise the turns to drop are estimated from
        each message's own token count (one batched tokenizer call), and only the kept tail is
        rendered again, so the work stays linear in the history's length: re-rendering the
        whole history once per dropped pair let a request of a few thousand short messages hold
        the model for minutes.
        """
        if not history or history[-1]["role"] != "user":
            raise TwinError("the conversation must end with a user message")
        budget = max(16, self.context - max_new_tokens)
        ids = self._render_ids(history)
        if len(ids) <= budget or len(history) <= 1:
            return ids[-budget:]
        starts = _drop_points(len(history))
        k = _estimate_start(self._content_tokens(history), len(ids), budget, starts)
        tails: dict[int, list[int]] = {}

        def fits(k: int) -> bool:
            tails[k] = self._render_ids(history[starts[k] :])
            return len(tails[k]) <= budget

        if fits(k):  # the estimate may have dropped more than needed: keep what still fits
            while k > 0 and fits(k - 1):
                k -= 1
        else:
            while k < len(starts) - 1:
                k += 1
                if fits(k):
                    break
        return tails[k][-budget:]

    def _render_ids(self, history: list[dict]) -> list[int]:
        fmt = self.info.chat_format
        text = fmt.render(self.tokenizer, self.conversation(history), add_generation_prompt=True)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _content_tokens(self, history: list[dict]) -> list[int]:
        texts = [str(m.get("content") or "") for m in history]
        return [len(x) for x in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def stream(
        self,
        history: list[dict],
        settings: Settings | None = None,
        timeout: float = 120.0,
        prompt: list[int] | None = None,
    ) -> Iterator[str]:
        """Yield the reply in pieces as they are generated.

        `prompt`: the ids `prompt_ids(history, …)` gave, when the caller already has them.
        """
        s = settings or self.defaults()
        ids = prompt if prompt is not None else self.prompt_ids(history, s.max_new_tokens)
        stops = [x for x in self.info.chat_format.stop if x]
        yield from self._stream_ids(ids, s, stops, timeout)

    def _stream_ids(
        self, ids: list[int], s: Settings, stops: list[str], timeout: float
    ) -> Iterator[str]:
        """The engine's own part of `stream`: the reply to prompt `ids`, cut at `stops`."""
        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout
        )
        kwargs = {
            "input_ids": torch.tensor([ids], device=self.device),
            "attention_mask": torch.ones((1, len(ids)), dtype=torch.long, device=self.device),
            "max_new_tokens": s.max_new_tokens,
            "streamer": streamer,
            "repetition_penalty": s.repetition_penalty,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if s.temperature and s.temperature > 0:
            kwargs.update(do_sample=True, temperature=s.temperature, top_p=s.top_p)
        else:
            kwargs.update(do_sample=False)
        eos, text_stops = self._stop_tokens(stops)
        if eos:
            kwargs["eos_token_id"] = eos
        if text_stops:
            kwargs.update(stop_strings=text_stops, tokenizer=self.tokenizer)
        # Set when the caller stops reading (Ctrl-C in chat, a closed page): generation stops
        # at the next token instead of running on in the background.
        cancel = threading.Event()
        kwargs["stopping_criteria"] = StoppingCriteriaList([_Cancelled(cancel)])
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with torch.no_grad():
                    if s.seed is not None:
                        torch.manual_seed(s.seed)
                    self.model.generate(**kwargs)
            except BaseException as e:  # surfaced to the caller below
                errors.append(e)
                streamer.end()

        with self._lock:
            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            try:
                yield from cut_at_stops(streamer, stops)
            except queue.Empty:
                raise RuntimeError(f"generation timed out (no token for {timeout:g} s)") from None
            finally:
                cancel.set()
                thread.join(timeout)
        if errors:
            raise RuntimeError(f"generation failed: {errors[0]}") from errors[0]

    def _stop_tokens(self, stops: list[str]) -> tuple[list[int], list[str]]:
        """Stop strings that are single tokens become end ids (cheap); the rest stay strings."""
        tok = self.tokenizer
        eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
        rest = []
        for s in stops:
            tid = tok.convert_tokens_to_ids(s)
            if isinstance(tid, int) and tid != tok.unk_token_id and tok.decode([tid]) == s:
                eos.append(tid)
            else:
                rest.append(s)
        return sorted(set(eos)), rest

    def reply(self, history: list[dict], settings: Settings | None = None) -> str:
        return "".join(self.stream(history, settings)).strip()


class _Cancelled:
    """A stopping criterion that ends generation once `event` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


def _drop_points(n: int) -> list[int]:
    """Where a trimmed history of `n` messages may start, in order: pairs dropped from the
    front while more than two remain, then only the newest message."""
    points = [0]
    while n - points[-1] > 1:
        points.append(points[-1] + 2 if n - points[-1] > 2 else n - 1)
    return points


def _estimate_start(costs: list[int], total: int, budget: int, starts: list[int]) -> int:
    """Index into `starts` of the first tail estimated to fit `budget` tokens.

    A message costs its content's tokens plus an equal share of the template's own tokens.
    """
    overhead = max(0, total - sum(costs)) / (len(costs) + 1)
    dropped = 0.0
    j = 0
    for k, start in enumerate(starts):
        while j < start:
            dropped += costs[j] + overhead
            j += 1
        if total - dropped <= budget:
            return k
    return len(starts) - 1


def cut_at_stops(
    pieces: Iterable[str], stops: list[str], hit: list[str] | None = None
) -> Iterator[str]:
    """The text of `pieces` up to the first stop string, piece by piece.

    Text that may be the start of a stop string is held back until the next piece says whether
    it is; the stop string found is appended to `hit`. Used by the engines (the chat format's
    stops) and the API (a client's own `stop`).
    """
    pending = ""
    for piece in pieces:
        pending += piece
        cut = _stop_at(pending, stops)
        if cut is not None:
            if pending[:cut]:
                yield pending[:cut]
            if hit is not None:
                hit.append(pending[cut:])
            return
        keep = _partial_stop(pending, stops)
        if len(pending) > keep:
            yield pending[: len(pending) - keep]
            pending = pending[len(pending) - keep :]
    if pending:
        yield pending


def _stop_at(text: str, stops: list[str]) -> int | None:
    found = [text.find(s) for s in stops if s in text]
    return min(found) if found else None


def _partial_stop(text: str, stops: list[str]) -> int:
    """Length of the longest suffix of `text` that starts some stop string."""
    best = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:n]):
                best = max(best, n)
                break
    return best
