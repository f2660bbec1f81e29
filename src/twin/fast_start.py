"""Start-up (and shut-down) costs a command can skip."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator


class _NoPandas:
    """A meta path finder (importlib.abc is not imported for it: 5 ms at start-up)."""

    def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201
        if name == "pandas":
            raise ModuleNotFoundError("pandas is kept out of pyarrow here", name=name)
        return None


def keep_pandas_out_of_arrow() -> None:
    """Make pyarrow treat pandas as absent, for the rest of this process.

    pyarrow imports pandas (when installed) on its first `pa.array()` call, only to recognise
    pandas objects, which twin never gives it: 0.2 to 0.3 s of CPU at the start of every
    `twin build` (a sixth of its time on a million messages). Blocking the import for that one
    call makes pyarrow note pandas as missing; `import pandas` works as before afterwards, only
    pyarrow's own pandas conversions stay off. For the CLI's own process only, never for a
    library caller's.
    """
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    blocker = _NoPandas()
    sys.meta_path.insert(0, blocker)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(blocker)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy imported inside this block (or by a process forked in it) runs OpenBLAS on one
    thread.

    At import, OpenBLAS starts a thread per core that spins for about 0.1 s of CPU waiting for
    work; ingest and build do no linear algebra, and on two cores that is CPU the data path
    needs. The variable is read when OpenBLAS loads, so it is set only around the import: it
    does not reach anything run later in this process. A user's own setting is left alone.
    """
    if "numpy" in sys.modules or "OPENBLAS_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        os.environ.pop("OPENBLAS_NUM_THREADS", None)


def freeze_imports() -> None:
    """Leave everything imported so far out of garbage collection, for the rest of a CLI run.

    numpy and pyarrow bring a few hundred thousand objects that live as long as the process:
    every full collection during the run, and the collections at exit, walk all of them (about
    20 ms at the end of `twin build` alone). Frozen, they are never collected, which they would
    not be anyway. Call after the command's imports, from the CLI only; only the first call
    in a process freezes (a test session calling the CLI many times keeps collecting).
    """
    if not gc.get_freeze_count():
        gc.freeze()
