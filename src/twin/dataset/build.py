"""build: chat messages in, a clean, private, multi-turn training set out (dataset/ in DESIGN.md).

Every input message ends up either in a sample or counted under one named reason, and the
books are checked before anything is written: input = used + Σ dropped.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from twin.atomic import atomic_dir
from twin.dataset import conversations as conv
from twin.dataset.config import BuildConfig
from twin.dataset.exports import write_exports
from twin.dataset.redact import Redactor
from twin.dataset.split import split_keys
from twin.dataset.text import (
    DEFAULT_PROMPTS,
    NAMELESS_PROMPTS,
    PLACEHOLDERS,
    estimate_tokens,
    has_words,
    script_of,
    visible_length,
)
from twin.errors import TwinError
from twin.ingest import IngestResult, ingest

_GENERIC_ME = {"我", "me", "you", "我自己", "自己", ""}


@dataclass
class Sample:
    key: tuple  # (chat, conversation start): the unit of the train/dev split
    messages: list[dict]
    n: int  # input messages in this sample
    trained: int  # assistant turns trained on


@dataclass
class BuildData:
    """What the report draws from, beside stats.json."""

    timeline: Counter = field(default_factory=Counter)  # (YYYY-MM, me) -> messages
    per_chat: Counter = field(default_factory=Counter)  # chat name -> messages
    per_chat_me: Counter = field(default_factory=Counter)
    reply_lengths: list[int] = field(default_factory=list)
    sample_tokens: list[int] = field(default_factory=list)


def _my_name(result: IngestResult) -> str | None:
    names: Counter = Counter()
    for msgs in result.chats.values():
        for m in msgs:
            if m.me and m.sender.strip().casefold() not in _GENERIC_ME:
                names[m.sender.strip()] += 1
    return names.most_common(1)[0][0] if names else None


def _my_texts(result: IngestResult, limit: int = 3000) -> list[str]:
    texts = []
    for msgs in result.chats.values():
        for m in msgs:
            if m.me and m.kind == "text":
                texts.append(m.text)
                if len(texts) >= limit:
                    return texts
    return texts


def _token_counter(cfg: BuildConfig) -> Callable[[list[str]], list[int]]:
    if not cfg.tokenizer:
        return lambda texts: [estimate_tokens(t) for t in texts]
    from twin.models import load_tokenizer

    tok = load_tokenizer(cfg.tokenizer)

    def count(texts: list[str]) -> list[int]:
        return (
            [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]] if texts else []
        )

    return count


def check_input(result: IngestResult) -> None:
    """An export with nothing by me cannot teach anything: say what was found and how to fix it."""
    if result.total == 0:
        raise TwinError(
            "the export holds no messages (files read: "
            + ", ".join(r.file for r in result.reports)
            + "). Check that you exported the chat history, not an empty folder."
        )
    if sum(r.by_me for r in result.reports) == 0:
        senders: Counter = Counter()
        for msgs in result.chats.values():
            for m in msgs:
                if m.sender:
                    senders[m.sender] += 1
        listing = "\n".join(f"  {name}: {n} messages" for name, n in senders.most_common(15))
        raise TwinError(
            "none of the messages is marked as yours, so there is nothing to learn your style from.\n"
            f"Senders found:\n{listing}\n"
            "Pass --me with your own name or id as it appears above (for exports that mark you, "
            "check that you exported from your own account)."
        )


def build(
    inputs: list[str],
    out_dir: str,
    cfg: BuildConfig,
    fmt: str = "auto",
    me: str | None = None,
    skip_bad_rows: bool = False,
    progress: bool | None = None,
    report: bool = True,
) -> dict:
    """Build the dataset folder; returns the stats written to stats.json."""
    started = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / "stats.json").exists())
    ):
        raise TwinError(
            f"{out}: exists and is not a twin dataset folder; choose another -o or remove it"
        )
    result = ingest(inputs, fmt=fmt, me=me, skip_bad_rows=skip_bad_rows, progress=progress)
    check_input(result)
    language = (
        cfg.placeholder_language
        if cfg.placeholder_language != "auto"
        else script_of(_my_texts(result))
    )
    placeholders = PLACEHOLDERS[language]
    name = cfg.name or _my_name(result)
    template = cfg.system_prompt or (DEFAULT_PROMPTS if name else NAMELESS_PROMPTS)[language]
    system_prompt = template.replace("{name}", name or "")
    redactor = Redactor(cfg.redact, cfg.allow, cfg.block, cfg.block_mode)
    count_tokens = _token_counter(cfg)
    budget = cfg.max_tokens - count_tokens([system_prompt])[0]
    if budget < 16:
        raise TwinError(f"max_tokens {cfg.max_tokens} leaves no room after the system prompt")
    window_cfg = BuildConfig(**{**cfg.to_dict(), "max_tokens": budget})

    dropped: Counter = Counter()
    data = BuildData()
    samples: list[Sample] = []
    seen: set[int] = set()
    groups_skipped = chats_used = sessions_total = 0
    total = result.total
    show = progress if progress is not None else sys.stderr.isatty()
    bar = tqdm(
        total=total, desc="build", unit="msg", unit_scale=True, disable=not show, leave=False
    )
    system = {"role": "system", "content": system_prompt}
    for chat in sorted(result.chats):
        msgs = result.chats[chat]
        group = msgs[0].group
        chat_name = msgs[0].chat_name
        me_n = 0
        timeline = data.timeline
        for m in msgs:
            timeline[m.time[:7], m.me] += 1
            me_n += m.me
        data.per_chat[chat_name] += len(msgs)
        data.per_chat_me[chat_name] += me_n
        bar.update(len(msgs))
        if group and not cfg.groups:
            dropped[conv.GROUP] += len(msgs)
            groups_skipped += 1
            continue
        before = len(samples)
        for session in conv.sessions(chat, msgs, cfg, placeholders, bool(group), dropped):
            sessions_total += 1
            turns = conv.normalise(session, cfg, dropped)
            if turns is None:
                continue
            texts = [redactor.redact(t.text) for t in turns]
            if cfg.block_mode == "drop" and any(redactor.blocked(x) for x in texts):
                dropped[conv.BLOCKED] += sum(t.n for t in turns)
                continue
            lengths = count_tokens(texts)
            for idx in conv.windows(turns, lengths, window_cfg, dropped):
                messages = [system]
                trained = 0
                n = 0
                for i in idx:
                    t = turns[i]
                    n += t.n
                    x = texts[i]
                    if t.role == "assistant":
                        size = visible_length(x)
                        if cfg.min_reply_chars <= size <= cfg.max_reply_chars and has_words(x):
                            trained += 1
                            data.reply_lengths.append(size)
                            messages.append({"role": "assistant", "content": x})
                        else:
                            messages.append({"role": "assistant", "content": x, "weight": 0})
                    else:
                        messages.append({"role": "user", "content": x})
                if not trained:
                    dropped[conv.NOTHING_TO_LEARN] += n
                    continue
                h = hash(tuple((m["role"], m["content"]) for m in messages[1:]))
                if h in seen:
                    dropped[conv.DUPLICATE] += n
                    continue
                seen.add(h)
                samples.append(Sample((chat, session.start), messages, n, trained))
                data.sample_tokens.append(sum(lengths[i] for i in idx) + (cfg.max_tokens - budget))
        chats_used += len(samples) > before
    bar.close()

    used = sum(s.n for s in samples)
    if used + sum(dropped.values()) != total:
        raise RuntimeError(
            f"message accounting is off: {total} in, {used} used, {sum(dropped.values())} dropped"
        )
    if not samples:
        reasons = "\n".join(f"  {k}: {v}" for k, v in dropped.most_common())
        raise TwinError(
            f"no training samples could be made from {total} messages. Where they went:\n{reasons}\n"
            "Try --groups, a longer session_gap_minutes, or a lower min_reply_chars in twin.toml."
        )
    dev_keys = split_keys([s.key for s in samples], cfg.dev_fraction, cfg.min_dev_samples, cfg.seed)
    train = [s for s in samples if s.key not in dev_keys]
    dev = [s for s in samples if s.key in dev_keys]

    stats = {
        "twin_build": 1,
        "input": {
            "files": [
                {
                    "file": r.file,
                    "format": r.format,
                    "version": r.version,
                    "encoding": r.encoding,
                    "messages": r.messages,
                    "by_me": r.by_me,
                    "rows_skipped": dict(r.skipped),
                }
                for r in result.reports
            ],
            "messages": total,
            "by_me": sum(r.by_me for r in result.reports),
            "chats": len(result.chats),
        },
        "messages": {"input": total, "used": used, "dropped": dict(dropped.most_common())},
        "steps": _steps(total, dropped),
        "chats": {
            "total": len(result.chats),
            "groups_left_out": groups_skipped,
            "used": chats_used,
        },
        "conversations": sessions_total,
        "samples": {
            "total": len(samples),
            "train": len(train),
            "dev": len(dev),
            "dev_conversations": len(dev_keys),
            "assistant_turns_trained": sum(s.trained for s in samples),
        },
        "redactions": dict(redactor.counts.most_common()),
        "language": language,
        "name": name,
        "system_prompt": system_prompt,
        "seconds": 0.0,
    }
    with atomic_dir(out) as tmp:
        for split, items in (("train", train), ("dev", dev)):
            with open(tmp / f"{split}.jsonl", "w", encoding="utf-8") as f:
                for s in items:
                    f.write(json.dumps({"messages": s.messages}, ensure_ascii=False))
                    f.write("\n")
        (tmp / "config.json").write_text(
            json.dumps(
                {
                    **cfg.to_dict(),
                    "system_prompt": system_prompt,
                    "name": name,
                    "language": language,
                },
                ensure_ascii=False,
                indent=2,
            ),
            encoding="utf-8",
        )
        stats["exports"] = write_exports(
            tmp / "exports",
            {
                "train": [{"messages": s.messages} for s in train],
                "dev": [{"messages": s.messages} for s in dev],
            },
        )
        if report:
            from twin.dataset.report import write_report

            write_report(
                tmp,
                stats,
                data,
                [s.messages for s in dev[:3] + train[:3]],
                tokens_exact=bool(cfg.tokenizer),
            )
        stats["seconds"] = round(time.perf_counter() - started, 3)
        (tmp / "stats.json").write_text(
            json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return stats


def _steps(total: int, dropped: Counter) -> list[dict]:
    """Messages left after each step, in pipeline order."""
    order = [
        (
            "drop system lines, recall notices and empty messages",
            [conv.SYSTEM, conv.RECALL, conv.EMPTY],
        ),
        ("leave out group chats", [conv.GROUP]),
        ("end conversations at media (media = split)", [conv.MEDIA_SPLIT]),
        ("keep conversations with a reply by me", [conv.NO_REPLY]),
        ("start at a prompt and end at my reply", [conv.OPENER, conv.UNANSWERED]),
        ("drop samples with a blocked word", [conv.BLOCKED]),
        ("fit the token budget", [conv.TOO_LONG]),
        ("keep samples with a reply to learn from", [conv.NOTHING_TO_LEARN]),
        ("remove duplicate samples", [conv.DUPLICATE]),
    ]
    left = total
    steps = [{"step": "input", "messages": total}]
    for label, reasons in order:
        left -= sum(dropped.get(r, 0) for r in reasons)
        steps.append({"step": label, "messages": left})
    return steps
