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
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from seqtrain import poems as P
from seqtrain.config import opt
from seqtrain.errors import UserError
from seqtrain.rnn import RNNConfig, build_recurrent, embedding
from seqtrain.task import Prediction, PredictOptions, Splits, Table
from seqtrain.vocab import PAD, UNK, Vocab

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


class Encoded(NamedTuple):
    ids: torch.Tensor              # <s> text </s>
    unigram: float | None = None   # baseline negative log-likelihoods of the poem (validation only)
    bigram: float | None = None


class Chunk(NamedTuple):
    ids: torch.Tensor              # chunk_len + 1 ids of the running text: inputs [:-1], targets [1:]
    first: bool                    # the first chunk of its stream: start from a zero state


class PoemLM(nn.Module):
    """Embedding -> recurrent layers -> linear over the characters (optionally tied)."""

    def __init__(self, vocab_size: int, m: ModelConfig, pad_id: int):
        super().__init__()
        self.embed = embedding(vocab_size, m.embedding_dim, padding_idx=pad_id)
        self.rnn = build_recurrent(m, m.embedding_dim)
        self.drop = nn.Dropout(m.dropout)
        tie = m.tie_weights
        self.proj = nn.Linear(m.hidden_size, m.embedding_dim) if tie and m.hidden_size != m.embedding_dim else None
        self.head = nn.Linear(m.embedding_dim if tie else m.hidden_size, vocab_size)
        if tie:
            self.head.weight = self.embed.weight

    def forward(self, x, lengths=None, hx=None, select=None):
        """Logits [B, T, V], or [N, V] for the positions where `select` [B, T] is true (the rest of
        the output layer's work is skipped), and the final recurrent state."""
        if lengths is not None and bool((lengths == x.shape[1]).all()):
            lengths = None  # nothing to pack
        out, final = self.rnn(self.drop(self.embed(x)), lengths, hx)
        out = self.drop(out if select is None else out[select])
        return self.head(out if self.proj is None else self.proj(out)), final


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class TangTask:
    DataConfig = DataConfig
    ModelConfig = ModelConfig
    monitor = ("loss", "min")

    def __init__(self, cfg):
        self.cfg = cfg
        self.sequential = cfg.data.mode == "chunks"  # batch k continues batch k-1: no shuffling
        self.vocab: Vocab | None = None
        self.filter_counts: dict = {}
        self.bigram_k: float | None = None
        self.pretrained = None
        self.carried = None
        self.run_dir = None

    # ---------------------------------------------------------------- data
    def select(self, poems: list[P.Poem], dedupe: bool = True) -> tuple[list[P.Poem], dict]:
        d, counts = self.cfg.data, {}
        kept = P.select(poems, d.form, d.lines, d.max_chars, counts, dedupe=dedupe)
        print(P.describe_counts(counts), file=sys.stderr)
        return (P.to_simplified(kept) if d.script == "simplified" else kept), counts

    def corpus(self, paths: dict) -> tuple[list[P.Poem], list[P.Poem]]:
        """The selected poems of the config's files, split into (train, validation)."""
        files = [p for key, p in paths.items() if key.startswith("files")]
        poems, counts = self.select([poem for f in files for poem in P.read_json_poems(f)])
        if self.vocab is None:  # about to train: the counts go into the checkpoint
            self.filter_counts = counts
        return P.split(poems, self.cfg.data.valid_fraction, self.cfg.data.split_seed)

    def load_data(self, paths: dict) -> Splits:
        d = self.cfg.data
        train, dev = self.corpus(paths)
        if self.vocab is None:
            self.vocab = Vocab.build(Counter(c for p in train for c in p.text), specials=SPECIALS, min_freq=d.min_freq)
            if self.cfg.model.word2vec_epochs:
                self.pretrained = P.word2vec_vectors([p.text for p in train], self.vocab.tokens,
                                                     self.cfg.model.embedding_dim, self.cfg.model.word2vec_epochs,
                                                     self.cfg.seed)
        train_ids = [self.encode(p.text) for p in train]
        dev_ids = [self.encode(p.text) for p in dev]
        ngrams = P.NgramBaselines(train_ids, len(self.vocab) - 2)  # never predicted: <pad>, <s>
        self.bigram_k = ngrams.fit_k(dev_ids)
        dev_examples = [Encoded(torch.tensor(s), ngrams.unigram_nll(s), ngrams.bigram_nll(s)) for s in dev_ids]
        train_examples = (self.chunks(train_ids) if d.mode == "chunks"
                          else [Encoded(torch.tensor(s)) for s in train_ids])
        return Splits(train=train_examples, dev=dev_examples)

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode([BOS, *text, EOS])

    def chunks(self, sequences: list[list[int]]) -> list[Chunk]:
        """The running text cut into batch_size parallel streams, laid out so that batch k (examples
        k*B .. k*B+B-1, in order) holds chunk k of every stream."""
        stream = torch.tensor([i for s in sequences for i in s])
        streams = self.cfg.train.batch_size
        per_stream = len(stream) // streams
        if per_stream < 2:
            raise UserError(f"data: too little text for {streams} streams (train.batch_size); lower it")
        grid = stream[:per_stream * streams].view(streams, per_stream)
        size = self.cfg.data.chunk_len
        return [Chunk(grid[j, k:k + size + 1], k == 0)
                for k in range(0, per_stream - 1, size) for j in range(streams)]

    def read_examples(self, path: Path) -> list:
        poems, _ = self.select(P.read_poems(Path(path)), dedupe=False)
        return [Encoded(torch.tensor(self.encode(p.text))) for p in poems]

    def state_dict(self) -> dict:
        return {"chars": self.vocab.to_list(), "filter_counts": dict(self.filter_counts)}

    def load_state_dict(self, state: dict) -> None:
        self.vocab = Vocab(state["chars"], unk=UNK)
        self.filter_counts = dict(state.get("filter_counts", {}))

    # ---------------------------------------------------------------- model and loss
    def build_model(self) -> nn.Module:
        model = PoemLM(len(self.vocab), self.cfg.model, self.vocab.index(PAD))
        if self.pretrained is not None:
            with torch.no_grad():
                for i, vector in enumerate(self.pretrained):
                    if vector is not None:
                        model.embed.weight[i] = torch.as_tensor(vector)
        return model

    def size(self, example) -> int:
        return len(example.ids) - 1

    def collate(self, examples: list) -> dict:
        if isinstance(examples[0], Chunk):
            ids = torch.stack([e.ids for e in examples])
            y = ids[:, 1:].masked_fill(ids[:, 1:] == self.vocab.index(BOS), -100)  # <s> is never predicted
            return {"x": ids[:, :-1], "y": y, "first": torch.tensor([e.first for e in examples])}
        padded = pad_sequence([e.ids for e in examples], batch_first=True, padding_value=self.vocab.index(PAD))
        y = padded[:, 1:].masked_fill(padded[:, 1:] == self.vocab.index(PAD), -100)
        batch = {"x": padded[:, :-1], "y": y, "lengths": torch.tensor([len(e.ids) - 1 for e in examples])}
        if all(e.bigram is not None for e in examples):
            batch["unigram_nll"] = torch.tensor(sum(e.unigram for e in examples), dtype=torch.float64)
            batch["bigram_nll"] = torch.tensor(sum(e.bigram for e in examples), dtype=torch.float64)
        return batch

    def loss(self, model, batch) -> torch.Tensor:
        y = batch["y"]
        select = y != -100
        if "first" in batch:  # chunks: continue from the state the previous batch ended in
            hx = self.carried
            if hx is None or bool(batch["first"].any()) or len(y) != self.state_batch(hx):
                hx = None
            logits, final = model(batch["x"], hx=hx, select=select)
            self.carried = detach(final)
        else:
            logits, _ = model(batch["x"], batch["lengths"], select=select)
        return nn.functional.cross_entropy(logits, y[select])

    @staticmethod
    def state_batch(state) -> int:
        return (state[0] if isinstance(state, tuple) else state).shape[1]

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
        m = self.metrics(totals)
        rows = [["model", m["loss"], m["bits_per_char"], m["perplexity"]]]
        if "bigram_nats" in m:
            for name, key in ((f"bigram (add-{self.bigram_k:g})", "bigram_nats"), ("unigram (add-1)", "unigram_nats")):
                rows.append([name, m[key], m[key] / math.log(2), math.exp(m[key])])
        return [Table("cross-entropy per character (marks and end symbol included)",
                      ["model", "nats/char", "bits/char", "perplexity"], rows)]

    # ---------------------------------------------------------------- writing poems
    def generate(self, model, request) -> list[dict]:
        from seqtrain.generate import generate

        return generate(model, self.vocab, request, bos=BOS, eos=EOS, specials=set(SPECIALS), unk=UNK)

    def sample_poems(self, model, n: int) -> list[str]:
        from seqtrain.generate import PoemRequest

        was_training = model.training
        model.eval()
        poems = self.generate(model, PoemRequest(form=5, lines=4, num=n))
        model.train(was_training)
        return [p["poem"] for p in poems]

    def continue_poem(self, model, text: str) -> str:
        from seqtrain.generate import PoemRequest, StartDoesNotFit

        try:
            return self.generate(model, PoemRequest(start=text, regular=True))[0]["poem"]
        except StartDoesNotFit:
            return self.generate(model, PoemRequest(start=text))[0]["poem"]

    def epoch_report(self, model) -> str:
        return "sample: " + self.sample_poems(model, 1)[0]

    def write_artifacts(self, model, splits, run_dir) -> list:
        path = Path(run_dir) / "samples.txt"
        path.write_text("\n\n".join(self.sample_poems(model, 4)) + "\n", encoding="utf-8")
        return [path]

    def predict(self, model, inputs: list[str], options: PredictOptions) -> Prediction:
        """Each input is the beginning of a poem; the model writes the rest (seed 0): a regular poem
        when the beginning allows one, else freely."""
        if not inputs:
            raise UserError("no input: give the beginning of a poem, e.g. seqtrain predict CKPT 床前明月光")
        outputs = [self.continue_poem(model, text) for text in inputs]
        states = {}
        if options.states:
            batch = self.collate([Encoded(torch.tensor(self.encode(P.normalise(t)))) for t in inputs])
            device = next(model.parameters()).device
            with torch.no_grad():
                states = model.rnn.all_states(model.embed(batch["x"].to(device)), batch["lengths"])
            states = {k: v.cpu() for k, v in states.items()} | {"lengths": batch["lengths"]}
        return Prediction(text="\n".join(outputs),
                          records=[{"input": s, "output": o} for s, o in zip(inputs, outputs)], states=states)
