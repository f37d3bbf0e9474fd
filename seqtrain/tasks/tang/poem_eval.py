"""How written poems compare with real ones (`seqtrain eval-poems`).

Each figure is computed for the poems in a file and, beside it, for real poems of the same form from
the validation split of a reference run: form validity, acrostic and start compliance, the share of
distinct characters per poem, the share of repeated lines, the share of lines copied verbatim
from the training split, and regulated verse (prosody.check_poem, independent of the generator's
masks): the share of poems whose rhyming lines share one 平聲 group, the share that follow a whole
平仄 template, and the share of fixed template positions kept (over regular 5/7 x 4/8 poems).
"""

from __future__ import annotations

from pathlib import Path

from seqtrain.core.errors import UserError
from seqtrain.tasks.tang import prosody
from seqtrain.tasks.tang.request import FORMS, LINE_COUNTS
from seqtrain.tasks.tang.poems import form_of, is_hanzi, lines_of, normalise, read_text_poems
from seqtrain.core.documents import read_json


def form_valid(text: str, form: int = 0, lines: int = 0) -> bool:
    """`lines` lines of `form` characters (any 5/7 x 4/8 when 0), ， after odd lines and 。 (or ？！)
    after even ones."""
    chars, n = form_of(text)
    marks = [c for c in text if not is_hanzi(c)]
    pattern = all(m == "，" if i % 2 == 0 else m in "。？！" for i, m in enumerate(marks))
    return (chars in ((form,) if form else FORMS) and n in ((lines,) if lines else LINE_COUNTS)
            and pattern and len(marks) == n)


def well_formed(record: dict) -> bool:
    paragraphs, request = record.get("paragraphs") or [], record.get("request") or {}
    return isinstance(paragraphs, list) and all(isinstance(p, str) for p in paragraphs) and isinstance(request, dict)


def read_written(path: Path, defaults: dict) -> list[tuple[str, dict]]:
    """(text, request) pairs from generate-poem output: --json records (their own request) or text."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    if path.suffix != ".json":
        return [(p.text, dict(defaults)) for p in read_text_poems(path)]
    items = read_json(path, what="poem file")
    if not isinstance(items, list):
        raise UserError(f"{path}: expected a JSON list of poems")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append((normalise(item), dict(defaults)))
        elif isinstance(item, dict) and ("poem" in item or "paragraphs" in item) and well_formed(item):
            text = item.get("poem") or "".join(item.get("paragraphs") or [])
            out.append((normalise(str(text)), {**defaults, **{k: v for k, v in (item.get("request") or {}).items() if v}}))
        else:
            raise UserError(f"{path}: poem {i + 1}: expected a string or an object with \"poem\" or \"paragraphs\"")
    return out


def figures(texts: list[str], requests: list[dict] | None, train_lines: set[str]) -> dict:
    """Shares over poems (form, heads, start, distinct characters) and over lines (repeated, copied)."""
    n_lines = repeated = copied = 0
    form_ok = heads_ok = start_ok = distinct = 0.0
    n_heads = n_start = 0
    for i, text in enumerate(texts):
        req = requests[i] if requests else {}
        lines = lines_of(text)
        form_ok += form_valid(text, req.get("form", 0), req.get("lines", 0))
        if req.get("acrostic"):
            n_heads += 1
            heads_ok += "".join(line[:1] for line in lines).startswith(req["acrostic"])
        if req.get("start"):
            n_start += 1
            start_ok += text.startswith(req["start"])
        chars = [c for c in text if is_hanzi(c)]
        distinct += len(set(chars)) / max(len(chars), 1)
        n_lines += len(lines)
        repeated += len(lines) - len(set(lines))
        copied += sum(line in train_lines for line in lines)
    n = max(len(texts), 1)
    return {"poems": len(texts), "form valid": form_ok / n,
            "acrostic heads followed": heads_ok / n_heads if n_heads else None,
            "start followed": start_ok / n_start if n_start else None,
            "distinct characters per poem": distinct / n,
            "repeated lines": repeated / max(n_lines, 1), "lines copied from training": copied / max(n_lines, 1),
            **verse_figures(texts)}


def verse_figures(texts: list[str]) -> dict:
    """Rhyme and 平仄 shares by the independent checker; None without the 平水韻 table."""
    names = ("rhyming lines in one 平聲 group", "whole 平仄 template", "fixed 平仄 positions kept")
    try:
        table = prosody.load_table()
    except UserError:
        return dict.fromkeys(names)
    checks = [prosody.check_poem(t, table) for t in texts]
    fixed = sum(c["fixed"] for c in checks)
    n = max(len(texts), 1)
    return dict(zip(names, (sum(c["rhymes"] for c in checks) / n, sum(c["whole"] for c in checks) / n,
                            sum(c["fixed_ok"] for c in checks) / fixed if fixed else None)))


def evaluate_poems(path: Path, train: list, valid: list, *, form: int = 0, lines: int = 0,
                   acrostic: str = "", start: str = "") -> dict:
    """Figures of the poems in PATH beside real poems of the same form from `valid`; `train` (the
    training poems) is what a copied line is looked up in."""
    defaults = {k: v for k, v in dict(form=form, lines=lines, acrostic=normalise(acrostic),
                                      start=normalise(start)).items() if v}
    written = read_written(Path(path), defaults)
    if not written:
        raise UserError(f"{path}: no poems")
    train_lines = {line for p in train for line in lines_of(p.text)}
    forms = {(r.get("form", 0), r.get("lines", 0)) for _, r in written}
    want_form, want_lines = forms.pop() if len(forms) == 1 else (0, 0)
    shapes = [(f, n) for f in ((want_form,) if want_form else FORMS) for n in ((want_lines,) if want_lines else LINE_COUNTS)]
    real = [p.text for p in valid if form_of(p.text) in shapes]
    ours = figures([t for t, _ in written], [r for _, r in written], train_lines)
    theirs = figures(real, [{"form": want_form, "lines": want_lines}] * len(real), train_lines)
    rows = [[name, share(ours[name]), share(theirs[name])] for name in ours if name != "poems"]
    shape = f"{want_form or '5/7'}-character, {want_lines or '4/8'}-line"
    return {"data": str(path), "examples": ours["poems"],
            "metrics": {"poems": ours["poems"], f"real {shape} poems (validation split)": theirs["poems"],
                        "training lines": len(train_lines)},
            "tables": [{"title": "written poems beside real ones", "columns": ["figure", "written", "real"],
                        "rows": rows}],
            "written": ours, "real": theirs}


def share(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"
