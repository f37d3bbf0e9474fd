"""Tang poetry: a character language model on 全唐诗, which also writes poems (generate-poem).

Each poem is read as <s> 床前明月光，疑是地上霜。... </s>: the model predicts every character, mark
and the end symbol from those before. Training takes padded batches of whole poems (pads masked out
of the loss), or fixed-length chunks of the running text with the hidden state carried from one
batch to the next (data.mode: chunks). Validation always scores whole poems, next to char unigram
and add-k bigram baselines fitted on the same training split.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from seqtrain.core.config import Config
from seqtrain.core.device import model_device
from seqtrain.core.errors import UserError
from seqtrain.core.fields import opt, section
from seqtrain.core.vocab import PAD, UNK, Vocab
from seqtrain.data.vectors import init_matrix, run_cache, train_word2vec
from seqtrain.models.layers import embedding
from seqtrain.models.poem_lm import PoemLM
from seqtrain.tasks.base import Prediction, PredictOptions, Splits, Table, Task
from seqtrain.tasks.capabilities import HasCorpus, WritesPoems
from seqtrain.tasks.shared import RNNConfig, build_recurrent, every_step_states, seeded_split
import seqtrain.tasks.tang.poems as P
from seqtrain.tasks.tang.generate import BATCH, generate
from seqtrain.tasks.tang.plans import StartDoesNotFit
from seqtrain.tasks.tang.poem_eval import evaluate_poems
from seqtrain.tasks.tang.request import PoemRequest

BOS, EOS = "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)


@dataclass
class DataConfig:
    files: list[str] = opt(["chinese-poetry-tang/poet.tang.*.json"],
                           "chinese-poetry JSON files under the data root (glob patterns allowed)", path=True)
    script: Literal["traditional", "simplified"] = opt("traditional", "characters as in the corpus, or "
                                                       "converted to simplified with OpenCC (pip install opencc)")
    form: list[int] = opt([5, 7], "keep poems whose lines all have one of these lengths (5: 五言, 7: 七言); [] keeps any")
    lines: list[int] = opt([4, 8], "keep poems with one of these numbers of lines (4: 绝句, 8: 律诗); [] keeps any")
    max_chars: int = opt(0, "drop poems longer than this, marks included (0: no limit)", min=0)
    min_freq: int = opt(2, "characters seen fewer times in training become <unk>", min=1)
    valid_fraction: float = opt(0.05, "share of poems held out for validation", min=0, max=0.5)
    split_seed: int = opt(0, "seed of the train/validation split by poem")
    mode: Literal["poems", "chunks"] = opt("poems", "padded batches of whole poems, or fixed-length chunks of "
                                           "the running text with the hidden state carried across batches")
    chunk_len: int = opt(100, "chunks: characters per chunk", min=2)

    def check(self) -> None:
        if not self.files:
            raise UserError("data.files: give at least one corpus file")


@dataclass
class ModelConfig(RNNConfig):
    embedding_dim: int = opt(256, "character embedding size", min=1)
    hidden_size: int = opt(512, "hidden units per layer", min=1)
    dropout: float = opt(0.0, "dropout on embeddings, between layers and before the output", min=0, max=1)
    tie_weights: bool = opt(False, "share the embedding matrix with the output layer")
    word2vec_epochs: int = opt(0, "pretrain the embeddings with gensim Word2Vec for this many epochs (0: off)", min=0)

    def check(self) -> None:
        if self.bidirectional:
            raise UserError("model.bidirectional: a language model reads left to right only")


@dataclass
class TangConfig(Config):
    data: DataConfig = section(DataConfig, "the poems: files, cleaning, split, batching")
    model: ModelConfig = section(ModelConfig, "the character language model")


class Encoded(NamedTuple):
    ids: torch.Tensor              # <s> text </s>
    unigram: float | None = None   # baseline negative log-likelihoods of the poem (validation only)
    bigram: float | None = None


class Chunk(NamedTuple):
    ids: torch.Tensor              # chunk_len + 1 ids of the running text: inputs [:-1], targets [1:]
    first: bool                    # the first chunk of its stream: start from a zero state


class TangTask(WritesPoems, HasCorpus, Task):
    Config = TangConfig
    goals = {"loss": "min", "bits_per_char": "min", "perplexity": "min", "unigram_nats": "min",
             "bigram_nats": "min", "below_bigram": "max"}
    monitor = "loss"

    def __init__(self, cfg: TangConfig, vocab: Vocab, filter_counts: dict, *, pretrained: torch.Tensor | None = None):
        super().__init__(cfg)
        self.sequential = cfg.data.mode == "chunks"  # batch k continues batch k-1: no shuffling
        self.vocab = vocab
        self.filter_counts = filter_counts  # what each cleaning filter kept, for the record
        self.pretrained = pretrained        # word2vec rows for the embedding (training only)
        self.bigram_k: float | None = None
        self.carried = None                 # chunks: the state the last training batch ended in

    # ---------------------------------------------------------------- data
    @classmethod
    def corpus(cls, cfg: TangConfig, paths: dict) -> tuple[list[P.Poem], list[P.Poem], dict]:
        return read_corpus(cfg, paths)

    @classmethod
    def score_written(cls, path: Path, train: list[P.Poem], valid: list[P.Poem], **request) -> dict:
        return evaluate_poems(path, train, valid, **request)

    @classmethod
    def for_training(cls, cfg: TangConfig, paths: dict, workdir) -> tuple["TangTask", Splits]:
        train, valid, counts = cls.corpus(cfg, paths)
        vocab = Vocab.build(Counter(c for p in train for c in p.text), specials=SPECIALS, min_freq=cfg.data.min_freq)
        task = cls(cfg, vocab, counts, pretrained=char_vectors(cfg, train, vocab, workdir))
        return task, task.encode_splits(train, valid)

    @classmethod
    def from_state(cls, cfg: TangConfig, state: dict) -> "TangTask":
        return cls(cfg, Vocab(state["chars"], unk=UNK), dict(state.get("filter_counts", {})))

    def state_dict(self) -> dict:
        return {"chars": self.vocab.to_list(), "filter_counts": dict(self.filter_counts)}

    def read_splits(self, paths: dict) -> Splits:
        return self.encode_splits(*self.corpus(self.cfg, paths)[:2])

    def encode_splits(self, train: list[P.Poem], valid: list[P.Poem]) -> Splits:
        train_ids = [self.encode(p.text) for p in train]
        dev_ids = [self.encode(p.text) for p in valid]
        ngrams = P.NgramBaselines(train_ids, len(self.vocab) - 2)  # never predicted: <pad>, <s>
        self.bigram_k = ngrams.fit_k(dev_ids)
        dev = [Encoded(torch.tensor(s), ngrams.unigram_nll(s), ngrams.bigram_nll(s)) for s in dev_ids]
        if self.cfg.data.mode == "chunks":
            return Splits(train=chunks(train_ids, self.cfg.train.batch_size, self.cfg.data.chunk_len), dev=dev)
        return Splits(train=[Encoded(torch.tensor(s)) for s in train_ids], dev=dev)

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode([BOS, *text, EOS])

    def read_examples(self, path: Path) -> list:
        poems = select(self.cfg, P.read_poems(Path(path)), {}, dedupe=False)
        return [Encoded(torch.tensor(self.encode(p.text))) for p in poems]

    # ---------------------------------------------------------------- model and loss
    def build_model(self) -> nn.Module:
        m = self.cfg.model
        embed = embedding(len(self.vocab), m.embedding_dim, padding_idx=self.vocab.index(PAD))
        model = PoemLM(embed, build_recurrent(m, m.embedding_dim), dropout=m.dropout, tie_weights=m.tie_weights)
        if self.pretrained is not None:
            with torch.no_grad():
                model.embed.weight.copy_(self.pretrained)
        return model

    def size(self, example) -> int:
        return len(example.ids) - 1

    def collate(self, examples: list) -> dict:
        return collate(examples, pad=self.vocab.index(PAD), bos=self.vocab.index(BOS))

    def loss(self, model, batch) -> torch.Tensor:
        y = batch["y"]
        select = y != -100
        if "first" in batch:  # chunks: continue from the state the previous batch ended in
            hx = self.carried
            if hx is None or bool(batch["first"].any()) or len(y) != state_batch(hx):
                hx = None
            logits, final = model(batch["x"], hx=hx, select=select)
            self.carried = detach(final)
        else:
            logits, _ = model(batch["x"], batch["lengths"], select=select)
        return nn.functional.cross_entropy(logits, y[select])

    def carried_state(self) -> dict:
        state = self.carried
        return {} if state is None else {"hidden": list(state) if isinstance(state, tuple) else [state]}

    def load_carried_state(self, state: dict) -> None:
        hidden = state.get("hidden")
        self.carried = None if not hidden else (tuple(hidden) if len(hidden) == 2 else hidden[0])

    # ---------------------------------------------------------------- metrics
    def evaluate_batch(self, model, batch) -> dict:
        y = batch["y"]
        select = y != -100
        logits, _ = model(batch["x"], batch.get("lengths"), select=select)
        sums = {"loss_sum": nn.functional.cross_entropy(logits, y[select], reduction="sum"), "chars": select.sum()}
        return sums | {k: batch[k] for k in ("unigram_nll", "bigram_nll") if k in batch}

    def metrics(self, totals: dict) -> dict:
        chars = float(totals["chars"])
        nats = float(totals["loss_sum"]) / chars
        out = {"loss": nats, "bits_per_char": nats / math.log(2), "perplexity": math.exp(nats)}
        if "bigram_nll" in totals:
            out["unigram_nats"] = float(totals["unigram_nll"]) / chars
            out["bigram_nats"] = float(totals["bigram_nll"]) / chars
            out["below_bigram"] = out["bigram_nats"] - nats
        return out

    def tables(self, totals: dict) -> list[Table]:
        return [cross_entropy_table(self.metrics(totals), self.bigram_k)]

    # ---------------------------------------------------------------- writing poems
    def generate(self, model, request: PoemRequest) -> list[dict]:
        """request.num poems, written BATCH side by side at a time (poem i still uses seed + i)."""
        request.check()  # the one check: each batch's request differs only in seed and num
        return [poem for first in range(0, request.num, BATCH) for poem in generate(
            model, self.vocab, replace(request, seed=request.seed + first, num=min(BATCH, request.num - first)),
            bos=BOS, eos=EOS, specials=set(SPECIALS), unk=UNK)]

    def nats_per_char(self, model, texts: list[str]) -> float:
        return nats_per_char(self, model, texts)

    def epoch_report(self, model) -> str:
        return "sample: " + sample_poems(self, model, 1)[0]

    def write_artifacts(self, model, splits, run_dir) -> list:
        path = Path(run_dir) / "samples.txt"
        path.write_text("\n\n".join(sample_poems(self, model, 4)) + "\n", encoding="utf-8")
        return [path]

    def predict(self, model, inputs: list[str], options: PredictOptions) -> Prediction:
        """Each input is the beginning of a poem; the model writes the rest (seed 0): a regular poem
        when the beginning allows one, else freely."""
        if not inputs:
            raise UserError("no input: give the beginning of a poem, e.g. seqtrain predict CKPT 床前明月光")
        check_known(self.vocab, inputs)
        outputs = [continue_poem(self, model, text) for text in inputs]
        states = {}
        if options.states:
            batch = self.collate([Encoded(torch.tensor(self.encode(P.normalise(t)))) for t in inputs])
            x = batch["x"].to(model_device(model))
            states = every_step_states(model.all_states, {"x": x, "lengths": batch["lengths"]}, batch["lengths"])
        return Prediction(text="\n".join(outputs),
                          records=[{"input": s, "output": o} for s, o in zip(inputs, outputs)], states=states)


def read_corpus(cfg: TangConfig, paths: dict) -> tuple[list[P.Poem], list[P.Poem], dict]:
    """The selected poems of the config's files, split into (train, validation), and the counts
    of each cleaning filter."""
    d, counts = cfg.data, {}
    files = [p for key, p in paths.items() if key.startswith("files")]
    poems = select(cfg, [poem for f in files for poem in P.read_json_poems(f)], counts)
    train, valid = seeded_split(poems, d.valid_fraction, d.split_seed, keep_one=True)
    return train, valid, counts


def nats_per_char(task: TangTask, model, texts: list[str]) -> float:
    """Cross-entropy of each text as a whole poem (its end included), in nats per character."""
    examples = [Encoded(torch.tensor(task.encode(P.normalise(t)))) for t in texts if P.normalise(t)]
    if not examples:
        raise UserError("no text to score: give some, e.g. 床前明月光")
    batch = {k: v.to(model_device(model)) for k, v in task.collate(examples).items()}
    with torch.no_grad():
        sums = task.evaluate_batch(model, batch)
    return float(sums["loss_sum"]) / float(sums["chars"])


def cross_entropy_table(m: dict, bigram_k: float | None) -> Table:
    """The model's nats/bits per character and perplexity, beside the baselines' when scored."""
    rows = [["model", m["loss"], m["bits_per_char"], m["perplexity"]]]
    if "bigram_nats" in m:
        k = f"add-{bigram_k:g}" if bigram_k is not None else "add-k"
        for name, key in ((f"bigram ({k})", "bigram_nats"), ("unigram (add-1)", "unigram_nats")):
            rows.append([name, m[key], m[key] / math.log(2), math.exp(m[key])])
    return Table("cross-entropy per character (marks and end symbol included)",
                 ["model", "nats/char", "bits/char", "perplexity"], rows)


def check_known(vocab: Vocab, inputs: list[str]) -> None:
    """Every character of every input is one the model knows (else the line names them)."""
    for text in inputs:
        unknown = sorted({c for c in P.normalise(text) if c not in vocab or c == UNK})
        if unknown:
            raise UserError(f"input {text[:40]!r}: not in the model's vocabulary: {' '.join(unknown[:20])} "
                            f"(a poetry model continues the beginning of a poem in its characters)")


def select(cfg: TangConfig, poems: list[P.Poem], counts: dict, dedupe: bool = True) -> list[P.Poem]:
    """The poems the config's cleaning filters keep (counts filled in, and shown), in its script."""
    d = cfg.data
    kept = P.select(poems, d.form, d.lines, d.max_chars, counts, dedupe=dedupe)
    print(P.describe_counts(counts), file=sys.stderr)
    return P.to_simplified(kept) if d.script == "simplified" else kept


