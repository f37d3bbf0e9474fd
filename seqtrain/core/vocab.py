"""Vocabularies: string <-> id, in a deterministic order, stored in checkpoints as plain data: a list,
or for large vocabularies one string (`to_state`)."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

PAD, UNK = "<pad>", "<unk>"


class Vocab:
    def __init__(self, tokens: list[str], unk: str | None = UNK):
        self.tokens = list(tokens)
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        if len(self.ids) != len(self.tokens):
            raise ValueError("vocabulary has duplicate entries")
        self.unk_id = self.ids[unk] if unk is not None else None

    @classmethod
    def build(cls, counts: Counter, specials: Iterable[str] = (PAD, UNK), min_freq: int = 1,
              max_size: int = 0, unk: str | None = UNK) -> "Vocab":
        """Specials first, then tokens by falling frequency, ties broken by the token itself, so the
        same data always gives the same ids."""
        specials = list(specials)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in specials),
                        key=lambda t: (-counts[t], t))
        if max_size:
            ranked = ranked[:max(0, max_size - len(specials))]
        return cls(specials + ranked, unk=unk if unk in specials else None)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.ids

    def index(self, token: str) -> int:
        found = self.ids.get(token, self.unk_id)
        if found is None:
            raise KeyError(token)
        return found

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.index(t) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    def to_list(self) -> list[str]:
        return list(self.tokens)

    def to_state(self) -> str | list[str]:
        """The entries as one string, each after a newline (a list if an entry holds a newline): a
        weights_only load, a pure-Python unpickler, reads a list of 100,000 strings in a third of a
        second and one string at once."""
        if any("\n" in t for t in self.tokens):
            return self.to_list()
        return "".join("\n" + t for t in self.tokens)

    @staticmethod
    def entries(state: str | list[str]) -> list[str]:
        """The entries of a stored vocabulary: `to_state`'s string, or a list (older checkpoints)."""
        return state.split("\n")[1:] if isinstance(state, str) else list(state)

    @staticmethod
    def looks_stored(value) -> bool:
        """Whether a task_state value may be a stored vocabulary (what `seqtrain info` counts)."""
        return isinstance(value, list) or isinstance(value, str) and value.startswith("\n")

    @classmethod
    def from_state(cls, state: str | list[str], unk: str | None = UNK) -> "Vocab":
        return cls(cls.entries(state), unk=unk)


def stored_vocab_sizes(state: dict) -> dict[str, int]:
    """Entries of each value of a task state that looks like a stored vocabulary, also one level down
    (aux_tags.xpos, lexicon.tags)."""
    sizes = {k: len(Vocab.entries(v)) for k, v in state.items() if Vocab.looks_stored(v)}
    for key, inner in state.items():
        if isinstance(inner, dict):
            sizes.update({f"{key}.{k}": len(Vocab.entries(v)) for k, v in inner.items() if Vocab.looks_stored(v)})
    return sizes
