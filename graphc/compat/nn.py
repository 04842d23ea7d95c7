"""tf.nn functions that TF1 builds from other ops: composites of graphc graph ops (so they
differentiate and fuse like the rest)."""
import math

from graphc import dtypes
from graphc import ops as _ops
from graphc.ops import (cast, concat, convert_to_tensor, exp, expand_dims, log, matmul, maximum, minimum,
                        reduce_mean, reduce_sum, reshape, rsqrt, square, squeeze, stop_gradient, where)


def bias_add(value, bias, data_format=None, name=None):
    """value + bias along the channel dim (the last one, or dim 1 for NC... data formats)."""
    value = convert_to_tensor(value)
    bias = convert_to_tensor(bias, value.dtype)
    if data_format and data_format.upper().startswith("NC"):
        rank = value.ndim
        if rank is None:
            raise ValueError(f"bias_add with data_format={data_format} needs the rank of {value.name}")
        bias = reshape(bias, [-1] + [1] * (rank - 2))
    return _ops.add(value, bias, name=name)


def xw_plus_b(x, weights, biases, name=None):
    """matmul(x, weights) + biases."""
    return bias_add(matmul(x, weights), biases, name=name)


def relu6(features, name=None):
    """min(max(x, 0), 6)."""
    x = convert_to_tensor(features)
    return minimum(maximum(x, 0.0), 6.0, name=name)


def leaky_relu(features, alpha=0.2, name=None):
    """x where x > 0, alpha * x elsewhere."""
    x = convert_to_tensor(features)
    return where(_ops.greater(x, 0.0), x, x * alpha, name=name)


def _expm1_negative(x):
    """exp(min(x, 0)) - 1: the negative branch of elu, finite (and with finite gradient) for any x."""
    return exp(minimum(x, 0.0)) - 1.0


def elu(features, name=None):
    """x where x > 0, exp(x) - 1 elsewhere."""
    x = convert_to_tensor(features)
    return where(_ops.greater(x, 0.0), x, _expm1_negative(x), name=name)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def selu(features, name=None):
    """scale * elu with alpha (Klambauer et al.'s constants)."""
    x = convert_to_tensor(features)
    return where(_ops.greater(x, 0.0), x * SELU_SCALE, _expm1_negative(x) * (SELU_ALPHA * SELU_SCALE), name=name)


def softplus(features, name=None):
    """log(1 + exp(x)), computed as max(x, 0) + log(1 + exp(-|x|))."""
    x = convert_to_tensor(features)
    return _ops.add(maximum(x, 0.0), log(exp(-_ops.abs(x)) + 1.0), name=name)


def softsign(features, name=None):
    """x / (1 + |x|)."""
    x = convert_to_tensor(features)
    return _ops.divide(x, _ops.abs(x) + 1.0, name=name)


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x^2, axis), epsilon))."""
    x = convert_to_tensor(x)
    axis = dim if axis is None else axis
    return _ops.multiply(x, rsqrt(maximum(reduce_sum(square(x), axis, keepdims=True), epsilon)), name=name)


def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """(mean, variance) of x over `axes`."""
    x = convert_to_tensor(x)
    keep = bool(keepdims if keepdims is not None else keep_dims)
    mean = reduce_mean(x, axes, keepdims=True)
    variance = reduce_mean(square(x - stop_gradient(mean)), axes, keepdims=True)
    if not keep:
        mean, variance = squeeze(mean, axes), squeeze(variance, axes)
    return mean, variance


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) / sqrt(variance + epsilon) * scale + offset (offset/scale may be None)."""
    x = convert_to_tensor(x)
    inv = rsqrt(convert_to_tensor(variance, x.dtype) + variance_epsilon)
    if scale is not None:
        inv = inv * convert_to_tensor(scale, x.dtype)
    y = (x - convert_to_tensor(mean, x.dtype)) * inv
    return y + convert_to_tensor(offset, x.dtype) if offset is not None else y


