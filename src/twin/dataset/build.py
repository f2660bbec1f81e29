"""build: chat messages in, a clean, private, multi-turn training set out (dataset/ in docs/architecture.md).

Every input message ends up either in a sample or counted under one named reason, and the
books are checked before anything is written: input = used + Σ dropped.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.atomic import atomic_dir
from twin.dataset import conversations as conv
from twin.dataset.columns import range_sums, ranges, window_hashes
from twin.dataset.config import BuildConfig
from twin.dataset.names import NameRedactor
from twin.dataset.redact import Redactor
from twin.dataset.report import write_report
from twin.dataset.split import dev_mask
from twin.dataset.text import (
    DEFAULT_PROMPTS,
    NAMELESS_PROMPTS,
    PLACEHOLDERS,
    estimate_tokens_array,
    reply_measures,
    script_of,
)
from twin.dataset.writers import (
    Samples,
    encode_str,
    json_strings,
    write_dataset_info,
    write_exports,
    write_split,
)
from twin.errors import TwinError
from twin.ingest.dedupe import DUPLICATE_FILE, DUPLICATE_MESSAGE
from twin.ingest.pipeline import IngestResult, ingest
from twin.ingest.table import KIND_CODE, MessageTable
from twin.words import plural

_GENERIC_ME = {"我", "me", "you", "我自己", "自己", ""}


@dataclass
class BuildData:
    """What the report draws from, beside stats.json."""

    timeline: dict = field(default_factory=dict)  # (YYYY-MM, me) -> messages
    per_chat: Counter = field(default_factory=Counter)  # chat name -> messages
    per_chat_me: Counter = field(default_factory=Counter)
    # (counts, bin edges): a hundred numbers to draw, not every value.
    reply_lengths: tuple[list[int], list[float]] = ([], [])
    sample_tokens: tuple[list[int], list[float]] = ([], [])


def _is_dataset(folder: Path) -> bool:
    """A folder `twin build` wrote (and may therefore replace)."""
    try:
        return "twin_build" in json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def _my_name(table: MessageTable, names: NameRedactor) -> str | None:
    """The persona's name for the system prompt: my most frequent sender name that is a name.

    An account id (wxid_…, 12345iru2zsmo22) or a phone number is never put into the prompt;
    without a usable name the generic prompt is used (or --name).
    """
    for name, _ in table.sender_counts(me=True):
        name = name.strip()
        if name.casefold() not in _GENERIC_ME and names.usable_as_persona(name):
            return name
    return None


def _my_texts(table: MessageTable, limit: int = 3000) -> list[str]:
    rows = np.flatnonzero(table.me & (table.kind == KIND_CODE["text"]))[:limit]
    return table.texts(rows)


def _token_counter(cfg: BuildConfig) -> Callable[[pa.Array], np.ndarray]:
    """Tokens per text: estimated from UTF-8 bytes, or counted with --tokenizer."""
    if not cfg.tokenizer:
        return estimate_tokens_array
    from twin.models import load_tokenizer

    tok = load_tokenizer(cfg.tokenizer)

    def count(texts: pa.Array) -> np.ndarray:
        items = texts.to_pylist()
        if not items:
            return np.zeros(0, dtype=np.int64)
        return np.asarray([len(ids) for ids in tok(items, add_special_tokens=False)["input_ids"]])

    return count


def check_input(result: IngestResult, table: MessageTable) -> None:
    """An export with nothing by me cannot teach anything: say what was found and how to fix it."""
    if len(table) == 0:
        raise TwinError(
            "the export holds no messages (files read: "
            + ", ".join(r.file for r in result.reports)
            + "). Check that you exported the chat history, not an empty folder."
        )
    if not table.me.any():
        listing = "\n".join(
            f"  {name}: {plural(n, 'message')}" for name, n in table.sender_counts()[:15] if name
        )
        if all(r.me_rule == "marked in the file" for r in result.reports):
            # --me only names senders in files that do not say who you are; it cannot help here.
            how = (
                "These files mark which messages are yours themselves, so --me does not apply: "
                "check that you exported from your own account; in a neutral file, set me to "
                "true on your own messages, or leave the me column out and pass --me NAME."
            )
        else:
            how = "Pass --me with your own name or id as it appears above."
        raise TwinError(
            "none of the messages is marked as yours, so there is nothing to learn your style from.\n"
            f"Senders found:\n{listing}\n{how}"
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
    """Build the dataset folder; returns the stats written to stats.json.

    `report`: draw report.html and its charts.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_dataset(out))):
        raise TwinError(
            f"{out}: exists and is not a twin dataset folder; choose another -o or remove it"
        )
    with atomic_dir(out) as tmp:
        stats = _make_dataset(inputs, tmp, cfg, fmt, me, skip_bad_rows, progress, report)
        stats["seconds"] = round(time.perf_counter() - started, 3)
        (tmp / "stats.json").write_text(
            json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        return stats


def _make_dataset(
    inputs: list[str],
    tmp: Path,
    cfg: BuildConfig,
    fmt: str,
    me: str | None,
    skip_bad_rows: bool,
    progress: bool | None,
    report: bool,
) -> dict:
    """The dataset's files, report and stats (all but the timing)."""
    result = ingest(
        inputs, fmt=fmt, me=me, skip_bad_rows=skip_bad_rows, progress=progress, columnar=True
    )
    table = result.table()
    check_input(result, table)
    # Chat, sender and file names pass the same redaction as the messages (twin.dataset.names).
    redactor = Redactor(cfg.redact, cfg.allow, cfg.block, cfg.block_mode)
    names = NameRedactor(redactor)
    data = _overview(table, names)
    language, name, system_prompt = _system_prompt(cfg, table, names)
    count_tokens = _token_counter(cfg)
    system_tokens = int(count_tokens(pa.array([system_prompt]))[0])
    budget = cfg.max_tokens - system_tokens
    if budget < 16:
        raise TwinError(f"max_tokens {cfg.max_tokens} leaves no room after the system prompt")

    dropped: Counter = Counter(result.duplicates)  # read twice: dropped by ingest
    samples, conversations_total, chats_used = _samples(
        table,
        cfg,
        PLACEHOLDERS[language],
        names,
        count_tokens,
        budget,
        system_prompt,
        system_tokens,
        dropped,
        data,
    )
    total = result.total
    used = _check_books(total, samples, dropped, cfg, table)
    in_dev, dev_conversations = dev_mask(
        table.chat_keys, samples.chat, samples.time, cfg.dev_fraction, cfg.min_dev_samples, cfg.seed
    )
    train, dev = samples.select(~in_dev), samples.select(in_dev)

    stats = {
        "twin_build": 1,
        "input": _input_stats(result, table, names),
        "messages": {"input": total, "used": used, "dropped": dict(dropped.most_common())},
        "steps": _steps(total, dropped),
        "chats": {
            "total": len(table.chat_keys),
            "groups_left_out": 0 if cfg.groups else int(table.chat_group.sum()),
            "used": len(chats_used),
        },
        "conversations_with_my_reply": conversations_total,
        "samples": {
            "total": len(samples),
            "train": len(train),
            "dev": len(dev),
            "dev_conversations": dev_conversations,
            "assistant_turns_trained": samples.trained_replies(),
        },
        "redactions": dict(redactor.counts.most_common()),
        "names_redacted": {k: names.replaced[k] for k in ("sender", "chat", "file")},
        "language": language,
        "name": name,
        "system_prompt": system_prompt,
    }
    examples = [part.messages(i) for part in (dev, train) for i in range(min(3, len(part)))]
    draw = partial(write_report, tmp, stats, data, examples, bool(cfg.tokenizer))
    exports = _write_data(tmp, {"train": train, "dev": dev}, cfg, stats, draw if report else None)
    stats["exports"] = exports
    return stats


def _overview(table: MessageTable, names: NameRedactor) -> BuildData:
    """What the report's first charts show: messages over time and per (redacted) chat name."""
    data = BuildData(timeline=table.timeline())
    per_chat = np.bincount(table.chat, minlength=len(table.chat_keys))
    per_chat_me = np.bincount(table.chat, weights=table.me, minlength=len(table.chat_keys))
    for i, chat_name in enumerate(table.chat_names):
        shown = names(chat_name, "chat")
        data.per_chat[shown] += int(per_chat[i])
        data.per_chat_me[shown] += int(per_chat_me[i])
    return data


def _system_prompt(
    cfg: BuildConfig, table: MessageTable, names: NameRedactor
) -> tuple[str, str | None, str]:
    """(placeholder language, the person's name, the system prompt) for this export."""
    language = (
        cfg.placeholder_language
        if cfg.placeholder_language != "auto"
        else script_of(_my_texts(table))
    )
    name = cfg.name or _my_name(table, names)
    template = cfg.system_prompt or (DEFAULT_PROMPTS if name else NAMELESS_PROMPTS)[language]
    return language, name, template.replace("{name}", name or "")


def _check_books(
    total: int, samples: Samples, dropped: Counter, cfg: BuildConfig, table: MessageTable
) -> int:
    """Messages used; every input message is used or dropped for a reason, and some are used."""
    used = int(samples.n.sum())
    if used + sum(dropped.values()) != total:
        raise RuntimeError(
            f"message accounting is off: {total} in, {used} used, {sum(dropped.values())} dropped"
        )
    if not len(samples):
        reasons = "\n".join(f"  {k}: {v}" for k, v in dropped.most_common())
        # --groups only where it would change something: not given yet, and group chats left out
        tips = ["a longer session_gap_minutes", "a lower min_reply_chars in twin.toml"]
        if not cfg.groups and table.chat_group.any():
            tips.insert(0, "--groups")
        raise TwinError(
            f"no training samples could be made from {total} messages. Where they went:\n{reasons}\n"
            f"Try {', '.join(tips[:-1])} or {tips[-1]}."
        )
    return used


def _input_stats(result: IngestResult, table: MessageTable, names: NameRedactor) -> dict:
    """stats.json "input": what each file held, file names redacted like everything else."""
    return {
        "files": [
            {
                "file": names(r.file, "file"),
                "format": r.format,
                "version": r.version,
                "encoding": r.encoding,
                "messages": r.messages,
                "by_me": r.by_me,
                "rows_skipped": dict(r.skipped),
            }
            for r in result.reports
        ],
        "messages": result.total,
        "by_me": int(table.me.sum()),
        "chats": len(table.chat_keys),
    }


def _samples(
    table: MessageTable,
    cfg: BuildConfig,
    placeholders: dict[str, str],
    names: NameRedactor,
    count_tokens: Callable[[pa.Array], np.ndarray],
    budget: int,
    system_prompt: str,
    system_tokens: int,
    dropped: Counter,
    data: BuildData,
) -> tuple[Samples, int, set[int]]:
    """Conversations cut into windows, replies judged, duplicates removed: column-wise."""
    redactor = names.redactor
    turns = conv.conversations(
        table, cfg, placeholders, dropped, redactor.redact_array, speaker=names
    )
    texts = turns.text
    # Encoded beside the measures and windows below (Arrow kernels let go of the GIL).
    beside = ThreadPoolExecutor(1)
    content = beside.submit(json_strings, texts)
    beside.shutdown(wait=False)  # the thread ends once the one job is done
    length, words = reply_measures(texts, turns.assistant)
    sizes = turns.n.astype(np.int64)
    tokens = np.asarray(count_tokens(texts), dtype=np.int64)
    ok = turns.assistant & (length >= cfg.min_reply_chars) & (length <= cfg.max_reply_chars) & words
    bounds = turns.conv_start.astype(np.int64)
    n_conv = turns.conversations
    firsts = bounds[:-1]

    keep = np.ones(n_conv, dtype=bool)
    if n_conv and cfg.block_mode == "drop" and redactor.block:
        hit = np.fromiter(map(redactor.blocked, texts.to_pylist()), dtype=bool, count=len(texts))
        keep = np.add.reduceat(hit, firsts) == 0
        _drop(dropped, conv.BLOCKED, range_sums(sizes, firsts[~keep], bounds[1:][~keep]))

    # Most conversations fit one window whole; the others go through the window cutter.
    fits = np.zeros(n_conv, dtype=bool)
    if n_conv:
        pairs = np.diff(bounds) // 2
        fits = (np.add.reduceat(tokens, firsts) <= budget) & (pairs <= max(1, cfg.max_turns // 2))
    whole = np.flatnonzero(keep & fits)
    start, stop, conv_of = [bounds[whole]], [bounds[whole + 1]], [whole]
    cut = np.flatnonzero(keep & ~fits).tolist()
    if cut:
        token_list, size_list, bound_list = tokens.tolist(), sizes.tolist(), bounds.tolist()
        found = [
            (w.start, w.stop, c)
            for c in cut
            for w in conv.windows(
                bound_list[c], bound_list[c + 1], token_list, size_list, cfg, budget, dropped
            )
        ]
        if found:
            s, e, c = np.array(found, dtype=np.int64).T
            start, stop, conv_of = start + [s], stop + [e], conv_of + [c]
    order = np.argsort(np.concatenate(start), kind="stable")  # windows never overlap
    start, stop, conv_of = (np.concatenate(x)[order] for x in (start, stop, conv_of))

    n = range_sums(sizes, start, stop)
    learn = range_sums(ok, start, stop) > 0
    _drop(dropped, conv.NOTHING_TO_LEARN, n[~learn])
    start, stop, conv_of, n = start[learn], stop[learn], conv_of[learn], n[learn]

    # The first of identical windows stays.
    codes = pc.dictionary_encode(texts).indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(window_hashes(codes, start, stop), return_index=True)
    unique = np.zeros(len(start), dtype=bool)
    unique[first] = True
    _drop(dropped, conv.DUPLICATE, n[~unique])
    start, stop, conv_of, n = start[unique], stop[unique], conv_of[unique], n[unique]

    kept_turns = ranges(start, stop)
    data.reply_lengths = _histogram(length[kept_turns][ok[kept_turns]])
    data.sample_tokens = _histogram(range_sums(tokens, start, stop) + system_tokens)
    chats = turns.conv_chat[conv_of]
    samples = Samples(
        content=content.result(),
        assistant=turns.assistant,
        trained=ok,
        system=encode_str(system_prompt),
        start=start,
        stop=stop,
        chat=chats,
        time=turns.conv_time[conv_of],
        n=n,
    )
    return samples, n_conv, set(chats.tolist())


def _histogram(values: np.ndarray) -> tuple[list[int], list[float]]:
    """Counts and bin edges for a chart: one bin per unit up to 60 bins."""
    if not len(values):
        return [], []
    counts, edges = np.histogram(values, bins=min(60, max(5, int(values.max()))))
    return counts.tolist(), edges.tolist()


def _drop(dropped: Counter, reason: str, counts: np.ndarray) -> None:
    n = int(counts.sum())
    if n:
        dropped[reason] += n


def _write_data(
    tmp: Path,
    splits: dict[str, Samples],
    cfg: BuildConfig,
    stats: dict,
    draw: Callable[[], None] | None,
) -> dict[str, str]:
    """train/dev, the exports and the report (`draw`); the exports' file names.

    The files do not depend on one another, and their work is mostly Arrow kernels and file
    writes, which let go of the GIL: two threads write them, the largest first.
    """
    config = {
        **cfg.to_dict(),
        # The words to block are what must not be written: their number only.
        "block": ["<BLOCKED>"] * len(cfg.block),
        "system_prompt": stats["system_prompt"],
        "name": stats["name"],
        "language": stats["language"],
    }
    (tmp / "config.json").write_text(
        json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    folder = tmp / "exports"
    info = write_dataset_info(folder, list(splits))
    files: dict[str, str] = {}
    work = [partial(write_exports, folder, k, part) for k, part in splits.items()]
    work += [partial(write_split, tmp / f"{k}.jsonl", part) for k, part in splits.items()]
    if draw is not None:
        work.insert(len(splits), draw)
    with ThreadPoolExecutor(2) as pool:
        for job in [pool.submit(w) for w in work]:
            files.update(job.result() or {})  # the exports' file names (the rest returns None)
    return files | info


def _steps(total: int, dropped: Counter) -> list[dict]:
    """Messages left after each step, in pipeline order."""
    order = [
        ("drop messages read twice", [DUPLICATE_FILE, DUPLICATE_MESSAGE]),
        ("leave out group chats", [conv.GROUP]),
        (
            "drop system lines, recall notices and empty messages",
            [conv.SYSTEM, conv.RECALL, conv.EMPTY],
        ),
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
