"""TE lowerings of graphc/ops/random.py: the same hash formulas, evaluated on TIR expressions."""
from tvm import te, tirx, topi

from graphc.ops import random as R

from ..schedule import kinds
from . import lowering


class TEBackend:
    """The hash's operations on TIR expressions (see graphc.ops.random.NumpyBackend)."""

    @staticmethod
    def u32(v):
        return tirx.const(int(v), "uint32")

    @staticmethod
    def f(v, dtype):
        return tirx.const(float(v), dtype)

    @staticmethod
    def cast(x, dtype):
        return tirx.Cast(dtype, x)

    log, cos, sin, sqrt, abs = te.log, te.cos, te.sin, te.sqrt, te.abs

    @staticmethod
    def where(c, a, b):
        return tirx.Select(c, a, b)

    @staticmethod
    def let(value, body):
        """body(v) with v bound to value once (a TIR Let), so a value used twice is computed once."""
        if isinstance(value, (tirx.Var, tirx.IntImm, tirx.FloatImm)):
            return body(value)
        v = tirx.Var("r", value.ty)
        return tirx.Let(v, value, body(v))


def _key(node, counter):
    """The uint32 run key from the int64 counter input (a 0-d tensor)."""
    c = counter()
    lo = tirx.Cast("uint32", c & tirx.const(0xFFFFFFFF, "int64"))
    hi = tirx.Cast("uint32", (c >> tirx.const(32, "int64")) & tirx.const(0xFFFFFFFF, "int64"))
    return R.run_key(TEBackend, node.attrs["seed"], node.attrs["seed2"], lo, hi)


def _with_key(node, counter, body):
    """body(key) with the run key bound once per element: an expression holding Lets must not be shared."""
    return TEBackend.let(_key(node, counter), body)


def _flat_index(shape, idx):
    """The row-major element number of index `idx` in `shape`, as uint32."""
    flat = tirx.const(0, "int64")
    for d, i in zip(shape, idx):
        flat = flat * tirx.const(int(d), "int64") + tirx.Cast("int64", i)
    return tirx.Cast("uint32", flat)


@lowering("random_uniform", "random_standard_normal", "random_truncated_normal")
def lower_draw(node, counter, *shape_input):
    out = node.outputs[0]
    shape, dtype = tuple(out.shape), out.dtype.name
    sample = R.SAMPLERS[node.op]

    def element(*idx):
        value = _with_key(node, counter, lambda key: sample(TEBackend, key, _flat_index(shape, idx), dtype))
        return value if str(value.ty) == dtype else tirx.Cast(dtype, value)
    return te.compute(shape, element, name=node.op)


@lowering("multinomial")
def lower_multinomial(node, counter, logits):
    b, c = (int(d) for d in logits.shape)
    s = int(node.attrs["num_samples"])
    # stored, not inlined into argmax: its combiner reads the score twice, which would define the hash's
    # Lets twice (TIR that TVM's well-formedness check, and so the CUDA build, rejects)
    scores = te.compute((b, s, c), lambda i, j, k: tirx.Cast("float64", logits[i, k]) + _with_key(
        node, counter, lambda key: R.gumbel(TEBackend, key, _flat_index((b, s, c), (i, j, k)))), name="gumbel_scores",
        attrs={kinds.KEY: kinds.STORED})
    idx = topi.argmax(scores, axis=2)
    dtype = node.outputs[0].dtype.name
    return te.compute((b, s), lambda i, j: tirx.Cast(dtype, idx[i, j]), name="multinomial")


@lowering("random_shuffle")
def lower_random_shuffle(node, counter, x):
    """Rank each row's key among all keys (ties by row number), then gather the row of each rank:
    quadratic in the number of rows, like top_k's lowering."""
    n = int(x.shape[0])

    def sort_key(i):  # built anew at each use: an expression holding Lets must not be shared
        return _with_key(node, counter, lambda key: R.shuffle_keys(TEBackend, key, tirx.Cast("uint32", i)))
    j = te.reduce_axis((0, n), name="j")
    rank = te.compute((n,), lambda i: te.sum(tirx.Select(tirx.Or(
        sort_key(j) < sort_key(i), tirx.And(sort_key(j) == sort_key(i), j < i)), 1, 0), axis=j), name="shuffle_rank")
    k = te.reduce_axis((0, n), name="k")
    perm = te.compute((n,), lambda p: te.sum(tirx.Select(rank[k] == p, k, 0), axis=k), name="shuffle_perm")
    return te.compute(tuple(x.shape), lambda p, *rest: x(perm[p], *rest), name="random_shuffle")
