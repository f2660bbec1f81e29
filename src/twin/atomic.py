"""Write files so that a failure never leaves a half-written output behind.

Outputs are written under a hidden temporary name beside the target, `.NAME.PID-XXXX.tmp`, and
renamed into place when complete. A process killed outright (kill -9, power loss) cannot clean
up, and its temp files may hold private messages, so the next write to the same target removes
the temps whose writer is gone (the PID in the name; temps from before the PID was added once
they are an hour old).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator[IO]:
    """Open a temp file beside `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        kwargs = {"encoding": encoding, "newline": "\n"} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temp name and move it into place only if the block succeeds.

    An existing directory at `path` is replaced only after the new one is complete; on failure,
    parent folders made for it are removed again.
    """
    path = Path(path)
    made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]  # innermost first
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for p in made:
            with contextlib.suppress(OSError):
                p.rmdir()
        raise


STALE_AGE = 3600.0  # seconds: a temp named without its writer's PID is left alone this long


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}-"


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temps an earlier, killed write to `path` left beside it; returns them.

    Only names twin itself makes (`.NAME.*.tmp`, and `.NAME.old` once `path` exists again), and
    only when their writer is gone: a concurrent write to the same target keeps its temp.
    """
    path = Path(path)
    prefix = f".{path.name}."
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return []
    removed = []
    for entry in entries:
        name = entry.name
        if name == f".{path.name}.old":
            stale = path.exists()
        elif name.startswith(prefix) and name.endswith(".tmp"):
            stale = _abandoned(entry, name[len(prefix) : -len(".tmp")])
        else:
            continue
        if stale and _remove(entry):
            removed.append(entry)
    return removed


def _abandoned(entry: Path, middle: str) -> bool:
    pid, sep, _ = middle.partition("-")
    if sep and pid.isdigit():
        return not _alive(int(pid))
    try:  # an older name, without the PID
        return time.time() - entry.lstat().st_mtime > STALE_AGE
    except OSError:
        return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OSError:
        return False
    return True


def _remove(entry: Path) -> bool:
    try:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    except OSError:
        return False
    return True
