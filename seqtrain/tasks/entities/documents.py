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

from seqtrain.tasks.entities.schemes import Span


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
    for sentence, spans, document in zip(words, found, documents):
        for kind, i, j in spans:
            votes[document, tuple(sentence[i:j])][kind] += 1
    starting: dict[tuple[int, Hashable], list[tuple[tuple, str]]] = defaultdict(list)  # (document, first word)
    for (document, name), kinds in sorted(votes.items(), key=lambda item: -len(item[0][1])):
        starting[document, name[0]].append((name, kinds.most_common(1)[0][0]))  # a tie: the type found first
    out = []
    for sentence, spans, document in zip(words, found, documents):
        taken = [False] * len(sentence)
        for _, i, j in spans:
            taken[i:j] = [True] * (j - i)
        added = list(spans)
        for i, word in enumerate(sentence):
            for name, kind in starting.get((document, word), ()):
                j = i + len(name)
                if tuple(sentence[i:j]) == name and not any(taken[i:j]):
                    added.append((kind, i, j))
                    taken[i:j] = [True] * (j - i)
                    break
        out.append(sorted(added, key=lambda span: span[1]))
    return out
