"""TE lowering of graphc/ops/winograd.py's conv2d_winograd, in three parts: the input transform
V = B^T d B of every tile (from a channels-last padded copy) into the GEMM's A operand [alpha^2, tiles, C_in]
(kind WINOGRAD_INPUT), the batched GEMM M = V x U over the compile-time panels of U (kind GEMM, the matmul
micro-kernel), and the output transform Y = A^T M A written straight into NCHW, where the conv's fused
epilogue (bias, ReLU, residual) inlines (the CPU rule schedules it by codegen/schedule/winograd.py). Each
transform is two halves, one along each tile axis (the first a WINOGRAD_HALF block the second places per
tile): each unrolled copy is a short sum, where one unrolled product of both halves made F(4x4)'s kernels take
~20 s to compile (TVM's CSE). Coefficients are Python constants (zeros skipped, so no multiply by 0)."""
from tvm import te, tirx

from graphc.ops.winograd import TRANSFORMS, winograd_tiles

from ..schedule import kinds
from ..schedule.winograd import WINOGRAD_TILE
from ..target import current_target
from . import lowering
from .linalg import gemm_tiles, matmul_rows


def _combine(coefficients, term, dtype):
    """sum_r coefficients[r] * term(r) over the nonzero coefficients, as one TIR expression of `dtype`."""
    out = None
    for r, c in enumerate(coefficients):
        if c:
            t = term(r)
            t = t if c == 1 else -t if c == -1 else t * tirx.const(float(c), dtype)
            out = t if out is None else out + t
    return out


def _select(index, choices):
    """choices[index] for a loop index the schedule unrolls (the chain then folds to one choice)."""
    out = choices[-1]
    for k in range(len(choices) - 2, -1, -1):
        out = tirx.if_then_else(index == k, choices[k], out)
    return out


@lowering("conv2d_winograd")
def lower_conv2d_winograd(node, x, u):
    """3x3 stride-1 conv as Winograd F(m x m, 3x3): input transform, batched GEMM per transform position,
    output transform (see the module docstring)."""
    m, pads, c_out = node.attrs["tile"], [int(p) for p in node.attrs["pads"]], int(node.attrs["c_out"])
    bt, _, at = (mat.tolist() for mat in TRANSFORMS[m])
    alpha = m + 2
    n, c_in, h, w = (int(v) for v in x.shape)
    out_shape = tuple(int(v) for v in node.outputs[0].shape)
    _, _, th, tw = winograd_tiles(h, w, pads, m)
    tiles = n * th * tw
    mr, tiles_p = gemm_tiles(tiles, matmul_rows(tiles, current_target()))
    zero = tirx.const(0, x.dtype)
    hp, wp = th * m + 2, tw * m + 2  # whole tiles: the padded input covers every tile's window

    def padded(b, y, xx, c):  # channels last: the transforms run along them in vectors
        yy, xi = y - pads[0], xx - pads[1]
        ok = tirx.all(yy >= 0, yy < h, xi >= 0, xi < w)
        return tirx.if_then_else(ok, x[b, c, te.max(te.min(yy, h - 1), 0), te.max(te.min(xi, w - 1), 0)], zero)
    xp = te.compute((n, hp, wp, c_in), padded, name="winograd_pad", attrs={kinds.KEY: kinds.PACK})

    def rows(a, col, t, c):  # (B^T d)[a, col] of tile t, channel c: the transform along the tile's rows
        t = tirx.min(t, tiles - 1)  # padding rows of the GEMM: any in-bounds tile (their results are dropped)
        b, ty, tx = t // (th * tw), t // tw % th, t % tw
        return _select(a, [_combine(bt[aa], lambda r: xp[b, ty * m + r, tx * m + col, c], x.dtype)
                           for aa in range(alpha)])
    half = te.compute((alpha, alpha, tiles_p, c_in), rows, name="winograd_input_rows",
                      attrs={kinds.KEY: kinds.WINOGRAD_HALF})

    def transformed(pos, t, c):  # (B^T d B)[pos // alpha, pos % alpha]: then along its columns
        a, bcol = pos // alpha, pos % alpha
        return _select(bcol, [_combine(bt[bb], lambda s: half[a, s, t, c], x.dtype) for bb in range(alpha)])
    v = te.compute((alpha * alpha, tiles_p, c_in), transformed, name="winograd_input",
                   attrs={kinds.KEY: kinds.WINOGRAD_INPUT})

    nr = int(u.shape[-1])
    k = te.reduce_axis((0, c_in), name="k")
    product = te.compute((alpha * alpha, tiles_p, int(u.shape[1]) * nr),
                         lambda p, i, j: te.sum(v[p, i, k] * u[p, j // nr, k, j % nr], axis=k), name="winograd_gemm",
                         attrs={kinds.KEY: kinds.GEMM, "gemm_mr": mr, "gemm_nr": nr, WINOGRAD_TILE: m})

    def cols(p, j, t, o):  # (M A)[p, j] of tile t: the output transform along the tile's columns
        return _select(j, [_combine(at[jj], lambda q: product[p * alpha + q, t, o], x.dtype) for jj in range(m)])
    mid = te.compute((alpha, m, tiles, c_out), cols, name="winograd_output_cols",
                     attrs={kinds.KEY: kinds.WINOGRAD_HALF, WINOGRAD_TILE: m})

    def output(b, o, y, xx):  # (A^T M A)[y % m, xx % m]: then along its rows
        i, t = y % m, (b * th + y // m) * tw + xx // m
        return _select(i, [_combine(at[ii], lambda p: mid[p, xx % m, t, o], x.dtype) for ii in range(m)])
    return te.compute(out_shape, output, name="winograd_output")
