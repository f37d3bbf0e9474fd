"""Vocabulary masks for what may come next (constraints.Allowed), built once per vocabulary: a
boolean vector per kind of token and per verse rule, so the form and the verse hold by construction."""

from __future__ import annotations

import torch

from seqtrain.core.errors import UserError
from seqtrain.tasks.tang import prosody
from seqtrain.tasks.tang.constraints import (Allowed, Anything, End, Hanzi, KeepsTwoPing, NotThreePing, RhymeOf,
                                             Rule, Token, Tone, ToneIs, Unrhymed)
from seqtrain.tasks.tang.poems import is_hanzi


class Masks:
    """Vocabulary masks for each kind of allowed set, built once per vocabulary."""

    def __init__(self, vocab, eos: str, specials: set[str]):
        self.vocab, self.eos = vocab, eos
        tokens = vocab.tokens
        self.hanzi = torch.tensor([len(t) == 1 and is_hanzi(t) for t in tokens])
        self.free = torch.tensor([t not in specials or t == eos for t in tokens])
        self.cache: dict[Allowed, torch.Tensor] = {}
        self.rules: dict[Rule, torch.Tensor] = {}

    def rule_mask(self, rule: Rule) -> torch.Tensor:
        """The mask of one verse rule; all of them are built in one pass over the vocabulary, on first use."""
        if not self.rules:
            self.rules = self.build_rules()
        return self.rules.get(rule, torch.zeros(len(self.vocab), dtype=torch.bool))

    def build_rules(self) -> dict[Rule, torch.Tensor]:
        table = prosody.load_table()
        ping_rule, ze_rule = ToneIs(Tone.PING), ToneIs(Tone.ZE)
        rows: dict[Rule, list[int]] = {ping_rule: [], ze_rule: []}
        char_groups, hanzi = table.char_groups, self.hanzi.tolist()
        for i, token in enumerate(self.vocab.tokens):
            if hanzi[i]:
                for name in char_groups.get(token, ()):
                    rows.setdefault(RhymeOf(name), []).append(i)
                if token in table.ze:
                    rows[ze_rule].append(i)
        rows[ping_rule] = [i for name in table.groups for i in rows.get(RhymeOf(name), [])]
        rules = {}
        for rule, ids in rows.items():
            rules[rule] = torch.zeros(len(self.vocab), dtype=torch.bool)
            rules[rule][ids] = True
        ping, ze = rules[ping_rule], rules[ze_rule]
        not_ping_only = self.hanzi & ~(ping & ~ze)
        rules.update({KeepsTwoPing(): ping, NotThreePing(): not_ping_only, Unrhymed(): not_ping_only})
        return rules

    def rule(self, rule: Rule) -> torch.Tensor:
        mask = self.rule_mask(rule)
        if not mask.any():
            raise UserError(f"the model's vocabulary has no character that is {rule.describe()}")
        return mask

    def get(self, allowed: Allowed) -> torch.Tensor:
        if allowed not in self.cache:
            mask = torch.zeros(len(self.vocab), dtype=torch.bool)
            for choice in allowed:
                choice_mask = self.token_mask(choice.token)
                for rule in choice.rules:
                    choice_mask = choice_mask & self.rule(rule)
                mask |= choice_mask
            self.cache[allowed] = mask
        return self.cache[allowed]

    def token_mask(self, token: Token) -> torch.Tensor:
        if isinstance(token, Hanzi):
            return self.hanzi
        if isinstance(token, Anything):
            return self.free
        char = self.eos if isinstance(token, End) else token.char
        if char not in self.vocab:
            raise UserError(f"the model's vocabulary has no {char!r}, which this form needs")
        mask = torch.zeros(len(self.vocab), dtype=torch.bool)
        mask[self.vocab.index(char)] = True
        return mask
