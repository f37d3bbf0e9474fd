"""The Python API: `seqtrain.load(path)` gives a trained model of the capability its task has (a
Tagger, a Tokenizer, a PoemWriter, or a plain Model), and `seqtrain.train(config)` runs what
`seqtrain train` runs, in this process. Torch is imported on first use, not by `import seqtrain`.

    tagger = seqtrain.load("runs/pos-toy")
    print(tagger("The dog ate the apple."))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from seqtrain.core.errors import UserError
from seqtrain.tasks.tang.poems import format_poems
from seqtrain.tasks.tang.request import PoemRequest, request_from_options  # the request is declared once, there

MAX_BATCH_SIZE = 100_000  # as `seqtrain evaluate --batch-size`

__all__ = ["load", "train", "Model", "Tagger", "Tokenizer", "PoemWriter", "PoemRequest", "Sentence", "EntitySentence",
           "Sentences", "Span", "Token", "Word", "Poem", "RunResult", "request_from_options", "format_poems"]


# ---------------------------------------------------------------- what models return

@dataclass
class Word:
    text: str
    tag: str | None            # None from a tokenizer
    start_char: int            # the word's token's span in the input text (a multiword token's words share it)
    end_char: int


@dataclass
class Token:
    text: str
    start_char: int
    end_char: int
    words: list[Word]          # one, or the words of a multiword token (can't: ca, n't)


@dataclass
class Span:
    """An entity: `input[start_char:end_char] == text`; `words` is [first, past the last) in sentence.words."""
    text: str
    type: str
    start_char: int
    end_char: int
    words: tuple[int, int]


@dataclass
class Sentence:
    text: str
    tokens: list[Token]
    input: int = 0             # which of the texts given to predict() it comes from
    entities: list[Span] = field(default_factory=list)  # filled by taggers that find entities

    @property
    def words(self) -> list[Word]:
        return [w for t in self.tokens for w in t.words]

    @property
    def tags(self) -> list[str | None]:
        return [w.tag for w in self.words]

    @property
    def start_char(self) -> int:
        return self.tokens[0].start_char if self.tokens else 0

    @property
    def end_char(self) -> int:
        return self.tokens[-1].end_char if self.tokens else 0

    def __str__(self) -> str:
        return " ".join(f"{w.text}/{w.tag}" if w.tag else w.text for w in self.words)


@dataclass
class EntitySentence(Sentence):
    """A sentence of an entity tagger: it prints as its text with each entity bracketed and typed,
    as `seqtrain predict` prints it: `[PER Ada Lovelace] moved to [LOC Paris].`"""

    def __str__(self) -> str:
        from seqtrain.tasks.entities.output import marked

        return marked(self.text, [(e.type, e.start_char, e.end_char) for e in self.entities], self.start_char)


class Sentences(list):
    """A list of Sentence objects that prints one sentence a line."""

    def __str__(self) -> str:
        return "\n".join(map(str, self))


@dataclass
class Poem:
    lines: list[str]           # the couplets, one a line
    record: dict = field(default_factory=dict, repr=False)  # the chinese-poetry record (title, request, ...)

    def __str__(self) -> str:
        return "\n".join(self.lines)


@dataclass
class RunResult:
    run_dir: Path
    best_checkpoint: Path
    metrics: dict              # the dev metrics of the evaluation that best_checkpoint holds
    summary: dict = field(repr=False, default_factory=dict)  # all of summary.json (its "final": the last evaluation)


# ---------------------------------------------------------------- loaded models

class Model:
    """A trained model of any task: `predict` gives its records, `evaluate` and `info` what the CLI's do."""

    def __init__(self, path: str | Path, task, model, device: str):
        self.path, self.task, self.model, self.device = Path(path), task, model, device

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, task={self.task.cfg.task!r})"

    @property
    def info(self) -> dict:
        from seqtrain.inference import checkpoint_info

        return checkpoint_info(self.path)

    def evaluate(self, path: str | Path | None = None, *, raw: bool = False, batch_size: int = 64) -> dict:
        """Metrics on a data file (default: the dev split of the run's config); `raw` scores the
        whole pipeline from the text alone (taggers and tokenizers)."""
        from seqtrain.inference import evaluate_checkpoint, evaluate_raw

        run = evaluate_raw if raw else evaluate_checkpoint
        return run(self.path, path, batch_size=checked_batch_size(batch_size), loaded=(self.task, self.model))

    def predict(self, inputs: Sequence[str], batch_size: int = 64) -> list[dict]:
        """The records `seqtrain predict --output-format json` prints."""
        return self._prediction(inputs, batch_size).records

    def __call__(self, text: str) -> str:
        return self._prediction([text], 64).text

    def _prediction(self, inputs: Sequence[str], batch_size: int):
        from seqtrain.tasks.base import PredictOptions

        return self.task.predict(self.model, list(inputs),
                                 PredictOptions(output_format="json", batch_size=checked_batch_size(batch_size)))


class _ReadsText(Model):
    def __call__(self, text: str) -> Sentences:
        return self.predict([text])

    def predict(self, texts: Sequence[str | Sequence[str]], batch_size: int = 64,
                pretokenized: bool = False) -> Sentences:
        """The sentences of every text, in order; offsets index each text as given. With
        `pretokenized`, each text is one sentence: a list of words, or words between spaces."""
        if isinstance(texts, str):
            raise UserError("predict: give a list of texts (or call the model on one text)")
        texts = [t if isinstance(t, str) else " ".join(t) for t in texts]
        checked_batch_size(batch_size)
        import torch

        with torch.no_grad():
            analyzed = self.task.analyze(self.model, texts, batch_size, pretokenized=pretokenized)
        return Sentences(api_sentence(s, i, self.task, texts[i]) for i, sentences in enumerate(analyzed) for s in sentences)


