"""The raw-text scorer: Tokens, Sentences, Words and UPOS F1 of a system's segmentation against gold.

It follows the evaluation script of the CoNLL 2018 UD shared task (conll18_ud_eval.py), re-written
for the metrics a tokenizer needs. Everything is placed on one axis: the offsets of the file's
non-whitespace characters, so gold and system may put spaces differently but must spell the same
characters. Tokens and sentences are right when a gold one has the same [start, end); words are
aligned by span outside multiword tokens and by the LCS of their lowercased forms inside them; an
aligned word's UPOS is right when it equals the gold tag.

`score_counts` returns plain counts so that batches can be summed before `f1_scores` divides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from seqtrain.core.errors import UserError
from seqtrain.tasks.tokenize.document import Sentence

Span = tuple[int, int]


@dataclass(frozen=True)
class Word:
    start: int
    end: int                 # a multiword token's words all carry the token's span
    form: str
    tag: str | None
    multiword: bool


def layout(sentences: list[Sentence]) -> tuple[str, list[Span], list[Span], list[Word]]:
    """(non-whitespace characters, token spans, sentence spans, words) of a file."""
    chars: list[str] = []
    tokens: list[Span] = []
    spans: list[Span] = []
    words: list[Word] = []
    at = 0
    for sentence in sentences:
        if not sentence.tokens:
            continue
        first = at
        for token in sentence.tokens:
            form = "".join(c for c in token.form if not c.isspace())
            if not form:
                raise UserError(f"a token has no characters other than whitespace ({token.form!r})")
            chars.append(form)
            tokens.append((at, at + len(form)))
            tags = list(token.tags) + [None] * (len(token.words) - len(token.tags))
            words += [Word(at, at + len(form), w, t, token.multiword) for w, t in zip(token.words, tags)]
            at += len(form)
        spans.append((first, at))
    return "".join(chars), tokens, spans, words


def check_same_text(gold: str, system: str) -> None:
    if gold == system:
        return
    at = next((i for i, (g, s) in enumerate(zip(gold, system)) if g != s), min(len(gold), len(system)))
    lo = max(0, at - 10)
    raise UserError(f"the system's text differs from the gold text at character {at:,} "
                    f"(whitespace not counted): {gold[lo:at + 10]!r} vs {system[lo:at + 10]!r}")


def matching_spans(gold: list[Span], system: list[Span]) -> int:
    """How many system spans a gold span matches exactly (both lists sorted by start)."""
    correct = gi = si = 0
    while gi < len(gold) and si < len(system):
        if system[si][0] < gold[gi][0]:
            si += 1
        elif gold[gi][0] < system[si][0]:
            gi += 1
        else:
            correct += gold[gi][1] == system[si][1]
            gi += 1
            si += 1
    return correct


def past_region(words: list[Word], i: int, end: int) -> bool:
    # A multiword token that starts inside the region extends it; a plain word must end inside it.
    if i >= len(words):
        return True
    return words[i].start >= end if words[i].multiword else words[i].end > end


def multiword_region(gold: list[Word], system: list[Word], gi: int, si: int) -> tuple[int, int, int, int]:
    """The smallest stretch gold[gs:gi], system[ss:si] around the multiword token at gi or si
    that covers every multiword token overlapping it (the original's find_multiword_span)."""
    if gold[gi].multiword:
        end = gold[gi].end
        # a plain system word starting before the multiword token stays outside the region
        if not system[si].multiword and system[si].start < gold[gi].start:
            si += 1
    else:
        end = system[si].end
        if not gold[gi].multiword and gold[gi].start < system[si].start:
            gi += 1
    gs, ss = gi, si
    while not past_region(gold, gi, end) or not past_region(system, si, end):
        if gi < len(gold) and (si >= len(system) or gold[gi].start <= system[si].start):
            word, gi = gold[gi], gi + 1
        else:
            word, si = system[si], si + 1
        end = max(end, word.end) if word.multiword else end
    return gs, ss, gi, si


def lcs_pairs(gold: list[Word], system: list[Word]) -> list[tuple[Word, Word]]:
    """Gold and system words paired along a longest common subsequence of lowercased forms."""
    g, s = [w.form.lower() for w in gold], [w.form.lower() for w in system]
    # lcs[i][j]: length of the LCS of g[i:] and s[j:]
    lcs = [[0] * (len(s) + 1) for _ in range(len(g) + 1)]
    for i in reversed(range(len(g))):
        for j in reversed(range(len(s))):
            lcs[i][j] = lcs[i + 1][j + 1] + 1 if g[i] == s[j] else max(lcs[i + 1][j], lcs[i][j + 1])
    pairs, i, j = [], 0, 0
    while i < len(g) and j < len(s):
        if g[i] == s[j]:
            pairs.append((gold[i], system[j]))
            i, j = i + 1, j + 1
        elif lcs[i][j] == lcs[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def align_words(gold: list[Word], system: list[Word]) -> list[tuple[Word, Word]]:
    pairs: list[tuple[Word, Word]] = []
    gi = si = 0
    while gi < len(gold) and si < len(system):
        if gold[gi].multiword or system[si].multiword:
            gs, ss, gi, si = multiword_region(gold, system, gi, si)
            pairs += lcs_pairs(gold[gs:gi], system[ss:si])
        elif (gold[gi].start, gold[gi].end) == (system[si].start, system[si].end):
            pairs.append((gold[gi], system[si]))
            gi, si = gi + 1, si + 1
        elif gold[gi].start <= system[si].start:
            gi += 1
        else:
            si += 1
    return pairs


def score_counts(gold: list[Sentence], system: list[Sentence]) -> dict[str, int]:
    """Gold, system and correct counts of tokens, sentences and words, and correct UPOS tags."""
    gold_text, gold_tokens, gold_sentences, gold_words = layout(gold)
    system_text, system_tokens, system_sentences, system_words = layout(system)
    check_same_text(gold_text, system_text)
    pairs = align_words(gold_words, system_words)
    return {
        "tokens_gold": len(gold_tokens), "tokens_system": len(system_tokens),
        "tokens_correct": matching_spans(gold_tokens, system_tokens),
        "sentences_gold": len(gold_sentences), "sentences_system": len(system_sentences),
        "sentences_correct": matching_spans(gold_sentences, system_sentences),
        "words_gold": len(gold_words), "words_system": len(system_words), "words_correct": len(pairs),
        "upos_correct": sum(g.tag is not None and g.tag == s.tag for g, s in pairs),
    }


def f1_scores(counts: Mapping[str, float]) -> dict[str, float]:
    """F1 (and precision, recall) from counts, possibly summed over batches; 0.0 where nothing was counted."""
    def ratio(a: float, b: float) -> float:
        return a / b if b else 0.0

    out: dict[str, float] = {}
    for name in ("tokens", "sentences", "words"):
        gold, system, correct = counts[f"{name}_gold"], counts[f"{name}_system"], counts[f"{name}_correct"]
        out[f"{name}_f1"] = ratio(2 * correct, gold + system)
        out[f"{name}_precision"] = ratio(correct, system)
        out[f"{name}_recall"] = ratio(correct, gold)
    out["upos_f1"] = ratio(2 * counts["upos_correct"], counts["words_gold"] + counts["words_system"])
    return out
