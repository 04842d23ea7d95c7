"""TE lowerings of graphc/ops/nn.py: softmax and log_softmax with a max-shifted sum."""
from tvm import te, tirx, topi

from graphc.ops._base import normalize_axis

from ..schedule import kinds
from . import lowering
from .reduce import float16_safe_sum


def _exp(x):
    """exp of a tensor: for float32, topi's vectorizable polynomial (libm's expf is scalar-only)."""
    return topi.fast_exp(x) if str(x.dtype) == "float32" else topi.exp(x)


@lowering("softmax", "log_softmax")
def lower_softmax(node, x):
    """Max-shifted exp and its sum. Over the last axis of float32 the row max and sum are annotated row
    statistics (kinds.SOFTMAX_STATS), so the CPU schedule computes max, sum and output row by row."""
    rank = len(x.shape)
    axis = normalize_axis(node.attrs["axis"], rank)
    rows = axis == rank - 1 and str(x.dtype) == "float32"

    def at(t, i):
        return t(*[0 if d == axis else v for d, v in enumerate(i)])
    if rows:
        stat_shape = tuple(x.shape[:-1]) + (1,)
        k = te.reduce_axis((0, x.shape[-1]), name="k")
        m = te.compute(stat_shape, lambda *i: te.max(x(*i[:-1], k), axis=k), name="softmax_max",
                       attrs={kinds.KEY: kinds.SOFTMAX_STATS})
    else:
        m = topi.max(x, axis=axis, keepdims=True)
    shifted = te.compute(x.shape, lambda *i: x(*i) - at(m, i), name="shifted")
    e = _exp(shifted)
    if rows:
        k = te.reduce_axis((0, x.shape[-1]), name="k")
        s = te.compute(stat_shape, lambda *i: te.sum(e(*i[:-1], k), axis=k), name="softmax_sum",
                       attrs={kinds.KEY: kinds.SOFTMAX_STATS})
    else:
        s = float16_safe_sum(e, axis, True)
    out_attrs = {kinds.KEY: kinds.SOFTMAX, "rows": rank - 1} if rows else None
    if node.op == "softmax":
        return te.compute(x.shape, lambda *i: e(*i) / at(s, i), name="softmax", attrs=out_attrs)
    return te.compute(x.shape, lambda *i: shifted(*i) - te.log(at(s, i)), name="log_softmax", attrs=out_attrs)


@lowering("layer_norm")
def lower_layer_norm(node, x, gamma, beta):
    """Two row reductions (the mean, then the centered variance) and an elementwise epilogue; the CPU
    schedule (rule "layer_norm") computes all three per row inside one parallel loop."""
    rank = len(x.shape)
    begin = normalize_axis(node.attrs["axis"], rank)
    count = 1
    for a in range(begin, rank):
        count *= int(x.shape[a])
    dt = x.dtype
    inv_n = tirx.const(1.0 / max(count, 1), dt)
    stat_shape = tuple(x.shape[:begin]) + (1,) * (rank - begin)

    def row_sum(f, name):
        ks = [te.reduce_axis((0, x.shape[a]), name=f"k{a}") for a in range(begin, rank)]
        return te.compute(stat_shape, lambda *i: te.sum(f(*(list(i[:begin]) + ks)), axis=ks), name=name,
                          attrs={kinds.KEY: kinds.LAYER_NORM_STATS})

    def at(t, i):  # a keepdims statistic at the row of index i
        return t(*[0 if d >= begin else v for d, v in enumerate(i)])

    def param(p, i):  # gamma/beta broadcast against the trailing dims
        k = len(p.shape)
        return p(*[0 if int(p.shape[j]) == 1 else i[rank - k + j] for j in range(k)])
    total = row_sum(x, "ln_sum")
    var = row_sum(lambda *i: _square(x(*i) - at(total, i) * inv_n), "ln_sqsum")
    eps = tirx.const(node.attrs["epsilon"], dt)
    return te.compute(x.shape, lambda *i: (x(*i) - at(total, i) * inv_n) * te.rsqrt(at(var, i) * inv_n + eps)
                      * param(gamma, i) + param(beta, i), name="layer_norm",
                      attrs={kinds.KEY: kinds.LAYER_NORM, "rows": begin})


def _square(v):
    return v * v
