"""Random ops that draw anew on every Session.run, with TF1's graph- and op-level seeds.

Every draw is a counter-based hash (murmur3's 32-bit finalizer) of (graph seed, op seed, run counter,
element index, stream): no generator state lives in a kernel. The run counter is the output of a
`random_counter` node, a stateful source the Session feeds with how often the op has run in it, so
the same seeds give the same sequence in every Session, and each run draws new values. The formulas
below are written once over a small `backend` (numpy for the references, TE for the lowerings in
codegen/lower/random.py), so a kernel and its reference hash the same integers bit for bit.
"""
import math

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..graph import Tensor, get_default_graph
from ..registry import Example, Pattern, TensorType, register_op
from ._base import constant_value, convert_to_tensor, make, rand

DEFAULT_GRAPH_SEED = 87654321  # TF1's graph seed when only an op seed is given
_GOLDEN = 0x9E3779B9


# ---- the hash, for any backend ----------------------------------------------------------------
def fmix32(B, x):
    """murmur3's finalizer: a bijection of uint32 that mixes every input bit into every output bit.
    (B.let binds a value used twice, so TIR expressions stay linear in size, not exponential.)"""
    return B.let(x, lambda x: B.let((x ^ (x >> B.u32(16))) * B.u32(0x85EBCA6B), lambda x: B.let(
        (x ^ (x >> B.u32(13))) * B.u32(0xC2B2AE35), lambda x: x ^ (x >> B.u32(16)))))


def run_key(B, seed, seed2, counter_lo, counter_hi):
    """One uint32 per (graph seed, op seed, run): the stream every element of one draw comes from.
    (The seeds' part is a constant, hashed here in Python.)"""
    N = NumpyBackend
    with np.errstate(over="ignore"):  # uint32 arithmetic wraps, as intended
        seeds = int(fmix32(N, fmix32(N, np.uint32(seed & 0xFFFFFFFF)) ^ np.uint32(seed2 & 0xFFFFFFFF)))
    return fmix32(B, fmix32(B, B.u32(seeds) ^ counter_lo) ^ counter_hi)


def bits(B, key, index, stream):
    """32 random bits for element `index` (uint32) of stream `stream` (a small int) of one draw."""
    return fmix32(B, fmix32(B, key ^ index) ^ B.u32(((stream + 1) * _GOLDEN) & 0xFFFFFFFF))


def uniform(B, key, index, pair, dtype):
    """U[0, 1) in `dtype` from the streams of `pair`: 24 bits for float32, 53 for float64, 10 for float16."""
    if dtype == "float64":
        hi = B.cast(bits(B, key, index, 2 * pair) >> B.u32(5), "float64")
        lo = B.cast(bits(B, key, index, 2 * pair + 1) >> B.u32(6), "float64")
        return (hi * B.f(67108864.0, "float64") + lo) * B.f(2.0 ** -53, "float64")
    if dtype == "float16":
        return B.cast(B.cast(bits(B, key, index, 2 * pair) >> B.u32(22), "float32") * B.f(2.0 ** -10, "float32"),
                      "float16")
    return B.cast(bits(B, key, index, 2 * pair) >> B.u32(8), "float32") * B.f(2.0 ** -24, "float32")


def compute_dtype(dtype):
    """The float type the normal draws compute in (float16 draws compute in float32)."""
    return "float64" if dtype == "float64" else "float32"


def box_muller(B, key, index, pair, dtype):
    """A standard normal, sqrt(-2 log u1) cos(2 pi u2), from the uniforms of pairs 2*pair and 2*pair+1."""
    u1 = B.f(1.0, dtype) - uniform(B, key, index, 2 * pair, dtype)  # in (0, 1]: log stays finite
    u2 = uniform(B, key, index, 2 * pair + 1, dtype)
    return B.sqrt(B.f(-2.0, dtype) * B.log(u1)) * B.cos(B.f(2 * math.pi, dtype) * u2)


TRUNCATED_TRIES = 8  # normals tried: all 8 beyond two sigma has probability ~2e-11


def truncated(B, key, index, dtype):
    """A standard normal within two standard deviations: the first of 8 draws that is (TF redraws)."""
    out = B.f(0.0, dtype)
    for k in reversed(range(TRUNCATED_TRIES)):
        out = B.let(box_muller(B, key, index, k, dtype),
                    lambda z, out=out: B.where(B.abs(z) <= B.f(2.0, dtype), z, out))
    return out


