"""Poems from a char language model, one character at a time, with the form guaranteed.

The parts: request.py (what is asked, checked once), form.py (the automaton naming what may come
next: constraints.py's values), masks.py (those as vocabulary masks), plans.py (the plan of each
regulated poem, and why a request cannot be met), sampler.py (the draw). Here: the decode loop.

At each step every poem's form names what may come next, the masks cut the vocabulary down to it, and
the sampler draws from what is left. A form never needs a retry, and every poem ends: fixed forms by
construction, free sampling at `max_chars`. Rhyme characters a poem has used are masked out at its
later rhymes, and an acrostic's heads everywhere but at their line's start. The hidden state is
carried forward: the prompt runs once, then each new character is one step, all poems side by side.
"""

from __future__ import annotations

import re
from dataclasses import asdict

import torch

from seqtrain.core.device import model_device
from seqtrain.core.errors import UserError
from seqtrain.tasks.tang.constraints import at_rhyme
from seqtrain.tasks.tang.form import Form
from seqtrain.tasks.tang.masks import Masks
from seqtrain.tasks.tang.plans import new_forms
from seqtrain.tasks.tang.poems import is_hanzi
from seqtrain.tasks.tang.request import PoemRequest
from seqtrain.tasks.tang.sampler import Sampler

BATCH = 256  # poems written side by side; a request's are written BATCH at a time


def generate(model, vocab, request: PoemRequest, *, bos: str, eos: str, specials: set[str],
             unk: str) -> list[dict]:
    """`request.num` poems (a checked request), written side by side as one batch; records as plain data."""
    start, heads = request.start, request.acrostic
    check_chars(start, vocab, "--start", unk)
    check_chars(heads, vocab, "--acrostic", unk)
    if any(not is_hanzi(c) for c in heads):
        raise UserError(f"--acrostic: line heads must be characters, not punctuation: {heads!r}")
    convert = simplifier() if request.script == "simplified" else None
    masks = Masks(vocab, eos, specials)
    forms = new_forms(request, masks, eos)
    used = torch.zeros(request.num, len(vocab), dtype=torch.bool)  # rhyme characters already used
    for row, form in enumerate(forms):
        for char in start:
            if form.at_rhyme:
                used[row, vocab.index(char)] = True
            form.advance(char)
    device = model_device(model)
    sampler = Sampler.for_request(request)
    head_chars = torch.zeros(len(vocab), dtype=torch.bool)
    head_chars[vocab.encode(heads)] = True
    seen = torch.zeros(request.num, len(vocab), dtype=torch.bool)  # characters to penalise
    seen[:, vocab.encode(start)] = True
    seen &= masks.hanzi
    written: list[list[str]] = [[] for _ in forms]
    prompt = torch.tensor([vocab.encode([bos, *start])] * request.num, device=device)
    with torch.inference_mode():
        logits, state = model(prompt)
        for _ in range(request.max_chars + 8 * 8 + 2):  # structured poems end well before this
            mask, rhyming = next_mask(forms, masks, used, head_chars if heads else None)
            next_ids = sampler.choose(logits[:, -1].float().cpu(), mask, seen)
            for row, (form, token_id) in enumerate(zip(forms, next_ids)):
                if not form.done:
                    token = vocab.tokens[token_id]
                    form.advance(token)
                    if token != eos:
                        written[row].append(token)
                        seen[row, token_id] |= bool(masks.hanzi[token_id])
                        used[row, token_id] |= bool(rhyming[row])
            if all(f.done for f in forms):
                break
            logits, state = model(torch.tensor(next_ids, device=device)[:, None], hx=state)
    return [record(start + "".join(chars), form, request, i, convert)
            for i, (chars, form) in enumerate(zip(written, forms))]


def next_mask(forms: list[Form], masks: Masks, used: torch.Tensor,
              head_chars: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """What each poem may write next [B, V], and which poems are at a rhyme [B]."""
    allowed = [f.allowed() for f in forms]
    mask = torch.stack([masks.get(a) for a in allowed])
    rhyming = torch.tensor([at_rhyme(a) for a in allowed])
    if rhyming.any():
        mask &= ~(used & rhyming[:, None])
    if head_chars is not None:  # a head stands at the head of its line only, where it is the one choice left
        elsewhere = mask & ~head_chars
        mask = torch.where(elsewhere.any(-1, keepdim=True), elsewhere, mask)
    return mask, rhyming


def check_chars(text: str, vocab, option: str, unk: str) -> None:
    unknown = sorted({c for c in text if c not in vocab or c == unk})
    if unknown:
        raise UserError(f"{option}: not in the model's vocabulary: {' '.join(unknown)} "
                        f"(the model knows {len(vocab)} characters; try another one)")


def simplifier():
    try:
        import opencc
    except ImportError:
        raise UserError("--script simplified needs the OpenCC package: pip install 'seqtrain[zh]' "
                        "(or pip install opencc)") from None
    return opencc.OpenCC("t2s").convert


def couplets(text: str) -> list[str]:
    """Text cut after each 。？！ (the chinese-poetry `paragraphs`)."""
    return [p for p in re.findall(r"[^。？！]*[。？！]|[^。？！]+$", text) if p]


def record(text: str, form: Form, request: PoemRequest, index: int, convert=None) -> dict:
    req = {k: v for k, v in asdict(request).items() if k in ("start", "acrostic", "form", "lines", "rhyme", "tones")}
    if form.verse:
        req.update(form=form.verse.width, **form.verse.describe())
    if convert:
        text = convert(text)
    return {"title": "", "author": "seqtrain", "paragraphs": couplets(text), "poem": text,
            "complete": form.done and not form.truncated, "seed": request.seed + index, "request": req}
