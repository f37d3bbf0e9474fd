"""The run directory: where a new run goes, claiming it (and undoing the claim if the run never
got to its first checkpoint), and the metrics log of a resumed run."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
from datetime import datetime
from pathlib import Path

from seqtrain.core.errors import UserError
from seqtrain.core.owned import LOCK, check_movable, lock_or_refuse, move_aside, remove_owned_tree
from seqtrain.training.run_files import MARKER, is_run, not_a_run


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


def write_file(path: Path, text: str, mode: str = "w") -> None:
    """Write (or append) text to a file of the run; a full disk is one line naming the file."""
    try:
        with open(path, mode, encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise UserError(f"{path}: could not write ({e.strerror or e}); the checkpoints are intact") from None


def default_run_dir(name: str) -> Path:
    return Path("runs") / name / datetime.now().strftime("%Y%m%d-%H%M%S")


def claim_run_dir(run_dir: Path, overwrite: bool) -> Path | None:
    """A run directory that already holds a run is never reused silently. With --overwrite the old
    run is moved aside (the path returned) until the new one has started; only a run seqtrain wrote,
    that no live run holds (seqtrain.core.owned)."""
    aside = None
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"{run_dir}: exists and is not a directory; give --run-dir a directory")
    if run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            if not is_run(run_dir):
                raise UserError(f"{run_dir}: {not_a_run(run_dir)}")
            if not (run_dir / "checkpoints" / "last.pt").exists():
                raise UserError(f"{run_dir}: holds a run that stopped before its first checkpoint; "
                                f"use --overwrite to start it again, or another --run-dir")
            raise UserError(f"{run_dir}: already holds a run; use --resume {run_dir} to continue it, "
                            f"--overwrite to replace it, or another --run-dir")
        check_movable(run_dir, str(run_dir))
        check_writable(run_dir.resolve().parent)
        aside = run_dir.resolve().with_name(f".{run_dir.resolve().name}.replaced")
        move_aside(run_dir, aside, not_a_run, str(run_dir))
    try:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (run_dir / MARKER).touch()
    except OSError as e:
        raise UserError(f"{run_dir}: cannot create the run directory ({e.strerror or e})") from None
    check_writable(run_dir)
    return aside


def check_writable(folder: Path) -> None:
    """Fail now, in one line, rather than at the first checkpoint."""
    probe = folder / f".seqtrain-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UserError(f"{folder}: cannot write there ({e.strerror or e})") from None


@contextlib.contextmanager
def locked(run_dir: Path, world):
    """Hold an OS lock on RUN_DIR/.lock while a run trains in it (the main process only). The lock
    dies with the process, so a killed run never leaves the directory locked."""
    if not world.is_main:
        yield
        return
    try:
        handle = open(run_dir / LOCK, "a")
    except OSError as e:
        raise UserError(f"{run_dir}: cannot write there ({e.strerror or e})") from None
    try:
        lock_or_refuse(handle, str(run_dir))
        try:
            yield
        finally:
            (run_dir / LOCK).unlink(missing_ok=True)  # still held here: no other run has it
    finally:
        handle.close()


def checkpoint_to_resume(run_dir: Path) -> Path:
    """RUN_DIR/checkpoints/last.pt, or a line that names the way out."""
    last = run_dir / "checkpoints" / "last.pt"
    if not run_dir.is_dir():
        raise UserError(f"--resume {run_dir}: no such run directory")
    if not last.exists() and (run_dir / "config.yaml").is_file():
        raise UserError(f"--resume {run_dir}: the run stopped before its first checkpoint, so there is nothing "
                        f"to resume; start it again with --run-dir {run_dir} --overwrite")
    check_writable(run_dir)
    return last


@contextlib.contextmanager
def new_run(run_dir: Path, overwrite: bool, world):
    """Claim RUN_DIR for a new run. A run that stops (bad data, a bad train.monitor, a NaN, Ctrl-C)
    before its first checkpoint leaves nothing behind, and the run it replaced (--overwrite) comes back."""
    created = not_yet_there(run_dir)  # what this run creates
    claimed, replaced = False, None
    try:
        with sigterm_as_ctrl_c():  # until the loop takes over: undo, like Ctrl-C
            with world.all_or_none():  # rank 0 alone claims; a refusal stops every process
                if world.is_main:
                    with signals_held():  # a Ctrl-C there acts once `claimed` and `replaced` say what to undo
                        replaced, claimed = claim_run_dir(run_dir, overwrite), True
            with locked(run_dir, world):
                yield
    except BaseException:
        if claimed and not (run_dir / "checkpoints" / "last.pt").exists():
            remove_created(run_dir, created)
            if replaced is not None:
                replaced.rename(run_dir)
        raise
    finally:
        if replaced is not None and replaced.exists():
            remove_owned_tree(replaced)


@contextlib.contextmanager
def resumed_run(run_dir: Path, world):
    """Lock RUN_DIR for a resumed run; SIGTERM before the loop takes over stops it like Ctrl-C."""
    with sigterm_as_ctrl_c():
        with world.all_or_none():
            checkpoint_to_resume(run_dir)
        with locked(run_dir, world):
            yield


@contextlib.contextmanager
def signals_held():
    """Ctrl-C and SIGTERM that come while the block runs act when it has run (KeyboardInterrupt).
    Python runs signal handlers in the main thread whichever thread the signal reached, so a
    handler that only notes the signal holds it where a blocked signal mask (one thread's) might not."""
    came, kept = [], (s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not signal.SIG_IGN)
    previous = {s: signal.signal(s, lambda signum, frame: came.append(signum)) for s in kept}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if came:
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_ctrl_c():
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does, while the block runs (the training loop
    installs its own, gentler handler inside)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def not_yet_there(folder: Path) -> list[Path]:
    """FOLDER and those of its parents that do not exist yet: what creating it will create."""
    return [p for p in [folder, *folder.parents] if not p.exists()]


def remove_created(folder: Path, created: list[Path]) -> None:
    """Remove FOLDER and the parents in `created` (not_yet_there, before) that are now empty."""
    remove_owned_tree(folder)
    for parent in created[1:]:
        with contextlib.suppress(OSError):
            parent.rmdir()
