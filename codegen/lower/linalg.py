"""TE lowering of matmul as a packed GEMM: B is copied into zero-padded panels of NR columns
([..., N/NR, K, NR], contiguous per panel) so the micro-kernel streams it with vector loads; A is
padded to a multiple of MR rows only when M needs it. The CPU schedule is codegen/schedule/cpu.py's
GEMM block schedule."""
import tvm
from tvm import te, tirx

from ..schedule import kinds
from ..target import current_target
from . import lowering
from .reduce import acc_dtype

MR = 4    # rows of the register block
PAD_FRACTION = 1 / 16  # padding rows of A (computed, then cropped) a bigger register block may cost
PACK_MIN_ROWS = 16  # below this, B is read once or twice: packing it costs more than it saves


def gemm_tiles(m, mr=MR):
    """(rows per register block, padded M) for an M-row product with register blocks of `mr` rows."""
    if m % mr == 0:
        return mr, m
    if m < mr:
        return m, m
    return mr, (m + mr - 1) // mr * mr


def matmul_rows(m, target):
    """Rows of the matmul's register block: up to the target's `gemm_rows` (fewer loads of B per FMA), the
    largest that pads M by at most PAD_FRACTION, else MR (always MR on a GPU)."""
    most = target.gemm_rows or MR
    return next((r for r in range(most, MR, -1) if -(-m // r) * r - m <= m * PAD_FRACTION), MR)


def matmul_tile(m, n, target, dtype_bits=32):
    """(rows, columns) of the matmul's register tile for an M x N product: the target's exact tile where one
    divides the product and fills the same registers (`Target.gemm_tile`: 4 x 3 ymm for M = 128, N = 768 on
    AVX2), so no padded rows are computed and A is not copied; else matmul_rows' tall tile over the
    target's panel (6 x 2 ymm, M padded). (A short tile over the narrow panel leaves accumulators idle:
    measured slower.)"""
    return target.gemm_tile(m, n, dtype_bits) or (matmul_rows(m, target), target.gemm_panel_width)


def _unpadded(c, dtype, out_shape):
    """Product `c` (padded rows/columns, acc_dtype) cropped to `out_shape` and rounded once to `dtype`;
    `c` itself when it already is both."""
    if [int(d) for d in c.shape] == [int(d) for d in out_shape] and str(c.dtype) == str(dtype):
        return c
    return te.compute(out_shape, lambda *idx: c(*idx).astype(str(dtype)), name="matmul_unpad")


def _batch_index(t_batch, out_batch, idx):
    """Index into an operand's batch dims, broadcasting size-1 dims against the output's."""
    nb = len(t_batch)
    return [0 if int(t_batch[j]) == 1 and out_batch[len(out_batch) - nb + j] != 1 else idx[len(out_batch) - nb + j]
            for j in range(nb)]


@lowering("matmul")
def lower_matmul(node, a, b):
    """Batched a @ b (transposes as flags): B packed into NR-column panels for the register-tiled GEMM, or
    read in place when A has under PACK_MIN_ROWS rows."""
    ta, tb = node.attrs.get("transpose_a", False), node.attrs.get("transpose_b", False)
    out_shape = tuple(node.outputs[0].shape)
    m, n = out_shape[-2:]
    k_dim = int(a.shape[-2] if ta else a.shape[-1])
    zero = tirx.const(0, str(a.dtype))
    nr = matmul_tile(m, n, current_target(), tvm.runtime.DataType(str(a.dtype)).bits)[1]
    np_ = (n + nr - 1) // nr * nr
    a_batch, b_batch = tuple(a.shape[:-2]), tuple(b.shape[:-2])

    def b_at(bidx, k, j):
        return b[tuple(bidx) + ((j, k) if tb else (k, j))]

    if m < PACK_MIN_ROWS and not tb and isinstance(b.op, te.PlaceholderOp):  # (a fused producer: read in the copy)
        return _unpacked_matmul(a, b, ta, out_shape, a_batch, b_batch, k_dim)

    def pack_b(*idx):
        bidx, (jo, k, ji) = idx[:-3], idx[-3:]
        j = jo * nr + ji
        return b_at(bidx, k, j) if n % nr == 0 else tirx.if_then_else(j < n, b_at(bidx, k, j), zero)
    packed_b = te.compute(b_batch + (np_ // nr, k_dim, nr), pack_b, name="matmul_packB",
                          attrs={kinds.KEY: kinds.GEMM_PANELS, "transposed": int(bool(tb))})
    return _packed_gemm(a, packed_b, ta, out_shape)


@lowering("matmul_packed")
def lower_matmul_packed(node, a, packed_b):
    """matmul of B packed at compile time (passes/pack_weights.py) in the target's panels; other widths work too."""
    return _packed_gemm(a, packed_b, node.attrs.get("transpose_a", False), tuple(node.outputs[0].shape))


def _packed_gemm(a, packed_b, ta, out_shape):
    """C = A @ B over B in [..., N/NR, K, NR] panels: an MR x NR register-tiled GEMM block ("matmul"),
    with A padded to whole MR-row tiles and the padded result cropped when the shape needs it."""
    batch, m = out_shape[:-2], out_shape[-2]
    k_dim = int(packed_b.shape[-2])
    zero = tirx.const(0, str(a.dtype))
    nr = int(packed_b.shape[-1])
    rows, width = matmul_tile(m, out_shape[-1], current_target(), tvm.runtime.DataType(str(a.dtype)).bits)
    mr, mp = gemm_tiles(m, rows if width == nr else matmul_rows(m, current_target()))
    np_ = int(packed_b.shape[-3]) * nr
    a_batch, b_batch = tuple(a.shape[:-2]), tuple(packed_b.shape[:-3])

    def a_at(bidx, i, k):
        return a[tuple(bidx) + ((k, i) if ta else (i, k))]
    copy_a = mp != m or not isinstance(a.op, te.PlaceholderOp)  # (a fused producer is read in the copy, not per k)
    if copy_a and ta:  # A given transposed ([K, M]) stays so: a contiguous copy, and a tile's MR values
        # of A for one k are then adjacent (a [M, K] copy would be a transpose, read by gathers)
        padded_a = te.compute(a_batch + (k_dim, mp), lambda *idx: tirx.if_then_else(
            idx[-1] < m, a(*idx), zero), name="matmul_packA", attrs={kinds.KEY: kinds.PACK})
        a_at = lambda bidx, i, k: padded_a[tuple(bidx) + (k, i)]  # noqa: E731
    elif copy_a:
        padded_a = te.compute(a_batch + (mp, k_dim), lambda *idx: tirx.if_then_else(
            idx[-2] < m, a_at(idx[:-2], idx[-2], idx[-1]), zero), name="matmul_packA",
            attrs={kinds.KEY: kinds.PACK})
        a_at = lambda bidx, i, k: padded_a[tuple(bidx) + (i, k)]  # noqa: E731

    k = te.reduce_axis((0, k_dim), name="k")

    acc = acc_dtype(a.dtype)

    def product(*idx):
        i, j = idx[-2], idx[-1]
        av = a_at(_batch_index(a_batch, batch, idx), i, k)
        bv = packed_b[tuple(_batch_index(b_batch, batch, idx)) + (j // nr, k, j % nr)]
        return te.sum(av.astype(acc) * bv.astype(acc), axis=k)
    c = te.compute(batch + (mp, np_), product, name="matmul",
                   attrs={kinds.KEY: kinds.GEMM, "gemm_mr": mr, "gemm_nr": nr})
    return _unpadded(c, a.dtype, out_shape)


def _unpacked_matmul(a, b, ta, out_shape, a_batch, b_batch, k_dim):
    """Few rows: read B's rows in place (they are contiguous along N) with the widest vector
    that divides N."""
    batch, (m, n) = out_shape[:-2], out_shape[-2:]
    # rows per register block: a divisor of M, else all of them (M < PACK_MIN_ROWS): splitting M
    # into unit row blocks gave wrong results for M = 5 or 7 (seen with TVM 0.27)
    mr = next((r for r in (MR, 3, 2) if m % r == 0), m)
    target = current_target()
    lanes = target.vector_lanes(tvm.runtime.DataType(str(a.dtype)).bits)
    # as many columns as the accumulator registers allow: wider rows of B per k give the FMAs
    # independent chains and read B in longer contiguous runs
    nr = next((w for w in (128, 64, 32, 16, 8, 4, 2) if n % w == 0 and
               mr * max(1, w // lanes) <= target.accumulator_registers), 1)
    k = te.reduce_axis((0, k_dim), name="k")
    acc = acc_dtype(a.dtype)

    def product(*idx):
        i, j = idx[-2], idx[-1]
        ai = tuple(_batch_index(a_batch, batch, idx)) + ((k, i) if ta else (i, k))
        return te.sum(a[ai].astype(acc) * b[tuple(_batch_index(b_batch, batch, idx)) + (k, j)].astype(acc), axis=k)
    c = te.compute(out_shape, product, name="matmul",
                   attrs={kinds.KEY: kinds.GEMM, "gemm_mr": mr, "gemm_nr": nr})
    return _unpadded(c, a.dtype, out_shape)


def _permutations(n):
    """(sign, permutation) pairs of range(n)."""
    import itertools
    for p in itertools.permutations(range(n)):
        inversions = sum(1 for i in range(n) for j in range(i + 1, n) if p[i] > p[j])
        yield (-1) ** inversions, p


@lowering("det")
def lower_det(node, x):
    n = int(x.shape[-1])
    dtype = str(x.dtype)

    def value(*b):  # Leibniz: sum over permutations of the signed product of one entry per row
        total = tirx.const(1 if n == 0 else 0, dtype)
        for sign, p in _permutations(n):
            term = tirx.const(sign, dtype)
            for i in range(n):
                term = term * x(*(b + (i, p[i])))
            total = total + term
        return total
    return te.compute(tuple(x.shape[:-2]), value, name="det")
