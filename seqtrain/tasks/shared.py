"""What several tasks share: the recurrence settings of every `model` section, the seeded split of
one file into train and dev, and every-step state export for `predict --states`."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Literal, Sequence, TypeVar

import torch

from seqtrain.core.fields import opt
from seqtrain.models.rnn import Recurrent

T = TypeVar("T")


@dataclass
class RNNConfig:
    """Recurrence settings shared by every task's `model` section."""
    cell: Literal["rnn", "lstm", "gru"] = opt("lstm", "recurrent cell")
    nonlinearity: Literal["tanh", "relu"] = opt("tanh", "activation of the plain rnn cell")
    hidden_size: int = opt(128, "hidden units per direction", min=1, max=65536)
    num_layers: int = opt(1, "stacked recurrent layers", min=1, max=64)
    bias: bool = opt(True, "bias terms in the recurrent layers")
    dropout: float = opt(0.0, "dropout between stacked layers", min=0, max=1)
    bidirectional: bool = opt(False, "also read right to left")
    impl: Literal["fused", "loop"] = opt("fused", "fused nn.RNN/LSTM/GRU, or a step loop over RNNCell/LSTMCell/GRUCell")


def build_recurrent(cfg: RNNConfig, input_size: int) -> Recurrent:
    return Recurrent(cfg.cell, input_size, cfg.hidden_size, cfg.num_layers, bias=cfg.bias,
                     dropout=cfg.dropout, bidirectional=cfg.bidirectional,
                     nonlinearity=cfg.nonlinearity, impl=cfg.impl)


def seeded_split(items: Sequence[T], fraction: float, seed: int, *, keep_one: bool = False) -> tuple[list[T], list[T]]:
    """A fixed train/held-out split of one list (the same on every run and machine), each part in
    the list's order. keep_one: with a fraction above 0, hold out at least one item and keep one."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_held = round(len(items) * fraction)
    if keep_one and fraction > 0 and len(items) > 1:
        n_held = min(max(n_held, 1), len(items) - 1)
    held = set(order[:n_held])
    return ([x for i, x in enumerate(items) if i not in held],
            [x for i, x in enumerate(items) if i in held])


def every_step_states(all_states: Callable[..., dict], inputs: dict, lengths: torch.Tensor) -> dict[str, torch.Tensor]:
    """h (and c) at every step from a model's `all_states(**inputs)`, on the CPU, with `lengths`:
    what `predict --states` writes, the same for every task."""
    with torch.no_grad():
        states = all_states(**inputs)
    return {k: v.cpu() for k, v in states.items()} | {"lengths": lengths.cpu()}
