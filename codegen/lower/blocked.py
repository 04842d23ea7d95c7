"""TE lowerings of graphc/ops/blocked.py: the layout conversions to and from the channel-blocked layout
[N, C/B, H, W, B], and conv_blocked, a 2-D conv into that layout over weights packed in panels of B output
channels. Three forms: from a blocked input (group 1: _conv2d_blocked), from a plain NCHW input of few
channels (a network's stem: _conv2d_blocked_nchw), and depthwise (_depthwise_blocked)."""
import tvm
from tvm import te, tirx, topi

from graphc.ops.conv import spatial_attrs

from ..schedule import kinds
from ..target import current_target
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


def _padded_input(x, p):
    """x ([N, C, H, W] or blocked [N, C/B, H, W, B]) zero-padded by pads p (top, left, bottom, right) on H and W: a
    PADDED_INPUT block, which the conv's rule places where the conv reads it (no padded copy of the whole image,
    no bounds test per tap); x itself when p is all zero. Its value tests the bounds around an unclamped read, so
    decompose_padding can split it into a fill and a plain copy."""
    if not any(p):
        return x
    rest = [0] * (len(x.shape) - 4)
    return topi.nn.pad(x, [0, 0, p[0], p[1]] + rest, [0, 0, p[2], p[3]] + rest, name="padded_input",
                       attrs={kinds.KEY: kinds.PADDED_INPUT})


WEIGHT_LOAD_COST = 2  # a weight vector's load against a broadcast input value's: a whole vector, from a panel that
# may exceed the L1 (MobileNetV2's 7x7 1x1 layers: 7 pixels x 1 block ran 1.3-2x faster than 1 pixel x 10 blocks)


