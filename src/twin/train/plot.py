"""The loss curve of a run, as a picture (train and dev)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure


def plot_losses(metrics: list[dict], path: Path) -> None:
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    steps = [m["step"] for m in metrics]
    ax.plot(steps, [m["loss"] for m in metrics], label="train loss", color="#d9480f", linewidth=1)
    dev = [(m["step"], m["dev_loss"]) for m in metrics if "dev_loss" in m]
    if dev:
        ax.plot([s for s, _ in dev], [v for _, v in dev], "o-", label="dev loss", color="#1c7ed6")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per trained token")
    ax.set_title("Training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.13, top=0.9)
    fig.savefig(path, dpi=100)
