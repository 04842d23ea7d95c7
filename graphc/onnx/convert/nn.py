"""MatMul/Gemm, softmax, activations composed from elementwise ops, BatchNormalization."""
import numpy as np

import graphc as gc

from . import CONVERTERS, OnnxImportError, Versions, axis_in_range, const, converter, rank_of
from .shape import slice_static


@converter("MatMul")
def _matmul(ctx, node, ins, attrs):
    a, b = ins
    # numpy semantics: a 1-D operand is a row (a) or column (b) vector, its new dim dropped after
    a_vec, b_vec = rank_of(a, node) == 1, rank_of(b, node) == 1
    y = gc.matmul(gc.expand_dims(a, 0) if a_vec else a, gc.expand_dims(b, 1) if b_vec else b)
    drop = ([-2] if a_vec else []) + ([-1] if b_vec else [])
    return gc.squeeze(y, axis=drop) if drop else y


@converter("Gemm")
def _gemm(ctx, node, ins, attrs):
    a, b = ins[0], ins[1]
    y = gc.matmul(a, b, transpose_a=bool(attrs.get("transA", 0)), transpose_b=bool(attrs.get("transB", 0)))
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    if alpha != 1.0:
        y = gc.multiply(y, const(alpha, y))
    if len(ins) > 2 and ins[2] is not None:
        c = ins[2] if beta == 1.0 else gc.multiply(ins[2], const(beta, ins[2]))
        y = gc.add(y, c)
    return y


def _softmax_conv(fn):
    """Softmax-like converters: over x flattened to 2-D at `axis` before opset 13, along `axis` from it on."""
    def v13(ctx, node, ins, attrs):
        return fn(ins[0], axis=axis_in_range(attrs.get("axis", -1), rank_of(ins[0], node)))

    def v1(ctx, node, ins, attrs):
        x = ins[0]
        rank = rank_of(x, node)
        axis = axis_in_range(attrs.get("axis", 1), rank)
        if axis == rank - 1:
            return fn(x, axis=-1)
        flat = gc.reshape(x, [int(np.prod(x.shape[:axis])) if None not in x.shape[:axis] else -1,
                              int(np.prod(x.shape[axis:])) if None not in x.shape[axis:] else -1])
        return gc.reshape_like(fn(flat, axis=-1), x)
    return Versions.of((1, v1), (13, v13))


CONVERTERS["Softmax"] = _softmax_conv(gc.softmax)
CONVERTERS["LogSoftmax"] = _softmax_conv(gc.log_softmax)



# ---- activations composed from elementwise ops ------------------------------------------------
def _act(fn):
    def conv(ctx, node, ins, attrs):
        x = ins[0]
        return fn(x, lambda v: const(v, x), attrs)
    return conv


CONVERTERS["LeakyRelu"] = _act(lambda x, c, a: gc.where(gc.less(x, c(0)), gc.multiply(x, c(a.get("alpha", 0.01))), x))
CONVERTERS["Elu"] = _act(lambda x, c, a: gc.where(gc.less(x, c(0)),
                                                  gc.multiply(c(a.get("alpha", 1.0)), gc.subtract(gc.exp(x), c(1))), x))
CONVERTERS["Selu"] = _act(lambda x, c, a: gc.multiply(c(a.get("gamma", 1.0507009873554805)), gc.where(
    gc.less_equal(x, c(0)), gc.multiply(c(a.get("alpha", 1.6732632423543772)), gc.subtract(gc.exp(x), c(1))), x)))
CONVERTERS["Celu"] = _act(lambda x, c, a: gc.add(gc.maximum(x, c(0)), gc.minimum(c(0), gc.multiply(
    c(a.get("alpha", 1.0)), gc.subtract(gc.exp(gc.divide(x, c(a.get("alpha", 1.0)))), c(1))))))
CONVERTERS["HardSigmoid"] = _act(lambda x, c, a: gc.maximum(c(0), gc.minimum(c(1), gc.add(
    gc.multiply(c(a.get("alpha", 0.2)), x), c(a.get("beta", 0.5))))))
CONVERTERS["HardSwish"] = _act(lambda x, c, a: gc.multiply(x, gc.maximum(c(0), gc.minimum(c(1), gc.add(
    gc.multiply(c(1 / 6), x), c(0.5))))))
CONVERTERS["Softsign"] = _act(lambda x, c, a: gc.divide(x, gc.add(c(1), gc.abs(x))))
CONVERTERS["Softplus"] = _act(lambda x, c, a: gc.log(gc.add(gc.exp(x), c(1))))
CONVERTERS["ThresholdedRelu"] = _act(lambda x, c, a: gc.where(gc.greater(x, c(a.get("alpha", 1.0))), x, c(0)))
CONVERTERS["Mish"] = _act(lambda x, c, a: gc.multiply(x, gc.tanh(gc.log(gc.add(gc.exp(x), c(1))))))


@converter("PRelu")
def _prelu(ctx, node, ins, attrs):
    x, slope = ins
    return gc.where(gc.less(x, const(0, x)), gc.multiply(x, slope), x)


@converter("Clip")
def _clip_v1(ctx, node, ins, attrs):
    """Clip-1/6: min and max are attributes."""
    x = ins[0]
    lo, hi = attrs.get("min"), attrs.get("max")
    return _clip(x, None if lo is None else const(lo, x), None if hi is None else const(hi, x))


