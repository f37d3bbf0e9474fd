"""A frozen table of pretrained vectors (GloVe, word2vec, fastText) beside a model's trained embeddings.

The rows are a buffer, not a parameter: stored in the checkpoint (so one file predicts anywhere),
but never trained, so they cost no gradient and no optimizer state (Adam's two moments would triple
a 400,000-row table in last.pt). Stored as fp16 by default (half the size; the lookup returns fp32).
"""

from __future__ import annotations

import torch
from torch import nn


class FrozenTable(nn.Module):
    def __init__(self, num_rows: int, dim: int, half: bool = True):
        super().__init__()
        self.register_buffer("rows", torch.zeros(num_rows, dim, dtype=torch.float16 if half else torch.float32))
        self.output_size = dim

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.rows[ids].float()
