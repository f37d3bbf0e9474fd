"""What the tokenizer reads at each character: the character itself, its class (so that a script
or symbol training never saw still reads as letter, digit or punctuation), and optionally the
character bigram starting there, the word boundaries of jieba's own cut (Chinese), the longest
words of jieba's dictionary that start and end there (every candidate word, not only the cut's), and
the token boundaries of segtok's own cut (English)."""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache

import torch

from seqtrain.core.vocab import Vocab
from seqtrain.tasks.tokenize.library import segtok_cut

CLASSES = ["<pad>", "space", "newline", "upper", "lower", "letter", "digit", "open", "close",
           "end_punct", "quote", "dash", "punct", "symbol", "other"]
CLASS_IDS = {c: i for i, c in enumerate(CLASSES)}
END_PUNCT = set(".!?。！？…")
CUT_BIES = ["<pad>", "B", "I", "E", "S"]  # a library's cut: begins, inside, ends, or is a one-character word
# the longest dictionary word starting at a character and the longest ending there: no word of two or
# more characters, 2, 3, 4, or 5 and more characters; one id per pair, after the pad id
DICT_LENGTHS = 5
DICT_IDS = 1 + DICT_LENGTHS * DICT_LENGTHS
LONGEST_LOOKUP = 6


@lru_cache(maxsize=65536)
def char_class(ch: str) -> int:
    if ch in "\n\r\u2028\u2029":
        return CLASS_IDS["newline"]
    if ch.isspace():
        return CLASS_IDS["space"]
    if ch in END_PUNCT:
        return CLASS_IDS["end_punct"]
    category = unicodedata.category(ch)
    name = {"Lu": "upper", "Lt": "upper", "Ll": "lower", "Nd": "digit", "Ps": "open", "Pe": "close",
            "Pi": "quote", "Pf": "quote", "Pd": "dash"}.get(category)
    if name is None:
        name = {"L": "letter", "N": "digit", "P": "punct", "S": "symbol"}.get(category[0], "other")
    if ch in "'\"`":
        name = "quote"
    return CLASS_IDS[name]


def bigrams(text: str) -> list[str]:
    """The two characters starting at each position (the last one pairs with an end mark)."""
    return [text[i:i + 2] if i + 1 < len(text) else text[i] + "\0" for i in range(len(text))]


def build_vocabs(texts: list[str], min_char_freq: int, bigram_min_freq: int | None) -> tuple[Vocab, Vocab | None]:
    chars = Vocab.build(Counter(c for t in texts for c in t), min_freq=min_char_freq)
    if bigram_min_freq is None:
        return chars, None
    return chars, Vocab.build(Counter(b for t in texts for b in bigrams(t)), min_freq=bigram_min_freq)


def loaded_jieba():
    import jieba

    jieba.setLogLevel(60)  # its dictionary-loading chatter goes to stderr otherwise
    return jieba


def jieba_bies(text: str) -> list[int]:
    """jieba's segmentation of the text as one B/I/E/S id per character (an input feature only)."""
    jieba = loaded_jieba()
    out: list[int] = []
    for word in jieba.cut(text, HMM=True):
        if len(word) == 1:
            out.append(4)
        else:
            out += [1] + [2] * (len(word) - 2) + [3]
    return (out + [4] * len(text))[:len(text)]  # (jieba keeps every character; this is only a guard)


def segtok_bies(text: str) -> list[int]:
    """segtok's tokens (its sentence splitter, web tokenizer and contraction splits: ca n't) as one
    B/I/E/S id per character (an input feature only); whitespace reads as S."""
    out = [4] * len(text)
    for sentence in segtok_cut(text):
        for token in sentence.tokens:
            size = len(token.form)
            out[token.start:token.start + size] = [4] if size == 1 else [1] + [2] * (size - 2) + [3]
    return out


def jieba_dictionary_words(text: str) -> list[int]:
    """Per character, one id for the lengths of the longest word of jieba's dictionary (up to
    LONGEST_LOOKUP characters are looked up) that starts there and of the longest that ends there."""
    words = loaded_jieba().dt
    words.check_initialized()
    known = words.FREQ  # also holds every word's prefixes, with frequency 0
    starts, ends = [0] * len(text), [0] * len(text)
    for i in range(len(text)):
        for length in range(2, min(LONGEST_LOOKUP, len(text) - i) + 1):
            if known.get(text[i:i + length]):
                starts[i] = length
                ends[i + length - 1] = max(ends[i + length - 1], length)
    bucket = lambda length: max(0, min(length, DICT_LENGTHS) - 1)  # 0, 2, 3, 4, 5+ -> 0..4
    return [1 + bucket(s) * DICT_LENGTHS + bucket(e) for s, e in zip(starts, ends)]


def char_features(text: str, chars: Vocab, bigram_vocab: Vocab | None, use_jieba: bool,
                  use_jieba_dictionary: bool = False, use_segtok: bool = False) -> torch.Tensor:
    """[len(text), features] ids: character, class, then bigram, jieba's cut, jieba's dictionary
    words and segtok's cut when configured."""
    columns = [[chars.ids.get(c, chars.unk_id) for c in text], [char_class(c) for c in text]]
    if bigram_vocab is not None:
        columns.append([bigram_vocab.ids.get(b, bigram_vocab.unk_id) for b in bigrams(text)])
    if use_jieba:
        columns.append(jieba_bies(text))
    if use_jieba_dictionary:
        columns.append(jieba_dictionary_words(text))
    if use_segtok:
        columns.append(segtok_bies(text))
    return torch.tensor(columns, dtype=torch.long).T.contiguous()