def gumbel(B, key, index):
    """A standard Gumbel draw in float64, -log(-log(u)) with u in (0, 1)."""
    hi = B.cast(bits(B, key, index, 0) >> B.u32(5), "float64")
    lo = B.cast(bits(B, key, index, 1) >> B.u32(6), "float64")
    u = (hi * B.f(67108864.0, "float64") + lo + B.f(0.5, "float64")) * B.f(2.0 ** -53, "float64")
    return -B.log(-B.log(u))


class NumpyBackend:
    """The hash's operations on numpy arrays (the references)."""

    @staticmethod
    def u32(v):
        return np.uint32(v)

    @staticmethod
    def f(v, dtype):
        return np.dtype(dtype).type(v)

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x).astype(dtype)

    log, cos, sin, sqrt, abs, where = np.log, np.cos, np.sin, np.sqrt, np.abs, np.where

    @staticmethod
    def let(value, body):
        return body(value)


def _np_key(attrs, counter):
    c = int(np.asarray(counter).astype(np.int64)) & 0xFFFFFFFFFFFFFFFF
    with np.errstate(over="ignore"):
        return run_key(NumpyBackend, attrs["seed"], attrs["seed2"], np.uint32(c & 0xFFFFFFFF), np.uint32(c >> 32))


def _np_index(shape):
    return np.arange(int(np.prod(shape)), dtype=np.uint32).reshape(shape)


# ---- the run counter --------------------------------------------------------------------------
def _fed_by_session(attrs, *args):
    raise ShapeError("a random_counter has no reference value: the Session feeds it")


random_counter_op = register_op(
    "random_counter", pattern=Pattern.SOURCE, stateful=True, differentiable=False, reference=_fed_by_session,
    infer=lambda n: TensorType((), dtypes.int64))


def random_counter(graph):
    """A new run counter: the Session feeds it the number of runs of the op it drives so far."""
    return graph.create_node("random_counter", (), {}, "random_counter").outputs[0]


# ---- uniform, normal and truncated normal draws of a shape --------------------------------------
def _draw_shape(node):
    if len(node.inputs) > 1:  # the shape as a tensor: known once the graph is specialized
        t = node.inputs[1]
        value = constant_value(t)
        if value is not None:
            return tuple(int(d) for d in value)
        if t.node.op == "shape" and t.node.inputs[0].shape is not None:  # as TF's constant_value_as_shape:
            return tuple(t.node.inputs[0].shape)                       # the dims of x that are known
        if t.shape is None or t.shape[0] is None:
            return None
        return (None,) * t.shape[0]
    return tuple(node.attrs["shape"])


def _draw_infer(node):
    counter = node.inputs[0]
    if counter.dtype != dtypes.int64 or counter.shape not in ((), None):
        raise ShapeError(f"counter {counter.name} must be an int64 scalar, got {counter.dtype.name} {counter.shape}")
    if len(node.inputs) > 1 and not node.inputs[1].dtype.is_integer:
        raise ShapeError(f"shape {node.inputs[1].name} must be an integer tensor, got {node.inputs[1].dtype.name}")
    dtype = dtypes.as_dtype(node.attrs["dtype"])
    if dtype.name not in ("float16", "float32", "float64"):
        raise ShapeError(f"random draws are float16, float32 or float64, got {dtype.name}")
    shape = _draw_shape(node)
    if shape is not None and any(d is not None and d < 0 for d in shape):
        raise ShapeError(f"random draw shape {list(shape)} has a negative dim")
    return TensorType(shape, dtype)


def _draw_reference(sample):
    def reference(attrs, counter, *shape):
        out_shape = tuple(int(d) for d in shape[0]) if shape else tuple(attrs["shape"])
        dt = dtypes.as_dtype(attrs["dtype"]).name
        return np.asarray(sample(NumpyBackend, _np_key(attrs, counter), _np_index(out_shape), dt)).astype(dt)
    return reference


def _standard_normal(B, key, index, dtype):
    return box_muller(B, key, index, 0, compute_dtype(dtype))


def _truncated(B, key, index, dtype):
    return truncated(B, key, index, compute_dtype(dtype))


def _uniform(B, key, index, dtype):
    return uniform(B, key, index, 0, dtype)


SAMPLERS = {"random_uniform": _uniform, "random_standard_normal": _standard_normal,
            "random_truncated_normal": _truncated}


