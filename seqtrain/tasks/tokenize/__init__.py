"""Raw text in: the `tokenize` task (a trained tokenizer and word segmenter), library baselines,
and the CoNLL 2018 shared task's raw-text scorer."""
