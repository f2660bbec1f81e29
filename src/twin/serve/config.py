"""What the chat page looks like: title, description, examples, theme and language.

The tutorial's app.py set all four by hand. Here they come, in order of precedence, from flags,
from an optional `"serve"` table in the run's twin_run.json (so a person sets them once), and from
defaults built from the run's name. The same settings go into an exported Space.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from twin.errors import TwinError
from twin.runs import RunFolder, RunInfo
from twin.serve.texts import DEFAULT_EXAMPLES, LANGS, text

# Gradio's built-in themes; a hub theme ("owner/name") would be downloaded when the page starts,
# which breaks offline use and Spaces without network, so only these are accepted.
THEMES = ("default", "soft", "base", "glass", "monochrome", "origin", "citrus", "ocean")

# A conversation longer than this is refused (page and API alike): the model only ever reads
# the newest turns that fit its context, and trimming thousands of turns is work for nothing.
MAX_MESSAGES = 256
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def add_page_flags(group, limits: bool = True) -> None:
    """The page's flags, for `twin serve` and (without the serving limits) `twin export --to space`."""
    group.add_argument("--title", help='page title (default: "NAME\'s twin")')
    group.add_argument("--description", help="text under the title (Markdown)")
    group.add_argument("--examples", nargs="+", metavar="TEXT", help="clickable example messages")
    group.add_argument("--theme", choices=THEMES, help="Gradio theme (default soft)")
    group.add_argument(
        "--lang", choices=LANGS, help="page language (default: from the run, else en)"
    )
    if limits:
        group.add_argument(
            "--max-input-chars", type=int, help="longest message accepted (default 2000 characters)"
        )
        group.add_argument(
            "--concurrency", type=int, help="replies generated at once (default 1; others queue)"
        )


def page_flags(args: argparse.Namespace) -> dict:
    """The page settings the command line gave (None where a flag was not given)."""
    names = ("title", "description", "examples", "theme", "lang", "max_input_chars", "concurrency")
    return {n: getattr(args, n) for n in names if hasattr(args, n)}


@dataclass
class PageConfig:
    title: str
    description: str
    examples: list[str] = field(default_factory=list)
    theme: str = "soft"
    lang: str = "en"
    # Longer messages are refused with a friendly note: they would only be trimmed away to fit the
    # model's context, and very long inputs are an easy way to tie up a shared CPU.
    max_input_chars: int = 2000
    # Replies generated at once; one model answers one request at a time anyway, so more only
    # interleaves slower replies. Waiting users see their place in the queue.
    concurrency: int = 1
    queue_size: int = 64

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def max_total_chars(self) -> int:
        """The most characters a whole conversation may hold."""
        return 20 * self.max_input_chars


def run_file(info: RunInfo) -> Path | None:
    """twin_run.json of a run (or of the run a checkpoint belongs to)."""
    run = RunFolder.containing(info.folder) if info.folder is not None else None
    return run.run_file if run is not None else None


def saved_settings(info: RunInfo) -> dict:
    """The optional `"serve"` table of twin_run.json."""
    path = run_file(info)
    if path is None:
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    serve = data.get("serve") or {}
    if not isinstance(serve, dict):
        raise TwinError(f'{path}: "serve" must be an object with title, description, examples…')
    return serve


def save_settings(info: RunInfo, updates: dict) -> Path:
    """Merge page settings into the run's `"serve"` table, so they need not be typed again."""
    from twin.atomic import atomic_write

    path = run_file(info)
    if path is None:
        raise TwinError("--save needs a run folder with twin_run.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    serve = dict(data.get("serve") or {})
    serve.update({k: v for k, v in updates.items() if v is not None})
    data["serve"] = serve
    with atomic_write(path) as f:
        f.write(json.dumps(data, ensure_ascii=False, indent=2))
    return path


def guess_lang(info: RunInfo) -> str:
    """Chinese when the run's name or system prompt is written in Chinese, else English."""
    sample = f"{info.name or ''}{info.system_prompt or ''}"
    return "zh" if _CJK.search(sample) else "en"


def page_config(
    info: RunInfo,
    *,
    title: str | None = None,
    description: str | None = None,
    examples: list[str] | None = None,
    theme: str | None = None,
    lang: str | None = None,
    max_input_chars: int | None = None,
    concurrency: int | None = None,
) -> PageConfig:
    """Flags first, then the run's `"serve"` table, then defaults from the run's name."""
    saved = saved_settings(info)
    lang = lang or saved.get("lang") or guess_lang(info)
    if lang not in LANGS:
        raise TwinError(f"language must be one of {', '.join(LANGS)}, not {lang!r}")
    theme = theme or saved.get("theme") or "soft"
    if theme not in THEMES:
        raise TwinError(f"theme must be one of {', '.join(THEMES)}, not {theme!r}")
    name = info.name
    if title is None:
        title = saved.get("title") or (
            text(lang, "title", name=name) if name else text(lang, "title_unnamed")
        )
    if description is None:
        description = saved.get("description") or (
            text(lang, "description", name=name) if name else text(lang, "description_unnamed")
        )
    if examples is None:
        examples = saved.get("examples") or DEFAULT_EXAMPLES[lang]
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        raise TwinError("examples must be a list of strings")
    cfg = PageConfig(
        title=str(title),
        description=str(description),
        examples=[e for e in examples if e.strip()],
        theme=theme,
        lang=lang,
        max_input_chars=int(max_input_chars or saved.get("max_input_chars") or 2000),
        concurrency=int(concurrency or saved.get("concurrency") or 1),
    )
    if cfg.max_input_chars < 1 or cfg.concurrency < 1:
        raise TwinError("--max-input-chars and --concurrency must be at least 1")
    return cfg
