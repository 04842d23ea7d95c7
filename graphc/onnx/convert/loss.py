"""Losses composed from graphc ops: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (N-d, class weights,
ignore_index, reductions none / sum / mean)."""
import graphc as gc

from . import OnnxImportError, const, converter, rank_of


def _reduction(attrs):
    r = attrs.get("reduction", "mean")
    if r not in ("none", "sum", "mean"):
        raise OnnxImportError(f"reduction {r!r} is not one of 'none', 'sum', 'mean'")
    return r


def nll_loss(x, target, weight, reduction, ignore_index, node):
    """NLL of log-probabilities `x` [N, C, d...] at class indices `target` [N, d...], as ONNX defines it."""
    if rank_of(x, node) < 2:
        raise OnnxImportError(f"input must be [N, C, d...] (rank >= 2), got rank {len(x.shape)}")
    classes = x.shape[1]
    if classes is None:
        raise OnnxImportError("the class dim (1) of the input must be known at import time")
    # an index outside [0, C) (ignore_index, say) selects nothing: its loss is 0
    picked = gc.reduce_sum(gc.multiply(x, gc.one_hot(target, classes, on_value=1, off_value=0, axis=1,
                                                     dtype=x.dtype)), axis=1)
    loss = gc.negative(picked)
    w = None
    if weight is not None:
        inside = gc.minimum(gc.maximum(target, const(0, target)), const(classes - 1, target))
        w = gc.gather(weight, inside, axis=0)
    if ignore_index is not None:
        kept = gc.not_equal(target, const(ignore_index, target))
        w = gc.where(kept, gc.ones_like(loss) if w is None else w, gc.zeros_like(loss))
    if w is not None:
        loss = gc.multiply(loss, w)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return gc.reduce_sum(loss)
    if w is None:
        return gc.reduce_mean(loss)
    return gc.divide(gc.reduce_sum(loss), gc.reduce_sum(w))


@converter("NegativeLogLikelihoodLoss")
def _nll(ctx, node, ins, attrs):
    x, target = ins[:2]
    weight = ins[2] if len(ins) > 2 else None
    return nll_loss(x, target, weight, _reduction(attrs), attrs.get("ignore_index"), node)


@converter("SoftmaxCrossEntropyLoss")
def _sce(ctx, node, ins, attrs):
    x, target = ins[:2]
    weight = ins[2] if len(ins) > 2 else None
    log_prob = gc.log_softmax(x, axis=1)
    loss = nll_loss(log_prob, target, weight, _reduction(attrs), attrs.get("ignore_index"), node)
    return [loss, log_prob] if len(node.output) > 1 else loss

