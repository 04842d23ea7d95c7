"""Conv, ConvInteger, ConvTranspose, pooling (Max/Average/Lp, their Global forms) and LRN."""
import numpy as np

import graphc as gc

from . import OnnxImportError, const, converter, ints, rank_of


def _spatial(x, node, what="spatial dims"):
    rank = rank_of(x, node)
    dims = list(x.shape[2:])
    return rank - 2, dims


def _auto_pads(node, attrs, x, kernel, strides, dilations):
    """Explicit pads (begins, then ends) from `pads` or `auto_pad` (SAME_* needs static spatial dims)."""
    nd, dims = _spatial(x, node)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        return ints(attrs.get("pads", [0] * (2 * nd)))
    if auto == "VALID":
        return [0] * (2 * nd)
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise OnnxImportError(f"auto_pad {auto!r} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    if None in dims:
        raise OnnxImportError(f"auto_pad {auto} needs the spatial dims of {x.name} at import time, got {x.shape}")
    begins, ends = [], []
    for n, k, s, d in zip(dims, kernel, strides, dilations):
        total = max(0, (-(-n // s) - 1) * s + (k - 1) * d + 1 - n)
        small, big = total // 2, total - total // 2
        begins.append(small if auto == "SAME_UPPER" else big)
        ends.append(big if auto == "SAME_UPPER" else small)
    return begins + ends


def _window_attrs(node, attrs, x, kernel):
    nd = len(kernel)
    strides = ints(attrs.get("strides", [1] * nd))
    dilations = ints(attrs.get("dilations", [1] * nd))
    return strides, dilations, _auto_pads(node, attrs, x, kernel, strides, dilations)


def _channel_bias(y, b):
    return gc.add(y, gc.reshape(b, [-1] + [1] * (len(y.shape) - 2)))


def _kernel_shape(attrs, w):
    """The kernel_shape attribute, which must agree with the weight's spatial dims (as onnxruntime checks)."""
    kernel = ints(attrs.get("kernel_shape", w.shape[2:]))
    if kernel != [int(d) for d in w.shape[2:]]:
        raise OnnxImportError(f"kernel_shape {kernel} contradicts the weight {w.name} of shape "
                              f"{list(w.shape)} (its spatial dims are {list(w.shape[2:])})")
    return kernel


@converter("Conv")
def _conv(ctx, node, ins, attrs):
    x, w = ins[0], ins[1]
    if w.shape is None or None in w.shape[2:]:
        raise OnnxImportError(f"the kernel shape of weight {w.name} must be known at import time")
    kernel = _kernel_shape(attrs, w)
    strides, dilations, pads = _window_attrs(node, attrs, x, kernel)
    y = gc.conv(x, w, strides=strides, dilations=dilations, pads=pads, groups=int(attrs.get("group", 1)))
    return _channel_bias(y, ins[2]) if len(ins) > 2 and ins[2] is not None else y


@converter("ConvTranspose")
def _conv_transpose(ctx, node, ins, attrs):
    x, w = ins[0], ins[1]
    if w.shape is None or None in w.shape[2:]:
        raise OnnxImportError(f"the kernel shape of weight {w.name} must be known at import time")
    nd, dims = _spatial(x, node)
    kernel = _kernel_shape(attrs, w)
    strides = ints(attrs.get("strides", [1] * nd))
    dilations = ints(attrs.get("dilations", [1] * nd))
    out_pad = ints(attrs.get("output_padding", [0] * nd))
    auto = attrs.get("auto_pad", "NOTSET")
    out_shape = attrs.get("output_shape")
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        if None in dims:
            raise OnnxImportError(f"output_shape / auto_pad {auto} needs the spatial dims of {x.name} at import time")
        target = ints(out_shape)[-nd:] if out_shape is not None else [n * s for n, s in zip(dims, strides)]
        begins, ends = [], []
        for i in range(nd):
            total = strides[i] * (dims[i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1 - target[i]
            if total < 0:  # a larger output than the kernel reaches: grow the end through output_padding
                out_pad[i] -= total
                total = 0
            small, big = total // 2, total - total // 2
            begins.append(small if auto == "SAME_UPPER" else big)
            ends.append(big if auto == "SAME_UPPER" else small)
        pads = begins + ends
    elif auto == "VALID":
        pads = [0] * (2 * nd)
    else:
        pads = ints(attrs.get("pads", [0] * (2 * nd)))
    y = gc.conv_transpose(x, w, strides=strides, dilations=dilations, pads=pads, output_padding=out_pad,
                          groups=int(attrs.get("group", 1)))
    return _channel_bias(y, ins[2]) if len(ins) > 2 and ins[2] is not None else y


@converter("MaxPool")
def _max_pool(ctx, node, ins, attrs):
    x = ins[0]
    kernel = ints(attrs["kernel_shape"])
    strides, dilations, pads = _window_attrs(node, attrs, x, kernel)
    ceil = bool(attrs.get("ceil_mode", 0))
    y = gc.max_pool(x, kernel, strides=strides, pads=pads, dilations=dilations, ceil_mode=ceil)
    if len(node.output) > 1 and node.output[1]:
        from graphc.ops.conv import max_pool_indices
        return [y, max_pool_indices(x, kernel, strides=strides, pads=pads, dilations=dilations, ceil_mode=ceil,
                                    storage_order=int(attrs.get("storage_order", 0)))]
    return y


@converter("AveragePool")
def _avg_pool(ctx, node, ins, attrs):
    x = ins[0]
    kernel = ints(attrs["kernel_shape"])
    strides, dilations, pads = _window_attrs(node, attrs, x, kernel)
    return gc.avg_pool(x, kernel, strides=strides, pads=pads, dilations=dilations,
                       ceil_mode=bool(attrs.get("ceil_mode", 0)),
                       count_include_pad=bool(attrs.get("count_include_pad", 0)))


def _lp_power(x, p):
    return gc.pow(gc.abs(x), const(p, x)) if p != 2 else gc.square(x)


@converter("LpPool")
def _lp_pool(ctx, node, ins, attrs):
    x = ins[0]
    kernel = ints(attrs["kernel_shape"])
    strides, dilations, pads = _window_attrs(node, attrs, x, kernel)
    p = float(attrs.get("p", 2))
    # the window sum of |x|^p: a mean over the window with the padding counted (zeros), times its size
    mean = gc.avg_pool(_lp_power(x, p), kernel, strides=strides, pads=pads, dilations=dilations,
                       ceil_mode=bool(attrs.get("ceil_mode", 0)), count_include_pad=True)
    return gc.pow(gc.multiply(mean, const(float(np.prod(kernel)), x)), const(1.0 / p, x))


def _global(ctx, node, x):
    nd = rank_of(x, node) - 2
    return list(range(2, 2 + nd))


@converter("GlobalAveragePool")
def _global_avg(ctx, node, ins, attrs):
    return gc.reduce_mean(ins[0], _global(ctx, node, ins[0]), keepdims=True)


@converter("GlobalMaxPool")
def _global_max(ctx, node, ins, attrs):
    return gc.reduce_max(ins[0], _global(ctx, node, ins[0]), keepdims=True)


@converter("GlobalLpPool")
def _global_lp(ctx, node, ins, attrs):
    x, p = ins[0], float(attrs.get("p", 2))
    s = gc.reduce_sum(_lp_power(x, p), _global(ctx, node, x), keepdims=True)
    return gc.pow(s, const(1.0 / p, x))


@converter("LRN")
def _lrn(ctx, node, ins, attrs):
    x = ins[0]
    rank = rank_of(x, node)
    size = int(attrs["size"])
    alpha, beta, bias = float(attrs.get("alpha", 1e-4)), float(attrs.get("beta", 0.75)), float(attrs.get("bias", 1.0))
    if None in x.shape[1:]:
        raise OnnxImportError(f"LRN needs the channel and spatial dims of {x.name} at import time, got {x.shape}")
    c, rest = x.shape[1], int(np.prod(x.shape[2:]))
    # the sum of squares over a window of channels: a 2-D average pool over (channels, 1) of the
    # squares seen as one-channel images, the padding counted, times the window size
    sq = gc.reshape(gc.square(x), [-1, 1, c, rest])
    lo = (size - 1) // 2
    mean = gc.avg_pool(sq, [size, 1], pads=[lo, 0, size - 1 - lo, 0], count_include_pad=True)
    mean = gc.reshape(mean, [-1] + list(x.shape[1:]))
    del rank
    denom = gc.pow(gc.add(const(bias, x), gc.multiply(const(alpha, x), mean)), const(beta, x))
    return gc.divide(x, denom)


@converter("ConvInteger")
def _conv_integer(ctx, node, ins, attrs):
    # exact in float64 (integers below 2**53), then back to int32 as ONNX specifies
    def centered(t, zp, per_channel):
        t = gc.cast(t, gc.int32)
        if zp is not None:
            z = gc.cast(zp, gc.int32)
            if per_channel and z.shape is not None and len(z.shape) == 1:
                z = gc.reshape(z, [-1] + [1] * (len(t.shape) - 1))
            t = gc.subtract(t, z)
        return gc.cast(t, gc.float64)
    x = centered(ins[0], ins[2] if len(ins) > 2 else None, False)
    w = centered(ins[1], ins[3] if len(ins) > 3 else None, True)
    y = _conv(ctx, node, [x, w], attrs)
    return gc.cast(gc.round(y), gc.int32)
