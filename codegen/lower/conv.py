"""TE lowerings of graphc/ops/conv.py: convolutions as direct reductions over (input channels of the
group, kernel offsets), pooling as window reductions with the padding tested in the index (no padded
copy). On CPU a 2-D float conv is codegen/schedule/cpu.py's CONV_GEMM block schedule, a depthwise one
its CONV_DEPTHWISE schedule, one with weights packed at compile time (conv_packed) its CONV_DIRECT one."""
import math

import tvm
from tvm import te, tirx, topi

from graphc.ops.conv import pool_output_shape, spatial_attrs

from ..schedule import kinds
from ..schedule.cpu import half_l1_bytes
from ..schedule.deinterleave import PHASES as DEINTERLEAVE_PHASES  # the column stride split by shuffles
from ..target import current_target
from . import ieee, lowering
from .linalg import MR, gemm_tiles


def _clamp(v, hi):
    """`v` kept inside [0, hi): reads under a false if_then_else condition stay in bounds."""
    return tvm.te.max(tvm.te.min(v, hi - 1), 0)


def _padded(x, pads, nd, name):
    if not any(pads):
        return x
    return topi.nn.pad(x, [0, 0] + list(pads[:nd]), [0, 0] + list(pads[nd:]), name=name)


GEMM_MIN_MACS = 1 << 16  # below this the direct loop nest is as fast and compiles quicker


