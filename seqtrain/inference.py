"""What `seqtrain evaluate`, `predict` and `info` do, as plain functions the CLI calls."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from seqtrain.checkpoint import REQUIRED, load_checkpoint, load_model
from seqtrain.config import config_from_dict, data_root, resolve_paths
from seqtrain.errors import UserError
from seqtrain.rnn import check_device
from seqtrain.task import PredictOptions, Prediction
from seqtrain.textfile import decode, read_text
from seqtrain.train import evaluate


def evaluate_checkpoint(checkpoint: str | Path, data: str | Path | None = None, *, data_dir=None,
                        device: str = "cpu", batch_size: int = 64) -> dict:
    """Metrics (and the task's detail tables) of a checkpoint on DATA, or on its config's dev split."""
    task, model, ckpt = load_model(checkpoint, check_device(device))
    if data is not None:
        if not Path(data).is_file():
            raise UserError(f"{data}: data file not found")
        examples = task.read_examples(Path(data))
    else:
        # the task keeps the checkpoint's vocabularies when it reads its data again
        examples = task.load_data(resolve_paths(task.cfg.data, data_root(data_dir), "data")).dev
    if not examples:
        raise UserError(f"{data or 'dev split'}: no examples to evaluate")
    totals: dict = {}
    metrics = evaluate(task, model, examples, batch_size, next(model.parameters()).device, totals_out=totals)
    return {"checkpoint": str(checkpoint), "data": str(data) if data else "dev split of the run's config",
            "examples": len(examples), "metrics": metrics,
            "tables": [asdict(t) for t in task.tables(totals)]}


def read_inputs(inputs: list[str], input_file: str | None) -> list[str]:
    """Positional inputs, then lines of --input FILE ('-' is standard input)."""
    lines = list(inputs)
    if input_file == "-":
        lines += decode(sys.stdin.buffer.read(), "<stdin>").splitlines()
    elif input_file:
        path = Path(input_file)
        if not path.is_file():
            raise UserError(f"{path}: input file not found")
        lines += read_text(path).splitlines()
    return lines


def predict(checkpoint: str | Path, inputs: list[str], options: PredictOptions, *,
            device: str = "cpu", states_path: str | Path | None = None) -> Prediction:
    """Predictions for raw input lines; with states_path, every-step hidden states saved there."""
    if states_path is not None and Path(states_path).suffix not in (".npz", ".pt"):
        raise UserError(f"--states {states_path}: use a .npz or .pt file name")
    task, model, _ = load_model(checkpoint, check_device(device))
    options.states = states_path is not None
    prediction = task.predict(model, inputs, options)
    if states_path is not None:
        save_states(prediction.states, Path(states_path))
    return prediction


def save_states(states: dict[str, torch.Tensor], path: Path) -> None:
    """h, c: [num_layers, directions, batch, steps, hidden]; lengths: [batch]."""
    if path.suffix == ".pt":
        torch.save({k: v.contiguous() for k, v in states.items()}, path)
    else:
        import numpy as np

        np.savez(path, **{k: v.numpy() for k, v in states.items()})


def checkpoint_info(checkpoint: str | Path) -> dict:
    """What a checkpoint holds, as plain data."""
    ckpt = load_checkpoint(checkpoint, require=REQUIRED)
    cfg = config_from_dict(ckpt["config"], source=f"{checkpoint} (stored config)")
    params = sum(v.numel() for v in ckpt["model"].values())
    vocab = {k: len(v) for k, v in ckpt["task_state"].items() if isinstance(v, list)}
    return {"checkpoint": str(checkpoint), "task": ckpt["task"], "format_version": ckpt["version"],
            "seqtrain_version": ckpt.get("seqtrain_version"), "torch_version": ckpt.get("torch_version"),
            "progress": ckpt["progress"], "metrics": ckpt.get("metrics"), "parameters": params,
            "vocab_sizes": vocab, "model": asdict(cfg.model), "config": cfg.to_dict()}


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)
