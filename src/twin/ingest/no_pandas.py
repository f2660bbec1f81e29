"""Keep pyarrow from importing pandas in `twin ingest` and `twin build`.

pyarrow imports pandas (when it is installed) on its first conversion (`pa.array`, `to_numpy`),
only to recognise pandas objects, which twin never gives it. On the 1,000,000-message CSV that
import was 0.40 s of a 2.4 s build (median of 11 paired runs, every one of them slower with it;
0.56 s of CPU), a start-up trick that measures above its spread (benchmarks/bench_startup.py).
"""

from __future__ import annotations

import sys


class _NoPandas:
    """A meta path finder that refuses pandas (importlib.abc is not imported for it)."""

    def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201
        if name == "pandas":
            raise ModuleNotFoundError("pandas is kept out of pyarrow here", name=name)
        return None


def keep_pandas_out_of_arrow() -> None:
    """Make pyarrow note pandas as absent, for the rest of this process.

    The import is refused for pyarrow's first conversion only, where pyarrow looks for pandas
    once and remembers the answer; `import pandas` works as before afterwards, only pyarrow's
    own pandas conversions stay off. For the CLI's own process, never for a library caller's.
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
