"""Tang poetry: the corpus (poems), the char language-model task (task), constrained writing
(generate) and how written poems compare with real ones (poem_eval)."""
