"""train.average_decay: an exponential moving average of the weights, which evaluations, best.pt and
predict use. With few training sentences the dev score swings by a point from one epoch to the next;
the average of the last few hundred steps' weights swings less and scores a little higher."""

from __future__ import annotations

from contextlib import contextmanager

import torch


class WeightAverage:
    """avg <- avg + (1 - d) (w - avg) after each optimizer step, d = min(decay, (1 + n) / (10 + n)) at
    the n-th update, so that the first steps (far from the decay's horizon) do not keep the random init
    in the average (TensorFlow's ExponentialMovingAverage with num_updates does the same). Integer
    tensors (counters, vocab-sized masks) are copied, not averaged."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        keep = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            for name, value in model.state_dict().items():
                if value.is_floating_point():
                    self.weights[name].lerp_(value, 1.0 - keep)
                else:
                    self.weights[name].copy_(value)

    @contextmanager
    def applied(self, model: torch.nn.Module):
        """The model holds the average inside the block, its own (trained) weights again after it."""
        trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.weights)
        try:
            yield
        finally:
            model.load_state_dict(trained)

    def load(self, weights: dict, updates: int) -> None:
        for name, value in weights.items():
            self.weights[name].copy_(value)
        self.updates = int(updates)