@lowering("conv")
def lower_conv(node, x, w):
    """N-d grouped, strided, dilated, padded conv in NC... layout: a 2-D float conv with enough work is the
    float32 implicit-im2col GEMM (_conv2d_gemm, scheduled as CONV_GEMM); any other a direct reduction."""
    nd = len(x.shape) - 2
    groups = int(node.attrs.get("groups", 1))
    k, s, d, p = spatial_attrs(node.attrs, nd, [int(v) for v in w.shape[2:]])
    out_shape = tuple(node.outputs[0].shape)
    macs = math.prod(out_shape) * math.prod(int(v) for v in w.shape[1:])
    if _uses_conv_gemm(nd, groups, x.dtype, macs):
        if _uses_conv_1x1(k, s, p, out_shape, int(x.shape[1]), x.dtype):
            return _conv2d_1x1(x, w, out_shape)
        return _conv2d_gemm(x, w, k, s, d, p, out_shape)
    if nd == 2 and int(w.shape[1]) == 1 and groups == int(x.shape[1]) and str(x.dtype) == "float32":
        return _conv2d_depthwise(x, w, k, s, d, p, out_shape)
    cig, cog = int(w.shape[1]), int(w.shape[0]) // groups
    xp = _padded(x, p, nd, "conv_pad")
    rc = te.reduce_axis((0, cig), name="rc")
    rk = [te.reduce_axis((0, k[i]), name=f"rk{i}") for i in range(nd)]

    def product(n, o, *sp):
        c = rc if groups == 1 else (o // cog) * cig + rc
        xi = (n, c) + tuple(sp[i] * s[i] + rk[i] * d[i] for i in range(nd))
        return te.sum(xp[xi] * w[(o, rc) + tuple(rk)], axis=[rc] + rk)
    return te.compute(out_shape, product, name="conv",
                      attrs={"conv_groups": groups, "conv_strides": s, "conv_dilations": d})


def _tile_columns(wide):
    """Register-tile width for `wide` output columns, in whole float32 vectors of the target: as many as
    the accumulator registers hold for MR rows (3 AVX2 vectors = 24 columns, 4 AVX-512 vectors = 64: more
    accumulators hide the FMA latency), unless padding to it costs over 5% more columns than 2 vectors."""
    target = current_target()
    lanes = target.vector_lanes(32)
    wide_nr = lanes * max(2, min(4, target.accumulator_registers // MR))
    narrow_nr = lanes * 2
    pad = {nr: -(-wide // nr) * nr for nr in (wide_nr, narrow_nr)}
    return wide_nr if pad[wide_nr] <= 1.05 * pad[narrow_nr] else narrow_nr


def _phase_planes(x, k, st, d, p, cols, fill=None):
    """The padded input of a 2-D conv as flat phase planes ("conv_pad_pack", kind CONV_PLANES), so that the
    conv's reads over a "wide" output grid of OH x Wq columns are contiguous runs.

    The padded input is split into stride x stride phases (one flat, zero-extended row-major plane
    each), and the output computed over OH x Wq columns (Wq the phase width; the last Wq - OW of each
    row are discarded). The input read by kernel offset (r, t) at wide column j is then plane
    phase(r, t) at j + offset(r, t). Returns (planes [N, C, phases, length], Wq, phase(r, t), offset(r, t));
    `cols` (a multiple of the register tile, >= OH * Wq) is how many wide columns the conv computes;
    `fill` (default 0) is the value of the padding."""
    c_in, (h, wd) = int(x.shape[1]), (int(x.shape[2]), int(x.shape[3]))
    n = int(x.shape[0])
    sh, sw = st
    hq, wq, ph_h, ph_w, phase, offset = _phase_grid(x, k, st, d, p)
    # whole rows: the copy's schedule loops over (row, column)
    length = -(-(cols + offset(k[0] - 1, k[1] - 1)) // wq) * wq
    zero = tirx.const(0, x.dtype) if fill is None else fill

    def phase_plane(b, c, ph, i):
        row = (i // wq) * sh + ph // ph_w - p[0]
        col = (i % wq) * sw + ph % ph_w - p[1]
        ok = tirx.all(i < hq * wq, row >= 0, row < h, col >= 0, col < wd)
        return tirx.if_then_else(ok, x[b, c, _clamp(row, h), _clamp(col, wd)], zero)
    xf = te.compute((n, c_in, ph_h * ph_w, length), phase_plane, name="conv_pad_pack",
                    attrs={kinds.KEY: kinds.CONV_PLANES, "plane_width": wq})
    return xf, wq, phase, offset


def _phase_grid(x, k, st, d, p, width=None):
    """The phase planes' geometry for a 2-D input `x` padded by `p`: (Hq, Wq) rows and width of a plane,
    the row and column phases some kernel offset reads (one for a 1x1 kernel, whatever the stride), and
    phase(r, t), offset(r, t): the plane and the flat offset in it that kernel offset (r, t) reads.
    `width`: planes wider than the padded input needs (Wq), e.g. whole vectors."""
    (h, wd), (sh, sw) = (int(x.shape[2]), int(x.shape[3])), st
    hq, wq = -(-(h + p[0] + p[2]) // sh), width or -(-(wd + p[1] + p[3]) // sw)
    ph_h, ph_w = min(sh, (k[0] - 1) * d[0] + 1), min(sw, (k[1] - 1) * d[1] + 1)

    def phase(r, t):
        return ((r * d[0]) % sh) * ph_w + (t * d[1]) % sw

    def offset(r, t):
        return ((r * d[0]) // sh) * wq + (t * d[1]) // sw
    return hq, wq, ph_h, ph_w, phase, offset


def _wide_grid(x, st, p, oh, nr):
    """(Wq, wide columns): the phase width and OH x Wq rounded up to whole `nr`-column tiles."""
    wq = -(-(int(x.shape[3]) + p[1] + p[3]) // st[1])
    return wq, -(-(oh * wq) // nr) * nr


def _conv2d_gemm(x, w, k, st, d, p, out_shape):
    """2-D conv as a GEMM, W (C_out x C_in*kh*kw) times the im2col matrix, with no im2col copy: the
    im2col entry of kernel offset (r, t) and wide column j is a contiguous run of a phase plane
    (_phase_planes; at column stride 2 _deinterleaved_planes), which the micro-kernel ("conv_gemm" rule)
    streams in place."""
    n, c_out, oh, ow = out_shape
    c_in = int(x.shape[1])
    kh, kw = k
    split_wq = _deinterleaved_width(x, k, st, d, p)
    wq = split_wq or _wide_grid(x, st, p, oh, 1)[0]
    nr = _tile_columns(oh * wq)
    cols = -(-(oh * wq) // nr) * nr
    if split_wq:
        xf, phase, offset = _deinterleaved_planes(x, k, st, d, p, cols, wq)
    else:
        xf, wq, phase, offset = _phase_planes(x, k, st, d, p, cols)
    zero = tirx.const(0, x.dtype)
    mr, mp = gemm_tiles(c_out)
    if mp != c_out:
        w = te.compute((mp, c_in, kh, kw), lambda o, c, r, t: tirx.if_then_else(
            o < c_out, w[_clamp(o, c_out), c, r, t], zero), name="conv_weight_pack",
                    attrs={kinds.KEY: kinds.PACK})
    rc = te.reduce_axis((0, c_in), name="rc")
    rr = te.reduce_axis((0, kh), name="rr")
    rt = te.reduce_axis((0, kw), name="rt")

    def product(b, o, j):
        return te.sum(w[o, rc, rr, rt] * xf[b, rc, phase(rr, rt), j + offset(rr, rt)], axis=[rc, rr, rt])
    c = te.compute((n, mp, cols), product, name="conv_gemm",
                   attrs={kinds.KEY: kinds.CONV_GEMM, "gemm_mr": mr, "gemm_nr": nr})
    return te.compute(out_shape, lambda b, o, y, xx: c[b, o, y * wq + xx], name="conv")


@lowering("conv_packed")
def lower_conv_packed(node, x, packed):
    """conv of weights packed at compile time into output-channel panels (passes/pack_conv_weights.py):
    the direct conv (_conv2d_direct)."""
    k, s, d, p = spatial_attrs(node.attrs, 2, [int(v) for v in packed.shape[2:4]])
    return _conv2d_direct(x, packed, k, s, d, p, tuple(node.outputs[0].shape))


DIRECT_PAD_FRACTION = 0.125  # padding pixels a wider direct-conv tile may cost before a narrower one is taken
# (ResNet-18's 7x7 layers: 6-pixel tiles, 54 pixels for 49, beat 5-pixel ones, 50 for 49, by 5%: fewer
# accumulators hide less of the FMA latency)
DIRECT_1X1_PAD_FRACTION = 0.0  # for 1x1 kernels the tile that pads least: MobileNetV2's 7x7 1x1 layers measured
# 10-25% faster as 5-pixel tiles (50 pixels for 49) than as 6-pixel ones (54)


def _direct_pixels(pixels, vectors, pad_fraction=DIRECT_PAD_FRACTION):
    """Output pixels per direct-conv register tile: as many as the accumulator registers hold beside
    `vectors` vectors of channels each, down to half that, the widest that pads `pixels` by at most
    `pad_fraction`, else the one that pads least."""
    most = max(1, current_target().accumulator_registers // vectors)
    options = range(most, max(1, most // 2) - 1, -1)
    padded = {t: -(-pixels // t) * t for t in options}
    fits = [t for t in options if padded[t] <= (1 + pad_fraction) * pixels]
    return fits[0] if fits else min(options, key=lambda t: (padded[t], -t))


def _conv2d_direct(x, packed, k, st, d, p, out_shape):
    """2-D conv vectorized over output channels: the weights come packed in panels of NR channels
    [C_out/NR, C_in, kh, kw, NR], the output pixels are flattened (y * OW + x, no padding columns) and
    tiled by `conv_pixels`; a register tile (pixels x NR channels) accumulates over (channel, kernel row,
    kernel column) a broadcast input value times NR/lanes weight vectors ("conv_direct" rule). The input
    is read from one zero-padded flat plane per channel (_phase_planes at stride 1, so any stride reads
    it in place); the result, blocked [N, C_out/NR, pixels, NR], is unblocked into NCHW by the fused
    epilogue, a vectorized pass over flat pixels."""
    n, c_out, oh, ow = out_shape
    blocks, c_in, kh, kw, nr = (int(v) for v in packed.shape)
    lanes = current_target().vector_lanes(tvm.runtime.DataType(str(x.dtype)).bits)
    px = _direct_pixels(oh * ow, max(1, nr // lanes),
                        DIRECT_1X1_PAD_FRACTION if (kh, kw) == (1, 1) else DIRECT_PAD_FRACTION)
    qp = -(-(oh * ow) // px) * px
    wq = int(x.shape[3]) + p[1] + p[3]
    rows = (qp - 1) // ow * st[0] + 1  # plane rows the padded tail pixels still start in
    xf, wq, _, offset = _phase_planes(x, k, (1, 1), d, p, rows * wq)
    rc = te.reduce_axis((0, c_in), name="rc")
    rr = te.reduce_axis((0, kh), name="rr")
    rt = te.reduce_axis((0, kw), name="rt")

    def product(b, ob, q, oi):
        at = (q // ow) * (st[0] * wq) + (q % ow) * st[1] + offset(rr, rt)
        return te.sum(xf[b, rc, 0, at] * packed[ob, rc, rr, rt, oi], axis=[rc, rr, rt])
    c = te.compute((n, blocks, qp, nr), product, name="conv_direct",
                   attrs={kinds.KEY: kinds.CONV_DIRECT, "conv_pixels": px})
    return te.compute(out_shape, lambda b, o, y, xx: c[b, o // nr, y * ow + xx, o % nr], name="conv")


def _conv2d_1x1(x, w, out_shape):
    """A 1x1 stride-1 unpadded conv as a plain GEMM, W (C_out x C_in) times the input read in place as
    C_in x H*W (no wide grid; pixels that are no whole number of register tiles are first copied into
    zero-extended flat planes), scheduled as a register-tiled GEMM with its epilogue (bias, activation,
    residual) per tile ("conv_1x1" rule)."""
    n, c_out, oh, ow = out_shape
    nr = current_target().gemm_panel_width
    mr, mp = gemm_tiles(c_out)  # MR rows: for these short (small C_in) products faster than taller tiles
    if mp != c_out:
        w = te.compute((mp, int(x.shape[1]), 1, 1), lambda o, c, r, t: tirx.if_then_else(
            o < c_out, w[_clamp(o, c_out), c, 0, 0], tirx.const(0, x.dtype)), name="conv_weight_pack",
                    attrs={kinds.KEY: kinds.PACK})
    cols = -(-(oh * ow) // nr) * nr
    if cols == oh * ow:
        def pixel(b, c, j):
            return x[b, c, j // ow, j % ow]
    else:
        xf, _, _, _ = _phase_planes(x, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), cols)

        def pixel(b, c, j):
            return xf[b, c, 0, j]
    rc = te.reduce_axis((0, int(x.shape[1])), name="rc")
    c = te.compute((n, mp, cols), lambda b, o, j: te.sum(w[o, rc, 0, 0] * pixel(b, rc, j), axis=rc),
                   name="conv_1x1", attrs={kinds.KEY: kinds.CONV_1X1, "gemm_mr": mr, "gemm_nr": nr})
    return te.compute(out_shape, lambda b, o, y, xx: c[b, o, y * ow + xx], name="conv")


def _uses_conv_1x1(k, s, p, out_shape, c_in, dtype):
    """Whether a conv takes _conv2d_1x1: 1x1, stride 1, unpadded, and its pixels whole GEMM register tiles
    or a tile's input (C_in x NR) within half the L1, which every tile of output channels rereads
    (MobileNetV2's 14x14 expansions, 64 and 96 channels in, measured 10-15% faster so; its 384- and
    576-channel projections slower: they keep the wide grid of _conv2d_gemm)."""
    target = current_target()
    nr, pixels = target.gemm_panel_width, out_shape[2] * out_shape[3]
    column_bytes = c_in * nr * tvm.runtime.DataType(str(dtype)).bits // 8
    return tuple(k) == (1, 1) and tuple(s) == (1, 1) and not any(p) and \
        (pixels % nr == 0 or column_bytes <= half_l1_bytes(target))


DEPTHWISE_MAX_VECTORS = 4  # accumulator vectors per depthwise tile: enough independent FMAs to hide latency


def _depthwise_columns(wide):
    """Wide output columns per depthwise register tile: whole float32 vectors of the target, up to
    DEPTHWISE_MAX_VECTORS, fewer where padding `wide` up to the tile would waste over 10%."""
    lanes = current_target().vector_lanes(32)
    for vectors in range(DEPTHWISE_MAX_VECTORS, 1, -1):
        if -(-wide // (vectors * lanes)) * vectors * lanes <= 1.1 * wide:
            return vectors * lanes
    return lanes


def _stencil_planes(x, k, st, d, p, oh, fill=None):
    """The phase planes of a stencil over whole vectors of wide columns (as _phase_planes, 2-D: _row_planes):
    returns (planes, Wq, phase, offset, NR, wide columns); output column xx is wide column y * Wq + xx. Column
    stride 2 reads two column phases (even and odd input columns), so no computed column is discarded."""
    split_wq = _deinterleaved_width(x, k, st, d, p)
    wq = split_wq or _wide_grid(x, st, p, oh, 1)[0]
    nr = _depthwise_columns(oh * wq)
    cols = -(-(oh * wq) // nr) * nr
    if split_wq:
        planes, phase, offset = _deinterleaved_planes(x, k, st, d, p, cols, wq, fill)
    else:
        planes, wq, phase, offset = _row_planes(x, k, st, d, p, cols, fill)
    return planes, wq, phase, offset, nr, cols


DEINTERLEAVE_MAX_WIDTH = 1.15  # how much wider than Wq whole-vector planes may be (wide columns computed in vain)
DEINTERLEAVE_MIN_VECTORS = 4  # narrower planes are copied faster by the one strided copy (per-row overheads):
# MobileNetV2's 15- and 8-column planes (28x28, 14x14 inputs) measured 10-20% slower split, 64 and 32 faster


def _deinterleaved_width(x, k, st, d, p):
    """The plane width (whole vectors) at which _deinterleaved_planes makes the phase planes of this stride-2
    window, or None where the strided copy serves: other strides, windows that skip a column phase, planes
    narrower than DEINTERLEAVE_MIN_VECTORS vectors or wider than Wq by over DEINTERLEAVE_MAX_WIDTH."""
    wq = _phase_grid(x, k, st, d, p)[1]
    lanes = current_target().vector_lanes(tvm.runtime.DataType(str(x.dtype)).bits)
    width = -(-wq // lanes) * lanes
    both = {(t * d[1]) % st[1] for t in range(k[1])} == set(range(st[1]))  # taps in every column phase
    wide = DEINTERLEAVE_MIN_VECTORS * lanes <= width <= DEINTERLEAVE_MAX_WIDTH * wq
    if both and wide and st[1] == DEINTERLEAVE_PHASES:
        return width
    return None


def _deinterleaved_planes(x, k, st, d, p, cols, wq, fill=None):
    """_row_planes for stride-2 columns (_deinterleaved_width), made by two vectorized copies instead of a
    strided one: the input padded at stride 1 ("stencil_pad", STENCIL_PLANES: rows x stride * Wq), then its
    rows split into the column phases, `lanes` columns of each at a time ("stencil_phases", STENCIL_PHASES,
    which the schedule turns into vector shuffles). `wq` is a whole number of vectors. Returns (flat plane
    reader, phase(r, t), offset(r, t))."""
    n, c_in, h, wd = (int(v) for v in x.shape)
    sh, sw = st
    lanes = current_target().vector_lanes(tvm.runtime.DataType(str(x.dtype)).bits)
    _, _, ph_h, ph_w, phase, offset = _phase_grid(x, k, st, d, p, wq)
    rows = -(-(cols + offset(k[0] - 1, k[1] - 1)) // wq)
    zero = tirx.const(0, x.dtype) if fill is None else fill

    def padded(b, c, row, column):
        ok = tirx.all(row >= p[0], row < h + p[0], column >= p[1], column < wd + p[1])
        return tirx.if_then_else(ok, x[b, c, _clamp(row - p[0], h), _clamp(column - p[1], wd)], zero)
    xp = te.compute((n, c_in, rows * sh, wq * sw), padded, name="stencil_pad",
                    attrs={kinds.KEY: kinds.STENCIL_PLANES, "pad_before": [int(p[0]), int(p[1])]})
    planes = te.compute((n, c_in, ph_h, ph_w, rows, wq),
                        lambda b, c, pr, pc, r, col: xp[b, c, r * sh + pr, col * sw + pc], name="stencil_phases",
                        attrs={kinds.KEY: kinds.STENCIL_PHASES, "phase_lanes": lanes})
    return _FlatPlanes(planes, wq, ph_w), phase, offset


def _row_planes(x, k, st, d, p, cols, fill=None):
    """_phase_planes with each plane 2-D (rows, Wq) ("stencil_pad", kind STENCIL_PLANES): the padding is then a
    range of rows and columns, which the schedule fills apart from a vectorized copy of the inside. Returns
    (flat plane reader (b, c, phase, index), Wq, phase(r, t), offset(r, t))."""
    n, c_in, h, wd = (int(v) for v in x.shape)
    sh, sw = st
    hq, wq, ph_h, ph_w, phase, offset = _phase_grid(x, k, st, d, p)
    rows = -(-(cols + offset(k[0] - 1, k[1] - 1)) // wq)
    zero = tirx.const(0, x.dtype) if fill is None else fill

    def plane(b, c, pr, pc, r, col):
        row, column = r * sh + pr - p[0], col * sw + pc - p[1]
        ok = tirx.all(r < hq, row >= 0, row < h, column >= 0, column < wd)
        return tirx.if_then_else(ok, x[b, c, row, column], zero)
    xp = te.compute((n, c_in, ph_h, ph_w, rows, wq), plane, name="stencil_pad",
                    attrs={kinds.KEY: kinds.STENCIL_PLANES})
    return _FlatPlanes(xp, wq, ph_w), wq, phase, offset


class _FlatPlanes:
    """Reads 2-D planes [..., row phase, column phase, rows, Wq] at a phase and flat index (row * Wq + column),
    as _phase_planes' planes."""

    def __init__(self, planes, wq, ph_w):
        self.planes, self.wq, self.ph_w = planes, wq, ph_w

    def __getitem__(self, idx):
        *lead, ph, i = idx
        return self.planes[tuple(lead) + (ph // self.ph_w, ph % self.ph_w, i // self.wq, i % self.wq)]


def _conv2d_depthwise(x, w, k, st, d, p, out_shape):
    """A 2-D depthwise conv (one input channel per group) as a stencil over the flat phase planes
    (_stencil_planes): per output channel, a tile of whole vectors of wide columns accumulates the kh x kw
    taps in registers, each tap one broadcast weight times a contiguous run ("conv_depthwise" rule)."""
    n, c_out, oh, ow = out_shape
    multiplier = c_out // int(x.shape[1])
    kh, kw = k
    xf, wq, phase, offset, nr, cols = _stencil_planes(x, k, st, d, p, oh)
    rr = te.reduce_axis((0, kh), name="rr")
    rt = te.reduce_axis((0, kw), name="rt")

    def product(b, o, j):
        return te.sum(w[o, 0, rr, rt] * xf[b, o // multiplier, phase(rr, rt), j + offset(rr, rt)], axis=[rr, rt])
    c = te.compute((n, c_out, cols), product, name="conv_depthwise",
                   attrs={kinds.KEY: kinds.CONV_DEPTHWISE, "gemm_nr": nr})
    return te.compute(out_shape, lambda b, o, y, xx: c[b, o, y * wq + xx], name="conv")


def _transposed_sum(in_sizes, k, s, d, pb, value, dtype, extra_axes=()):
    """sum over kernel offsets rk (and `extra_axes`) of value(rk, q) where q = (i + pb - rk*d) / s is a
    whole in-range output position; i is the index of the result along each spatial dim."""
    nd = len(k)
    rk = [te.reduce_axis((0, k[j]), name=f"rk{j}") for j in range(nd)]

    def at(i):
        ts = [i[j] + pb[j] - rk[j] * d[j] for j in range(nd)]
        conds = []
        for j in range(nd):
            conds.append(ts[j] >= 0)
            if s[j] > 1:
                conds.append(tirx.floormod(ts[j], s[j]) == 0)
            conds.append(tirx.floordiv(ts[j], s[j]) < in_sizes[j])
        q = [_clamp(tirx.floordiv(ts[j], s[j]), in_sizes[j]) for j in range(nd)]
        v = value(rk, q)
        return te.sum(tirx.if_then_else(tirx.all(*conds), v, tirx.const(0, dtype)), axis=list(extra_axes) + rk)
    return at


def _uses_conv_gemm(nd, groups, dtype, macs):
    """Whether a 2-D conv-like product is big and plain enough for the conv GEMM micro-kernel."""
    return nd == 2 and groups == 1 and str(dtype) == "float32" and macs >= GEMM_MIN_MACS


def _conv_transpose_as_conv(x, w, k, s, d, p, out_shape):
    """conv_transpose (a conv's input gradient) as the conv GEMM, or None when the pads do not allow it:
    a stride-1 conv with the kernel flipped and its channel axes swapped, over the input with s - 1 zeros
    between neighbours (stride > 1) and padded by d*(k-1) - p, so out[i] = sum_r x[(i + p - r*d) / s] w[r]."""
    n, c, h, wd = (int(v) for v in x.shape)
    c_out, (kh, kw) = int(w.shape[1]), k
    dilated = [(h - 1) * s[0] + 1, (wd - 1) * s[1] + 1]
    begin = [d[i] * (k[i] - 1) - p[i] for i in range(2)]
    end = [int(out_shape[2 + i]) - dilated[i] - begin[i] + d[i] * (k[i] - 1) for i in range(2)]
    if min(begin + end) < 0:
        return None
    if tuple(s) != (1, 1):
        zero = tirx.const(0, x.dtype)
        src = x
        x = te.compute((n, c) + tuple(dilated), lambda b, ch, i, j: tirx.if_then_else(
            tirx.all(i % s[0] == 0, j % s[1] == 0), src[b, ch, i // s[0], j // s[1]], zero),
            name="conv_transpose_dilate")
    flipped = te.compute((c_out, c, kh, kw), lambda o, ci, r, t: w[ci, o, kh - 1 - r, kw - 1 - t],
                         name="conv_transpose_flip")
    return _conv2d_gemm(x, flipped, k, (1, 1), d, begin + end, out_shape)


WGRAD_MAX_KW = 8  # kernel columns the weight-gradient micro-kernel unrolls (one accumulator row each)


def _weight_grad_columns(kw, c_out):
    """Output channels per weight-gradient register tile: whole vectors, as many as the vector registers
    hold for kw accumulator rows (4 registers kept for the broadcast input and the dy loads)."""
    target = current_target()
    lanes = target.vector_lanes(32)
    vectors = max(1, min(4, target.accumulator_registers // kw, -(-c_out // lanes)))
    return vectors * lanes


def _conv2d_weight_grad_gemm(x, dy, k, s, d, p, out_shape):
    """The 2-D conv weight gradient as a GEMM: for each input channel c and kernel offset (r, t), the
    C_out-long row dW[:, c, r, t] = sum over (batch, output rows, output columns) of x at the offset times
    dy's pixel, with dy repacked pixel-major (C_out contiguous, in NR-wide panels) and x padded once, so
    the micro-kernel ("conv_wgrad_gemm" rule: the kw offsets of a kernel row times NR channels in
    registers) reads one broadcast and NR/lanes vectors per step, without bounds tests."""
    n, c_in, h, wd = (int(v) for v in x.shape)
    _, c_out, oh, ow = (int(v) for v in dy.shape)
    kh, kw = k
    zero = tirx.const(0, x.dtype)
    hp, wp = h + p[0] + p[2], wd + p[1] + p[3]
    xp = te.compute((n, c_in, hp, wp), lambda b, c, i, j: tirx.if_then_else(
        tirx.all(i >= p[0], i < h + p[0], j >= p[1], j < wd + p[1]),
        x[b, c, _clamp(i - p[0], h), _clamp(j - p[1], wd)], zero), name="conv_wgrad_x_pack",
        attrs={kinds.KEY: kinds.PACK})
    nr = _weight_grad_columns(kw, c_out)
    cols = -(-c_out // nr) * nr
    dyt = te.compute((n, oh, ow, cols), lambda b, y, xx, o: tirx.if_then_else(
        o < c_out, dy[b, _clamp(o, c_out), y, xx], zero), name="conv_wgrad_dy_pack",
        attrs={kinds.KEY: kinds.PACK})
    rn = te.reduce_axis((0, n), name="rn")
    ry = te.reduce_axis((0, oh), name="ry")
    rx = te.reduce_axis((0, ow), name="rx")

    def product(c, r, t, o):
        return te.sum(xp[rn, c, ry * s[0] + r * d[0], rx * s[1] + t * d[1]] * dyt[rn, ry, rx, o],
                      axis=[rn, ry, rx])
    g = te.compute((c_in, kh, kw, cols), product, name="conv_wgrad_gemm",
                   attrs={kinds.KEY: kinds.CONV_WGRAD_GEMM, "gemm_nr": nr})
    return te.compute(out_shape, lambda o, c, r, t: g[c, r, t, o], name="conv_weight_grad")


@lowering("conv_transpose")
def lower_conv_transpose(node, x, w, like=None):
    nd = len(x.shape) - 2
    groups = int(node.attrs.get("groups", 1))
    k, s, d, p = spatial_attrs(node.attrs, nd, [int(v) for v in w.shape[2:]])
    out_shape = tuple(node.outputs[0].shape)
    if _uses_conv_gemm(nd, groups, x.dtype, math.prod(out_shape) * math.prod(int(v) for v in w.shape[:1] + w.shape[2:])):
        gemm = _conv_transpose_as_conv(x, w, k, s, d, p, out_shape)
        if gemm is not None:
            return gemm
    cig, cog = int(w.shape[0]) // groups, int(w.shape[1])
    in_sizes = [int(v) for v in x.shape[2:]]
    rc = te.reduce_axis((0, cig), name="rc")

    def product(n, o, *sp):
        c = rc if groups == 1 else (o // cog) * cig + rc
        oo = o if groups == 1 else o % cog
        return _transposed_sum(in_sizes, k, s, d, p[:nd],
                               lambda rk, q: x[(n, c) + tuple(q)] * w[(c, oo) + tuple(rk)], x.dtype, (rc,))(sp)
    return te.compute(out_shape, product, name="conv_transpose")


@lowering("conv_weight_grad")
def lower_conv_weight_grad(node, x, dy):
    nd = len(x.shape) - 2
    groups = int(node.attrs.get("groups", 1))
    k, s, d, p = spatial_attrs(node.attrs, nd)
    out_shape = tuple(node.outputs[0].shape)
    if _uses_conv_gemm(nd, groups, x.dtype, math.prod(out_shape) * math.prod(int(v) for v in dy.shape[:1] + dy.shape[2:])) \
            and k[-1] <= WGRAD_MAX_KW:
        return _conv2d_weight_grad_gemm(x, dy, k, s, d, p, out_shape)
    cig, cog = int(x.shape[1]) // groups, int(dy.shape[1]) // groups
    xp = _padded(x, p, nd, "conv_pad")
    rn = te.reduce_axis((0, int(x.shape[0])), name="rn")
    rp = [te.reduce_axis((0, int(dy.shape[2 + i])), name=f"rp{i}") for i in range(nd)]

    def product(o, c, *kk):
        ci = c if groups == 1 else (o // cog) * cig + c
        xi = (rn, ci) + tuple(rp[i] * s[i] + kk[i] * d[i] for i in range(nd))
        return te.sum(xp[xi] * dy[(rn, o) + tuple(rp)], axis=[rn] + rp)
    return te.compute(out_shape, product, name="conv_weight_grad")


# ---- pooling ------------------------------------------------------------------------------------
def _pool_params(node, x_shape):
    nd = len(x_shape) - 2
    k, s, d, p = spatial_attrs(node.attrs, nd)
    return nd, k, s, d, p, [int(v) for v in x_shape[2:]]


def _window_reads(x, nd, k, s, d, p, in_sizes, n, c, sp, rk):
    """(value of x at the window element, whether it is inside x) for output position sp, offset rk."""
    pos = [sp[i] * s[i] - p[i] + rk[i] * d[i] for i in range(nd)]
    inside = tirx.all(*[tirx.And(pos[i] >= 0, pos[i] < in_sizes[i]) for i in range(nd)])
    return x[(n, c) + tuple(_clamp(pos[i], in_sizes[i]) for i in range(nd))], inside


def _window_count(node, nd, k, s, d, p, in_sizes, sp, dtype):
    """How many elements of output sp's window the average divides by (closed form per dim)."""
    include = bool(node.attrs.get("count_include_pad", False))
    total = None
    for i in range(nd):
        lo, hi = (-p[i], in_sizes[i] + p[nd + i]) if include else (0, in_sizes[i])
        start = sp[i] * s[i] - p[i]
        first = tvm.te.max(0, tirx.floordiv(lo - start + d[i] - 1, d[i]))
        last = tvm.te.min(k[i] - 1, tirx.floordiv(hi - 1 - start, d[i]))
        cnt = tvm.te.max(last - first + 1, 0)
        total = cnt if total is None else total * cnt
    return tirx.Cast(dtype, total)


def _argmax_reducer():
    def combine(a, b):
        take_a = tirx.Or(a[1] > b[1], tirx.And(a[1] == b[1], a[0] < b[0]))
        return tirx.Select(take_a, a[0], b[0]), tirx.Select(take_a, a[1], b[1])

    def identity(t_idx, t_val):
        return tirx.const(2 ** 30, t_idx), tvm.te.min_value(t_val)
    return te.comm_reducer(combine, identity, name="window_argmax")


def _flat(rk, k):
    idx = rk[0]
    for j in range(1, len(k)):
        idx = idx * k[j] + rk[j]
    return idx


def _nan_highest(v, dtype):
    """(v or, for floats, its order key where NaN is the largest, the lowest value of that type)."""
    if not ieee.is_float(dtype):
        return v, tvm.te.min_value(dtype)
    return ieee.order_key(v, dtype), ieee.order_key(tvm.te.min_value(dtype), dtype)


def _window_argmax(x, node, attrs=None):
    """(flat kernel offset of the first maximum (the first NaN), the maximum or its key) of every window;
    `attrs` annotate the block."""
    nd, k, s, d, p, in_sizes = _pool_params(node, x.shape)
    out_shape = tuple(x.shape[:2]) + tuple(_out_spatial(node, x.shape))
    rk = [te.reduce_axis((0, k[i]), name=f"rk{i}") for i in range(nd)]
    reducer = _argmax_reducer()

    def body(n, c, *sp):
        v, inside = _window_reads(x, nd, k, s, d, p, in_sizes, n, c, sp, rk)
        v, low = _nan_highest(v, x.dtype)
        v = tirx.if_then_else(inside, v, low)
        return reducer((tirx.Cast("int32", _flat(rk, k)), v), axis=rk)
    idx, val = te.compute(out_shape, body, name="max_pool_argmax", attrs=attrs)
    return idx, val


def _out_spatial(node, x_shape):
    return pool_output_shape(node.attrs, [int(v) for v in x_shape])


def _nan_max_reducer():
    """max over float32 that keeps a NaN: the accumulator is NaN only if a value was, and `acc < v` is
    false for a NaN accumulator, so only the new value needs the NaN test. Identity -inf."""
    def combine(acc, v):
        return tirx.Select(ieee.isnan(v), v, tirx.Select(acc < v, v, acc))
    return te.comm_reducer(combine, lambda t: tirx.const(float("-inf"), t), name="nan_max")


def _windows_inside_padding(k, s, d, p, in_sizes, out_sizes):
    """Whether every pooling window ends inside the padded input (no ceil_mode window past the end)."""
    nd = len(k)
    return all((out_sizes[i] - 1) * s[i] + (k[i] - 1) * d[i] < in_sizes[i] + p[i] + p[nd + i] for i in range(nd))


def _max_pool2d_stencil(x, k, s, d, p, out_shape):
    """2-D float max pool as the depthwise stencil (_stencil_planes, padded with -inf) with a NaN-keeping
    max in place of the multiply-add: contiguous vector runs instead of a per-element bounds test."""
    n, c, oh, ow = out_shape
    xf, wq, phase, offset, nr, cols = _stencil_planes(x, k, s, d, p, oh, tirx.const(float("-inf"), x.dtype))
    rr = te.reduce_axis((0, k[0]), name="rr")
    rt = te.reduce_axis((0, k[1]), name="rt")
    nan_max = _nan_max_reducer()
    m = te.compute((n, c, cols), lambda b, ch, j: nan_max(xf[b, ch, phase(rr, rt), j + offset(rr, rt)], axis=[rr, rt]),
                   name="max_pool_stencil", attrs={kinds.KEY: kinds.CONV_DEPTHWISE, "gemm_nr": nr})
    return te.compute(out_shape, lambda b, ch, y, xx: m[b, ch, y * wq + xx], name="max_pool")


@lowering("max_pool")
def lower_max_pool(node, x):
    nd, k, s, d, p, in_sizes = _pool_params(node, x.shape)
    out_shape = tuple(node.outputs[0].shape)
    if nd == 2 and str(x.dtype) == "float32" and _windows_inside_padding(k, s, d, p, in_sizes, out_shape[2:]):
        return _max_pool2d_stencil(x, k, s, d, p, out_shape)
    rk = [te.reduce_axis((0, k[i]), name=f"rk{i}") for i in range(nd)]

    def body(n, c, *sp):
        v, inside = _window_reads(x, nd, k, s, d, p, in_sizes, n, c, sp, rk)
        v, low = _nan_highest(v, x.dtype)
        return te.max(tirx.if_then_else(inside, v, low), axis=rk)
    out = te.compute(tuple(node.outputs[0].shape), body, name="max_pool")
    return ieee.value_tensor(out, x.dtype) if ieee.is_float(x.dtype) else out


@lowering("avg_pool")
def lower_avg_pool(node, x):
    nd, k, s, d, p, in_sizes = _pool_params(node, x.shape)
    rk = [te.reduce_axis((0, k[i]), name=f"rk{i}") for i in range(nd)]
    zero = tirx.const(0, x.dtype)

    def body(n, c, *sp):
        v, inside = _window_reads(x, nd, k, s, d, p, in_sizes, n, c, sp, rk)
        return te.sum(tirx.if_then_else(inside, v, zero), axis=rk)
    total = te.compute(tuple(node.outputs[0].shape), body, name="avg_pool_sum")
    return te.compute(total.shape, lambda n, c, *sp: total[(n, c) + sp] / _window_count(
        node, nd, k, s, d, p, in_sizes, sp, x.dtype), name="avg_pool")


@lowering("max_pool_grad")
def lower_max_pool_grad(node, x, dy):
    nd, k, s, d, p, in_sizes = _pool_params(node, x.shape)
    out_sizes = [int(v) for v in dy.shape[2:]]
    tiled_2d = _windows_tile_exactly(k, s, d, p, in_sizes, out_sizes) and nd == 2
    arg, _ = _window_argmax(x, node, {kinds.KEY: kinds.POOL_ARGMAX} if tiled_2d else None)
    zero = tirx.const(0, dy.dtype)
    if all(k[j] == s[j] and d[j] == 1 for j in range(nd)):
        # Windows that tile the input (TF1's 2x2/2 pooling): each element lies in at most one window,
        # at offset (i + p) % s of window (i + p) // s, so no sum over the windows that might hold it.
        def tiled(n, c, *i):
            q = [tirx.floordiv(i[j] + p[j], s[j]) for j in range(nd)]
            rk = [tirx.floormod(i[j] + p[j], s[j]) for j in range(nd)]
            at = (n, c) + tuple(_clamp(q[j], out_sizes[j]) for j in range(nd))
            ok = tirx.all(*[q[j] < out_sizes[j] for j in range(nd)], arg[at] == tirx.Cast("int32", _flat(rk, k)))
            return tirx.if_then_else(ok, dy[at], zero)
        # without padding or a partial window, the schedule splits each dim into (window, offset): no divisions
        attrs = {kinds.KEY: kinds.POOL_GRAD_TILED, "pool_strides": s} if tiled_2d else None
        return te.compute(tuple(x.shape), tiled, name="max_pool_grad", attrs=attrs)

    def body(n, c, *i):
        return _transposed_sum(out_sizes, k, s, d, p[:nd], lambda rk, q: tirx.if_then_else(
            arg[(n, c) + tuple(q)] == tirx.Cast("int32", _flat(rk, k)), dy[(n, c) + tuple(q)],
            tirx.const(0, dy.dtype)), dy.dtype)(i)
    return te.compute(tuple(x.shape), body, name="max_pool_grad")


def _windows_tile_exactly(k, s, d, p, in_sizes, out_sizes):
    """Whether the pooling windows tile the input exactly: kernel = stride, no dilation, no padding, no
    partial window (TF1's 2x2/2 pooling of an even size)."""
    return all(k[j] == s[j] and d[j] == 1 and in_sizes[j] == out_sizes[j] * s[j] for j in range(len(k))) \
        and not any(p)


@lowering("max_pool_gather")
def lower_max_pool_gather(node, x, g):
    nd, k, s, d, p, in_sizes = _pool_params(node, x.shape)
    arg, _ = _window_argmax(x, node)
    strides_flat = [math.prod(k[j + 1:]) for j in range(nd)]

    def body(n, c, *sp):
        a = arg[(n, c) + sp]
        rk = [tirx.floormod(tirx.floordiv(a, strides_flat[j]), k[j]) for j in range(nd)]
        return _window_reads(g, nd, k, s, d, p, in_sizes, n, c, sp, rk)[0]
    return te.compute(tuple(node.outputs[0].shape), body, name="max_pool_gather")


@lowering("avg_pool_grad")
def lower_avg_pool_grad(node, dy, like):
    x_shape = [int(v) for v in node.outputs[0].shape]
    nd, k, s, d, p, in_sizes = _pool_params(node, x_shape)
    out_sizes = [int(v) for v in dy.shape[2:]]

    def body(n, c, *i):
        return _transposed_sum(out_sizes, k, s, d, p[:nd], lambda rk, q: dy[(n, c) + tuple(q)] / _window_count(
            node, nd, k, s, d, p, in_sizes, q, dy.dtype), dy.dtype)(i)
    return te.compute(tuple(x_shape), body, name="avg_pool_grad")


@lowering("max_pool_indices")
def lower_max_pool_indices(node, x):
    nd, k, s, d, p, in_sizes = _pool_params(node, x.shape)
    arg, _ = _window_argmax(x, node)
    strides_flat = [math.prod(k[j + 1:]) for j in range(nd)]
    order = list(range(nd))[::-1] if node.attrs.get("storage_order", 0) else list(range(nd))
    channels = int(x.shape[1])

    def body(n, c, *sp):
        a = arg[(n, c) + sp]
        flat = tirx.Cast("int64", n * channels + c)
        for j in order:
            rk = tirx.floormod(tirx.floordiv(a, strides_flat[j]), k[j])
            pos = sp[j] * s[j] - p[j] + rk * d[j]
            flat = flat * in_sizes[j] + tirx.Cast("int64", pos)
        return flat
    return te.compute(tuple(node.outputs[0].shape), body, name="max_pool_indices")
