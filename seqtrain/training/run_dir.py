"""The run directory: where a new run goes, claiming it (and undoing the claim if the run never
got to its first checkpoint), and the metrics log of a resumed run."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
from datetime import datetime
from pathlib import Path

from seqtrain.core.errors import UserError
from seqtrain.distributed import world as distributed


def forget_metrics_after(path: Path, step: int) -> None:
    """Drop what a killed run logged after its last checkpoint (the resumed run logs those steps again),
    and a line torn by the kill."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)

    def logged_step(line: str) -> float:
        try:
            return json.loads(line)["step"]
        except (ValueError, KeyError, TypeError):
            return math.inf

    kept = [line for line in lines if line.endswith("\n") and logged_step(line) <= step]
    if len(kept) != len(lines):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, path)


def default_run_dir(name: str) -> Path:
    return Path("runs") / name / datetime.now().strftime("%Y%m%d-%H%M%S")


def claim_run_dir(run_dir: Path, overwrite: bool) -> Path | None:
    """A run directory that already holds a run is never reused silently. With --overwrite the old
    run is moved aside (the path returned) until the new one has started."""
    aside = None
    if run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise UserError(f"{run_dir}: already holds a run; use --resume {run_dir} to continue it, "
                            f"--overwrite to replace it, or another --run-dir")
        aside = run_dir.with_name(f".{run_dir.name}.replaced")
        shutil.rmtree(aside, ignore_errors=True)  # left by a start that was killed
        run_dir.rename(aside)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    return aside


@contextlib.contextmanager
def new_run(run_dir: Path, overwrite: bool, world):
    """Claim RUN_DIR for a new run. A run that stops (bad data, a bad train.monitor, a NaN, Ctrl-C)
    before its first checkpoint leaves nothing behind, and the run it replaced (--overwrite) comes back."""
    created = [p for p in [run_dir, *run_dir.parents] if not p.exists()]  # what this run creates
    previous = signal.signal(signal.SIGTERM, interrupt)  # until the loop takes over: undo, like Ctrl-C
    claimed, replaced = False, None
    try:
        with distributed.all_or_none(world):  # rank 0 alone claims; a refusal stops every process
            replaced = claim_run_dir(run_dir, overwrite) if world.is_main else None
        claimed = world.is_main
        yield
    except BaseException:
        if claimed and not (run_dir / "checkpoints" / "last.pt").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
            for parent in created[1:]:  # empty parents this run made (runs/NAME/)
                with contextlib.suppress(OSError):
                    parent.rmdir()
            if replaced is not None:
                replaced.rename(run_dir)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        if replaced is not None and replaced.exists():
            shutil.rmtree(replaced, ignore_errors=True)


def interrupt(signum, frame):
    raise KeyboardInterrupt
