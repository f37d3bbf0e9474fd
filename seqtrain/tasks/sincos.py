"""sin -> cos: sequence regression. The model reads sin(t) one step at a time and predicts cos(t).

Training windows start at random phases; validation windows start at phases from arcs of the circle
that training never samples. The first `ignore_first` steps of each window are left out of loss
and metric: from sin(t) alone the sign of cos(t) is ambiguous until the curve has been seen move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from seqtrain.core.config import Config
from seqtrain.core.device import model_device
from seqtrain.core.errors import UserError
from seqtrain.core.fields import opt, section
from seqtrain.models.layers import StepwiseRNN
from seqtrain.tasks.base import Prediction, PredictOptions, Splits, Task
from seqtrain.tasks.shared import RNNConfig, build_recurrent, every_step_states

ARCS = 20          # the circle of start phases is cut into this many arcs...
DEV_EVERY = 5      # ...and every fifth arc is kept for validation only


@dataclass
class DataConfig:
    train_windows: int = opt(1024, "training windows (random start phase each)", min=1)
    dev_windows: int = opt(128, "validation windows, from phases training never sees", min=1)
    steps: int = opt(50, "time steps per window", min=3)
    dt: float = opt(0.1, "time between steps (radians)", min=0, exclusive_min=True)
    ignore_first: int = opt(2, "steps at the start of each window left out of loss and metric", min=0)

    def check(self) -> None:
        if self.ignore_first >= self.steps:
            raise UserError(f"data.ignore_first: must be less than data.steps ({self.steps})")


@dataclass
class ModelConfig(RNNConfig):
    hidden_size: int = opt(32, "hidden units per direction", min=1, max=65536)


@dataclass
class SinCosConfig(Config):
    data: DataConfig = section(DataConfig, "the generated windows")
    model: ModelConfig = section(ModelConfig, "the regression RNN")


def sample_phases(n: int, dev: bool, generator: torch.Generator) -> torch.Tensor:
    arcs = [a for a in range(ARCS) if (a % DEV_EVERY == 0) == dev]
    which = torch.tensor(arcs)[torch.randint(len(arcs), (n,), generator=generator)]
    within = torch.rand(n, generator=generator)
    return (which + within) * (2 * math.pi / ARCS)


class SinCosTask(Task):
    Config = SinCosConfig
    goals = {"loss": "min", "mse": "min"}
    monitor = "mse"

    def __init__(self, cfg: SinCosConfig):
        super().__init__(cfg)
        self.times = torch.arange(cfg.data.steps, dtype=torch.float32) * cfg.data.dt

    @classmethod
    def for_training(cls, cfg: SinCosConfig, paths: dict, workdir) -> tuple["SinCosTask", Splits]:
        task = cls(cfg)
        return task, task.read_splits(paths)

    @classmethod
    def from_state(cls, cfg: SinCosConfig, state: dict) -> "SinCosTask":
        return cls(cfg)

    def state_dict(self) -> dict:
        return {}

    def read_splits(self, paths: dict) -> Splits:
        generator = torch.Generator().manual_seed(self.cfg.seed)
        d = self.cfg.data
        return Splits(train=sample_phases(d.train_windows, False, generator).tolist(),
                      dev=sample_phases(d.dev_windows, True, generator).tolist())

    def read_examples(self, path: Path) -> list:
        raise UserError("sincos validates on generated windows; run seqtrain evaluate CHECKPOINT without DATA")

    def build_model(self) -> nn.Module:
        return StepwiseRNN(nn.Identity(), build_recurrent(self.cfg.model, 1), 1)

    def size(self, example) -> int:
        return self.cfg.data.steps

    def collate(self, phases: list) -> dict:
        angles = torch.tensor(phases, dtype=torch.float32)[:, None] + self.times[None, :]
        return {"x": torch.sin(angles)[..., None], "y": torch.cos(angles)}

    def loss(self, model, batch) -> torch.Tensor:
        k = self.cfg.data.ignore_first
        out, _ = model(batch["x"])
        return nn.functional.mse_loss(out[:, k:, 0], batch["y"][:, k:])

    def evaluate_batch(self, model, batch) -> dict:
        k = self.cfg.data.ignore_first
        out, _ = model(batch["x"])
        err = (out[:, k:, 0] - batch["y"][:, k:]) ** 2
        return {"sq_err": err.sum(), "n": torch.tensor(err.numel()), "max_err": err.max()}

    def metrics(self, totals: dict) -> dict:
        mse = float(totals["sq_err"] / totals["n"])
        return {"loss": mse, "mse": mse}

    def write_artifacts(self, model, splits: Splits, run_dir: Path) -> list[Path]:
        from seqtrain.ui.plots import plot_series

        batch = self.collate(splits.dev[:1])
        model.eval()
        with torch.no_grad():
            out, _ = model(batch["x"].to(model_device(model)))
        t = self.times.tolist()
        return [plot_series(run_dir / "prediction.png", t,
                            {"input sin(t)": batch["x"][0, :, 0].tolist(), "target cos(t)": batch["y"][0].tolist(),
                             "predicted": out[0, :, 0].cpu().tolist()},
                            title=f"validation window, start phase {splits.dev[0]:.2f} rad")]

    def predict(self, model, inputs: list[str], options: PredictOptions) -> Prediction:
        values = parse_values(inputs)
        x = torch.tensor(values, dtype=torch.float32)[None, :, None].to(model_device(model))
        with torch.no_grad():
            out, _ = model(x)
        states = every_step_states(model.all_states, {"x": x}, torch.tensor([len(values)])) if options.states else {}
        predicted = out[0, :, 0].cpu().tolist()
        return Prediction(text=" ".join(f"{v:.4f}" for v in predicted),
                          records=[{"input": values, "output": predicted}], states=states)


FLOAT32_MAX = 3.4028234663852886e38  # the model reads float32: a larger value would be inf


def parse_values(inputs: list[str]) -> list[float]:
    """Numbers separated by commas and/or spaces; each one finite (as float32), none left empty
    between two commas."""
    values = []
    for text in inputs:
        pieces = text.split(",")
        for piece in pieces:
            if not piece.strip() and len(pieces) > 1:
                raise UserError(f"an empty value between commas in {text[:60]!r} (give values like \"0.0,0.34,0.64\")")
            for item in piece.split():
                try:
                    value = float(item)
                except ValueError:
                    raise UserError(f"not a number: {item[:60]!r} (give values like \"0.0,0.34,0.64\")") from None
                if not abs(value) <= FLOAT32_MAX:  # nan, inf, and what float32 would make inf
                    raise UserError(f"{item[:60]!r} is not a finite number the model can read "
                                    f"(at most {FLOAT32_MAX:.4g} either way)")
                values.append(value)
    if not values:
        raise UserError("no input values: give them like --values \"0.0,0.34,0.64\"")
    return values