def blocked_conv_tile(oh, ow, blocks, registers, weight_registers):
    """(rows, columns, output blocks) of a blocked conv's register tile within `registers` accumulators and
    `weight_registers` weight vectors (a block's vector each, held while the pixels' broadcasts stream), its rows
    dividing OH and its blocks the output blocks, its columns any width (the row then computed wider, up to a
    whole number of tiles): the most multiply-adds per load in a reduction step (a broadcast per pixel, a weight
    vector per block, WEIGHT_LOAD_COST each) times the share of columns not wasted, then the fewest wasted, the
    most accumulators, the widest."""
    def divisors(n):
        return [d for d in range(1, n + 1) if n % d == 0]

    def score(tile):
        ty, tx, r = tile
        wide = -(-ow // tx) * tx
        return (ty * tx * r / (ty * tx + WEIGHT_LOAD_COST * r) * ow / wide, -wide, ty * tx * r, tx)
    return max(((ty, tx, r) for r in divisors(blocks) for ty in divisors(oh) for tx in range(1, min(ow, registers) + 1)
                if ty * tx * r <= registers and r <= weight_registers), key=score)


def _conv2d_blocked(x, packed, k, s, d, p, out_shape):
    """Group-1 conv of a blocked input [N, C/B, H, W, B]: out[n, ob, y, x, o] = sum over input blocks cb, kernel
    offsets (r, t) and lanes l of in[n, cb, y*sh + r*dh, x*sw + t*dw, l] * packed[ob, cb*B + l, r, t, o]. The
    reduction runs over (block, row, column, lane) loops, so no index divides; a padded input is a block of
    its own (_padded_input, kept out of the inner loop). The CONV_BLOCKED rule tiles rows x columns x output blocks in
    registers (blocked_conv_tile, attr conv_tile); rows that are no whole number of tiles are computed wider
    (their extra columns read the last column's input) and cropped by the result, which the epilogue reads."""
    xp = _padded_input(x, p)
    n, blocks, oh, ow, block = out_shape
    target = current_target()
    vectors = max(1, block // target.vector_lanes(tvm.runtime.DataType(str(x.dtype)).bits))  # a block's
    # (the broadcast input value takes one of the registers that are not accumulators)
    spare = target.vector_registers - target.accumulator_registers - 1
    tile = blocked_conv_tile(oh, ow, blocks, max(1, target.accumulator_registers // vectors), max(1, spare // vectors))
    wide = -(-ow // tile[1]) * tile[1]
    rc = te.reduce_axis((0, int(x.shape[1])), name="rc")
    rr = te.reduce_axis((0, k[0]), name="rr")
    rt = te.reduce_axis((0, k[1]), name="rt")
    rl = te.reduce_axis((0, block), name="rl")

    def column(xx):
        return xx if wide == ow else tirx.min(xx, ow - 1)
    c = te.compute((n, blocks, oh, wide, block), lambda b, ob, y, xx, o: te.sum(
        xp[b, rc, y * s[0] + rr * d[0], column(xx) * s[1] + rt * d[1], rl] * packed[ob, rc * block + rl, rr, rt, o],
        axis=[rc, rr, rt, rl]), name="conv_blocked", attrs={kinds.KEY: kinds.CONV_BLOCKED, "conv_tile": list(tile)})
    if wide == ow:
        return c
    return te.compute(out_shape, lambda *i: c[i], name="conv_blocked_crop")


def _conv2d_blocked_nchw(x, packed, k, s, d, p, out_shape):
    """Group-1 conv of a plain input [N, C, H, W] of few channels (a network's stem) into the blocked layout:
    out[n, ob, y, x, o] = sum over (c, r, t) of in[n, c, y*sh + r*dh, x*sw + t*dw, padded] * packed[ob, c, r, t, o],
    each input value one broadcast scalar, read at any stride (no phase split). The zero-padded input
    (_padded_input) the CONV_BLOCKED_NCHW schedule makes per output row (the rows that row reads: in L1)."""
    c_in = int(x.shape[1])
    xp = _padded_input(x, p)
    rc = te.reduce_axis((0, c_in), name="rc")
    rr = te.reduce_axis((0, k[0]), name="rr")
    rt = te.reduce_axis((0, k[1]), name="rt")
    return te.compute(out_shape, lambda n, ob, y, xx, o: te.sum(
        xp[n, rc, y * s[0] + rr * d[0], xx * s[1] + rt * d[1]] * packed[ob, rc, rr, rt, o],
        axis=[rc, rr, rt]), name="conv_blocked", attrs={kinds.KEY: kinds.CONV_BLOCKED_NCHW})


def _depthwise_blocked(x, packed, k, s, d, p, out_shape):
    """Depthwise conv of a blocked input: out[n, cb, y, x, l] = sum over kernel offsets (r, t) of
    in[n, cb, y*sh + r*dh, x*sw + t*dw, l] * packed[cb, 0, r, t, l], the input zero outside its bounds. The
    input is read in place (no padded copy): each bound is its own `likely` test, which the DEPTHWISE_BLOCKED
    schedule's loop partition proves true inside the image, so only the border rows and tiles test."""
    h, w = (int(v) for v in x.shape[2:4])
    rr = te.reduce_axis((0, k[0]), name="rr")
    rt = te.reduce_axis((0, k[1]), name="rt")
    zero = tirx.const(0, x.dtype)

    def tap(n, cb, y, xx, lane):
        iy, ix = y * s[0] + rr * d[0] - p[0], xx * s[1] + rt * d[1] - p[1]
        inside = [c for c, needed in ((iy >= 0, p[0] > 0), (iy < h, _reaches(out_shape[2], s[0], k[0], d[0], p[0], h)),
                                      (ix >= 0, p[1] > 0), (ix < w, _reaches(out_shape[3], s[1], k[1], d[1], p[1], w)))
                  if needed]
        read = x[n, cb, _clamp(iy, h) if inside else iy, _clamp(ix, w) if inside else ix, lane]
        if inside:
            read = tirx.if_then_else(tirx.all(*[tirx.likely(c) for c in inside]), read, zero)
        return read * packed[cb, 0, rr, rt, lane]
    return te.compute(out_shape, lambda *i: te.sum(tap(*i), axis=[rr, rt]), name="conv_blocked_depthwise",
                      attrs={kinds.KEY: kinds.DEPTHWISE_BLOCKED})


def _reaches(out, stride, kernel, dilation, pad_before, size):
    """Whether the last output's window reaches past the input's end (into the padding after it)."""
    return (out - 1) * stride + (kernel - 1) * dilation - pad_before >= size
