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

from seqtrain.config import opt
from seqtrain.errors import UserError
from seqtrain.rnn import OneHot, RNNConfig, StepwiseRNN, build_recurrent, embedding
from seqtrain.task import Prediction, PredictOptions, Splits, Table
from seqtrain.textfile import read_text
from seqtrain.vocab import Vocab


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
    embedding_dim: int = opt(10, "embedding size (input: embedding)", min=1)


def check_pair(pair, where: str) -> None:
    if len(pair) != 2 or not all(isinstance(s, str) and s for s in pair):
        raise UserError(f"{where}: expected [input, target], two non-empty strings")
    if len(pair[0]) != len(pair[1]):
        raise UserError(f"{where}: input {pair[0]!r} and target {pair[1]!r} differ in length")


class HelloTask:
    DataConfig = DataConfig
    ModelConfig = ModelConfig
    monitor = ("loss", "min")

    def __init__(self, cfg):
        self.cfg = cfg
        self.vocab: Vocab | None = None
        self.shown: list[str] = []

    # ---------------------------------------------------------------- data
    def load_data(self, paths: dict) -> Splits:
        pairs = self.read_examples(paths["file"]) if "file" in paths else [tuple(p) for p in self.cfg.data.pairs]
        if self.vocab is None:
            self.vocab = Vocab(sorted({c for pair in pairs for s in pair for c in s}), unk=None)
            self.shown = [p[0] for p in pairs[:4]]
        examples = [self.encode(p) for p in pairs]
        return Splits(train=examples * self.cfg.data.repeat, dev=examples)

    def read_examples(self, path: Path) -> list:
        pairs = []
        for number, line in enumerate(read_text(path).splitlines(), 1):
            if not line.strip():
                continue
            pair = line.rstrip("\r").split("\t")
            check_pair(pair, f"{path}:{number}")
            pairs.append(tuple(pair))
        if not pairs:
            raise UserError(f"{path}: no input<TAB>target lines")
        if self.vocab is not None:  # evaluating a trained model
            return [self.encode(p) for p in pairs]
        return pairs

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

    def state_dict(self) -> dict:
        return {"chars": self.vocab.to_list(), "shown": self.shown}

    def load_state_dict(self, state: dict) -> None:
        self.vocab = Vocab(state["chars"], unk=None)
        self.shown = list(state["shown"])

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

    def tables(self, totals: dict) -> list[Table]:
        return []

    def epoch_report(self, model) -> str:
        texts = [self.predict_text(model, s) for s in self.shown]
        return "  ".join(f"{s} -> {t}" for s, t in zip(self.shown, texts))

    def write_artifacts(self, model, splits, run_dir) -> list:
        return []

    # ---------------------------------------------------------------- predict
    def predict_text(self, model, text: str) -> str:
        with torch.no_grad():
            device = next(model.parameters()).device
            logits, _ = model(self.ids(text)[None].to(device))
        return "".join(self.vocab.decode(logits[0].argmax(-1).tolist()))

    def predict(self, model, inputs: list[str], options: PredictOptions) -> Prediction:
        if not inputs:
            raise UserError("no input: give one or more strings, e.g. seqtrain predict CKPT hello")
        outputs = [self.predict_text(model, s) for s in inputs]
        states = {}
        if options.states:
            batch = self.collate([(self.ids(s), self.ids(s)) for s in inputs])
            device = next(model.parameters()).device
            with torch.no_grad():
                states = model.all_states(batch["x"].to(device), batch["lengths"])
            states = {k: v.cpu() for k, v in states.items()} | {"lengths": batch["lengths"]}
        return Prediction(text="\n".join(outputs),
                          records=[{"input": s, "output": o} for s, o in zip(inputs, outputs)],
                          states=states)