def _draw_examples(rng):
    return [Example([np.array(c, np.int64)], {"shape": s, "dtype": dt, "seed": sd, "seed2": sd2})
            for c, s, dt, sd, sd2 in ((0, (3, 4), dtypes.float32, 1, 2), (7, (5,), dtypes.float64, 0, 9),
                                      (2 ** 33 + 5, (2, 3, 2), dtypes.float16, 87654321, 3))]


for _name, _sample in SAMPLERS.items():
    # OPAQUE: a draw is its own kernel, never inlined into consumers (inlining one twice would define
    # the TIR Let variables of its hash twice)
    register_op(_name, pattern=Pattern.OPAQUE, differentiable=False, shape_only_inputs="rest",
                infer=_draw_infer, reference=_draw_reference(_sample), examples=_draw_examples)


def get_seed(op_seed):
    """TF1's (graph seed, op seed) pair for a new random op of the default graph."""
    graph = get_default_graph()
    if graph.seed is not None:
        return int(graph.seed), int(op_seed) if op_seed is not None else len(graph.nodes)
    if op_seed is not None:
        return DEFAULT_GRAPH_SEED, int(op_seed)
    seeds = np.random.SeedSequence().generate_state(2)  # no seed: different in every program run
    return int(seeds[0]), int(seeds[1])


def _draw(op, shape, dtype, seed, name):
    graph = get_default_graph()
    seed1, seed2 = get_seed(seed)
    attrs = {"dtype": dtypes.as_dtype(dtype), "seed": seed1, "seed2": seed2, "shape": ()}
    inputs = [random_counter(graph)]
    if isinstance(shape, Tensor) or (isinstance(shape, (list, tuple)) and any(isinstance(d, Tensor) for d in shape)):
        shape_t = convert_to_tensor(shape)
        value = constant_value(shape_t)
        if value is None:
            inputs.append(shape_t)
        else:
            attrs["shape"] = tuple(int(d) for d in value)
    else:
        attrs["shape"] = tuple(int(d) for d in np.atleast_1d(np.asarray(shape, np.int64))) if np.ndim(shape) \
            else (int(shape),)
    return make(op, inputs, attrs, name or op)


def _scaled(draw, scale, offset, dtype):
    """draw * scale + offset, skipping the identity cases so a plain draw stays one node."""
    if not (isinstance(scale, (int, float)) and scale == 1):
        draw = draw * convert_to_tensor(scale, dtype)
    if not (isinstance(offset, (int, float)) and offset == 0):
        draw = draw + convert_to_tensor(offset, dtype)
    return draw


def random_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal samples of `shape` (a list or an integer tensor), drawn anew on every run."""
    dtype = dtypes.as_dtype(dtype)
    return _scaled(_draw("random_standard_normal", shape, dtype, seed, name), stddev, mean, dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal samples within two standard deviations of the mean, drawn anew on every run."""
    dtype = dtypes.as_dtype(dtype)
    return _scaled(_draw("random_truncated_normal", shape, dtype, seed, name), stddev, mean, dtype)


def random_uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """Uniform samples in [minval, maxval) (maxval defaults to 1 for floats), drawn anew on every run;
    integer dtypes draw integers (maxval required), as TF1."""
    dtype = dtypes.as_dtype(dtype)
    if dtype.is_integer:
        if maxval is None:
            raise ValueError(f"random_uniform of integer dtype {dtype.name} needs maxval")
        from .elemwise import cast, floor
        u = _draw("random_uniform", shape, dtypes.float64, seed, name)
        lo, hi = convert_to_tensor(minval, dtype), convert_to_tensor(maxval, dtype)
        return cast(floor(u * cast(hi - lo, dtypes.float64)), dtype) + lo
    u = _draw("random_uniform", shape, dtype, seed, name)
    maxval = 1.0 if maxval is None else maxval
    if isinstance(minval, (int, float)) and isinstance(maxval, (int, float)):
        return _scaled(u, maxval - minval, minval, dtype)
    lo = convert_to_tensor(minval, dtype)
    return u * (convert_to_tensor(maxval, dtype) - lo) + lo


# ---- multinomial: Gumbel-max over the classes ---------------------------------------------------
def _multinomial_infer(node):
    counter, logits = node.inputs
    if not logits.dtype.is_floating:
        raise ShapeError(f"logits {logits.name} must be floating, got {logits.dtype.name}")
    if logits.shape is not None and len(logits.shape) != 2:
        raise ShapeError(f"logits {logits.name} must be 2-D [batch, classes], got shape {list(logits.shape)}")
    batch = None if logits.shape is None else logits.shape[0]
    return TensorType((batch, int(node.attrs["num_samples"])), node.attrs["output_dtype"])


