"""conv2d_winograd: a 3x3 stride-1 2-D conv computed by Winograd's minimal filtering F(m x m, 3x3) (Lavin and
Gray, 2015) over weights already transformed and packed at compile time (passes/winograd.py makes it from a
conv whose weights are constant).

Each m x m output tile is Y = A^T [sum_c (B^T d_c B) * U_c] A, with d_c the (m+2) x (m+2) input tile of channel c
and U_c = G g_c G^T the channel's transformed 3x3 filter. Per transform position (alpha x alpha of them,
alpha = m + 2) the channel sum is a GEMM [tiles, C_in] x [C_in, C_out], which is where the time goes: 16 / 36
positions of C_in multiplies per m*m outputs instead of 9 per output (2.25x fewer for m = 2, 4x for m = 4).

The weight input is U packed in GEMM panels per position: [alpha^2, ceil(C_out/width), C_in, width]
(graphc/ops/packed.py's pack_panels of each position's [C_in, C_out] matrix); attrs: `tile` (m), `pads`
(top, left, bottom, right) and `c_out`."""
import numpy as np

from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import rand
from .packed import EXAMPLE_PANEL_WIDTH, pack_panels, unpack_panels

# F(m, 3) transforms (B^T, G, A^T) for the tile sizes graphc uses; interpolation points 0, +-1 (m = 2) and
# 0, +-1, +-2 (m = 4), the usual choice that keeps F(4x4, 3x3)'s float32 error small
TRANSFORMS = {
    2: (np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64),
        np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]], np.float64),
        np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)),
    4: (np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
                  [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64),
        np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
                  [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64),
        np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float64)),
}


def transform_weights(w, m, panel_width):
    """numpy: conv weights [C_out, C_in, 3, 3] as Winograd F(m x m, 3x3) weights U = G g G^T, packed per
    transform position in GEMM panels of `panel_width` columns: [alpha^2, ceil(C_out/width), C_in, width]."""
    g = TRANSFORMS[m][1]
    c_out, c_in = w.shape[:2]
    # U[(a, b), (i, o)] = sum_(r, s) G[a, r] G[b, s] g[o, i, r, s]: one GEMM by kron(G, G) (float64)
    u = np.kron(g, g) @ np.asarray(w, np.float64).transpose(2, 3, 1, 0).reshape(9, c_in * c_out)
    return pack_panels(u.reshape(-1, c_in, c_out).astype(w.dtype), panel_width)


def combine(mat, arr, axis):
    """numpy: `mat` applied along `axis` of `arr` (result[..., i, ...] = sum_r mat[i, r] * arr[..., r, ...]),
    skipping zero coefficients as the kernels do (so inf * 0 never makes a NaN the kernel would not)."""
    arr = np.moveaxis(arr, axis, 0)
    rows = [sum(c * arr[r] for r, c in enumerate(row) if c) for row in mat]
    return np.moveaxis(np.stack(rows), 0, axis)


