"""Runtime: Plan, executor, devices and Session. Loading an artifact needs nothing else."""


def load(path, device=None):
    """Load a graphc artifact (.gca) as a runner with run(feeds), inputs and outputs (runtime/artifact.py)."""
    from .artifact import load as _load
    return _load(path, device)