def _multinomial_ref(attrs, counter, logits):
    b, c = logits.shape
    s = int(attrs["num_samples"])
    scores = logits.astype(np.float64)[:, None, :] + gumbel(NumpyBackend, _np_key(attrs, counter), _np_index((b, s, c)))
    return scores.argmax(axis=2).astype(attrs["output_dtype"].np)


multinomial_op = register_op(
    "multinomial", pattern=Pattern.OPAQUE, differentiable=False, infer=_multinomial_infer,
    reference=_multinomial_ref,
    examples=lambda rng: [Example([np.array(3, np.int64), rand(rng, (4, 6), "float32", -2, 2)],
                                  {"num_samples": 5, "output_dtype": dtypes.int64, "seed": 1, "seed2": 4}),
                          Example([np.array(0, np.int64), rand(rng, (2, 3), "float64")],
                                  {"num_samples": 1, "output_dtype": dtypes.int32, "seed": 5, "seed2": 0})])


def multinomial(logits, num_samples, seed=None, name=None, output_dtype=dtypes.int64):
    """`num_samples` class indices per row of `logits` (unnormalized log-probabilities), anew every run."""
    logits = convert_to_tensor(logits)
    seed1, seed2 = get_seed(seed)
    return make("multinomial", [random_counter(logits.graph), logits],
                {"num_samples": int(num_samples), "output_dtype": dtypes.as_dtype(output_dtype),
                 "seed": seed1, "seed2": seed2}, name or "multinomial")


def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """tf.random.categorical: multinomial with an output dtype."""
    return multinomial(logits, num_samples, seed, name, dtype or dtypes.int64)


# ---- random_shuffle: rows ordered by random keys ---------------------------------------------------
def _shuffle_infer(node):
    x = node.inputs[1]
    if x.shape is not None and len(x.shape) == 0:
        raise ShapeError(f"random_shuffle of {x.name} needs at least one dim, got a scalar")
    return TensorType(x.shape, x.dtype)


def shuffle_keys(B, key, index):
    """The sort keys of random_shuffle: the permutation orders rows by them (ties by row)."""
    return bits(B, key, index, 0)


def _shuffle_ref(attrs, counter, x):
    keys = shuffle_keys(NumpyBackend, _np_key(attrs, counter), np.arange(x.shape[0], dtype=np.uint32))
    return x[np.argsort(keys, kind="stable")]


random_shuffle_op = register_op(
    "random_shuffle", pattern=Pattern.OPAQUE, differentiable=False, infer=_shuffle_infer, reference=_shuffle_ref,
    examples=lambda rng: [Example([np.array(1, np.int64), rand(rng, (7, 3))], {"seed": 2, "seed2": 8}),
                          Example([np.array(4, np.int64), rand(rng, (10,), "int32", 0, 100)], {"seed": 0, "seed2": 1})])


def random_shuffle(value, seed=None, name=None):
    """`value` with its rows (first dim) in a new random order on every run."""
    value = convert_to_tensor(value)
    seed1, seed2 = get_seed(seed)
    return make("random_shuffle", [random_counter(value.graph), value], {"seed": seed1, "seed2": seed2},
                name or "random_shuffle")


# ---- dropout -----------------------------------------------------------------------------------------
def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """x / keep_prob where a fresh uniform draw keeps it (probability keep_prob), else 0 (TF1's
    formula); `rate` = 1 - keep_prob. The gradient is mask * dy / keep_prob: no gradient flows
    through the draw."""
    from .elemwise import floor
    from .shape import shape as shape_of
    x = convert_to_tensor(x)
    if (keep_prob is None) == (rate is None):
        raise ValueError("dropout needs exactly one of keep_prob and rate")
    keep = convert_to_tensor(keep_prob, x.dtype) if rate is None else 1.0 - convert_to_tensor(rate, x.dtype)
    if keep.shape is None:  # a shapeless placeholder: keep_prob is a scalar (TF1), so the result keeps x's shape
        from .shape import reshape
        keep = reshape(keep, [])
    if noise_shape is None:
        noise_shape = tuple(x.shape) if x.shape is not None and all(d is not None for d in x.shape) \
            else shape_of(x)
    u = _draw("random_uniform", noise_shape, x.dtype, seed, name or "dropout")
    return x / keep * floor(keep + u)
