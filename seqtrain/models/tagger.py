"""The sequence tagger: word embedding + character features (+ lexicon features) -> recurrent encoder
-> softmax or CRF (+ auxiliary softmax outputs, trained beside it and never decoded).

Character features are computed once per distinct word form in a batch (`chars` holds those forms,
`char_index` says which form sits at each token), as NCRF++ and flair compute them per token. The
optional lexicon features are per distinct form too: `lexicon` holds one multi-hot row of possible
tags per form, placed by the same `char_index`; so are pretrained vectors: `vectors` holds each
form's row id in a frozen table (models/table.py).
"""

from __future__ import annotations

import torch
from torch import nn

from seqtrain.models.crf import CRF, Constraints, viterbi
from seqtrain.models.layers import embedding
from seqtrain.models.rnn import Recurrent


class CharLSTM(nn.Module):
    """A word as the final states of a BiLSTM over its characters (Lample et al. 2016)."""

    def __init__(self, num_chars: int, dim: int, hidden: int):
        super().__init__()
        self.embed = embedding(num_chars, dim)
        self.rnn = Recurrent("lstm", dim, hidden, bidirectional=True)
        self.output_size = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.rnn(self.embed(chars), lengths)
        return torch.cat([h[0], h[1]], dim=1)


class CharCNN(nn.Module):
    """A word as the max over positions of a 1-d convolution over its characters (Ma and Hovy 2016)."""

    def __init__(self, num_chars: int, dim: int, filters: int, kernel: int):
        super().__init__()
        self.embed = embedding(num_chars, dim)
        self.conv = nn.Conv1d(dim, filters, kernel, padding=kernel // 2)
        self.output_size = filters

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = self.conv(self.embed(chars).transpose(1, 2))[:, :, :chars.shape[1]]
        pad = torch.arange(chars.shape[1], device=chars.device)[None, :] >= lengths.to(chars.device)[:, None]
        return out.masked_fill(pad[:, None, :], float("-inf")).amax(dim=2)


class Tagger(nn.Module):
    """word embedding (+ character features) (+ lexicon features) (+ pretrained vectors) -> dropout -> recurrent encoder
    -> dropout -> linear -> softmax, or a linear-chain CRF. `lexicon` maps a form's multi-hot lexicon
    row to its features (see lexicon_layer). Each of `aux_sizes` adds a linear softmax output over
    the same encoder states (multi-task learning: another column of the treebank, such as XPOS or
    FEATS); its loss, times `aux_weight`, joins the tags' in training."""

    def __init__(self, words: nn.Embedding, chars: nn.Module | None, rnn: Recurrent, num_tags: int, *,
                 input_dropout: float = 0.0, output_dropout: float = 0.0, crf: bool = False, unk_id: int = 1,
                 lexicon: nn.Module | None = None, vectors: nn.Module | None = None,
                 aux_sizes: tuple[int, ...] = (), aux_weight: float = 1.0):
        super().__init__()
        self.num_tags, self.unk_id = num_tags, unk_id
        self.words, self.chars, self.rnn = words, chars, rnn
        self.lexicon, self.vectors = lexicon, vectors
        self.input_dropout = nn.Dropout(input_dropout)
        self.output_dropout = nn.Dropout(output_dropout)
        self.out = nn.Linear(rnn.output_size, num_tags)
        self.crf = CRF(num_tags) if crf else None
        self.aux_out = nn.ModuleList(nn.Linear(rnn.output_size, n) for n in aux_sizes)
        self.aux_weight = aux_weight
        # chance of reading a word as UNK during training, per word id (set by the task from counts)
        self.register_buffer("unk_chance", torch.zeros(words.num_embeddings), persistent=False)

    def features(self, words, chars, char_lengths, char_index, lengths, lexicon=None, vectors=None):
        if self.training and self.unk_chance.any():
            drop = torch.rand(words.shape, device=words.device) < self.unk_chance[words]
            words = words.masked_fill(drop, self.unk_id)
        x = self.words(words)
        if self.chars is not None:
            x = torch.cat([x, self.chars(chars, char_lengths)[char_index]], dim=-1)
        if self.lexicon is not None:
            x = torch.cat([x, self.lexicon(lexicon)[char_index]], dim=-1)
        if self.vectors is not None:
            x = torch.cat([x, self.vectors(vectors)[char_index]], dim=-1)
        return self.input_dropout(x)

    def forward(self, words, chars, char_lengths, char_index, lengths, lexicon=None, vectors=None, tags=None,
                aux_tags=None):
        """Tag scores [B, T, num_tags]; given gold tags, the mean training loss per token instead
        (so that a DistributedDataParallel wrapper sees the loss come out of forward), plus the
        auxiliary outputs' losses given their gold ids [B, T, len(aux_out)]."""
        output = self.rnn.outputs(self.features(words, chars, char_lengths, char_index, lengths, lexicon, vectors), lengths)
        output = self.output_dropout(output)
        scores = self.out(output)
        if tags is None:
            return scores
        loss, count = self.nll(scores, tags, mask_of(lengths, words.shape[1]))
        loss = loss / count.clamp(min=1)
        if aux_tags is not None:
            for i, head in enumerate(self.aux_out):  # pads and values training never saw are ignored (-100)
                loss = loss + self.aux_weight * nn.functional.cross_entropy(head(output).transpose(1, 2), aux_tags[..., i])
        return loss

    def nll(self, scores, tags, mask) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed negative log-likelihood and the tokens it covers. Tags >= num_tags (never seen in
        training) cannot be scored: softmax leaves those tokens out, the CRF their sentences."""
        usable = mask & (tags < self.num_tags)
        if self.crf is None:
            loss = nn.functional.cross_entropy(scores.transpose(1, 2), tags.masked_fill(~usable, -100),
                                               ignore_index=-100, reduction="sum")
            return loss, usable.sum()
        whole = (usable == mask).all(dim=1)
        if not whole.all():
            scores, tags, mask = scores[whole], tags[whole], mask[whole]
        if len(mask) == 0:
            return scores.sum() * 0, mask.sum()
        return self.crf.nll(scores, tags, mask).sum(), mask.sum()

    constraints: Constraints | None = None  # what decoding may write (see constrain)

    def constrain(self, constraints: Constraints | None) -> None:
        """Decode only the tag sequences these boolean masks allow: (allowed [from, to], allowed
        first tags, allowed last tags). Not weights: the task sets them each time it builds the model."""
        self.constraints = constraints

    def decode(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best tags [B, T] (zeros at pads); with constraints, the best sequence they allow (for the
        softmax: Viterbi over the log-probabilities with no transition scores)."""
        if self.crf is not None:
            return self.crf.decode(scores, mask, self.constraints)
        if self.constraints is None:
            return scores.argmax(dim=-1) * mask
        zeros = scores.new_zeros(self.num_tags)
        return viterbi(scores.float().log_softmax(-1), mask, zeros.expand(self.num_tags, -1), zeros, zeros, self.constraints)

    def all_states(self, words, chars, char_lengths, char_index, lengths, lexicon=None,
                   vectors=None) -> dict[str, torch.Tensor]:
        return self.rnn.all_states(self.features(words, chars, char_lengths, char_index, lengths, lexicon, vectors),
                                   lengths)


def lexicon_layer(width: int, dim: int) -> nn.Linear:
    """Multi-hot lexicon rows [forms, width] -> features [forms, dim]: the sum of one learned vector
    per possible tag. No bias: every row has a bit set (its tags, or "not in the lexicon")."""
    return nn.Linear(width, dim, bias=False)


def mask_of(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]