def chunks(sequences: list[list[int]], streams: int, size: int) -> list[Chunk]:
    """The running text cut into `streams` parallel streams (one per row of a batch), laid out so
    that batch k (examples k*B .. k*B+B-1, in order) holds chunk k of every stream."""
    stream = torch.tensor([i for s in sequences for i in s])
    per_stream = len(stream) // streams
    if per_stream < 2:
        raise UserError(f"data: too little text for {streams} streams (train.batch_size); lower it")
    grid = stream[:per_stream * streams].view(streams, per_stream)
    return [Chunk(grid[j, k:k + size + 1], k == 0) for k in range(0, per_stream - 1, size) for j in range(streams)]


def char_vectors(cfg: TangConfig, train: list[P.Poem], vocab: Vocab, workdir: Path | None) -> torch.Tensor | None:
    """Embedding rows pretrained with word2vec on the training poems (model.word2vec_epochs), or None."""
    m = cfg.model
    if not m.word2vec_epochs:
        return None
    cache = run_cache(workdir)
    if cache is None or not cache.is_file():
        print(f"pretraining char embeddings with Word2Vec ({m.word2vec_epochs} epochs)...", file=sys.stderr)
    vectors = train_word2vec([list(p.text) for p in train], m.embedding_dim, epochs=m.word2vec_epochs,
                             seed=cfg.seed, cache=cache)
    matrix, _ = init_matrix(vocab.tokens, vectors, m.embedding_dim, skip=vocab.index(PAD) + 1)
    return matrix