@converter("Clip", since=11)
def _clip_v11(ctx, node, ins, attrs):
    """Clip-11+: min and max are optional inputs."""
    return _clip(ins[0], ins[1] if len(ins) > 1 else None, ins[2] if len(ins) > 2 else None)


def _clip(x, lo, hi):
    """x clipped to [lo, hi] (either may be None: unbounded)."""
    if lo is not None:
        x = gc.maximum(x, lo)
    if hi is not None:
        x = gc.minimum(x, hi)
    return x



@converter("BatchNormalization")
def _batch_norm(ctx, node, ins, attrs):
    if attrs.get("training_mode", 0):
        raise OnnxImportError("BatchNormalization with training_mode=1 is not supported")
    x, scale, bias, mean, var = ins[:5]
    rank = rank_of(x, node)
    shape = [-1] + [1] * (rank - 2)

    def per_channel(t):
        return gc.reshape(t, shape)
    inv = gc.multiply(per_channel(scale), gc.rsqrt(gc.add(per_channel(var), const(attrs.get("epsilon", 1e-5), x))))
    return gc.add(gc.multiply(gc.subtract(x, per_channel(mean)), inv), per_channel(bias))


CONVERTERS["Swish"] = _act(lambda x, c, a: gc.multiply(x, gc.sigmoid(gc.multiply(c(a.get("alpha", 1.0)), x))))
CONVERTERS["Shrink"] = _act(lambda x, c, a: gc.where(
    gc.less(x, c(-a.get("lambd", 0.5))), gc.add(x, c(a.get("bias", 0.0))),
    gc.where(gc.greater(x, c(a.get("lambd", 0.5))), gc.subtract(x, c(a.get("bias", 0.0))), c(0))))


@converter("Gelu")
def _gelu(ctx, node, ins, attrs):
    x = ins[0]
    if attrs.get("approximate", "none") == "tanh":
        inner = gc.multiply(const(np.sqrt(2 / np.pi), x),
                            gc.add(x, gc.multiply(const(0.044715, x), gc.multiply(x, gc.square(x)))))
        return gc.multiply(gc.multiply(const(0.5, x), x), gc.add(const(1, x), gc.tanh(inner)))
    cdf = gc.add(const(1, x), gc.erf(gc.multiply(x, const(1 / np.sqrt(2), x))))
    return gc.multiply(gc.multiply(const(0.5, x), x), cdf)


def _hardmax(x, axis):
    depth = x.shape[axis]
    if depth is None:
        raise OnnxImportError("Hardmax needs the size of its axis known at import time")
    return gc.one_hot(gc.argmax(x, axis=axis), depth, on_value=1, off_value=0, axis=axis, dtype=x.dtype)


CONVERTERS["Hardmax"] = _softmax_conv(_hardmax)


@converter("SwiGLU")
def _swiglu(ctx, node, ins, attrs):
    a, b = ins
    return gc.multiply(gc.multiply(a, gc.sigmoid(gc.multiply(const(attrs.get("alpha", 1.0), a), a))), b)


@converter("CausalConvWithState")
def _causal_conv_with_state(ctx, node, ins, attrs):
    """Depthwise causal conv1d over [past_state (or zeros), input]: a sum of k shifted slices times each
    channel's tap, then the optional SiLU; present_state is the last k-1 steps of that concatenation."""
    ins = ins + [None] * (4 - len(ins))
    x, w, bias, past = ins
    if x.shape is None or w.shape is None or None in w.shape or None in x.shape[1:]:
        raise OnnxImportError("CausalConvWithState needs the input's channels and length and the weight's "
                              "shape known at import time")
    _, channels, length = x.shape
    k = w.shape[2]
    if past is None and k > 1:
        if x.shape[0] is None:
            raise OnnxImportError("CausalConvWithState without past_state needs the batch size known at import")
        past = gc.constant(np.zeros((x.shape[0], channels, k - 1), x.dtype.np))
    padded = gc.concat([past, x], axis=2) if k > 1 else x
    taps = gc.reshape(w, [channels, k])
    src = padded
    if x.dtype == gc.float16:  # accumulate half-precision taps in float32, as the reference does
        src, taps, bias = (None if t is None else gc.cast(t, gc.float32) for t in (padded, taps, bias))
    out = None
    for j in range(k):
        term = gc.multiply(slice_static(src, [j], [j + length], [2], [1]),
                           gc.reshape(slice_static(taps, [j], [j + 1], [1], [1]), [channels, 1]))
        out = term if out is None else gc.add(out, term)
    if bias is not None:
        out = gc.add(out, gc.reshape(bias, [channels, 1]))
    out = gc.cast(out, x.dtype) if out.dtype != x.dtype else out
    act = attrs.get("activation", "none")
    if act in ("silu", "swish"):
        wide = gc.cast(out, gc.float32) if out.dtype != gc.float32 else out
        out = gc.cast(gc.multiply(wide, gc.sigmoid(wide)), x.dtype)
    elif act != "none":
        raise OnnxImportError(f"activation {act!r} is not one of 'none', 'silu', 'swish'")
    present = slice_static(padded, [length], [length + k - 1], [2], [1])
    return [out, present]