def local_response_normalization(input, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5, name=None):  # noqa: A002
    """input / (bias + alpha * sum of squares over the 2r+1 nearest channels) ** beta (NHWC)."""
    x = convert_to_tensor(input)
    if x.shape is None or x.shape[-1] is None:
        raise ValueError(f"local_response_normalization needs the channel count of {x.name} when the graph is built")
    c, r = int(x.shape[-1]), int(depth_radius)
    padded = _ops.pad(square(x), [[0, 0]] * (x.ndim - 1) + [[r, r]])
    window = None
    for k in range(2 * r + 1):
        part = padded[..., k:k + c]
        window = part if window is None else window + part
    return _ops.divide(x, _ops.pow(window * alpha + bias, beta), name=name)


lrn = local_response_normalization


def l2_loss(t, name=None):
    """sum(t^2) / 2."""
    from graphc.losses import l2_loss as _l2
    return _l2(t, name)


def _pick(values, labels):
    """values[..., labels[...]]: each row's entry at its integer label (classes may be unknown)."""
    labels = cast(convert_to_tensor(labels), dtypes.int32)
    if values.shape is not None and values.shape[-1] is not None:
        return reduce_sum(values * _ops.one_hot(labels, int(values.shape[-1]), dtype=values.dtype), -1)
    return squeeze(_ops.gather_elements(values, expand_dims(labels, -1), axis=-1), [-1])


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """-log_softmax(logits)[label] per example."""
    logits = convert_to_tensor(logits)
    return _ops.negative(_pick(_ops.log_softmax(logits, -1), labels), name=name)


def weighted_cross_entropy_with_logits(targets=None, logits=None, pos_weight=1.0, name=None, labels=None):
    """Sigmoid cross entropy with the positive term weighted by pos_weight (stable form)."""
    x = convert_to_tensor(logits)
    z = convert_to_tensor(labels if labels is not None else targets, x.dtype)
    log_weight = (pos_weight - 1.0) * z + 1.0
    return _ops.add((1.0 - z) * x, log_weight * (log(exp(-_ops.abs(x)) + 1.0) + maximum(-x, 0.0)), name=name)


def in_top_k(predictions, targets, k, name=None):
    """Whether each target's prediction is among the row's k largest (ties count as in, as TF)."""
    p = convert_to_tensor(predictions)
    target_value = expand_dims(_pick(p, targets), -1)
    above = reduce_sum(cast(_ops.greater(p, target_value), dtypes.int32), -1)
    return _ops.less(above, int(k), name=name)


def embedding_lookup(params, ids, partition_strategy="mod", name=None, validate_indices=True, max_norm=None):
    """The rows of params (one tensor, or a list of shards concatenated in 'div' order) at ids."""
    if isinstance(params, (list, tuple)):
        if len(params) > 1 and partition_strategy == "mod":
            raise NotImplementedError("embedding_lookup over several shards with partition_strategy='mod'")
        params = params[0] if len(params) == 1 else concat(list(params), 0)
    return _ops.gather(params, ids, name=name)


def conv2d_transpose(value, filter=None, output_shape=None, strides=None, padding="SAME",  # noqa: A002
                     data_format="NHWC", name=None, filters=None, dilations=None):
    """The transpose (input gradient) of conv2d: filter [kh, kw, out_channels, in_channels], and the
    output's static shape `output_shape` [N, H, W, C_out] (NHWC) or [N, C_out, H, W] (NCHW)."""
    from graphc.ops.conv import _tf_layout, _tf_list, _tf_pads, _to_channels_first, _to_channels_last, conv_transpose
    x, nd, cf, spatial = _tf_layout(value, data_format)
    w = convert_to_tensor(filter if filter is not None else filters)
    out = _static_dims(output_shape)
    if out is None or any(d is None for d in out[1:]):
        raise ValueError("conv2d_transpose needs output_shape's spatial and channel dims known when the graph "
                         f"is built, got {output_shape}")
    out_spatial = out[2:] if cf else out[1:-1]
    strides = _tf_list(strides, nd, "strides", cf)
    kernel = [int(d) for d in w.shape[:nd]]
    pads = _tf_pads(padding, out_spatial, kernel, strides, [1] * nd, cf)
    output_padding = [o - ((n - 1) * s - pb - pe + k) for o, n, s, k, pb, pe in
                      zip(out_spatial, spatial, strides, kernel, pads[:nd], pads[nd:])]
    wt = _ops.transpose(w, [nd + 1, nd] + list(range(nd)))  # [k..., out, in] -> [in, out, k...]
    y = conv_transpose(_to_channels_first(x, nd, cf), wt, strides=strides, pads=pads,
                         output_padding=output_padding)
    return _to_channels_last(y, nd, cf)


