"""Training speed on this machine: measured for the bases trained here, estimated for the rest.

Every `twin train` on a CPU, and `twin models --measure`, records the base's non-padding
tokens per second in the twin cache (speed.json), keyed by base and CPU. `twin models` turns
that into time per 1,000 samples; for bases never trained here it estimates from FLOPs: the
FLOP/s this CPU's matmul reaches (measured in a fraction of a second), times the share of it a
LoRA step reaches — calibrated from the measured bases when there are any (twin.catalog has the
FLOP count per token).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from twin.catalog import CPU_EFFICIENCY, TOKENS_PER_SAMPLE, ModelEntry


def _path() -> Path:
    from twin.models import cache_dir

    return cache_dir() / "speed.json"


def cpu_name() -> str:
    """The CPU model, as Linux names it (else the platform's word)."""
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return name


def measured() -> dict[str, dict]:
    """Measured speeds on this CPU, by base spec."""
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    cpu = cpu_name()
    return {k: v for k, v in data.items() if isinstance(v, dict) and v.get("cpu") == cpu}


def record(spec: str, tokens_per_s: float, source: str) -> None:
    """Remember a catalog base's training speed on this CPU (a failed write only loses the
    figure; other bases are not in the table, so not recorded)."""
    from twin.catalog import find

    entry = find(spec)
    if entry is None:
        return
    spec = entry.spec
    path = _path()
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        data = {}
    data[spec] = {
        "tokens_per_s": round(float(tokens_per_s), 2),
        "cpu": cpu_name(),
        "source": source,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, path)


def matmul_flops(n: int = 512, reps: int = 5, dtype=None) -> float:
    """Best FLOP/s of an n×n matmul on this CPU (2n³ FLOPs each), fp32 unless `dtype` says."""
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def cpu_times(models: list[ModelEntry]) -> dict[str, tuple[float, bool]]:
    """Seconds per 1,000 samples on this CPU by alias, and whether the figure was measured."""
    seen = measured()
    peak = matmul_flops()
    effs = [
        seen[e.spec]["tokens_per_s"] * e.train_flops_per_token() / peak
        for e in models
        if e.spec in seen
    ]
    eff = sum(effs) / len(effs) if effs else CPU_EFFICIENCY
    out = {}
    for e in models:
        if e.spec in seen:
            out[e.alias] = (1000 * TOKENS_PER_SAMPLE / seen[e.spec]["tokens_per_s"], True)
        else:
            out[e.alias] = (e.seconds_per_1000(peak * eff), False)
    return out
