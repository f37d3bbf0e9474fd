"""hello -> ohlol: learn to map each character of a string to a target character.

The classic first RNN tutorial, generalised a little: any list of (input, target) pairs of equal
length, from the config or a tab-separated file. The vocabulary is the sorted set of characters seen
(e, h, l, o for the classic pair), so one-hot inputs are exactly as wide as the tutorial's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from seqtrain.core.config import Config
from seqtrain.core.device import model_device
from seqtrain.core.errors import UserError
from seqtrain.core.fields import opt, section
from seqtrain.core.textfile import read_lines
from seqtrain.core.vocab import Vocab
from seqtrain.models.layers import OneHot, StepwiseRNN, embedding
from seqtrain.tasks.base import Prediction, PredictOptions, Splits, Task
from seqtrain.tasks.shared import RNNConfig, build_recurrent, every_step_states


@dataclass
class DataConfig:
    pairs: list[list[str]] = opt([["hello", "ohlol"]], "(input, target) string pairs of equal length")
    file: str = opt("", "tab-separated file of input<TAB>target lines, used instead of pairs", path=True)
    repeat: int = opt(1, "copies of each pair per epoch", min=1)

    def check(self) -> None:
        for i, pair in enumerate(self.pairs):
            check_pair(pair, f"data.pairs[{i}]")


@dataclass
class ModelConfig(RNNConfig):
    cell: Literal["rnn", "lstm", "gru"] = opt("rnn", "recurrent cell")
    hidden_size: int = opt(4, "hidden units per direction", min=1)
    impl: Literal["fused", "loop"] = opt("loop", "fused nn.RNN/LSTM/GRU, or a step loop over RNNCell/LSTMCell/GRUCell")
    input: Literal["onehot", "embedding"] = opt("onehot", "one-hot characters, or a learned nn.Embedding")
    embedding_dim: int = opt(10, "embedding size (input: embedding)", min=1, max=65536)


@dataclass
class HelloConfig(Config):
    data: DataConfig = section(DataConfig, "the (input, target) pairs")
    model: ModelConfig = section(ModelConfig, "the char RNN")


def check_pair(pair, where: str) -> None:
    if len(pair) != 2 or not all(isinstance(s, str) and s for s in pair):
        raise UserError(f"{where}: expected [input, target], two non-empty strings")
    if len(pair[0]) != len(pair[1]):
        raise UserError(f"{where}: input {pair[0]!r} and target {pair[1]!r} differ in length")


class HelloTask(Task):
    Config = HelloConfig
    goals = {"loss": "min", "accuracy": "max", "exact": "max"}
    monitor = "loss"

    def __init__(self, cfg: HelloConfig, vocab: Vocab, shown: list[str]):
        super().__init__(cfg)
        self.vocab = vocab
        self.shown = shown  # inputs whose predictions each evaluation shows

    # ---------------------------------------------------------------- data
    @classmethod
    def for_training(cls, cfg: HelloConfig, paths: dict, workdir) -> tuple["HelloTask", Splits]:
        pairs = read_pairs(cfg, paths)
        task = cls(cfg, Vocab(sorted({c for pair in pairs for s in pair for c in s}), unk=None),
                   [p[0] for p in pairs[:4]])
        return task, task.encode_splits(pairs)

    @classmethod
    def from_state(cls, cfg: HelloConfig, state: dict) -> "HelloTask":
        return cls(cfg, Vocab(state["chars"], unk=None), list(state["shown"]))

    def state_dict(self) -> dict:
        return {"chars": self.vocab.to_list(), "shown": self.shown}

    def read_splits(self, paths: dict) -> Splits:
        return self.encode_splits(read_pairs(self.cfg, paths))

    def encode_splits(self, pairs: list) -> Splits:
        examples = [self.encode(p) for p in pairs]
        return Splits(train=examples * self.cfg.data.repeat, dev=examples)

    def read_examples(self, path: Path) -> list:
        return [self.encode(p) for p in read_pair_file(path)]

    def encode(self, pair) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ids(pair[0]), self.ids(pair[1])

    def ids(self, text: str) -> torch.Tensor:
        if not text:
            raise UserError("empty input string: give at least one character")
        unknown = sorted({c for c in text if c not in self.vocab})
        if unknown:
            raise UserError(f"characters not in the model's vocabulary ({''.join(self.vocab.tokens)}): "
                            f"{''.join(unknown)!r} in {text!r}")
        return torch.tensor(self.vocab.encode(text))

    # ---------------------------------------------------------------- model
    def build_model(self) -> nn.Module:
        m, n = self.cfg.model, len(self.vocab)
        inputs = OneHot(n) if m.input == "onehot" else embedding(n, m.embedding_dim, padding_idx=None)
        width = n if m.input == "onehot" else m.embedding_dim
        return StepwiseRNN(inputs, build_recurrent(m, width), n)

    def size(self, example) -> int:
        return len(example[0])

    def collate(self, examples: list) -> dict:
        return {"x": pad_sequence([e[0] for e in examples], batch_first=True),
                "y": pad_sequence([e[1] for e in examples], batch_first=True, padding_value=-100),
                "lengths": torch.tensor([len(e[0]) for e in examples])}

    def loss(self, model, batch) -> torch.Tensor:
        logits, _ = model(batch["x"], batch["lengths"])
        return nn.functional.cross_entropy(logits.flatten(0, 1), batch["y"].flatten(), ignore_index=-100)

    # ---------------------------------------------------------------- metrics
    def evaluate_batch(self, model, batch) -> dict:
        logits, _ = model(batch["x"], batch["lengths"])
        y = batch["y"]
        valid = y != -100
        right = (logits.argmax(-1) == y) & valid
        return {"loss_sum": nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(),
                                                        ignore_index=-100, reduction="sum"),
                "chars": valid.sum(), "correct": right.sum(),
                "strings": torch.tensor(len(y)), "exact": (right.sum(1) == valid.sum(1)).sum()}

    def metrics(self, totals: dict) -> dict:
        return {"loss": float(totals["loss_sum"] / totals["chars"]),
                "accuracy": float(totals["correct"] / totals["chars"]),
                "exact": float(totals["exact"] / totals["strings"])}

    def epoch_report(self, model) -> str:
        texts = [self.predict_text(model, s) for s in self.shown]
        return "  ".join(f"{s} -> {t}" for s, t in zip(self.shown, texts))

    # ---------------------------------------------------------------- predict
    def predict_text(self, model, text: str) -> str:
        with torch.no_grad():
            logits, _ = model(self.ids(text)[None].to(model_device(model)))
        return "".join(self.vocab.decode(logits[0].argmax(-1).tolist()))

    def predict(self, model, inputs: list[str], options: PredictOptions) -> Prediction:
        if not inputs:
            raise UserError("no input: give one or more strings, e.g. seqtrain predict CKPT hello")
        outputs = [self.predict_text(model, s) for s in inputs]
        states = {}
        if options.states:
            batch = self.collate([(self.ids(s), self.ids(s)) for s in inputs])
            states = every_step_states(model.all_states, {"x": batch["x"].to(model_device(model)),
                                                          "lengths": batch["lengths"]}, batch["lengths"])
        return Prediction(text="\n".join(outputs),
                          records=[{"input": s, "output": o} for s, o in zip(inputs, outputs)],
                          states=states)


def read_pairs(cfg: HelloConfig, paths: dict) -> list[tuple[str, str]]:
    """The pairs of data.file when it is set, else those written in the config."""
    return read_pair_file(paths["file"]) if "file" in paths else [(p[0], p[1]) for p in cfg.data.pairs]


def read_pair_file(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        pair = line.split("\t")
        check_pair(pair, f"{path}:{number}")
        pairs.append((pair[0], pair[1]))
    if not pairs:
        raise UserError(f"{path}: no input<TAB>target lines")
    return pairs