def collate(examples: list, pad: int, bos: int) -> dict:
    """Chunks of running text (<s> never predicted), or padded whole poems (with the baselines'
    summed scores when the poems carry them)."""
    if isinstance(examples[0], Chunk):
        ids = torch.stack([e.ids for e in examples])
        y = ids[:, 1:].masked_fill(ids[:, 1:] == bos, -100)  # <s> is never predicted
        return {"x": ids[:, :-1], "y": y, "first": torch.tensor([e.first for e in examples])}
    padded = pad_sequence([e.ids for e in examples], batch_first=True, padding_value=pad)
    y = padded[:, 1:].masked_fill(padded[:, 1:] == pad, -100)
    batch = {"x": padded[:, :-1], "y": y, "lengths": torch.tensor([len(e.ids) - 1 for e in examples])}
    if all(e.bigram is not None for e in examples):
        batch["unigram_nll"] = torch.tensor(sum(e.unigram for e in examples), dtype=torch.float64)
        batch["bigram_nll"] = torch.tensor(sum(e.bigram for e in examples), dtype=torch.float64)
    return batch


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def state_batch(state) -> int:
    return (state[0] if isinstance(state, tuple) else state).shape[1]


def sample_poems(task: TangTask, model, n: int) -> list[str]:
    was_training = model.training
    model.eval()
    poems = task.generate(model, PoemRequest(form=5, lines=4, num=n))
    model.train(was_training)
    return [p["poem"] for p in poems]


def continue_poem(task: TangTask, model, text: str) -> str:
    try:
        return task.generate(model, PoemRequest(start=text, regular=True))[0]["poem"]
    except StartDoesNotFit:
        return task.generate(model, PoemRequest(start=text))[0]["poem"]
