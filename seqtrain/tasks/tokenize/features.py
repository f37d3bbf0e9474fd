"""What the tokenizer reads at each character: the character itself, its class (so that a script
or symbol training never saw still reads as letter, digit or punctuation), and optionally the
character bigram starting there and the word boundaries of jieba's own cut (Chinese)."""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache

import torch

from seqtrain.core.vocab import Vocab

CLASSES = ["<pad>", "space", "newline", "upper", "lower", "letter", "digit", "open", "close",
           "end_punct", "quote", "dash", "punct", "symbol", "other"]
CLASS_IDS = {c: i for i, c in enumerate(CLASSES)}
END_PUNCT = set(".!?。！？…")
JIEBA_BIES = ["<pad>", "B", "I", "E", "S"]  # begins, inside, ends, or is a one-character word


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


def jieba_bies(text: str) -> list[int]:
    """jieba's segmentation of the text as one B/I/E/S id per character (an input feature only)."""
    import jieba

    jieba.setLogLevel(60)  # its dictionary-loading chatter goes to stderr otherwise
    out: list[int] = []
    for word in jieba.cut(text, HMM=True):
        if len(word) == 1:
            out.append(4)
        else:
            out += [1] + [2] * (len(word) - 2) + [3]
    return (out + [4] * len(text))[:len(text)]  # (jieba keeps every character; this is only a guard)


def char_features(text: str, chars: Vocab, bigram_vocab: Vocab | None, use_jieba: bool) -> torch.Tensor:
    """[len(text), features] ids: character, class, then bigram and jieba's cut when configured."""
    columns = [[chars.ids.get(c, chars.unk_id) for c in text], [char_class(c) for c in text]]
    if bigram_vocab is not None:
        columns.append([bigram_vocab.ids.get(b, bigram_vocab.unk_id) for b in bigrams(text)])
    if use_jieba:
        columns.append(jieba_bies(text))
    return torch.tensor(columns, dtype=torch.long).T.contiguous()
