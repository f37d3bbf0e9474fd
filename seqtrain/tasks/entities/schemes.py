"""Entity tag schemes: reading tags as spans (as conlleval reads them), writing spans as tags, guessing
a file's scheme, and the tag sequences a scheme allows (for decoding that is valid by construction).

IOB1 (CoNLL-2003's original files): I-X inside an entity, B-X only where an entity follows another of
the same type. IOB2 (BIO): every entity starts with B-X. BIOES: B-X, I-X..., E-X, and S-X alone.
A span is (type, first word, past its last word).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SCHEMES = ("iob1", "iob2", "bioes")
PREFIXES = ("B", "I", "E", "S")
Span = tuple[str, int, int]


def split_tag(tag: str) -> tuple[str, str]:
    """(prefix, type): ("O", "") for O; the type may hold dashes (B-creative-work)."""
    if tag == "O":
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def bad_tag(tag: str) -> str | None:
    """Why `tag` is not an entity tag, or None when it is one."""
    prefix, dash, kind = tag.partition("-")
    if tag == "O":
        return None
    if not dash:
        return (f"tag {tag!r} is not an entity tag (O, or B-, I-, E-, S- and a type); "
                f"does this column hold parts of speech or other tags? (data.tag_column)")
    if prefix not in PREFIXES:
        return f"tag {tag!r} has an unknown prefix {prefix!r} (expected B, I, E or S before the type)"
    if not kind:
        return f"tag {tag!r} has no type after its prefix"
    return None


# ---------------------------------------------------------------- conlleval's reading

def _ends(prev: str, tag: str, prev_kind: str, kind: str) -> bool:
    """conlleval.pl's endOfChunk: does an entity end between the previous tag and this one?"""
    return (prev in ("E", "S") or (prev in ("B", "I") and tag in ("B", "S", "O"))
            or (prev != "O" and prev_kind != kind))


def _starts(prev: str, tag: str, prev_kind: str, kind: str) -> bool:
    """conlleval.pl's startOfChunk: does an entity start at this tag?"""
    return (tag in ("B", "S") or (prev in ("E", "S", "O") and tag in ("E", "I"))
            or (tag != "O" and prev_kind != kind))


def spans(tags: list[str]) -> list[Span]:
    """The entities tags mark, read as conlleval reads them, whatever the scheme: an I-X after O
    starts an entity, as does a change of type."""
    out: list[Span] = []
    prev, prev_kind, start = "O", "", None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = split_tag(tag)
        if start is not None and _ends(prev, prefix, prev_kind, kind):
            out.append((prev_kind, start, i))
            start = None
        if _starts(prev, prefix, prev_kind, kind):
            start = i
        prev, prev_kind = prefix, kind
    return out


def ill_formed(tags: list[str]) -> int:
    """Entities that begin with I- or E- (an I- after O): conlleval reads them as starting there."""
    return sum(split_tag(tags[start])[0] in ("I", "E") for _, start, _ in spans(tags))


def to_tags(entities: list[Span], length: int, scheme: str) -> list[str]:
    """The tags that write these (non-overlapping, sorted) entities in a scheme."""
    tags = ["O"] * length
    previous_end, previous_kind = -1, ""
    for kind, start, end in entities:
        if scheme == "bioes" and end - start == 1:
            tags[start] = f"S-{kind}"
        else:
            for i in range(start, end):
                tags[i] = f"I-{kind}"
            if scheme != "iob1" or (previous_end == start and previous_kind == kind):
                tags[start] = f"B-{kind}"
            if scheme == "bioes":
                tags[end - 1] = f"E-{kind}"
        previous_end, previous_kind = end, kind
    return tags


def convert(tags: list[str], scheme: str) -> list[str]:
    return to_tags(spans(tags), len(tags), scheme)


# ---------------------------------------------------------------- guessing a file's scheme

