"""Tang poetry: the corpus (poems), the char language-model task (task), constrained writing
(request, constraints, form, masks, plans, sampler, generate) and how written poems compare with
real ones (poem_eval)."""
