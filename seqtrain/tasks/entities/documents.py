"""Names kept consistent within a document (`model.document_consistency`): a tagger that found
"Xinhua" as an organisation in one sentence of a document but missed it in three others gets the
others too. Where the words of an entity found in a document occur again in that document, outside
every entity found there, they become an entity of the type found most often for them (Krishnan and
Manning 2006 make the same point: a name keeps its label within a document). A decoding step over
the tagger's output, not a part of the model.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Hashable, Sequence

from seqtrain.data.batching import eval_batches, to_device
from seqtrain.tasks.entities.metrics import entity_totals
from seqtrain.tasks.entities.schemes import Span, convert, spans, to_tags


class InDocuments(list):
    """Items (sentences, or their encoded examples) and the document each belongs to."""

    def __init__(self, items, documents: Sequence[int]):
        super().__init__(items)
        self.documents = list(documents)


def consistent(words: list[Sequence[Hashable]], found: list[list[Span]], documents: list[int]) -> list[list[Span]]:
    """Each sentence's entities, with the words of every entity found in its document matched again
    where no entity was found (left to right; at each word the longest name first; a word is in one
    entity at most). `words` are the sentences' words as written (or ids of them: the match is exact)."""
    votes: dict[tuple[int, tuple], Counter] = defaultdict(Counter)
    for sentence, entities, document in zip(words, found, documents):
        for kind, i, j in entities:
            votes[document, tuple(sentence[i:j])][kind] += 1
    starting: dict[tuple[int, Hashable], list[tuple[tuple, str]]] = defaultdict(list)  # (document, first word)
    for (document, name), kinds in sorted(votes.items(), key=lambda item: -len(item[0][1])):
        starting[document, name[0]].append((name, kinds.most_common(1)[0][0]))  # a tie: the type found first
    out = []
    for sentence, entities, document in zip(words, found, documents):
        taken = [False] * len(sentence)
        for _, i, j in entities:
            taken[i:j] = [True] * (j - i)
        added = list(entities)
        for i, word in enumerate(sentence):
            for name, kind in starting.get((document, word), ()):
                j = i + len(name)
                if tuple(sentence[i:j]) == name and not any(taken[i:j]):
                    added.append((kind, i, j))
                    taken[i:j] = [True] * (j - i)
                    break
        out.append(sorted(added, key=lambda span: span[1]))
    return out


def consistent_tags(words: list, tags: list[list[str]], documents: list[int], scheme: str) -> list[list[str]]:
    """The tags, written in `scheme`, with each document's names made consistent."""
    found = consistent(words, [spans(t) for t in tags], documents)
    return [to_tags(f, len(t), scheme) for f, t in zip(found, tags)]


def retag(sentences: list[tuple], scheme: str, within_documents: bool) -> None:
    """Each (tokenizer's sentence, document)'s word tags written in `scheme`; with
    `within_documents`, each document's names made consistent."""
    tags = [[t for token in s.tokens for t in token.tags] for s, _ in sentences]
    if within_documents:
        tags = consistent_tags([s.words for s, _ in sentences], tags, [d for _, d in sentences], scheme)
    else:
        tags = [convert(t, scheme) for t in tags]
    for (sentence, _), sentence_tags in zip(sentences, tags):
        at = iter(sentence_tags)
        for token in sentence.tokens:
            token.tags = [next(at) for _ in token.words]


def document_totals(task, model, examples: list, documents: list[int], batch_size: int, device) -> dict:
    """An entity task's evaluation sums over whole documents, each document's names made consistent
    (the words matched are the examples' form ids)."""
    gold, predicted = [[] for _ in examples], [[] for _ in examples]
    loss_sum = loss_tokens = 0.0
    for indices in eval_batches([task.size(e) for e in examples], batch_size):
        batch_gold, batch_predicted, batch_loss, batch_tokens = task.decoded_tags(
            model, to_device(task.collate([examples[i] for i in indices]), device))
        loss_sum, loss_tokens = loss_sum + float(batch_loss), loss_tokens + int(batch_tokens)
        for i, g, p in zip(indices, batch_gold, batch_predicted):
            gold[i], predicted[i] = g, p
    predicted = consistent_tags([e[1].tolist() for e in examples], predicted, documents, task.cfg.data.train_scheme)
    return entity_totals(gold, predicted, loss_sum, loss_tokens, task.types)
