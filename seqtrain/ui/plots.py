"""PNG plots written into run directories (matplotlib is imported only here)."""

from __future__ import annotations

import json
from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_losses(metrics_path: Path, out: Path) -> Path | None:
    """Train and dev loss against steps, from metrics.jsonl."""
    if not metrics_path.exists():
        return None
    series: dict[str, tuple[list, list]] = {}
    for line in metrics_path.read_text().splitlines():
        record = json.loads(line)
        if "loss" in record["metrics"]:
            xs, ys = series.setdefault(record["split"], ([], []))
            xs.append(record["step"])
            ys.append(record["metrics"]["loss"])
    if not series:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for split, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=split)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if all(y > 0 for _, ys in series.values() for y in ys):
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


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
