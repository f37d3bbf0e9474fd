"""Named entities: the POS tagger's model, readers, character features, lexicon, word vectors and
tokenizer (this task is a PosTask), trained on entity tags in BIOES or BIO, decoded so that every
output is a valid sequence, scored as conlleval scores entities, written in the scheme the input had.
"""

from __future__ import annotations

import copy
import random
import sys
from dataclasses import dataclass
from typing import Literal

from seqtrain.core.errors import UserError
from seqtrain.core.fields import opt, section
from seqtrain.core.vocab import Vocab
from seqtrain.tasks.base import PredictOptions, Prediction, Splits
from seqtrain.tasks.capabilities import FindsEntities, ScoresDocuments
from seqtrain.tasks.entities.documents import InDocuments, document_totals, retag
from seqtrain.tasks.entities.metrics import UNSEEN_TYPE, entity_metrics, entity_totals, type_table
from seqtrain.tasks.entities.raw import entity_raw_scores, gold_paragraphs
from seqtrain.tasks.entities.readers import FORMATS, read_entities
from seqtrain.tasks.entities.schemes import allowed_transitions, convert, scheme_tags, spans, split_tag
from seqtrain.tasks.pos import task as pos
from seqtrain.tasks.pos.conll import Sentence
from seqtrain.tasks.shared import seeded_split


@dataclass
class DataConfig(pos.DataConfig):
    train: str = opt("samples/ner-en-toy-train.iob2", "training sentences: UNER .iob2, or CoNLL-2003/WNUT "
                                                      "columns (the token first, the tag last)", path=True)
    format: Literal["auto", "iob2", "conll"] = opt("auto", "file format (auto: .iob2 by name or by an index "
                                                           "column, else conll columns)")
    tag_column: int = opt(0, "column holding the entity tag, counted from 1 (0: the last; .iob2: the third)", min=0)
    aux_tags: list[Literal["xpos", "feats", "deprel"]] = opt([], "not for entities: entity files hold no other "
                                                                 "columns to learn (stays empty)")
    tag_scheme: Literal["auto", "iob1", "iob2", "bioes"] = opt("auto", "how the files' tags are written "
                                                               "(auto: guessed from each file)")
    train_scheme: Literal["bioes", "bio"] = opt("bioes", "the scheme the tagger learns and decodes in; "
                                                         "output is written in the scheme the input had")
    join_sentences: float = opt(0.0, "training: the chance that a sentence is read joined to the one before it "
                                     "in its document (so runs of several form), for a tagger that also reads "
                                     "sequences of several sentences, as raw text gives it where the tokenizer "
                                     "misses a sentence end (0: one sentence a sequence)", min=0, max=0.95)

    def check(self) -> None:
        if self.aux_tags:
            raise UserError("data.aux_tags: entity files have no other columns to learn (leave it empty)")


@dataclass
class ModelConfig(pos.ModelConfig):
    aux_weight: float = opt(1.0, "not for entities (no data.aux_tags)", min=0)
    decoder: Literal["softmax", "crf"] = opt("crf", "linear-chain CRF (Viterbi), or per-token softmax; "
                                                    "both decode only sequences the scheme allows")
    document_consistency: bool = opt(False, "words of an entity found in a document become that entity wherever "
                                            "else they occur there outside an entity, typed as found most often "
                                            "(a document: one a file marks with # newdoc or -DOCSTART-, or a text "
                                            "given to predict)")


@dataclass
class EntitiesConfig(pos.PosConfig):
    data: DataConfig = section(DataConfig, "the entity-tagged sentences and vocabularies")
    model: ModelConfig = section(ModelConfig, "the tagger")


class SchemeSentences(list):
    """Sentences in the training scheme, the scheme their file was written in, and the document
    each sentence belongs to (numbered in file order)."""
    scheme: str = "iob2"
    documents: list[int]  # set by scheme_list, which makes every SchemeSentences

    def subset(self, indices) -> "SchemeSentences":
        indices = list(indices)
        return scheme_list([self[i] for i in indices], self.scheme, [self.documents[i] for i in indices])


