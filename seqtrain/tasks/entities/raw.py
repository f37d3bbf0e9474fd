"""`evaluate --raw` for entities: the gold sentences of an entity file as raw text with tokens (its
`# text` lines, or the tokens joined by spaces where a file has none; a line a paragraph), and
entities scored by their character spans, so that the tokenizer's errors count too."""

from __future__ import annotations

from seqtrain.tasks.capabilities import ReadsRawText
from seqtrain.tasks.entities.metrics import prf
from seqtrain.tasks.entities.readers import EntityFile
from seqtrain.tasks.entities.schemes import spans
from seqtrain.tasks.tokenize.document import Paragraph, Sentence, Token, group_paragraphs


def gold_paragraphs(read: EntityFile, path: str) -> list[Paragraph]:
    """The file's sentences as raw text, each `# text` line a paragraph of its own, as `predict
    --input` reads a file (a paragraph a line). Entity files mark documents but no paragraphs: a UNER
    document read as one paragraph is up to 88 sentences with no line break, which no raw input
    looks like, and which costs the sentence splitter (and the tagger's context) far more than text
    with its line breaks does (docs/entities.md)."""
    sentences = []
    for sentence, text in zip(read.sentences, read.texts):
        tokens = [Token(w, [w], [t]) for w, t in zip(sentence.words, sentence.tags)]
        line = sentence.token_lines[0] + 1 if sentence.token_lines else 0
        sentences.append((True, Sentence(tokens, text, "", line)))
    return group_paragraphs(sentences, path)


def char_entities(paragraphs: list) -> set[tuple[int, str, int, int]]:
    """(paragraph, type, first character, past the last) of every entity the words' tags mark."""
    out = set()
    for p, sentences in enumerate(paragraphs):
        for sentence in sentences:
            words = [(token, tag) for token in sentence.tokens for tag in (token.tags or [None] * len(token.words))]
            tags = [tag or "O" for _, tag in words]
            out |= {(p, kind, words[i][0].start, words[j - 1][0].end) for kind, i, j in spans(tags)}
    return out


def entity_raw_scores(gold: list[Paragraph], system: list[list[Sentence]]) -> dict[str, float]:
    """The tokenizer's figures (tokens, sentences, words F1 of the CoNLL 2018 scorer) and entity
    precision, recall and F1, an entity correct when its characters and type are the gold one's."""
    metrics = {k: v for k, v in ReadsRawText.raw_text_scores(gold, system).items() if not k.startswith("upos")}
    g, s = char_entities([p.sentences for p in gold]), char_entities(system)
    precision, recall, f1 = prf(len(g & s), len(g), len(s))
    return {**metrics, "precision": precision, "recall": recall, "f1": f1}
