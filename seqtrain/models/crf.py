"""A linear-chain CRF over per-token tag scores: batched, masked, with Viterbi decoding.

Scores follow Lafferty et al. (2001) as used by Lample et al. (2016) and NCRF++: a sequence's score is
start[y1] + sum_t emission[t, y_t] + sum_t transition[y_{t-1}, y_t] + end[y_T]. The mask marks real
tokens; every sequence has at least one, and pads come after them.
"""

from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    def __init__(self, num_tags: int):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each gold sequence: [B]. emissions [B, T, N], tags/mask [B, T]."""
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        maskf = mask.to(emissions.dtype)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)
        total = self.start[tags[:, 0]] + (emitted * maskf).sum(1)
        total = total + (self.transitions[tags[:, :-1], tags[:, 1:]] * maskf[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        return total + self.end[last]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log of the sum over all tag sequences of exp(score): the forward algorithm. [B]"""
        alpha = self.start + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)  # finished sequences keep theirs
        return torch.logsumexp(alpha + self.end, dim=1)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor, constraints: Constraints | None = None) -> torch.Tensor:
        """The best tag sequence of each item (Viterbi): [B, T], zeros past each length; with
        `constraints`, the best among the sequences they allow."""
        return viterbi(emissions, mask, self.transitions, self.start, self.end, constraints)


# (allowed [from, to], allowed first tags, allowed last tags): boolean masks over the tags
Constraints = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def viterbi(emissions: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, start: torch.Tensor,
            end: torch.Tensor, constraints: Constraints | None = None) -> torch.Tensor:
    """The best-scoring tag sequence of each item: [B, T], zeros past each length. A sequence that
    `constraints` forbids scores -inf, so none is chosen while an allowed one exists."""
    if constraints is not None:
        allowed, first, last = (c.to(emissions.device) for c in constraints)
        transitions = transitions.masked_fill(~allowed, float("-inf"))
        start, end = start.masked_fill(~first, float("-inf")), end.masked_fill(~last, float("-inf"))
    batch, steps, num_tags = emissions.shape
    best = start + emissions[:, 0]
    pointers = []
    identity = torch.arange(num_tags, device=emissions.device).expand(batch, -1)
    for t in range(1, steps):
        scores, previous = (best.unsqueeze(2) + transitions).max(dim=1)
        keep = mask[:, t].unsqueeze(1)
        best = torch.where(keep, scores + emissions[:, t], best)
        # past a sequence's end the pointer is the identity, so backtracking passes through
        pointers.append(torch.where(keep, previous, identity))
    tag = (best + end).argmax(dim=1)
    path = [tag]
    for previous in reversed(pointers):
        tag = previous.gather(1, tag.unsqueeze(1)).squeeze(1)
        path.append(tag)
    path.reverse()
    return torch.stack(path, dim=1) * mask
