"""What a training run shows on the terminal: a rich progress bar and a line per evaluation."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def format_metrics(metrics: dict) -> str:
    return "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())


class TrainDisplay:
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.console = Console(stderr=True)
        self.bar: Progress | None = None
        self.tokens = 0
        self.since = time.perf_counter()

    def start(self, total_steps: int, done: int, run_dir) -> None:
        if self.quiet:
            return
        self.console.print(f"[bold]run[/bold] {run_dir}")
        self.bar = Progress(TextColumn("[bold]step"), MofNCompleteColumn(), BarColumn(),
                            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[speed]}"),
                            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                            console=self.console, transient=True)
        self.task_id = self.bar.add_task("train", total=total_steps, completed=done, loss="-", speed="")
        self.bar.start()
        self.tokens, self.since = 0, time.perf_counter()

    def count(self, tokens: int) -> None:
        self.tokens += tokens

    def update(self, step: int, loss: float, tokens: int) -> None:
        self.tokens += tokens
        if self.bar is None:
            return
        now = time.perf_counter()
        speed = self.tokens / max(now - self.since, 1e-9)
        self.tokens, self.since = 0, now
        self.bar.update(self.task_id, completed=step, loss=f"{loss:.4f}", speed=f"{speed:,.0f} tok/s")

    def evaluation(self, epoch: int, step: int, metrics: dict, monitor: str, improved: bool,
                   report: str | None) -> None:
        if self.quiet:
            return
        star = " [green]*best*[/green]" if improved else ""
        self.console.print(f"epoch {epoch} step {step}  {format_metrics(metrics)}{star}")
        if report:
            self.console.print(f"  {report}", markup=False)

    def note(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, markup=False)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