class Tagger(_ReadsText):
    """Tags the words of raw text (its tokenizer splits it) or of pretokenized sentences."""


class Tokenizer(_ReadsText):
    """Splits raw text into sentences, tokens and words."""


class PoemWriter(Model):
    """A poetry language model: writes poems to a request, scores text in nats per character."""

    def poems(self, n: int = 1, *, form: int | None = None, lines: int | None = None, acrostic: str = "",
              start: str = "", rhyme: bool = False, tones: bool = False, seed: int = 0, **options: Any) -> list[Poem]:
        """n poems; `options` are the rest of PoemRequest's fields, `seqtrain generate-poem`'s options
        (temperature, top_k, top_p, repetition_penalty, rhyme_group, pattern, first_line_rhymes, regular,
        max_chars, script). A value of None means the default."""
        unknown = sorted(set(options) - {f for f in PoemRequest.__dataclass_fields__})
        if unknown:
            raise UserError(f"{unknown[0]}: not a poem option (options: {', '.join(PoemRequest.__dataclass_fields__)})")
        request = request_from_options(dict(options, num=n, form=form, lines=lines, acrostic=acrostic or None,
                                            start=start or None, rhyme=rhyme, tones=tones, seed=seed))
        records = self.task.generate(self.model, request)
        return [Poem(list(r["paragraphs"]), r) for r in records]

    def score(self, texts: str | Sequence[str]) -> float:
        """Nats per character of the texts, each read as a whole poem."""
        import torch

        with torch.no_grad():
            return self.task.nats_per_char(self.model, [texts] if isinstance(texts, str) else list(texts))


def checked_batch_size(value) -> int:
    """`batch_size` as the command line bounds it; anything else is a UserError, not a failure inside."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCH_SIZE:
        raise UserError(f"batch_size: {value!r}: give a whole number from 1 to {MAX_BATCH_SIZE:,}")
    return value


def api_sentence(sentence, index: int, task=None, text: str = "") -> Sentence:
    """The API's sentence of an analyzed one; with a task that finds entities, its entities, their
    offsets into `text` (the input it comes from)."""
    from seqtrain.tasks.capabilities import FindsEntities

    tokens = [Token(t.form, t.start, t.end, [Word(w, tag, t.start, t.end)
                                             for w, tag in zip(t.words, t.tags or [None] * len(t.words))])
              for t in sentence.tokens]
    finds_entities = isinstance(task, FindsEntities)
    out = (EntitySentence if finds_entities else Sentence)(sentence.text, tokens, index)
    if finds_entities:
        words = out.words
        out.entities = [Span(text[words[i].start_char:words[j - 1].end_char], kind, words[i].start_char,
                             words[j - 1].end_char, (i, j)) for kind, i, j in task.entity_spans(out.tags)]
    return out


def load(path: str | Path, device: str = "cpu") -> Model:
    """The model of a run directory (its best checkpoint) or a checkpoint file, as a Tagger,
    Tokenizer, PoemWriter or plain Model by what its task can do."""
    from seqtrain.core.device import check_device
    from seqtrain.inference import load_model
    from seqtrain.tasks.capabilities import TagsText, Tokenizes, WritesPoems

    task, model, _ = load_model(path, check_device(device, "device"))
    kind = (Tagger if isinstance(task, TagsText) else Tokenizer if isinstance(task, Tokenizes)
            else PoemWriter if isinstance(task, WritesPoems) else Model)
    return kind(path, task, model, device)


# ---------------------------------------------------------------- training

def train(config: str | Path | Mapping, overrides: Mapping[str, Any] | Sequence[str] = (), *,
          run_dir: str | Path | None = None, resume: str | Path | None = None, overwrite: bool = False,
          data_dir: str | Path | None = None, device: str | None = None, quiet: bool = True) -> RunResult:
    """What `seqtrain train CONFIG -o KEY=VALUE ...` does, in this process: a YAML file or a
    mapping of its keys, with overrides as a mapping ({"train.epochs": 2}) or KEY=VALUE strings."""
    from seqtrain.tasks import config_from_dict, load_config
    from seqtrain.training.trainer import train as run_training

    items = [f"{k}={override_text(v)}" for k, v in overrides.items()] if isinstance(overrides, Mapping) else list(overrides)
    if isinstance(config, Mapping):
        from seqtrain.core.config import apply_override

        raw = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in config.items()}
        for item in items:
            apply_override(raw, item)
        cfg = config_from_dict(raw, source="config")
    else:
        cfg = load_config(config, items)
    summary = run_training(cfg, run_dir=run_dir, resume=resume, overwrite=overwrite, data_dir=data_dir,
                           device=device, quiet=quiet)
    run_dir = Path(summary["run_dir"])
    return RunResult(run_dir, Path(summary["checkpoints"]["best"]), best_metrics(run_dir, summary), summary)


def best_metrics(run_dir: Path, summary: dict) -> dict:
    """The dev metrics of the best evaluation, from the run's metrics log."""
    import json

    best = {}
    with open(run_dir / "metrics.jsonl", encoding="utf-8") as log:
        for line in log:
            record = json.loads(line)
            if record.get("split") == "dev" and record.get("step") == summary["best"]["step"]:
                best = record["metrics"]
    return best


def override_text(value: Any) -> str:
    """A Python value as the YAML text an -o override holds."""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value)  # JSON is YAML: true/false, numbers, lists, null
