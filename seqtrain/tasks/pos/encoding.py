"""Tagged sentences as tensors, and tag counts as scores: the pieces of the POS task that are not the model.

`Encoding` holds the three vocabularies (words, characters, tags; built from training data only), and
one per auxiliary column (data.aux_tags), and turns a sentence into word ids, form ids and tag ids
once. Each distinct word form gets one id and one character tensor (and, with a lexicon, one lexicon
row), so a batch runs the character encoder and the lexicon layer once per distinct form.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch.nn.utils.rnn import pad_sequence

from seqtrain.tasks.pos.conll import Sentence
from seqtrain.tasks.pos.embeddings import VectorTable
from seqtrain.tasks.pos.lexicon import Lexicon
from seqtrain.tasks.base import Table
from seqtrain.core.vocab import PAD, Vocab

UNSEEN = "<unseen>"  # a gold tag that training never saw: always an error, reported on its own row
IGNORED = -100       # an auxiliary value training never saw, and the pads: no loss (cross_entropy's ignore_index)


# the character encoder reads at most this many characters of a word: its first and last halves
# (prefixes and suffixes carry what a tagger learns from spelling); a 1,000,000-character "word"
# then costs what a 64-character one does
MAX_WORD_CHARS = 64


class Encoding:
    def __init__(self, words: Vocab, chars: Vocab, tags: Vocab, lowercase: bool = False,
                 lexicon: Lexicon | None = None, aux: dict[str, Vocab] | None = None, table: VectorTable | None = None):
        self.words, self.chars, self.tags, self.lowercase = words, chars, tags, lowercase
        self.lexicon = lexicon
        self.table = table  # pretrained vectors kept whole (data.embeddings.use: table)
        self.aux = aux or {}  # column name -> its values, in data.aux_tags order
        self.unseen_id = len(tags)
        self.unseen_tags: Counter = Counter()
        self.form_ids: dict[str, int] = {}
        self.form_chars: list[torch.Tensor] = []
        # each form's set lexicon bits (with a lexicon): rows are built per batch, since a wide lexicon
        # (word clusters: thousands of columns) would cost width floats for every form ever seen
        self.form_lexicon: list[list[int]] = []
        self.form_vectors: list[int] = []  # each form's row in the pretrained table (0: not in it)
        self.form_id(PAD)  # form 0: what pads point at (one pad character, never read)

    @classmethod
    def build(cls, sentences: list[Sentence], min_freq: int = 1, max_size: int = 0,
              lowercase: bool = False, lexicon: Lexicon | None = None,
              aux_columns: tuple[str, ...] = (), table: VectorTable | None = None) -> "Encoding":
        words = Counter(w.lower() if lowercase else w for s in sentences for w in s.words)
        chars = Counter(c for s in sentences for w in s.words for c in w)
        tags = Counter(t for s in sentences for t in s.tags)
        aux = {name: Vocab.build(Counter(v for s in sentences for v in s.aux[name]), specials=(), unk=None)
               for name in aux_columns}
        return cls(Vocab.build(words, min_freq=min_freq, max_size=max_size),
                   Vocab.build(chars), Vocab.build(tags, specials=(), unk=None), lowercase, lexicon, aux, table)

    def state_dict(self) -> dict:
        state = {"words": self.words.to_state(), "chars": self.chars.to_state(), "tags": self.tags.to_list(),
                 "lowercase": self.lowercase}
        if self.lexicon is not None:
            state["lexicon"] = self.lexicon.state_dict()
        if self.aux:
            state["aux_tags"] = {name: vocab.to_list() for name, vocab in self.aux.items()}
        if self.table is not None:
            state["vectors"] = self.table.state_dict()
        return state

    @classmethod
    def from_state(cls, state: dict, with_lexicon: bool = False) -> "Encoding":
        """`with_lexicon`: the config asks for one, so the state must hold it."""
        lexicon = Lexicon.from_state(state["lexicon"]) if with_lexicon else None
        aux = {name: Vocab(values, unk=None) for name, values in state.get("aux_tags", {}).items()}
        table = VectorTable.from_state(state["vectors"]) if "vectors" in state else None
        return cls(Vocab.from_state(state["words"]), Vocab.from_state(state["chars"]), Vocab(state["tags"], unk=None),
                   bool(state["lowercase"]), lexicon, aux, table)

    def word_counts(self, sentences: list[Sentence]) -> Counter:
        return Counter(self.word_id(w) for s in sentences for w in s.words)

    def word_id(self, word: str) -> int:
        return self.words.index(word.lower() if self.lowercase else word)

    def form_id(self, word: str) -> int:
        found = self.form_ids.get(word)
        if found is None:
            found = self.form_ids[word] = len(self.form_chars)
            spelled = word if len(word) <= MAX_WORD_CHARS else word[:MAX_WORD_CHARS // 2] + word[-MAX_WORD_CHARS // 2:]
            chars = [self.chars.ids.get(c, self.chars.unk_id) for c in spelled] if word != PAD else [0]
            self.form_chars.append(torch.tensor(chars))
            if self.lexicon is not None:
                self.form_lexicon.append(self.lexicon.bits(word))
            if self.table is not None:
                self.form_vectors.append(self.table.row(word) if word != PAD else 0)
        return found

    def tag_id(self, tag: str) -> int:
        found = self.tags.ids.get(tag)
        if found is None:
            self.unseen_tags[tag] += 1
            return self.unseen_id
        return found

    def encode(self, sentence: Sentence) -> tuple[torch.Tensor, ...]:
        """(word ids, form ids, tag ids) of one sentence; tag ids are 0 where it has no tags. A
        sentence read with auxiliary columns also gets their ids, [words, columns]."""
        words = torch.tensor([self.word_id(w) for w in sentence.words])
        forms = torch.tensor([self.form_id(w) for w in sentence.words])
        if sentence.tags is None or any(t is None for t in sentence.tags):
            tags = torch.zeros(len(words), dtype=torch.long)
        else:
            tags = torch.tensor([self.tag_id(t) for t in sentence.tags])
        if not (self.aux and sentence.aux):
            return words, forms, tags
        aux = [[vocab.ids.get(v, IGNORED) for v in sentence.aux[name]] for name, vocab in self.aux.items()]
        return words, forms, tags, torch.tensor(aux, dtype=torch.long).reshape(len(aux), len(words)).T

    def collate(self, examples: list) -> dict[str, torch.Tensor]:
        forms = pad_sequence([e[1] for e in examples], batch_first=True)
        distinct, char_index = torch.unique(forms, return_inverse=True)
        distinct = distinct.tolist()
        form_chars = [self.form_chars[i] for i in distinct]
        batch = {"words": pad_sequence([e[0] for e in examples], batch_first=True),
                 "chars": pad_sequence(form_chars, batch_first=True),
                 "char_lengths": torch.tensor([len(c) for c in form_chars]),
                 "char_index": char_index,
                 "lengths": torch.tensor([len(e[0]) for e in examples]),
                 "tags": pad_sequence([e[2] for e in examples], batch_first=True)}
        if len(examples[0]) > 3:  # sentences read with their auxiliary columns (training and dev)
            batch["aux_tags"] = pad_sequence([e[3] for e in examples], batch_first=True, padding_value=IGNORED)
        if self.lexicon is not None:  # rows of the distinct forms, like chars: char_index places them
            batch["lexicon"] = self.lexicon.rows([self.form_lexicon[i] for i in distinct])
        if self.table is not None:  # the distinct forms' table rows, placed by char_index too
            batch["vectors"] = torch.tensor([self.form_vectors[i] for i in distinct])
        return batch


def tag_counts(gold: torch.Tensor, predicted: torch.Tensor, mask: torch.Tensor, size: int) -> dict:
    """Per-tag true positives, false positives and false negatives, each a [size] tensor."""
    gold, predicted = gold[mask], predicted[mask]
    right = gold == predicted
    count = lambda ids: torch.bincount(ids, minlength=size)[:size]
    return {"tp": count(gold[right]), "fp": count(predicted[~right]), "fn": count(gold[~right])}


def ratio(a, b) -> float:
    return float(a) / float(b) if float(b) else 0.0


def tag_scores(totals: dict) -> list[tuple[float, float, float, float]]:
    """(precision, recall, F1, support) per tag id."""
    rows = []
    for tp, fp, fn in zip(totals["tp"].tolist(), totals["fp"].tolist(), totals["fn"].tolist()):
        p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
        rows.append((p, r, ratio(2 * p * r, p + r), tp + fn))
    return rows


def score_table(tags: list[str], totals: dict) -> Table:
    rows = [[tag, p, r, f, int(n)] for tag, (p, r, f, n) in zip(tags + [UNSEEN], tag_scores(totals)) if n or p]
    rows.sort(key=lambda row: -row[4])
    return Table("per-tag scores", ["tag", "precision", "recall", "f1", "support"], rows)


def unseen_table(unseen: Counter) -> Table:
    rows = [[tag, n] for tag, n in sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Table("gold tags the model never saw in training (every one counted as an error)",
                 ["tag", "tokens"], rows)
