"""Part-of-speech tagging: CoNLL-U and friends in (conll), vocabularies and scores (encoding),
the word-vector settings (embeddings), and the task itself (task)."""
