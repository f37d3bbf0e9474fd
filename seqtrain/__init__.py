"""seqtrain: train and use recurrent sequence models (taggers, tokenizers, character models).

    import seqtrain
    tagger = seqtrain.load("runs/pos-toy")        # a run directory or a checkpoint file
    print(tagger("The dog ate the apple."))        # The/DET dog/NOUN ate/VERB the/DET apple/NOUN ./PUNCT

`load` gives a Tagger, Tokenizer, PoemWriter or plain Model by what the checkpoint's task can do;
`train` runs a config in this process. Errors in what you give are `seqtrain.UserError`, with the
one-line message the command line prints. Importing seqtrain imports no torch.
"""

from seqtrain.api import (EntitySentence, Model, Poem, PoemWriter, RunResult, Sentence, Sentences, Span, Tagger, Token,
                          Tokenizer, Word, load, train)
from seqtrain.core.errors import UserError
from seqtrain.core.version import __version__

__all__ = ["load", "train", "UserError", "Model", "Tagger", "Tokenizer", "PoemWriter", "Sentence", "EntitySentence",
           "Sentences", "Token", "Word", "Span", "Poem", "RunResult", "__version__"]
