"""The poem language model: embedding -> recurrent layers -> linear over the characters."""

from __future__ import annotations

from torch import nn

from seqtrain.models.rnn import Recurrent


class PoemLM(nn.Module):
    """Embedding -> recurrent layers -> linear over the characters (optionally tied to the embedding)."""

    def __init__(self, embed: nn.Embedding, rnn: Recurrent, *, dropout: float = 0.0, tie_weights: bool = False):
        super().__init__()
        vocab_size, dim = embed.weight.shape
        self.embed, self.rnn = embed, rnn
        self.drop = nn.Dropout(dropout)
        self.proj = nn.Linear(rnn.output_size, dim) if tie_weights and rnn.output_size != dim else None
        self.head = nn.Linear(dim if tie_weights else rnn.output_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embed.weight

    def forward(self, x, lengths=None, hx=None, select=None):
        """Logits [B, T, V], or [N, V] for the positions where `select` [B, T] is true (the rest of
        the output layer's work is skipped), and the final recurrent state."""
        if lengths is not None and bool((lengths == x.shape[1]).all()):
            lengths = None  # nothing to pack
        out, final = self.rnn(self.drop(self.embed(x)), lengths, hx)
        out = self.drop(out if select is None else out[select])
        return self.head(out if self.proj is None else self.proj(out)), final

    def all_states(self, x, lengths=None) -> dict:
        return self.rnn.all_states(self.embed(x), lengths)
