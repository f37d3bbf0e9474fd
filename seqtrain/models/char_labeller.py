"""A label for every character (the tokenizer): embeddings of a few id features per character,
concatenated -> dropout -> recurrent encoder -> dropout -> linear. Stanza's tokenizer has this shape."""

from __future__ import annotations

import torch
from torch import nn

from seqtrain.models.layers import embedding
from seqtrain.models.rnn import Recurrent


class CharLabeller(nn.Module):
    def __init__(self, feature_sizes: list[tuple[int, int]], rnn: Recurrent, num_labels: int, *,
                 input_dropout: float = 0.0, output_dropout: float = 0.0):
        """feature_sizes: (number of ids, embedding size) of each feature column."""
        super().__init__()
        self.embeds = nn.ModuleList(embedding(n, dim) for n, dim in feature_sizes)
        self.rnn = rnn
        self.input_dropout = nn.Dropout(input_dropout)
        self.output_dropout = nn.Dropout(output_dropout)
        self.out = nn.Linear(rnn.output_size, num_labels)

    def inputs(self, features: torch.Tensor) -> torch.Tensor:
        return self.input_dropout(torch.cat([e(features[..., i]) for i, e in enumerate(self.embeds)], dim=-1))

    def forward(self, features: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor | None = None):
        """Label scores [B, T, labels]; given gold labels, the mean loss per character instead."""
        output = self.rnn.outputs(self.inputs(features), lengths)
        scores = self.out(self.output_dropout(output))
        if labels is None:
            return scores
        return nn.functional.cross_entropy(scores.transpose(1, 2), labels, ignore_index=-100)

    def all_states(self, features: torch.Tensor, lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.rnn.all_states(self.inputs(features), lengths)
