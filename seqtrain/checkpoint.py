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
import zipfile
from pathlib import Path

import torch

from seqtrain.errors import UserError

FORMAT = "seqtrain-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(payload: dict, path: Path) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it: a crash or a full disk at
    any moment leaves either the old checkpoint or the new one, never a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
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


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load and check a checkpoint; every way it can be wrong is a UserError naming the file."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best.pt", path / "best.pt"):
            if candidate.is_file():
                path = candidate
                break
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        reason = next((line.strip() for line in str(e).splitlines() if "Unsupported" in line), "")
        raise UserError(f"{path}: refused: the file holds pickled Python objects, which could run code "
                        f"when loaded; seqtrain checkpoints never do ({reason[:160]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable checkpoint (truncated or not a torch file: "
                        f"{str(e).splitlines()[0][:120]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"{path}: not a seqtrain checkpoint")
    if ckpt.get("version") != FORMAT_VERSION:
        raise UserError(f"{path}: checkpoint format version {ckpt.get('version')} is not supported by this "
                        f"seqtrain (reads version {FORMAT_VERSION})")
    return ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """(task, model, checkpoint) ready for inference: the path from a file to predictions."""
    from seqtrain.config import config_from_dict
    from seqtrain.tasks import TASKS

    ckpt = load_checkpoint(path)
    if ckpt.get("task") not in TASKS:
        raise UserError(f"{path}: checkpoint is for task {ckpt.get('task')!r}, which this seqtrain does not know")
    cfg = config_from_dict(ckpt["config"], source=f"{path} (stored config)")
    task = TASKS[cfg.task](cfg)
    task.load_state_dict(ckpt["task_state"])
    model = task.build_model()
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    return task, model, ckpt
