"""The start-up shortcuts of the CLI: pyarrow works and pandas still imports; numpy loads
with one OpenBLAS thread and leaves the environment as it was; option parsing loads neither."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = """
import sys
import pyarrow as pa
from twin.fast_start import keep_pandas_out_of_arrow
keep_pandas_out_of_arrow()
assert pa.array([1, 2]).to_pylist() == [1, 2]
assert "pandas" not in sys.modules, "pyarrow imported pandas"
import pandas
assert pandas.DataFrame({"a": [1]}).shape == (1, 1)
print("ok")
"""


def test_pyarrow_works_without_importing_pandas_and_pandas_still_imports():
    r = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


BLAS = """
import os
from twin.fast_start import one_blas_thread
with one_blas_thread():
    import numpy
print(len(os.listdir("/proc/self/task")), "OPENBLAS_NUM_THREADS" in os.environ)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_numpy_loads_without_blas_threads_and_the_environment_is_restored():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    r = subprocess.run([sys.executable, "-c", BLAS], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "False"]


PARSE = """
import sys
from twin.cli import build_parser
for verb in ("build", "ingest"):
    build_parser(verb).parse_args([verb, "x.csv"])
print(sorted(m for m in ("numpy", "pyarrow", "pandas", "matplotlib") if m in sys.modules))
"""


def test_parsing_the_options_of_build_and_ingest_loads_no_heavy_module():
    """The report process is forked after parsing and before numpy: a small, quick fork."""
    r = subprocess.run([sys.executable, "-c", PARSE], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_format_names_without_importing_the_importers():
    from twin.ingest.formats import all_formats, names

    assert names() == [m.NAME for m in all_formats()]


FREEZE = """
import gc
from twin.fast_start import freeze_imports
import numpy
freeze_imports()
frozen = gc.get_freeze_count()
freeze_imports()
print(frozen > 1000, gc.get_freeze_count() == frozen)
"""


def test_imports_are_frozen_once():
    r = subprocess.run([sys.executable, "-c", FREEZE], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]
