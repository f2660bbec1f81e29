"""The notebook's GPU check, copied verbatim into the generated notebook's GPU cell.

It runs before twin is installed in the notebook, so it uses the standard library only (torch is
imported inside `detect`, and Kaggle and Colab ship it). It decides what the trainer will do:
fp16 below compute capability 8.0 (a T4 is 7.5; `torch.cuda.is_bf16_supported()` says True there
because bf16 is emulated, so the capability decides, as in twin's trainer), bf16 from 8.0 up,
one process per GPU through torchrun when there are two or more, and a clear stop without a
usable GPU. No `from __future__` import: the source must run as a notebook cell.
"""

import sys

GPU_HELP = {
    "kaggle": (
        "Turn the GPU on: in the notebook editor open the right-hand panel, Session options ->"
        " Accelerator -> 'GPU T4 x2' (needs a phone-verified Kaggle account), also switch"
        " 'Internet' on there, then Run All again.\n"
        "打开 GPU：在 Kaggle 笔记本编辑器右侧面板 Session options -> Accelerator 选择"
        " “GPU T4 x2”（账号需要先完成手机验证），同时打开 Internet，然后重新 Run All。"
    ),
    "colab": (
        "Turn the GPU on: Runtime -> Change runtime type -> Hardware accelerator 'T4 GPU' -> Save,"
        " then Runtime -> Run all again.\n"
        "打开 GPU：菜单 代码执行程序(Runtime) -> 更改运行时类型 -> 硬件加速器选 “T4 GPU” -> 保存，"
        "然后重新 全部运行(Run all)。"
    ),
}


class NoGPU(Exception):
    """Raised by the GPU cell to stop Run All, with what to do in its message."""


def torch_runs_on(capability, arch_list):
    """Whether the installed torch has kernels for a GPU of this compute capability.

    A binary for sm_XY runs on the same major version with an equal or higher minor; PTX
    (compute_XY) is compiled on the spot for any capability at or above XY. An empty list means
    torch did not say, and the GPU is given the benefit of the doubt.
    """
    if not arch_list:
        return True
    major, minor = capability
    for arch in arch_list:
        kind, _, digits = arch.partition("_")
        if not digits.isdigit() or len(digits) < 2:
            continue
        a_major, a_minor = int(digits[:-1]), int(digits[-1])
        if kind == "sm" and a_major == major and a_minor <= minor:
            return True
        if kind == "compute" and (a_major, a_minor) <= (major, minor):
            return True
    return False


def plan(devices, arch_list, target="kaggle"):
    """What training will do on these GPUs: {"gpus", "precision", "launcher", "summary"}.

    `devices` is a list of {"name", "capability": (major, minor), "memory_gb"}, as `detect`
    returns them. Raises NoGPU with what to do when no GPU can train.
    """
    help_text = GPU_HELP.get(target, GPU_HELP["kaggle"])
    if not devices:
        raise NoGPU("No GPU found. 没有找到 GPU。\n" + help_text)
    usable = [d for d in devices if torch_runs_on(tuple(d["capability"]), arch_list)]
    if not usable:
        d = devices[0]
        cap = "{}.{}".format(*d["capability"])
        raise NoGPU(
            f"{d['name']} (compute capability {cap}) is too old for the installed PyTorch, which"
            f" has no kernels for it. 这块 GPU（{d['name']}）太旧，当前的 PyTorch 不支持。\n"
            + help_text.replace("Turn the GPU on", "Choose another GPU")
        )
    bf16 = all(tuple(d["capability"]) >= (8, 0) for d in usable)
    n = len(usable)
    names = ", ".join(sorted({d["name"] for d in usable}))
    cap = "{}.{}".format(*min(tuple(d["capability"]) for d in usable))
    memory = min(d.get("memory_gb") or 0 for d in usable)
    why = (
        "bf16 (native from compute capability 8.0)"
        if bf16
        else f"fp16 (compute capability {cap} < 8.0 has no native bf16)"
    )
    how = (
        f"data-parallel over {n} GPUs with torchrun (one process per GPU)"
        if n > 1
        else "one process on one GPU"
    )
    return {
        "gpus": n,
        "precision": "bf16" if bf16 else "fp16",
        "launcher": "torchrun" if n > 1 else "python",
        "summary": f"Found {n} x {names} ({memory:.0f} GB each): {why}; {how}.",
    }


def detect():
    """(devices, arch_list) as torch sees them; no GPU when torch or CUDA is missing."""
    try:
        import torch
    except ImportError:
        return [], []
    if not torch.cuda.is_available():
        return [], []
    devices = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        devices.append(
            {
                "name": torch.cuda.get_device_name(i),
                "capability": tuple(torch.cuda.get_device_capability(i)),
                "memory_gb": props.total_memory / 2**30,
            }
        )
    return devices, list(torch.cuda.get_arch_list())


def _show_stop(shell, etype, value, tb, tb_offset=None):
    """Show a NoGPU as its message alone (no traceback); the cell still fails, so Run All stops."""
    print(str(value), file=sys.stderr)
    return []


def check_gpu(target="kaggle", smoke=False):
    """The GPU cell: detect, decide, say what was found; NoGPU stops the notebook."""
    if smoke:
        result = {"gpus": 0, "precision": "auto", "launcher": "python"}
        result["summary"] = "Smoke test (TWIN_NOTEBOOK_SMOKE=1): GPU check skipped, CPU training."
        print(result["summary"])
        return result
    try:
        shell = get_ipython()  # noqa: F821 - defined inside IPython only
        shell.set_custom_exc((NoGPU,), _show_stop)
    except NameError:
        pass
    devices, arch_list = detect()
    result = plan(devices, arch_list, target)
    print(result["summary"])
    return result