@dataclass
class SchemeEvidence:
    """Where a file's tags show each scheme (the first line seen, or 0)."""
    bioes: int = 0            # an E- or S- tag
    open_end: int = 0         # an entity not closed by E- (BIO writes it; BIOES would not)
    starts_inside: int = 0    # an entity starting with I- (IOB1 writes it; elsewhere ill-formed)
    starts_inside_count: int = 0
    starts_with_b: int = 0    # entities starting with B-

    def add(self, tags: list[str], lines: list[int]) -> None:
        for kind, start, end in spans(tags):
            first, last = split_tag(tags[start])[0], split_tag(tags[end - 1])[0]
            if first in ("S", "E") or last in ("E", "S"):
                self.bioes = self.bioes or lines[end - 1]
            elif last in ("B", "I"):
                self.open_end = self.open_end or lines[end - 1]
            if first == "I":
                self.starts_inside = self.starts_inside or lines[start]
                self.starts_inside_count += 1
            elif first == "B":
                self.starts_with_b += 1

    def scheme(self, path) -> str:
        """BIOES where E-/S- tags stand; IOB1 where more entities start with I- than with B-; else IOB2.
        A file showing BIOES and another scheme at once is a UserError naming both lines."""
        from seqtrain.core.errors import UserError

        if self.bioes and (self.open_end or self.starts_inside):
            other, line = (("an entity that ends without E- (BIO)", self.open_end) if self.open_end
                           else ("an entity that starts with I- (IOB1)", self.starts_inside))
            raise UserError(f"{path}:{line}: mixed tag schemes: line {self.bioes} has E-/S- tags (BIOES) and this "
                            f"line {other}; make the file one scheme, or set data.tag_scheme to read it anyway")
        if self.bioes:
            return "bioes"
        return "iob1" if self.starts_inside_count > self.starts_with_b else "iob2"


# ---------------------------------------------------------------- what decoding may write

def scheme_tags(tags: list[str], scheme: str) -> list[str]:
    """`tags`, then every other tag the scheme writes for their types (a type seen only in one-word
    entities still has B-, I-, E-), so that every gold entity of a known type can be encoded."""
    kinds = sorted({split_tag(t)[1] for t in tags} - {""})
    prefixes = PREFIXES if scheme == "bioes" else ("B", "I")
    wanted = ["O"] + [f"{p}-{k}" for k in kinds for p in prefixes]
    return list(tags) + [t for t in wanted if t not in tags]


def allowed_transitions(tags: list[str], scheme: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(allowed [from, to], allowed first tags, allowed last tags) as boolean tensors over `tags`:
    the sequences whose every entity is read the same by conlleval and by the scheme (no O -> I-X,
    no B-X -> I-Y; in BIOES no entity left open at the end)."""
    parts = [split_tag(t) for t in tags]
    n = len(tags)
    allowed = torch.zeros(n, n, dtype=torch.bool)
    for i, (p, a) in enumerate(parts):
        for j, (q, b) in enumerate(parts):
            if scheme == "bioes":
                ok = (q in ("I", "E") and p in ("B", "I") and a == b) or (q in ("O", "B", "S") and p in ("O", "E", "S"))
            else:  # BIO (IOB2); IOB1 is never trained in, only read and written
                ok = q in ("O", "B") or (q == "I" and p in ("B", "I") and a == b)
            allowed[i, j] = ok
    first = torch.tensor([p in (("O", "B", "S") if scheme == "bioes" else ("O", "B")) for p, _ in parts], dtype=torch.bool)
    last = torch.tensor([p in (("O", "E", "S") if scheme == "bioes" else ("O", "B", "I")) for p, _ in parts], dtype=torch.bool)
    return allowed, first, last


def valid(tags: list[str], scheme: str) -> bool:
    """Whether a tag sequence is one that `allowed_transitions` lets through."""
    if not tags:
        return True
    names = sorted(set(tags))
    allowed, first, last = allowed_transitions(names, scheme)
    ids = [names.index(t) for t in tags]
    return bool(first[ids[0]] and last[ids[-1]] and all(allowed[a, b] for a, b in zip(ids, ids[1:])))
