"""Rich tables for the terminal: training summary, evaluation, checkpoint info."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

console = Console()


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return str(v)


def key_value_table(title: str, rows: dict) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows.items():
        table.add_row(str(k), _value(v))
    return table


def print_summary(summary: dict, quiet: bool = False) -> None:
    if quiet:
        console.print(summary["run_dir"])
        return
    rows = {"run": summary["run_dir"], "stopped": summary["stopped"], "epochs": summary["epochs"],
            "steps": summary["steps"], "time (s)": summary["elapsed_seconds"],
            f"best {summary['monitor']}": f"{_value(summary['best']['value'])} (step {summary['best']['step']})"}
    rows.update({f"final {k}": v for k, v in summary["final"].items()})
    rows["best checkpoint"] = summary["checkpoints"]["best"]
    for path in summary.get("artifacts", []):
        rows.setdefault("plots", path)
    console.print(key_value_table("training summary", rows))


def print_evaluation(result: dict) -> None:
    console.print(key_value_table(f"{result['data']} ({result['examples']} examples)", result["metrics"]))
    for t in result["tables"]:
        table = Table(title=t["title"], title_justify="left")
        for c in t["columns"]:
            table.add_column(c, justify="right" if c != t["columns"][0] else "left")
        for row in t["rows"]:
            table.add_row(*[_value(v) for v in row])
        console.print(table)


def print_info(info: dict) -> None:
    p = info["progress"]
    rows = {"checkpoint": info["checkpoint"], "task": info["task"], "format version": info["format_version"],
            "written by": f"seqtrain {info['seqtrain_version']}, torch {info['torch_version']}",
            "parameters": f"{info['parameters']:,}" + (f" trained, {info['frozen_weights']:,} frozen"
                                                        if info.get("frozen_weights") else ""), "epoch / step": f"{p['epoch']} / {p['step']}",
            "best": f"{_value(p['best'])} (step {p['best_step']})"}
    rows.update({f"vocab {k}": v for k, v in info["vocab_sizes"].items()})
    rows.update({f"metric {k}": v for k, v in (info["metrics"] or {}).items() if k not in ("step",)})
    rows.update({f"model.{k}": v for k, v in info["model"].items()})
    console.print(key_value_table("checkpoint", rows))
