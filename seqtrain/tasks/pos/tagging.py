"""Tagging with a trained tagger: sentences of words in length-sorted batches, pretokenized lines
or CoNLL-U in and out, and the words of a tokenizer's sentences."""

from __future__ import annotations

import torch

from seqtrain.core.device import model_device
from seqtrain.core.errors import UserError
from seqtrain.models.tagger import mask_of
from seqtrain.tasks.base import Prediction, PredictOptions
from seqtrain.tasks.pos.conll import Sentence, fill_conllu, parse_conllu
from seqtrain.tasks.pos.encoding import Encoding
from seqtrain.tasks.shared import every_step_states
from seqtrain.tasks.tokenize.document import Sentence as RawSentence

MAX_SENTENCE_WORDS = 512  # longer sentences are tagged in pieces: a 9,000-word line costs what 18 do


def tag(model, encoding: Encoding, sentences: list[Sentence], batch_size: int) -> list[list[str]]:
    """Tags for each sentence, run in length-sorted batches (least padding). A sentence longer than
    MAX_SENTENCE_WORDS is tagged in pieces of that many words (each piece as a sentence)."""
    pieces = [Sentence(s.words[i:i + MAX_SENTENCE_WORDS]) for s in sentences
              for i in range(0, max(len(s.words), 1), MAX_SENTENCE_WORDS)]
    tagged = iter(tag_pieces(model, encoding, pieces, batch_size))
    return [[t for _ in range(0, max(len(s.words), 1), MAX_SENTENCE_WORDS) for t in next(tagged)]
            for s in sentences]


def tag_pieces(model, encoding: Encoding, sentences: list[Sentence], batch_size: int) -> list[list[str]]:
    device = model_device(model)
    model.eval()
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i].words))
    out: list[list[str]] = [[] for _ in sentences]
    names = encoding.tags.tokens
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = encoding.collate([encoding.encode(Sentence(sentences[i].words)) for i in chunk])
            batch = {k: v.to(device) for k, v in batch.items() if k != "tags"}
            scores = model(**batch)
            predicted = model.decode(scores, mask_of(batch["lengths"], scores.shape[1])).tolist()
            for i, ids in zip(chunk, predicted):
                out[i] = [names[t] for t in ids[:len(sentences[i].words)]]
    return out


def tag_lines(model, encoding: Encoding, inputs: list[str], options: PredictOptions,
              column: str) -> tuple[Prediction, list[Sentence]]:
    """Pretokenized text (one sentence a line, words between spaces; blank lines stay, so outputs
    line up with inputs) or CoNLL-U (the tag column filled, every other byte kept); and the
    sentences that were tagged."""
    if options.input_format == "conllu":
        sentences = parse_conllu(inputs, "<input>", column, require_tags=False)
    elif options.input_format in ("text", "pretokenized"):
        sentences = [Sentence(line.split()) for line in inputs]
    else:
        raise UserError(f"--format: expected text or conllu, got {options.input_format!r}")
    tagged = [s for s in sentences if s.words]
    if not tagged:
        raise UserError('no input: give a sentence, e.g. seqtrain predict CKPT "The dog ate the apple ."')
    tags = iter(tag(model, encoding, tagged, options.batch_size))
    tags = [next(tags) if s.words else [] for s in sentences]
    records = [{"words": s.words, "tags": t} for s, t in zip(sentences, tags) if s.words]
    if options.input_format == "conllu":
        text = "\n".join(fill_conllu(list(inputs), sentences, tags, column))
    else:
        text = "\n".join(" ".join(f"{w}/{t}" for w, t in zip(s.words, ts)) for s, ts in zip(sentences, tags))
    return Prediction(text=text, records=records), tagged


def tag_tokens(model, encoding: Encoding, paragraphs: list[list[RawSentence]],
               batch_size: int) -> list[list[RawSentence]]:
    """The same paragraphs with every word of every token tagged."""
    sentences = [s for p in paragraphs for s in p]
    tags = iter(tag(model, encoding, [Sentence(s.words) for s in sentences], batch_size))
    for sentence in sentences:
        sentence_tags = iter(next(tags))
        for token in sentence.tokens:
            token.tags = [next(sentence_tags) for _ in token.words]
    return paragraphs


def encoder_states(model, encoding: Encoding, sentences: list[Sentence]) -> dict:
    """Every-step encoder states of the sentences, in input order (predict --states)."""
    batch = encoding.collate([encoding.encode(Sentence(s.words)) for s in sentences])
    inputs = {k: v.to(model_device(model)) for k, v in batch.items() if k != "tags"}
    return every_step_states(model.all_states, inputs, batch["lengths"])