def winograd_tiles(h, w, pads, m):
    """(output height, output width, tile rows, tile columns) of a 3x3 stride-1 conv of an h x w input."""
    oh, ow = h + pads[0] + pads[2] - 2, w + pads[1] + pads[3] - 2
    return oh, ow, -(-oh // m), -(-ow // m)


def _infer(node):
    x, u = node.inputs
    m, pads, c_out = node.attrs["tile"], list(node.attrs["pads"]), node.attrs["c_out"]
    if m not in TRANSFORMS:
        raise ShapeError(f"conv2d_winograd tile {m} is not one of {sorted(TRANSFORMS)}")
    if len(pads) != 4 or min(pads) < 0:
        raise ShapeError(f"conv2d_winograd pads {pads} must be 4 entries >= 0 (top, left, bottom, right)")
    if x.dtype != u.dtype or not x.dtype.is_floating:
        raise ShapeError(f"conv2d_winograd operands {x.name} ({x.dtype.name}) and {u.name} ({u.dtype.name}) "
                         f"must share a floating dtype")
    if x.shape is None or len(x.shape) != 4:
        raise ShapeError(f"conv2d_winograd input {x.name} must be NCHW (rank 4), got {x.shape}")
    alpha = m + 2
    if u.shape is not None:
        if len(u.shape) != 4:
            raise ShapeError(f"conv2d_winograd weights {u.name} must be [{alpha * alpha}, panels, C_in, width], "
                             f"got {list(u.shape)}")
        pos, panels, c_in, width = u.shape
        if (pos is not None and pos != alpha * alpha) or (c_in is not None and x.shape[1] is not None
                                                          and c_in != x.shape[1]) \
                or (panels is not None and width is not None and not (panels - 1) * width < c_out <= panels * width):
            raise ShapeError(f"conv2d_winograd weights {u.name} {list(u.shape)} do not match input {x.name} "
                             f"{list(x.shape)}: expected [{alpha * alpha}, panels, C_in, width] of {c_out} columns")
    h, w = x.shape[2:]
    oh = None if h is None else h + pads[0] + pads[2] - 2
    ow = None if w is None else w + pads[1] + pads[3] - 2
    if (oh is not None and oh < 1) or (ow is not None and ow < 1):
        raise ShapeError(f"conv2d_winograd of {x.name} {list(x.shape)} with pads {pads} gives an empty output")
    return TensorType((x.shape[0], c_out, oh, ow), x.dtype)


def _reference(attrs, x, u):
    """Winograd in float64, tile by tile, with the kernels' transforms (zero coefficients skipped)."""
    m, pads, c_out = attrs["tile"], attrs["pads"], attrs["c_out"]
    bt, _, at = TRANSFORMS[m]
    alpha = m + 2
    n, c_in, h, w = x.shape
    oh, ow, th, tw = winograd_tiles(h, w, pads, m)
    xp = np.zeros((n, c_in, th * m + 2, tw * m + 2), np.float64)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + w] = x[:, :, :th * m + 2 - pads[0], :tw * m + 2 - pads[1]]
    # tiles d[n, c, ty, tx, r, s]: overlapping (m+2) x (m+2) windows every m pixels
    rows = np.arange(th)[:, None] * m + np.arange(alpha)
    cols = np.arange(tw)[:, None] * m + np.arange(alpha)
    d = xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]
    v = combine(bt, combine(bt, d, 4), 5)                                      # B^T d B
    uu = np.stack([unpack_panels(p, c_out) for p in u]).astype(np.float64)     # [alpha^2, C_in, C_out]
    mm = np.einsum("nctyab,abco->notyab", v, uu.reshape(alpha, alpha, c_in, c_out))
    y = combine(at, combine(at, mm, 4), 5)                                     # A^T M A: [n, o, ty, tx, m, m]
    y = y.transpose(0, 1, 2, 4, 3, 5).reshape(n, c_out, th * m, tw * m)[:, :, :oh, :ow]
    return y.astype(x.dtype)


def _examples(rng):
    def case(xs, c_out, m, pads):
        w = rand(rng, (c_out, xs[1], 3, 3))
        return Example([rand(rng, xs), transform_weights(w, m, EXAMPLE_PANEL_WIDTH)],
                       {"tile": m, "pads": pads, "c_out": c_out})
    return [case((1, 3, 6, 6), 4, 2, [1, 1, 1, 1]),
            case((2, 5, 7, 9), 17, 2, [0, 1, 1, 0]),        # odd sizes: partial tiles, C_out not a panel multiple
            case((1, 4, 9, 8), 6, 4, [1, 1, 1, 1]),
            case((2, 3, 11, 6), 3, 4, [0, 0, 0, 0])]


conv2d_winograd_op = register_op("conv2d_winograd", pattern=Pattern.OUT_ELEMWISE_FUSABLE, infer=_infer,
                                 reference=_reference, examples=_examples, differentiable=False)
