"""What only some tasks do, each a small base class a task inherits beside `Task`.

Inference, the API and the CLI ask `isinstance(task, TagsText)` (or `issubclass` for a task class),
never a flag or a task name. Each capability names the methods it adds; a task that inherits one
implements them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the types only; the tokenize package is imported where a method needs it
    from torch import nn

    from seqtrain.tasks.tokenize.document import Paragraph, Sentence


class ReadsRawText:
    """Raw text in, sentences of tokens and words (and tags) out: what `evaluate --raw` scores
    against a CoNLL-U file's own tokens, sentences and words with the CoNLL 2018 alignment."""

    def analyze(self, model: nn.Module, paragraphs: list[str], batch_size: int = 64,
                pretokenized: bool = False) -> list[list[Sentence]]:
        """Each paragraph's sentences; with `pretokenized`, each paragraph is one sentence whose
        words stand between spaces."""
        raise NotImplementedError

    def gold_tag_column(self) -> int | None:
        """The CoNLL-U column (0-based) the tags are scored against; None when nothing is tagged."""
        return None

    def gold_dev_paragraphs(self, paths: dict[str, Path]) -> list[Paragraph]:
        """The config's dev split with its gold tokens, words and tags (evaluate --raw, no file)."""
        raise NotImplementedError

    def read_gold(self, path: Path) -> list[Paragraph]:
        from seqtrain.tasks.tokenize.document import read_document

        column = self.gold_tag_column()
        return read_document(path, 3 if column is None else column)

    @staticmethod
    def raw_text_scores(gold: list[Paragraph], system: list[list[Sentence]]) -> dict[str, float]:
        """Tokens, sentences and words F1 (and tags F1 where the system tagged) of the CoNLL 2018 scorer."""
        from seqtrain.tasks.tokenize.score import f1_scores, score_counts

        system_sentences = [s for p in system for s in p]
        metrics = f1_scores(score_counts([s for p in gold for s in p.sentences], system_sentences))
        if not any(t for s in system_sentences for token in s.tokens for t in token.tags):
            metrics = {k: v for k, v in metrics.items() if not k.startswith("upos")}
        return metrics


class Tokenizes(ReadsRawText):
    """Splits raw text into sentences, tokens and words (a segmenter, for Chinese)."""


class TagsText(ReadsRawText):
    """Gives each word of a text a tag (parts of speech; entities): `analyze` tags the words too."""


class FindsEntities(TagsText):
    """Tags that mark spans of words as typed entities (people, places, organisations): the API
    and predict give each sentence's entities with their character offsets."""

    def entity_spans(self, tags: list[str]) -> list[tuple[str, int, int]]:
        """(type, first word, past the last word) of each entity the tags mark, in order."""
        raise NotImplementedError


class ScoresDocuments:
    """Decodes the sentences of a document together (an entity tagger that keeps a name's type
    within a document), so evaluation gives it whole documents rather than batches of sentences."""

    def documents_of(self, examples: list) -> list[int] | None:
        """The document of each example, or None where they are scored batch by batch."""
        raise NotImplementedError

    def document_totals(self, model: nn.Module, examples: list, documents: list[int], batch_size: int,
                        device: Any) -> dict[str, Any]:
        """The sums `metrics` divides, over these examples (whole documents)."""
        raise NotImplementedError


class WritesPoems:
    """A language model that writes poems to a request (form, acrostic, rhyme, tones) and scores text."""

    def generate(self, model: nn.Module, request: Any) -> list[dict]:
        """request.num poems as chinese-poetry records (`paragraphs`: the couplets)."""
        raise NotImplementedError

    def nats_per_char(self, model: nn.Module, texts: list[str]) -> float:
        """The model's cross-entropy on the texts, in nats per character."""
        raise NotImplementedError


class HasCorpus:
    """A task whose corpus real text is compared against (`eval-poems`)."""

    @classmethod
    def corpus(cls, cfg: Any, paths: dict[str, Path]) -> tuple[list, list, dict]:
        """(training texts, validation texts, counts of each cleaning filter)."""
        raise NotImplementedError

    @classmethod
    def score_written(cls, path: Path, train: list, valid: list, **request) -> dict:
        """Written texts in PATH scored beside the corpus (copied lines, form, distinctness)."""
        raise NotImplementedError
