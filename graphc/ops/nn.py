"""Neural-network ops: softmax and log_softmax along one axis."""
import numpy as np

from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import convert_to_tensor, make, normalize_axis, rand


def _softmax_infer(node):
    x = node.inputs[0]
    if not x.dtype.is_floating:
        raise ShapeError(f"input {x.name} has dtype {x.dtype.name}; expected a floating dtype")
    if x.shape is not None:
        normalize_axis(node.attrs["axis"], len(x.shape))
    return TensorType(x.shape, x.dtype)


def _softmax_ref(node, x):
    axis = normalize_axis(node.attrs["axis"], x.ndim)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype)


def _log_softmax_ref(node, x):
    axis = normalize_axis(node.attrs["axis"], x.ndim)
    s = x - x.max(axis=axis, keepdims=True)
    return (s - np.log(np.exp(s).sum(axis=axis, keepdims=True))).astype(x.dtype)


def _examples(rng):
    return [Example([rand(rng, (4, 10), "float32", -5, 5)], {"axis": -1}),
            Example([rand(rng, (2, 3, 5))], {"axis": 1}),
            Example([rand(rng, (7,))], {"axis": 0})]


softmax_op = register_op("softmax", pattern=Pattern.OPAQUE, infer=_softmax_infer, reference=_softmax_ref,
                         examples=_examples)
log_softmax_op = register_op("log_softmax", pattern=Pattern.OPAQUE, infer=_softmax_infer,
                             reference=_log_softmax_ref, examples=_examples)


@softmax_op.def_gradient
def _softmax_grad(node, dys):
    from .reduce import reduce_sum
    y, dy = node.outputs[0], dys[0]
    return [y * (dy - reduce_sum(dy * y, node.attrs["axis"], keepdims=True))]


@log_softmax_op.def_gradient
def _log_softmax_grad(node, dys):
    from .elemwise import exp
    from .reduce import reduce_sum
    y, dy = node.outputs[0], dys[0]
    return [dy - exp(y) * reduce_sum(dy, node.attrs["axis"], keepdims=True)]


def softmax(logits, axis=-1, name=None, dim=None):
    """exp(x) / sum(exp(x)) along `axis`, computed stably."""
    return make("softmax", [convert_to_tensor(logits)], {"axis": int(axis if dim is None else dim)}, name)


def log_softmax(logits, axis=-1, name=None, dim=None):
    """x - logsumexp(x) along `axis`, computed stably."""
    return make("log_softmax", [convert_to_tensor(logits)], {"axis": int(axis if dim is None else dim)}, name)
