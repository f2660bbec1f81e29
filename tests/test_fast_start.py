"""The start-up shortcut of the CLI leaves pyarrow working and pandas importable."""

from __future__ import annotations

import subprocess
import sys

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