class EntitiesTask(FindsEntities, ScoresDocuments, pos.PosTask):
    Config = EntitiesConfig
    goals = {"loss": "min", "accuracy": "max", "precision": "max", "recall": "max", "f1": "max"}
    monitor = "f1"
    output_formats = ("text", "json", "conllu")
    input_formats = ("text", "pretokenized", "iob2", "conll")  # columns: UNER .iob2, CoNLL-2003 and WNUT
    input_scheme = "iob2"  # the training file's scheme: how raw-text output is written

    # ---------------------------------------------------------------- data
    @classmethod
    def read_sentences(cls, cfg: EntitiesConfig, paths: dict) -> tuple[SchemeSentences, SchemeSentences]:
        d = cfg.data
        train = cls.read_file(cfg, paths["train"], note=True)
        dev = cls.read_file(cfg, paths["dev"]) if "dev" in paths else None
        if dev is None:
            kept, held = seeded_split(range(len(train)), d.dev_fraction, d.split_seed)
            train, dev = train.subset(kept), train.subset(held)
        if d.max_train:
            train = train.subset(range(min(d.max_train, len(train))))
        return join_neighbours(train, d.join_sentences, cfg.seed), dev

    @classmethod
    def read_file(cls, cfg: EntitiesConfig, path, note: bool = False) -> SchemeSentences:
        d = cfg.data
        read = read_entities(path, d.format, d.tag_column, d.tag_scheme)
        if note and read.ill_formed:
            print(f"note: {path}: {read.ill_formed} entities start with I- (or E-) where {read.scheme.upper()} "
                  f"starts them with B-; read as conlleval reads them (an entity starts there)", file=sys.stderr)
        scheme = "bioes" if d.train_scheme == "bioes" else "iob2"
        for sentence in read.sentences:
            sentence.tags = convert(sentence.tags, scheme)
        return scheme_list(read.sentences, read.scheme, read.documents)

    def encode(self, train: list[Sentence], dev: list[Sentence]) -> Splits:
        self.input_scheme = getattr(train, "scheme", self.input_scheme)
        e = self.encoding
        tags = scheme_tags(e.tags.to_list(), self.cfg.data.train_scheme)
        if tags != e.tags.to_list():  # (before any sentence is encoded: the tag ids are final here)
            self.encoding = copy.copy(e)  # the same encoding (whatever else it holds) with the whole tag set
            self.encoding.tags, self.encoding.unseen_id = Vocab(tags, unk=None), len(tags)
        splits = super().encode(train, dev)
        return Splits(splits.train, InDocuments(splits.dev, getattr(dev, "documents", [0] * len(dev))))

    @classmethod
    def from_state(cls, cfg: EntitiesConfig, state: dict) -> "EntitiesTask":
        task = super().from_state(cfg, state)
        task.input_scheme = state["input_scheme"]
        return task

    def state_dict(self) -> dict:
        return {**super().state_dict(), "input_scheme": self.input_scheme}

    def read_examples(self, path) -> list:
        sentences = self.read_file(self.cfg, path)
        return InDocuments([self.encoding.encode(s) for s in sentences], sentences.documents)

    # ---------------------------------------------------------------- model
    def build_model(self):
        model = super().build_model()
        model.constrain(allowed_transitions(self.encoding.tags.to_list(), self.cfg.data.train_scheme))
        return model

    @property
    def types(self) -> list[str]:
        return sorted({split_tag(t)[1] for t in self.encoding.tags.to_list()} - {""}) + [UNSEEN_TYPE]

    # ---------------------------------------------------------------- metrics
    def evaluate_batch(self, model, batch) -> dict:
        return entity_totals(*self.decoded_tags(model, batch), self.types)

    def decoded_tags(self, model, batch) -> tuple:
        """(gold tags, predicted tags, loss sum, tokens the loss covers) of one batch, in the training scheme."""
        gold, predicted, _, loss_sum, loss_tokens = pos.decoded(model, batch)
        names = self.encoding.tags.to_list() + [f"I-{UNSEEN_TYPE}"]
        lengths = batch["lengths"].tolist()
        as_tags = lambda ids: [[names[t] for t in row[:n]] for row, n in zip(ids.tolist(), lengths)]  # noqa: E731
        return as_tags(gold), as_tags(predicted), loss_sum, loss_tokens

    def documents_of(self, examples: list) -> list[int] | None:
        return getattr(examples, "documents", None) if self.cfg.model.document_consistency else None

    def document_totals(self, model, examples: list, documents: list[int], batch_size: int, device) -> dict:
        return document_totals(self, model, examples, documents, batch_size, device)

    def metrics(self, totals: dict) -> dict:
        return {"loss": pos.ratio(totals["loss_sum"], totals["loss_tokens"]),
                "accuracy": pos.ratio(totals["correct"], totals["tokens"]), **entity_metrics(totals)}

    def tables(self, totals: dict) -> list:
        return [type_table(self.types, totals)]

    def epoch_report(self, model) -> str | None:
        if not self.shown:
            return None
        from seqtrain.tasks.entities.output import bracketed

        return bracketed(self.shown, spans(self.tag(model, [Sentence(self.shown)], 1)[0]))

    # ---------------------------------------------------------------- predict
    def entity_spans(self, tags: list[str]) -> list[tuple[str, int, int]]:
        return spans(tags)

    def analyze(self, model, paragraphs: list[str], batch_size: int = 64, pretokenized: bool = False) -> list:
        """The tokenizer's sentences, each word tagged in the scheme the training file had. With
        model.document_consistency, each text given is a document."""
        analyzed = super().analyze(model, paragraphs, batch_size, pretokenized)
        sentences = [(s, d) for d, p in enumerate(analyzed) for s in p]
        retag(sentences, self.input_scheme, self.cfg.model.document_consistency)
        return analyzed

    def read_gold(self, path) -> list:
        d = self.cfg.data
        read = read_entities(path, d.format, d.tag_column, d.tag_scheme)
        return InDocuments(gold_paragraphs(read, str(path)), read.documents)

    def gold_dev_paragraphs(self, paths: dict) -> list:
        if "dev" in paths:
            return self.read_gold(paths["dev"])
        raise UserError("evaluate --raw: this config holds out its dev sentences from data.train; give the file to score")

    def raw_text_scores(self, gold: list, system: list) -> dict[str, float]:
        documents = self.documents_of(gold)  # a gold paragraph is a sentence of the file (raw.py)
        if documents is not None:
            retag([(s, d) for paragraph, d in zip(system, documents) for s in paragraph], self.input_scheme, True)
        return entity_raw_scores(gold, system)

    def predict(self, model, inputs: list[str], options: PredictOptions) -> Prediction:
        from seqtrain.tasks.entities.output import predict_columns, predict_text

        if options.input_format in FORMATS[1:]:
            return predict_columns(self, model, inputs, options)
        if options.input_format not in ("text", "pretokenized"):
            raise UserError(f"--format {options.input_format}: an entity tagger reads text, or columns "
                            f"({', '.join(FORMATS[1:])}: the token first, as in its training files)")
        return predict_text(self, model, inputs, options)


