"""The one trainer (trainer.py: the step loop) and the named parts it calls: the training state
that resumes (state.py), the learning-rate policy (lr.py), checkpoints, the metrics log, early
stopping, the NaN guard and stop signals (parts.py), evaluation (evaluate.py) and the run
directory (run_dir.py)."""
