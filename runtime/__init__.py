"""Runtime: Plan, executor, devices and Session. Loading an artifact needs nothing else (and of TVM only
its runtime library)."""


def load(path, device=None, num_threads=None, trusted_keys=None):
    """Load a graphc artifact (.gca) as a runner with run(feeds), inputs, outputs and close() (runtime/artifact.py).

    `num_threads` caps the threads its kernels run on (default: TVM_NUM_THREADS, else every core);
    with `trusted_keys` (Ed25519 public keys, PEM bytes or files) an artifact none of them signed is refused."""
    from .artifact import load as _load
    return _load(path, device, num_threads, trusted_keys)