def _static_dims(shape):
    """The dims of a shape given as a list (of ints or scalar tensors) or a 1-D tensor, each an int or
    None where the graph does not determine it (e.g. a batch size from tf.shape); None if unknown."""
    from graphc.ops._base import constant_value
    if isinstance(shape, (list, tuple)):
        dims = [constant_value(d) if hasattr(d, "node") else d for d in shape]
        return [None if d is None else int(d) for d in dims]
    t = convert_to_tensor(shape)
    value = constant_value(t)
    if value is not None:
        return [int(d) for d in value]
    if t.node.op == "stack":  # e.g. tf.stack([tf.shape(x)[0], 14, 14, 64])
        return _static_dims(list(t.node.inputs))
    return None


# ---- candidate sampling losses -----------------------------------------------------------------
def _log_uniform_candidates(num_sampled, range_max, seed=None):
    """num_sampled class ids drawn (with replacement) from P(k) = log((k+2)/(k+1)) / log(range_max+1),
    anew each run, and the log of each one's expected count."""
    from graphc.ops.random import random_uniform
    u = random_uniform([num_sampled], dtype=dtypes.float64, seed=seed)
    ids = cast(_ops.floor(exp(u * math.log(range_max + 1.0))), dtypes.int32) - 1
    ids = minimum(maximum(ids, 0), range_max - 1)
    return ids, _log_expected(ids, num_sampled, range_max)


def _log_expected(ids, num_sampled, range_max):
    k = cast(ids, dtypes.float32)
    p = log((k + 2.0) / (k + 1.0)) / math.log(range_max + 1.0)
    return log(p * float(num_sampled))


def _sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, seed=None):
    """(true logits [B, 1], sampled logits [B, S]), each less the log of its expected count."""
    inputs = convert_to_tensor(inputs)
    weights = weights[0] if isinstance(weights, (list, tuple)) and len(weights) == 1 else weights
    labels = reshape(cast(convert_to_tensor(labels), dtypes.int32), [-1])
    sampled, sampled_log_q = _log_uniform_candidates(num_sampled, num_classes, seed)
    true_w, true_b = _ops.gather(weights, labels), _ops.gather(biases, labels)
    true_logits = reduce_sum(inputs * true_w, 1, keepdims=True) + expand_dims(true_b, 1) \
        - expand_dims(_log_expected(labels, num_sampled, num_classes), 1)
    sampled_w, sampled_b = _ops.gather(weights, sampled), _ops.gather(biases, sampled)
    sampled_logits = matmul(inputs, sampled_w, transpose_b=True) + sampled_b - sampled_log_q
    return true_logits, sampled_logits


def nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1, sampled_values=None,
             remove_accidental_hits=False, partition_strategy="mod", name="nce_loss", seed=None):
    """Noise-contrastive estimation: sigmoid cross entropy of the true class against num_sampled
    log-uniform samples drawn anew each run, one loss per example."""
    from graphc.losses import sigmoid_cross_entropy_with_logits
    if num_true != 1:
        raise NotImplementedError("nce_loss with num_true > 1")
    true_logits, sampled_logits = _sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, seed)
    return _ops.add(reduce_sum(sigmoid_cross_entropy_with_logits(_ops.ones_like(true_logits), true_logits), 1),
                    reduce_sum(sigmoid_cross_entropy_with_logits(_ops.zeros_like(sampled_logits), sampled_logits), 1),
                    name=name)


def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
                         sampled_values=None, remove_accidental_hits=True, partition_strategy="mod",
                         name="sampled_softmax_loss", seed=None):
    """Softmax cross entropy over the true class and num_sampled log-uniform samples, per example."""
    if num_true != 1:
        raise NotImplementedError("sampled_softmax_loss with num_true > 1")
    true_logits, sampled_logits = _sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, seed)
    logits = concat([true_logits, sampled_logits], 1)
    return _ops.negative(_ops.log_softmax(logits, -1)[:, 0], name=name)
