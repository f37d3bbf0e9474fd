"""torchrun/DDP plumbing (world.py) and the --nproc relauncher (launch.py)."""
