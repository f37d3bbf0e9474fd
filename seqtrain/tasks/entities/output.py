"""What `seqtrain predict` writes for an entity tagger: text with the entities bracketed and typed,
JSON records whose entities carry character offsets into the input as given, and columns (the
input's own, the tag column filled; or, from raw text, `# text` and index, token, tag lines)."""

from __future__ import annotations

from seqtrain.core.errors import UserError
from seqtrain.tasks.entities.documents import consistent_tags
from seqtrain.tasks.base import PredictOptions, Prediction
from seqtrain.tasks.entities.readers import columns, read_entities
from seqtrain.tasks.entities.schemes import convert, spans
from seqtrain.tasks.pos.conll import Sentence
from seqtrain.tasks.pos.tagging import encoder_states


def bracketed(words: list[str], entities: list) -> str:
    """The words between spaces, each entity as [TYPE word word]."""
    out = list(words)
    for kind, i, j in entities:
        out[i], out[j - 1] = f"[{kind} {out[i]}", f"{out[j - 1]}]"
    return " ".join(out)


def marked(text: str, entities: list[tuple[str, int, int]], offset: int = 0) -> str:
    """text with each entity (type, start_char, end_char; offsets into an input that `text` starts
    at `offset` of) bracketed and typed in place; every other character kept."""
    out, at = [], 0
    for kind, start, end in entities:
        out += [text[at:start - offset], f"[{kind} ", text[start - offset:end - offset], "]"]
        at = end - offset
    return "".join(out + [text[at:]])


def entity_records(text: str, tags: list[str], starts: list[int], ends: list[int]) -> list[dict]:
    return [{"text": text[starts[i]:ends[j - 1]], "type": kind, "start_char": starts[i], "end_char": ends[j - 1],
             "words": [i, j]} for kind, i, j in spans(tags)]


def predict_text(task, model, inputs: list[str], options: PredictOptions) -> Prediction:
    """Raw text through the tagger's tokenizer (or, pretokenized, words between spaces); offsets
    index each input line."""
    raw = options.input_format == "text" and task.tokenizer["name"] != "whitespace"
    if options.output_format == "conllu" and options.input_format == "text" and not raw:
        raise UserError("--output-format conllu: this tagger has no tokenizer (data.tokenizer: whitespace), so raw "
                        "text has no columns to fill; give --format conll input (a token a line) or --pretokenized")
    lines = [(i, line) for i, line in enumerate(inputs) if line.strip()]
    if not lines:
        raise UserError('no input text: give some, e.g. seqtrain predict RUN "Ada Lovelace was born in London."')
    analyzed = task.analyze(model, [line for _, line in lines], options.batch_size, pretokenized=not raw)
    records, shown, table, tagged = [], [], [], []
    for (index, line), sentences in zip(lines, analyzed):
        for sentence in sentences:
            pairs = [(token, word, tag) for token in sentence.tokens for word, tag in zip(token.words, token.tags)]
            words, tags = [w for _, w, _ in pairs], [t for _, _, t in pairs]
            starts, ends = [t.start for t, _, _ in pairs], [t.end for t, _, _ in pairs]
            entities = entity_records(line, tags, starts, ends)
            start, end = sentence.tokens[0].start, sentence.tokens[-1].end
            records.append({"input": index, "text": line[start:end], "start_char": start, "words": words,
                            "tags": tags, "entities": entities})
            spans_at = [(e["type"], e["start_char"], e["end_char"]) for e in entities]
            shown.append(marked(line[start:end], spans_at, start))
            table += [f"# text = {line[start:end]}", *(f"{i}\t{w}\t{t}" for i, (w, t) in enumerate(zip(words, tags), 1)), ""]
            tagged.append(Sentence(words))
        shown.append("")
    text = "\n".join(table if options.output_format == "conllu" else shown[:-1])
    states = encoder_states(model, task.encoding, tagged) if options.states else {}
    return Prediction(text=text, records=records, states=states)


def predict_columns(task, model, inputs: list[str], options: PredictOptions) -> Prediction:
    """Token-a-line input (--format iob2 or conll): the tag column filled (added where a line has the
    token alone), in the scheme the input's own tags have (the training file's where it has none)."""
    d = task.cfg.data
    read = read_entities("<input>", options.input_format, d.tag_column, d.tag_scheme, lines=list(inputs),
                         require_tags=False)
    had_entities = any(t != "O" for s in read.sentences for t in (s.tags or []))
    scheme = read.scheme if had_entities else task.input_scheme
    tags = task.tag(model, read.sentences, options.batch_size)
    if task.cfg.model.document_consistency:
        tags = consistent_tags([s.words for s in read.sentences], tags, read.documents, task.cfg.data.train_scheme)
    tags = [convert(t, scheme) for t in tags]
    out = list(inputs)
    records, shown = [], []
    for sentence, sentence_tags in zip(read.sentences, tags):
        for index, tag in zip(sentence.token_lines, sentence_tags):
            line = out[index]
            cols, sep = columns(line), "\t" if "\t" in line else " "
            column = d.tag_column - 1 if d.tag_column else (2 if options.input_format == "iob2" else len(cols) - 1)
            cols = cols + [tag] if len(cols) == 1 or column >= len(cols) else cols[:column] + [tag] + cols[column + 1:]
            out[index] = sep.join(cols)
        text = " ".join(sentence.words)
        starts, at = [], 0
        for word in sentence.words:  # offsets in the words joined by single spaces
            starts.append(at)
            at += len(word) + 1
        ends = [s + len(w) for s, w in zip(starts, sentence.words)]
        records.append({"text": text, "words": sentence.words, "tags": sentence_tags,
                        "entities": entity_records(text, sentence_tags, starts, ends)})
        shown.append(bracketed(sentence.words, spans(sentence_tags)))
    text = "\n".join(out if options.output_format == "conllu" else shown)
    states = encoder_states(model, task.encoding, read.sentences) if options.states else {}
    return Prediction(text=text, records=records, states=states)
