"""Hyperparameter search (`seqtrain tune`): above training; every trial is an ordinary run."""
