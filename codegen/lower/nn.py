"""TE lowerings of graphc/ops/nn.py: softmax and log_softmax with a max-shifted sum."""
from tvm import te, topi

from graphc.ops._base import normalize_axis

from . import lowering


def _exp(x):
    """exp of a tensor: for float32, topi's vectorizable polynomial (libm's expf is scalar-only)."""
    return topi.fast_exp(x) if str(x.dtype) == "float32" else topi.exp(x)


@lowering("softmax", "log_softmax")
def lower_softmax(node, x):
    axis = normalize_axis(node.attrs["axis"], len(x.shape))
    m = topi.max(x, axis=axis, keepdims=True)
    shifted = te.compute(x.shape, lambda *i: x(*i) - m(*[0 if d == axis else v for d, v in enumerate(i)]),
                         name="shifted")
    if str(x.dtype) == "float16":  # sum in float32 as numpy does: float16 partial sums drift by ulps
        s = topi.cast(topi.sum(topi.cast(_exp(shifted), "float32"), axis=axis, keepdims=True), "float16")
    else:
        s = topi.sum(_exp(shifted), axis=axis, keepdims=True)
    e = _exp(shifted)

    def at(t, i):
        return t(*[0 if d == axis else v for d, v in enumerate(i)])
    if node.op == "softmax":
        return te.compute(x.shape, lambda *i: e(*i) / at(s, i), name="softmax")
    return te.compute(x.shape, lambda *i: shifted(*i) - te.log(at(s, i)), name="log_softmax")
