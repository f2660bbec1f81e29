"""The untuned base's evaluation, kept between evals.

A base model does not change between two evals of the same dataset, so its dev loss and replies
do not either: with the same base files, dev conversations, prompts, seeds and generation
settings (and the same twin, transformers and torch), they are read back instead of generated,
which halves an eval of one run. The key hashes all of these; anything else makes a new entry.
Entries live under the twin cache folder (TWIN_CACHE, else ~/.cache/twin) in `eval-base/`.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from twin.models import BaseRef, cache_dir

VERSION = 1  # bump when what is cached, or how it is computed, changes


def _versions() -> dict[str, str]:
    out = {}
    for name in ("twin", "transformers", "torch"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "?"
    return out


def _files_of(folder: Path, names: list[str]) -> list[tuple[str, int, int]]:
    found = []
    for name in names:
        p = folder / name
        if p.is_file():
            st = p.stat()
            found.append((name, st.st_size, int(st.st_mtime)))
    return found


def base_identity(ref: BaseRef) -> dict:
    """What makes two bases the same model: their files (size and time), or the hub snapshot."""
    path = Path(ref.path)
    if ref.gguf_file is not None:
        return {"gguf": str(path / ref.gguf_file), "files": _files_of(path, [ref.gguf_file])}
    if path.is_dir():
        weights = sorted(p.name for p in path.iterdir() if p.suffix in (".safetensors", ".bin"))
        return {"folder": str(path), "files": _files_of(path, ["config.json", *weights])}
    snapshot = None
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(ref.path, "config.json")
        snapshot = Path(hit).parent.name if isinstance(hit, str) else None
    except Exception:  # noqa: BLE001  (no cache, an old hub client: the id alone then)
        snapshot = None
    return {"hub": ref.path, "snapshot": snapshot}


def key_of(parts: dict) -> str:
    """A hash of everything the cached result depends on (parts must be JSON)."""
    data = {"twin_eval_cache": VERSION, "versions": _versions(), **parts}
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


def _path(key: str) -> Path:
    return cache_dir() / "eval-base" / f"{key}.json"


def load(key: str) -> dict | None:
    """The cached result, or None (missing or unreadable: it is computed again)."""
    try:
        data = json.loads(_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def save(key: str, result: dict) -> None:
    """Keep a result; a cache that cannot be written only costs time next eval."""
    from twin.atomic import atomic_write

    try:
        _path(key).parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(_path(key)) as f:
            json.dump({**result, "key": key}, f, ensure_ascii=False)
    except OSError:
        pass
