"""TE lowerings of graphc/ops/blocked.py: the layout conversions to and from the channel-blocked layout
[N, C/B, H, W, B], and conv_blocked, a 2-D conv into that layout over weights packed in panels of B output
channels. Three forms: from a blocked input (group 1: _conv2d_blocked), from a plain NCHW input of few
channels (a network's stem: _conv2d_blocked_nchw), and depthwise (_depthwise_blocked)."""
from tvm import te, tirx, topi

from graphc.ops.conv import spatial_attrs

from ..schedule import kinds
from . import lowering
from .conv import _clamp


@lowering("to_blocked")
def lower_to_blocked(node, x):
    """[N, C, *spatial] -> [N, ceil(C/B), *spatial, B], the last block's padding channels zero."""
    block, c = int(node.attrs["block"]), int(x.shape[1])
    shape = tuple(int(v) for v in node.outputs[0].shape)
    zero = tirx.const(0, x.dtype)

    def value(b, cb, *rest):
        channel = cb * block + rest[-1]
        read = x[(b, _clamp(channel, c)) + tuple(rest[:-1])]
        return read if c % block == 0 else tirx.if_then_else(channel < c, read, zero)
    return te.compute(shape, value, name="to_blocked")


@lowering("from_blocked")
def lower_from_blocked(node, x):
    """[N, C/B, *spatial, B] -> [N, channels, *spatial]."""
    block = int(x.shape[-1])
    shape = tuple(int(v) for v in node.outputs[0].shape)
    return te.compute(shape, lambda b, c, *rest: x[(b, c // block) + tuple(rest) + (c % block,)],
                      name="from_blocked")


@lowering("conv_blocked")
def lower_conv_blocked(node, x, packed):
    """conv_blocked: depthwise, from NCHW, or from blocked, by the input's rank and the `depthwise` attr."""
    k, s, d, p = spatial_attrs(node.attrs, 2, [int(v) for v in packed.shape[2:4]])
    out_shape = tuple(int(v) for v in node.outputs[0].shape)
    if node.attrs.get("depthwise"):
        return _depthwise_blocked(x, packed, k, s, d, p, out_shape)
    if len(x.shape) == 4:
        return _conv2d_blocked_nchw(x, packed, k, s, d, p, out_shape)
    return _conv2d_blocked(x, packed, k, s, d, p, out_shape)


def _pad_spatial(x, p, spatial_axes, name):
    """x zero-padded by pads p (top, left, bottom, right) on its two spatial axes."""
    if not any(p):
        return x
    before = [0] * len(x.shape)
    after = [0] * len(x.shape)
    for i, axis in enumerate(spatial_axes):
        before[axis], after[axis] = p[i], p[2 + i]
    return topi.nn.pad(x, before, after, name=name)


def _conv2d_blocked(x, packed, k, s, d, p, out_shape):
    """Group-1 conv of a blocked input [N, C/B, H, W, B]: out[n, ob, y, x, o] = sum over input channels c and
    kernel offsets (r, t) of in[n, c/B, y*sh + r*dh, x*sw + t*dw, c%B] * packed[ob, c, r, t, o]."""
    xp = _pad_spatial(x, p, (2, 3), "conv_blocked_pad")
    block = int(x.shape[-1])
    c_in = int(packed.shape[1])
    rc = te.reduce_axis((0, c_in), name="rc")
    rr = te.reduce_axis((0, k[0]), name="rr")
    rt = te.reduce_axis((0, k[1]), name="rt")
    return te.compute(out_shape, lambda n, ob, y, xx, o: te.sum(
        xp[n, rc // block, y * s[0] + rr * d[0], xx * s[1] + rt * d[1], rc % block] * packed[ob, rc, rr, rt, o],
        axis=[rc, rr, rt]), name="conv_blocked")


def _conv2d_blocked_nchw(x, packed, k, s, d, p, out_shape):
    """Group-1 conv of a plain input [N, C, H, W] of few channels (a network's stem) into the blocked layout:
    out[n, ob, y, x, o] = sum over (c, r, t) of in[n, c, y*sh + r*dh, x*sw + t*dw, padded] * packed[ob, c, r, t, o],
    each input value one broadcast scalar, read at any stride (no phase split). The zero-padded input is its
    own block (PADDED_ROWS), which the CONV_BLOCKED_NCHW schedule makes per output row (the rows that row
    reads: in L1) instead of a padded copy of the whole image or a bounds test per tap."""
    n, c_in, h, wd = (int(v) for v in x.shape)
    zero = tirx.const(0, x.dtype)

    def padded(b, c, row, column):
        ok = tirx.all(row >= p[0], row < h + p[0], column >= p[1], column < wd + p[1])
        # (no clamped index: a scalar test branches around the read, so the row's inside is a vector copy)
        return tirx.if_then_else(ok, x[b, c, row - p[0], column - p[1]], zero)
    xp = x if not any(p) else te.compute((n, c_in, h + p[0] + p[2], wd + p[1] + p[3]), padded,
                                         name="conv_blocked_rows", attrs={kinds.KEY: kinds.PADDED_ROWS})
    rc = te.reduce_axis((0, c_in), name="rc")
    rr = te.reduce_axis((0, k[0]), name="rr")
    rt = te.reduce_axis((0, k[1]), name="rt")
    return te.compute(out_shape, lambda n, ob, y, xx, o: te.sum(
        xp[n, rc, y * s[0] + rr * d[0], xx * s[1] + rt * d[1]] * packed[ob, rc, rr, rt, o],
        axis=[rc, rr, rt]), name="conv_blocked", attrs={kinds.KEY: kinds.CONV_BLOCKED_NCHW})


def _depthwise_blocked(x, packed, k, s, d, p, out_shape):
    """Depthwise conv of a blocked input: out[n, cb, y, x, l] = sum over kernel offsets (r, t) of
    in[n, cb, y*sh + r*dh, x*sw + t*dw, l] * packed[cb, 0, r, t, l]."""
    xp = _pad_spatial(x, p, (2, 3), "conv_blocked_pad")
    rr = te.reduce_axis((0, k[0]), name="rr")
    rt = te.reduce_axis((0, k[1]), name="rt")
    return te.compute(out_shape, lambda n, cb, y, xx, lane: te.sum(
        xp[n, cb, y * s[0] + rr * d[0], xx * s[1] + rt * d[1], lane] * packed[cb, 0, rr, rt, lane],
        axis=[rr, rt]), name="conv_blocked_depthwise")
