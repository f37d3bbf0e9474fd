"""The next character of each poem, drawn from what its form allows: repetition penalty, temperature,
top-k, top-p, and one uniform draw per poem from the poem's own generator (poem i of a request uses
seed + i, whatever the batch)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqtrain.tasks.tang.request import PoemRequest


@dataclass
class Sampler:
    temperature: float                 # 0: always the most likely character
    top_k: int                         # 0: all
    top_p: float                       # 1: all
    repetition_penalty: float          # 1: off
    generators: list[torch.Generator]  # one per poem, in the batch's order

    @classmethod
    def for_request(cls, request: PoemRequest) -> Sampler:
        generators = [torch.Generator().manual_seed(request.seed + i) for i in range(request.num)]
        return cls(request.temperature, request.top_k, request.top_p, request.repetition_penalty, generators)

    def choose(self, logits: torch.Tensor, mask: torch.Tensor, seen: torch.Tensor) -> list[int]:
        """One token id per row of logits [B, V], among those `mask` allows; `seen`: the characters
        each poem has (penalised)."""
        if self.repetition_penalty != 1:  # CTRL's penalty: push already-used characters down
            penalised = torch.where(logits > 0, logits / self.repetition_penalty, logits * self.repetition_penalty)
            logits = torch.where(seen, penalised, logits)
        logits = logits.masked_fill(~mask, float("-inf"))
        if self.temperature == 0:
            return logits.argmax(-1).tolist()
        probs = self.filter(logits).softmax(-1)
        # inverse CDF, one uniform per poem from its own generator: all rows at once (multinomial row by
        # row cost a third of the time of 100 batched poems)
        cdf = probs.cumsum(-1)
        u = torch.stack([torch.rand((), generator=g, dtype=cdf.dtype) for g in self.generators]) * cdf[:, -1]
        return torch.searchsorted(cdf, u[:, None], right=True).squeeze(1).clamp_(max=cdf.shape[-1] - 1).tolist()

    def filter(self, logits: torch.Tensor) -> torch.Tensor:
        """Temperature, top-k and top-p applied to masked logits [B, V] (-inf where not allowed)."""
        logits = logits / self.temperature
        if self.top_k:
            kth = torch.topk(logits, min(self.top_k, logits.shape[-1]), dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p < 1:
            sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
            probs = sorted_logits.softmax(-1)
            drop = probs.cumsum(-1) - probs > self.top_p  # the likeliest always stays
            logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
        return logits
