"""Checkpoints: one plain-data dict per file, written atomically, read with weights_only=True.

Layout (all plain data: tensors, numbers, strings, lists, dicts):
  format, version     "seqtrain-checkpoint", FORMAT_VERSION
  task                task name; config: the fully resolved config (dict)
  task_state          the task's vocabularies / normalisation (Task.state_dict())
  model               model state_dict
  optimizer, scheduler, scaler   their state_dicts (scheduler/scaler may be None)
  rng                 {"torch": ByteTensor, "cuda": [ByteTensor, ...]}
  progress            {"epoch", "step", "batch_in_epoch", "best", "best_step", "bad_evals"}
  metrics             last dev metrics; seqtrain_version, torch_version
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path

import torch

from seqtrain.errors import UserError

FORMAT = "seqtrain-checkpoint"
FORMAT_VERSION = 1
REQUIRED = ("task", "config", "task_state", "model", "progress")


def save_checkpoint(payload: dict, path: Path) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it: a crash or a full disk at
    any moment leaves either the old checkpoint or the new one, never a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    for stale in path.parent.glob(f".{path.name}.tmp-*"):  # left by a process killed mid-write
        stale.unlink(missing_ok=True)
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, "version": FORMAT_VERSION, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def load_checkpoint(path: str | Path, map_location="cpu", require: tuple[str, ...] = ()) -> dict:
    """Load and check a checkpoint; every way it can be wrong is a UserError naming the file.
    `require`: keys the caller reads (REQUIRED for a model, more to resume training)."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best.pt", path / "best.pt"):
            if candidate.is_file():
                path = candidate
                break
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        open(path, "rb").close()
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on foreign files
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" not in str(e):
            raise UserError(f"{path}: not a readable checkpoint (not a torch file)") from None
        wanted = re.search(r"GLOBAL (\S+)", str(e))
        what = f": it asks to call {wanted.group(1)}" if wanted else ""
        raise UserError(f"{path}: refused: the file holds pickled Python objects, which could run code "
                        f"when loaded{what}; seqtrain checkpoints never do") from None
    except Exception:  # an untrusted file can make the unpickler fail in any way
        raise UserError(f"{path}: not a readable checkpoint (truncated, or not written by torch.save)") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"{path}: not a seqtrain checkpoint")
    if ckpt.get("version") != FORMAT_VERSION:
        raise UserError(f"{path}: checkpoint format version {ckpt.get('version')} is not supported by this "
                        f"seqtrain (reads version {FORMAT_VERSION})")
    missing = [key for key in require if key not in ckpt]
    if missing:
        raise UserError(f"{path}: incomplete checkpoint (no {', '.join(missing)})")
    return ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu", expect: str | None = None):
    """(task, model, checkpoint) ready for inference: the path from a file to predictions.
    `expect`: the task a command needs (generate-poem needs a tang checkpoint, say)."""
    from seqtrain.config import config_from_dict
    from seqtrain.tasks import TASKS

    ckpt = load_checkpoint(path, require=REQUIRED)
    if ckpt.get("task") not in TASKS:
        raise UserError(f"{path}: checkpoint is for task {ckpt.get('task')!r}, which this seqtrain does not know")
    if expect is not None and ckpt["task"] != expect:
        raise UserError(f"{path}: a checkpoint of task {ckpt['task']!r}; this command needs one of task {expect!r}")
    cfg = config_from_dict(ckpt["config"], source=f"{path} (stored config)")
    task = TASKS[cfg.task](cfg)
    task.load_state_dict(ckpt["task_state"])
    model = task.build_model()
    try:
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: the stored weights do not fit the model its config describes "
                        f"({str(e).strip().splitlines()[-1][:120]})") from None
    model.to(device).eval()
    return task, model, ckpt
