"""Initial values for variables, drawn with numpy when the graph is built (deterministic given the
graph-level and op-level seeds), then held as constants: like weights read from a file."""
import numpy as np

from . import dtypes
from .graph import get_default_graph

def set_random_seed(seed):
    """The default graph's seed: initial values are reproducible from it."""
    get_default_graph().seed = seed


def _rng(seed):
    """A generator from the graph seed and the op seed (or, as TF, a per-graph count of draws)."""
    graph = get_default_graph()
    if seed is None and graph.seed is None:
        return np.random.default_rng()
    if seed is None:
        seed = graph.random_draws
        graph.random_draws += 1
    return np.random.default_rng([graph.seed or 0, seed])


def _fans(shape):
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated(rng, shape, mean, stddev):
    out = rng.normal(mean, stddev, shape)
    bad = np.abs(out - mean) > 2 * stddev
    while bad.any():  # redraw values more than two standard deviations out, as TF does
        out[bad] = rng.normal(mean, stddev, bad.sum())
        bad = np.abs(out - mean) > 2 * stddev
    return out


class Initializer:
    """Callable `init(shape, dtype)` returning an initial value array, TF1 style."""

    def __init__(self, sample, dtype=dtypes.float32, seed=None):
        self.sample, self.dtype, self.seed = sample, dtype, seed

    def __call__(self, shape, dtype=None, partition_info=None):
        shape = tuple(int(d) for d in shape)
        dt = dtypes.as_dtype(dtype or self.dtype)
        return self.sample(_rng(self.seed), shape).astype(dt.np)


def zeros_initializer(dtype=dtypes.float32):
    return Initializer(lambda rng, s: np.zeros(s), dtype)


def ones_initializer(dtype=dtypes.float32):
    return Initializer(lambda rng, s: np.ones(s), dtype)


def constant_initializer(value=0, dtype=dtypes.float32):
    return Initializer(lambda rng, s: np.broadcast_to(np.asarray(value, np.float64), s).copy(), dtype)


def random_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32):
    return Initializer(lambda rng, s: rng.normal(mean, stddev, s), dtype, seed)


def truncated_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32):
    return Initializer(lambda rng, s: _truncated(rng, s, mean, stddev), dtype, seed)


def random_uniform_initializer(minval=0.0, maxval=1.0, seed=None, dtype=dtypes.float32):
    return Initializer(lambda rng, s: rng.uniform(minval, maxval, s), dtype, seed)


def glorot_uniform_initializer(seed=None, dtype=dtypes.float32):
    def sample(rng, s):
        fan_in, fan_out = _fans(s)
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, s)
    return Initializer(sample, dtype, seed)


def glorot_normal_initializer(seed=None, dtype=dtypes.float32):
    def sample(rng, s):
        fan_in, fan_out = _fans(s)
        return _truncated(rng, s, 0.0, np.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978)
    return Initializer(sample, dtype, seed)
