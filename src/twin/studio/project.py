"""A studio project: one folder holding exactly what the CLI writes, so either can carry on.

<project>/
  exports/          files uploaded through the page (a typed folder path is read in place)
  messages.jsonl    `twin ingest`
  twin.toml         the [build] settings chosen in the page (`twin build --config` reads it)
  dataset/          `twin build`
  runs/run-N/       `twin train`
  eval/run-N/       `twin eval`
  share/            `twin export` folders and the zips offered for download
  jobs/             the studio's own bookkeeping of background commands (train, eval, …)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from twin.errors import TwinError

DEFAULT_ROOT = Path("~/twin-studio")
_NAME = re.compile(r"^[\w][\w .-]{0,63}$")


def default_root() -> Path:
    return Path(os.environ.get("TWIN_STUDIO_HOME", str(DEFAULT_ROOT))).expanduser()


@dataclass(frozen=True)
class Project:
    folder: Path

    @classmethod
    def open(cls, root: Path, name: str) -> Project:
        """The project `name` under `root`, created on first use."""
        if not _NAME.match(name) or name.strip(". ") != name.strip():
            raise TwinError(
                f"project name {name!r}: use letters, digits, spaces, '.', '_' or '-' (at most 64)"
            )
        folder = root.expanduser() / name
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def exports(self) -> Path:
        return self.folder / "exports"

    @property
    def messages(self) -> Path:
        return self.folder / "messages.jsonl"

    @property
    def config(self) -> Path:
        return self.folder / "twin.toml"

    @property
    def dataset(self) -> Path:
        return self.folder / "dataset"

    @property
    def runs(self) -> Path:
        return self.folder / "runs"

    @property
    def jobs(self) -> Path:
        return self.folder / "jobs"

    @property
    def share(self) -> Path:
        return self.folder / "share"

    def eval_dir(self, run: str) -> Path:
        return self.folder / "eval" / Path(run).name

    def has_dataset(self) -> bool:
        return (self.dataset / "train.jsonl").is_file()

    def run_names(self) -> list[str]:
        """Run folders, newest first (run-10 after run-9)."""
        if not self.runs.is_dir():
            return []
        names = [p.name for p in self.runs.iterdir() if p.is_dir()]
        return sorted(names, key=_natural, reverse=True)

    def finished_runs(self) -> list[str]:
        """Runs with an adapter to load, and their checkpoints, as paths relative to runs/."""
        out = []
        for name in self.run_names():
            run = self.runs / name
            if (run / "adapter_config.json").is_file() and (run / "twin_run.json").is_file():
                out.append(name)
            ckpts = run / "checkpoints"
            if ckpts.is_dir() and (run / "twin_run.json").is_file():
                for c in sorted(ckpts.iterdir(), key=lambda p: _natural(p.name), reverse=True):
                    if (c / "adapter_config.json").is_file():
                        out.append(f"{name}/checkpoints/{c.name}")
        return out

    def new_run_name(self) -> str:
        taken = {int(m.group(1)) for n in self.run_names() if (m := re.match(r"run-(\d+)$", n))}
        return f"run-{max(taken, default=0) + 1}"

    def run_path(self, name: str) -> Path:
        """A run (or run/checkpoints/step-N) inside this project; never a path outside it."""
        path = (self.runs / name).resolve()
        if self.runs.resolve() not in path.parents:
            raise TwinError(f"{name!r} is not a run of project {self.name!r}")
        return path

    def read_json(self, path: Path) -> dict | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def _natural(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def toml_value(value) -> str:
    """A TOML literal for the scalars and string lists of the build settings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def write_build_settings(project: Project, settings: dict) -> None:
    """Save the page's build settings as the [build] table of the project's twin.toml."""
    lines = [
        "# Written by twin studio; `twin build --config twin.toml` reads the same settings.",
        "[build]",
    ]
    for key, value in settings.items():
        if value is not None:
            lines.append(f"{key} = {toml_value(value)}")
    project.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
