"""What `predict` is asked, declared once: the command line builds its options from these fields
(ui/options.py), the API fills the same dataclass, and every task reads it. Imports no torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from seqtrain.core.errors import UserError
from seqtrain.core.fields import opt

OUTPUT_FORMATS = ("text", "json", "conllu")


@dataclass
class PredictOptions:
    input_format: str = opt("text", "input format: text, or conllu (POS: fills UPOS, keeps the rest), or "
                            "iob2 / conll (entities: columns, the tag column filled)",
                            flags=("--format",))
    pretokenized: bool = opt(False, "POS: the text is already split: one sentence a line, words between "
                             "spaces (the tagger's tokenizer is not used)")
    output_format: str = opt("text", "text, json, or conllu (taggers and tokenizers)")
    batch_size: int = opt(64, "sentences (or inputs) a batch", min=1, max=100_000)
    states: bool = field(default=False)  # also return every-step hidden states (set by predict --states FILE)

    def __post_init__(self):
        if self.output_format not in OUTPUT_FORMATS:
            raise UserError(f"--output-format: expected text, json or conllu, got {self.output_format!r}")
        if not 1 <= self.batch_size <= 100_000:
            raise UserError(f"--batch-size: must be a number from 1 to 100000, got {self.batch_size}")
        if self.pretokenized:
            if self.input_format not in ("text", "pretokenized"):
                raise UserError(f"--pretokenized: reads text, not --format {self.input_format}")
            self.input_format = "pretokenized"  # how the task reads the lines
