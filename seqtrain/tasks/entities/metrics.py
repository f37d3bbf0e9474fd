"""Entity-level scores counted as conlleval counts them: an entity is correct when its first word, its
last word and its type are the gold entity's; precision, recall and F1 are micro-averaged over all
entities, and a per-type table gives each type's."""

from __future__ import annotations

import torch

from seqtrain.tasks.base import Table
from seqtrain.tasks.entities.schemes import Span, spans

UNSEEN_TYPE = "<unseen>"  # a gold tag training never saw: its entities count as missed


def entity_counts(gold: list[list[str]], predicted: list[list[str]], types: list[str]) -> dict[str, torch.Tensor]:
    """Per type (in `types` order): gold entities, predicted entities and correct ones, each a tensor."""
    index = {t: i for i, t in enumerate(types)}
    counts = {k: torch.zeros(len(types), dtype=torch.long) for k in ("gold", "predicted", "correct")}
    for gold_tags, predicted_tags in zip(gold, predicted):
        g, p = set(spans(gold_tags)), set(spans(predicted_tags))
        for name, found in (("gold", g), ("predicted", p), ("correct", g & p)):
            for kind, _, _ in found:
                counts[name][index[kind]] += 1
    return {f"entities_{k}": v for k, v in counts.items()}


def entity_totals(gold: list[list[str]], predicted: list[list[str]], loss_sum, loss_tokens, types: list[str]) -> dict:
    """The sums an entity evaluation divides: the loss, tokens and tokens tagged right, entity counts."""
    return {"loss_sum": loss_sum, "loss_tokens": loss_tokens, "tokens": sum(map(len, gold)),
            "correct": sum(g == p for gs, ps in zip(gold, predicted) for g, p in zip(gs, ps)),
            **entity_counts(gold, predicted, types)}


def prf(correct: float, gold: float, predicted: float) -> tuple[float, float, float]:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def entity_metrics(totals: dict) -> dict[str, float]:
    p, r, f = prf(*(float(totals[f"entities_{k}"].sum()) for k in ("correct", "gold", "predicted")))
    return {"precision": p, "recall": r, "f1": f}


def type_table(types: list[str], totals: dict) -> Table:
    rows = []
    for i, kind in enumerate(types):
        correct, gold, predicted = (int(totals[f"entities_{k}"][i]) for k in ("correct", "gold", "predicted"))
        if gold or predicted:
            rows.append([kind, *prf(correct, gold, predicted), gold, predicted, correct])
    rows.sort(key=lambda row: (-row[4], row[0]))
    return Table("per-type entity scores (exact span and type, as conlleval counts)",
                 ["type", "precision", "recall", "f1", "gold", "predicted", "correct"], rows)


def char_spans(spans_of_words: list[Span], starts: list[int], ends: list[int]) -> set[tuple[str, int, int]]:
    """(type, first character, past the last character) of each entity, from its words' offsets."""
    return {(kind, starts[i], ends[j - 1]) for kind, i, j in spans_of_words}