def scheme_list(sentences: list, scheme: str, documents: list[int] | None = None) -> SchemeSentences:
    out = SchemeSentences(sentences)
    out.scheme, out.documents = scheme, documents if documents is not None else [0] * len(sentences)
    return out


def join_neighbours(sentences: SchemeSentences, chance: float, seed: int) -> SchemeSentences:
    """The training sentences with each one joined, with `chance`, to the sentence before it when both
    are of one document (data.join_sentences). A tagger trained on single sentences only reads two
    sentences given as one sequence worse (UNER English dev, gold words: F1 74.5 one sentence a
    sequence, 71.0 two at a time), and raw text gives it such sequences wherever the tokenizer misses
    a sentence end. Seeded by the config's seed: the same config joins the same sentences (an exact
    resume reads them again). Dev sentences are never joined."""
    if not chance:
        return sentences
    draw, out, documents = random.Random(seed), [], []
    for sentence, document in zip(sentences, sentences.documents):
        if out and documents[-1] == document and draw.random() < chance:
            last = out[-1]
            out[-1] = Sentence(last.words + sentence.words, last.tags + sentence.tags,
                               last.token_lines + sentence.token_lines)
        else:
            out.append(sentence)
            documents.append(document)
    return scheme_list(out, sentences.scheme, documents)
