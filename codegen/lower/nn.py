"""TE lowerings of graphc/ops/nn.py: softmax and log_softmax with a max-shifted sum."""
from tvm import te, topi

from graphc.ops._base import normalize_axis

from . import lowering
from .reduce import float16_safe_sum


def _exp(x):
    """exp of a tensor: for float32, topi's vectorizable polynomial (libm's expf is scalar-only)."""
    return topi.fast_exp(x) if str(x.dtype) == "float32" else topi.exp(x)


@lowering("softmax", "log_softmax")
def lower_softmax(node, x):
    axis = normalize_axis(node.attrs["axis"], len(x.shape))
    m = topi.max(x, axis=axis, keepdims=True)
    shifted = te.compute(x.shape, lambda *i: x(*i) - m(*[0 if d == axis else v for d, v in enumerate(i)]),
                         name="shifted")
    s = float16_safe_sum(_exp(shifted), axis, True)
    e = _exp(shifted)

    def at(t, i):
        return t(*[0 if d == axis else v for d, v in enumerate(i)])
    if node.op == "softmax":
        return te.compute(x.shape, lambda *i: e(*i) / at(s, i), name="softmax")
    return te.compute(x.shape, lambda *i: shifted(*i) - te.log(at(s, i)), name="log_softmax")
