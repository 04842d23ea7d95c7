"""Losses built from graph ops (so they differentiate), in their numerically stable forms."""
from .graph import Tensor
from .ops import (abs, cast, convert_to_tensor, exp, log, log_softmax, maximum, multiply, one_hot, reduce_mean,
                  reduce_sum, square, stop_gradient, subtract)


def softmax_cross_entropy_with_logits_v2(labels=None, logits=None, axis=-1, name=None, dim=None):
    """-sum(labels * log_softmax(logits)) along `axis`, one value per example."""
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels) if isinstance(labels, Tensor) else convert_to_tensor(labels, logits.dtype)
    if labels.dtype != logits.dtype:  # TF casts the labels to the logits' type (e.g. float64 one-hot rows)
        labels = cast(labels, logits.dtype)
    axis = axis if dim is None else dim
    return -reduce_sum(multiply(labels, log_softmax(logits, axis)), axis, name=name)


def softmax_cross_entropy_with_logits(labels=None, logits=None, axis=-1, name=None, dim=None):
    """As the _v2 form, with no gradient into the labels (TF1's v1 semantics)."""
    return softmax_cross_entropy_with_logits_v2(stop_gradient(convert_to_tensor(labels)), logits,
                                                axis if dim is None else dim, name)


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Cross entropy against integer class labels, via log_softmax (stable for large logits)."""
    logits = convert_to_tensor(logits)
    classes = logits.shape[-1] if logits.shape is not None else None
    if classes is None:
        raise ValueError(f"sparse_softmax_cross_entropy_with_logits needs the number of classes of "
                         f"{logits.name} (its last dim) when the graph is built")
    hot = one_hot(labels, classes, dtype=logits.dtype)
    return -reduce_sum(multiply(hot, log_softmax(logits, -1)), -1, name=name)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """max(x, 0) - x*z + log(1 + exp(-|x|)): never overflows."""
    x = convert_to_tensor(logits)
    z = convert_to_tensor(labels, x.dtype)
    return subtract(maximum(x, 0.0) - x * z, -log(exp(-abs(x)) + 1.0), name=name)


def mean_squared_error(labels, predictions, weights=1.0, name=None, **unused):
    """mean((predictions - labels)^2), times `weights`."""
    p = convert_to_tensor(predictions)
    return reduce_mean(square(p - convert_to_tensor(labels, p.dtype)) * weights, name=name)


def l2_loss(t, name=None):
    """sum(t^2) / 2."""
    t = convert_to_tensor(t)
    return multiply(reduce_sum(square(t)), 0.5, name=name)

