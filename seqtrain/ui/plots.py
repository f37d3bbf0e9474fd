"""PNG plots written into run directories (matplotlib is imported only here)."""

from __future__ import annotations

import json
from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def read_series(metrics_path: Path, metric: str) -> dict[str, tuple[list, list]]:
    """split -> (steps, values) of one metric, from metrics.jsonl."""
    series: dict[str, tuple[list, list]] = {}
    for line in metrics_path.read_text().splitlines():
        record = json.loads(line)
        if metric in record["metrics"]:
            xs, ys = series.setdefault(record["split"], ([], []))
            xs.append(record["step"])
            ys.append(record["metrics"][metric])
    return series


def plot_losses(metrics_path: Path, out: Path, monitor: str = "loss") -> Path | None:
    """loss.png: see loss_figure."""
    fig = loss_figure(metrics_path, monitor) if metrics_path.exists() else None
    if fig is None:
        return None
    fig.savefig(out, dpi=100)
    _pyplot().close(fig)
    return out


def loss_figure(metrics_path: Path, monitor: str = "loss"):
    """Train and dev loss against steps, from metrics.jsonl; beside them, the monitored dev metric
    (accuracy, F1, ...) when it is not the loss, so a reader sees where it levelled off."""
    series = read_series(metrics_path, "loss")
    dev = read_series(metrics_path, monitor).get("dev") if monitor != "loss" else None
    if not series and not dev:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2 if dev else 1, figsize=(11 if dev else 6, 4), squeeze=False)
    ax = axes[0][0]
    for split, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=split)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if series and all(y > 0 for _, ys in series.values() for y in ys):
        ax.set_yscale("log")
    if series:
        ax.legend()
    ax.grid(alpha=0.3)
    if dev:
        ax = axes[0][1]
        ax.plot(*dev, marker="o", markersize=3, color="tab:green", label=f"dev {monitor}")
        ax.set_xlabel("step")
        ax.set_ylabel(f"dev {monitor}")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_series(out: Path, x, lines: dict[str, list], title: str, xlabel: str = "t") -> Path:
    """Several named curves over the same x (prediction against target, say)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, ys in lines.items():
        ax.plot(x, ys, label=label)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
