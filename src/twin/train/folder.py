"""Is this a dataset folder? Answered before anything heavy loads.

`twin train` imports torch and loads a model for several seconds before it reads the dataset,
so a wrong argument (the export file itself, the source folder) is checked first, and the error
says what the argument is and which command makes a dataset from it.
"""

from __future__ import annotations

from pathlib import Path

from twin.errors import TwinError


def check_dataset_folder(folder: str | Path) -> Path:
    """The folder, if it holds a train.jsonl; otherwise a TwinError saying what it is instead."""
    d = Path(folder)
    if d.is_file():
        if d.name in ("train.jsonl", "dev.jsonl"):
            raise TwinError(
                f"{folder}: is a file; give the dataset folder that holds it: twin train {d.parent}"
            )
        raise TwinError(
            f"{folder}: is a file, not a dataset folder. `twin build {folder} -o dataset` makes "
            "a dataset from a chat export (or a messages.jsonl); then: twin train dataset"
        )
    if not d.exists():
        raise TwinError(
            f"{folder}: no such dataset folder (make one with `twin build EXPORT -o {folder}`)"
        )
    if not d.is_dir():
        raise TwinError(f"{folder}: not a folder; expected a dataset folder from `twin build`")
    if not (d / "train.jsonl").is_file():
        raise TwinError(
            f"{folder}: has no train.jsonl, so it is not a dataset folder (`twin build EXPORT "
            "-o dataset` writes one; then: twin train dataset)"
        )
    return d
