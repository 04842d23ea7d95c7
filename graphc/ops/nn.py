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


def _softmax_ref(attrs, x):
    axis = normalize_axis(attrs["axis"], x.ndim)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype)


def _log_softmax_ref(attrs, x):
    axis = normalize_axis(attrs["axis"], x.ndim)
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


# ---- layer normalization ----------------------------------------------------------------------
def _layer_norm_axes(attrs, rank):
    return tuple(range(normalize_axis(attrs["axis"], rank), rank))


def _layer_norm_infer(node):
    x, gamma, beta = node.inputs
    if not x.dtype.is_floating:
        raise ShapeError(f"input {x.name} has dtype {x.dtype.name}; expected a floating dtype")
    for p in (gamma, beta):
        if p.dtype != x.dtype:
            raise ShapeError(f"{p.name} has dtype {p.dtype.name}; expected {x.dtype.name} like {x.name}")
    if x.shape is not None:
        axes = _layer_norm_axes(node.attrs, len(x.shape))
        for p in (gamma, beta):
            if p.shape is not None and len(p.shape) > len(axes):
                raise ShapeError(f"{p.name} has shape {list(p.shape)}; expected at most the normalized dims "
                                 f"{list(x.shape[axes[0]:])} of {x.name}")
    return TensorType(x.shape, x.dtype)


def _layer_norm_ref(attrs, x, gamma, beta):
    axes = _layer_norm_axes(attrs, x.ndim)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    return ((x64 - mean) / np.sqrt(var + attrs["epsilon"]) * gamma + beta).astype(x.dtype)


def _layer_norm_examples(rng):
    return [Example([rand(rng, (4, 8)), rand(rng, (8,)), rand(rng, (8,))], {"axis": -1, "epsilon": 1e-5}),
            Example([rand(rng, (2, 3, 5)), rand(rng, (3, 5)), rand(rng, (5,))], {"axis": 1, "epsilon": 1e-3}),
            Example([rand(rng, (6,)), rand(rng, (6,)), rand(rng, ())], {"axis": 0, "epsilon": 0.1})]


layer_norm_op = register_op("layer_norm", pattern=Pattern.REDUCE, infer=_layer_norm_infer,
                            reference=_layer_norm_ref, examples=_layer_norm_examples)


def _normalized(x, axes, epsilon):
    """(x - mean) * rsqrt(var + epsilon) over `axes`, and that rsqrt, built from graph ops."""
    from .elemwise import rsqrt, square
    from .reduce import reduce_mean
    centered = x - reduce_mean(x, axes, keepdims=True)
    inv = rsqrt(reduce_mean(square(centered), axes, keepdims=True) + convert_to_tensor(epsilon, x.dtype))
    return centered * inv, inv


@layer_norm_op.def_gradient
def _layer_norm_grad(node, dys):
    from .reduce import reduce_mean, sum_to
    x, gamma, beta = node.inputs
    axes = list(_layer_norm_axes(node.attrs, len(x.shape)))
    xhat, inv = _normalized(x, axes, node.attrs["epsilon"])
    dy = dys[0]
    g = dy * gamma
    dx = inv * (g - reduce_mean(g, axes, keepdims=True) - xhat * reduce_mean(g * xhat, axes, keepdims=True))
    return [dx, sum_to(dy * xhat, gamma), sum_to(dy, beta)]


def layer_norm(x, gamma=None, beta=None, axis=-1, epsilon=1e-5, name=None):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta, with mean and var over the axes from `axis` on."""
    x = convert_to_tensor(x)
    gamma = convert_to_tensor(1.0 if gamma is None else gamma, x.dtype)
    beta = convert_to_tensor(0.0 if beta is None else beta, x.dtype)
    return make("layer_norm", [x, gamma, beta], {"axis": int(axis), "epsilon": float(epsilon)}, name)


def gelu(features, approximate=False, name=None):
    """GELU, x * Phi(x) (exact, with erf; approximate=True: the tanh form), composed from elementwise ops so
    fusion makes it one kernel with its neighbours and its derivatives of any order come for free."""
    from .control import identity
    from .elemwise import erf, tanh
    x = convert_to_tensor(features)
    if approximate:
        y = 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    else:
        y = 0.5 * x * (1.0 + erf(x * 0.7071067811865476))
    return identity(y, name=name) if name else y
