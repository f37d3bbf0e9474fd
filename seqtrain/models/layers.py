"""Small pieces shared by the models: one-hot input, the embedding init, and the step-wise model
(inputs -> recurrent layers -> a linear layer at every step)."""

from __future__ import annotations

import math

import torch
from torch import nn

from seqtrain.models.rnn import Recurrent


class OneHot(nn.Module):
    """Ids to one-hot vectors: the classic tutorial input, no parameters."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(ids, self.num_classes).float()


def embedding(num: int, dim: int, padding_idx: int | None = 0) -> nn.Embedding:
    """nn.Embedding initialised U(±sqrt(3/dim)), which trains markedly faster than PyTorch's N(0,1)."""
    emb = nn.Embedding(num, dim, padding_idx=padding_idx)
    bound = math.sqrt(3.0 / dim)
    with torch.no_grad():
        emb.weight.uniform_(-bound, bound)
        if padding_idx is not None:
            emb.weight[padding_idx].zero_()
    return emb


class StepwiseRNN(nn.Module):
    """inputs -> Recurrent -> Linear at every step: the shape of hello->ohlol, sin->cos and char LMs."""

    def __init__(self, inputs: nn.Module, rnn: Recurrent, out_size: int):
        super().__init__()
        self.inputs, self.rnn = inputs, rnn
        self.head = nn.Linear(rnn.output_size, out_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None, hx=None):
        output, final = self.rnn(self.inputs(x), lengths, hx)
        return self.head(output), final

    def all_states(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self.rnn.all_states(self.inputs(x), lengths)
