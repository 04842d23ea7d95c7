"""The packed-GEMM lowering's paths (panels, padded rows, unpacked few-row products, transposes,
broadcast batches, ints) against numpy."""
import warnings

import numpy as np
import pytest

import graphc as gc

from conftest import assert_close

CASES = [  # (a shape, b shape, transpose_a, transpose_b, dtype)
    ((1, 784), (784, 512), False, False, "float32"),     # few rows: B read in place
    ((3, 20), (20, 10), False, False, "float32"),        # few rows, N not a multiple of 16
    ((101, 37), (37, 45), False, False, "float32"),      # padded rows and columns
    ((64, 128), (128, 256), False, False, "float32"),    # exact tiles, parallel
    ((40, 30), (50, 30), False, True, "float32"),        # transpose_b, packed
    ((30, 41), (30, 50), True, False, "float32"),        # transpose_a with padded rows
    ((3, 40, 23), (3, 40, 17), True, False, "float32"),  # batched, transpose_a with padded rows
    ((2, 30, 17), (17, 50), False, False, "float32"),    # batch against a shared matrix
    ((3, 1, 20, 8), (2, 8, 19), False, False, "float64"),  # broadcast batch dims, float64
    ((5, 2, 16), (5, 16, 2), True, True, "float32"),     # batched, both transposed
    ((33, 12), (12, 18), False, False, "int32"),
]


@pytest.mark.parametrize("a_shape,b_shape,ta,tb,dtype", CASES)
def test_matmul_paths_match_numpy(a_shape, b_shape, ta, tb, dtype, rng):
    if dtype == "int32":
        a, b = rng.integers(-5, 5, a_shape).astype(dtype), rng.integers(-5, 5, b_shape).astype(dtype)
    else:
        a, b = rng.standard_normal(a_shape).astype(dtype), rng.standard_normal(b_shape).astype(dtype)
    pa, pb = gc.placeholder(dtype, a_shape), gc.placeholder(dtype, b_shape)
    c = gc.matmul(pa, pb, transpose_a=ta, transpose_b=tb)
    want = np.matmul(np.swapaxes(a, -1, -2) if ta else a, np.swapaxes(b, -1, -2) if tb else b)
    with gc.Session() as sess:
        assert_close(sess.run(c, {pa: a, pb: b}), want.astype(dtype))


FEW_ROW_CASES = [  # the unpacked few-row kernel: rows per tile and register-budgeted column widths
    ((2, 64), (64, 96)),    # 2 rows x 32 columns
    ((6, 30), (30, 48)),    # 3-row tiles
    ((9, 33), (33, 24)),    # odd K and M, 8-column tiles
    ((1, 256), (256, 1024)),  # GEMV: 64-column tiles
    ((15, 8), (8, 7)),      # N with no vector divisor
    ((5, 4), (4, 3)),       # 1x1 tiles: no vector loop at all
]


@pytest.mark.parametrize("a_shape,b_shape", FEW_ROW_CASES)
def test_few_row_matmul_matches_numpy(a_shape, b_shape, rng):
    a, b = rng.standard_normal(a_shape).astype("float32"), rng.standard_normal(b_shape).astype("float32")
    pa, pb = gc.placeholder("float32", a_shape), gc.placeholder("float32", b_shape)
    with gc.Session() as sess:
        assert_close(sess.run(gc.matmul(pa, pb), {pa: a, pb: b}), a @ b)


WEIGHT_CASES = [  # (a shape, constant b shape, transpose_a, transpose_b, dtype)
    ((64, 78), (78, 51), False, False, "float32"),
    ((33, 17), (40, 17), False, True, "float32"),
    ((1, 256), (256, 1024), False, False, "float32"),
    ((20, 7), (20, 30), True, False, "float32"),
    ((2, 5, 12), (12, 9), False, False, "float32"),   # batched A against one packed weight
    ((6, 6), (6, 20), False, False, "int32"),
]


@pytest.mark.parametrize("a_shape,b_shape,ta,tb,dtype", WEIGHT_CASES)
def test_constant_weights_are_packed_at_compile_time(a_shape, b_shape, ta, tb, dtype, rng):
    a = rng.integers(-4, 4, a_shape).astype(dtype) if dtype == "int32" else rng.standard_normal(a_shape).astype(dtype)
    w = rng.integers(-4, 4, b_shape).astype(dtype) if dtype == "int32" else rng.standard_normal(b_shape).astype(dtype)
    pa = gc.placeholder(dtype, a_shape)
    y = gc.matmul(pa, gc.constant(w), transpose_a=ta, transpose_b=tb)
    with gc.Session() as sess:
        exe = sess.compiled(y, {pa: a})
        got = sess.run(y, {pa: a})
    assert any("matmul_packed" in k for k in exe.kernels), exe.kernels
    want = np.matmul(np.swapaxes(a, -1, -2) if ta else a, w.T if tb else w)
    assert_close(got, want.astype(dtype))


def test_weight_shared_with_other_ops_stays_available(rng):
    a = rng.standard_normal((5, 8)).astype("float32")
    w = rng.standard_normal((8, 8)).astype("float32")
    pa = gc.placeholder("float32", (5, 8))
    c = gc.constant(w)
    y1, y2, s = gc.matmul(pa, c), gc.matmul(c, c, transpose_b=True), gc.reduce_sum(c)
    with gc.Session() as sess:
        got = sess.run([y1, y2, s], {pa: a})
    for g, want in zip(got, [a @ w, w @ w.T, w.sum()]):
        assert_close(g, np.asarray(want, "float32"))


def test_every_small_row_count(rng):
    """Every M below the packing threshold, with and without transpose_a, in one compiled graph
    (a row-blocking choice once gave wrong results for M = 5 and 7)."""
    feeds, outs, want = {}, [], []
    for m in range(1, 20):
        for ta in (False, True):
            a = rng.standard_normal((6, m) if ta else (m, 6)).astype(np.float32)
            b = rng.standard_normal((6, 17)).astype(np.float32)
            pa, pb = gc.placeholder(gc.float32, a.shape), gc.placeholder(gc.float32, b.shape)
            feeds.update({pa: a, pb: b})
            outs.append(gc.matmul(pa, pb, transpose_a=ta))
            want.append((a.T if ta else a) @ b)
    with gc.Session() as sess:
        for got, w in zip(sess.run(outs, feeds), want):
            assert_close(got, w)


def test_gemm_epilogue_with_rows_uneven_to_vectors_builds_fused(rng):
    """A 4x6 GEMM result feeding tanh + add in the same kernel: 8-lane epilogue vectors straddling
    rows of 6 made LLVM reject the module, and the compiler fell back to one op per kernel."""
    a, b = rng.standard_normal((1, 1, 4, 8)).astype("float32"), rng.standard_normal((1, 1, 8, 6)).astype("float32")
    bias = rng.standard_normal((4, 6)).astype("float32")
    pa, pb = gc.placeholder("float32", a.shape), gc.placeholder("float32", b.shape)
    y = gc.add(gc.multiply(gc.tanh(gc.divide(gc.matmul(pa, pb), 0.5)), 0.5), gc.constant(bias))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the one-op-per-kernel fallback warns
        with gc.Session() as sess:
            assert_close(sess.run(y, {pa: a, pb: b}), np.tanh((a @ b) / 0.5) * 0.5 + bias)


@pytest.mark.parametrize("a_shape,b_shape", [((2, 3, 20, 16), (2, 3, 16, 24)), ((3, 5, 40), (3, 40, 24))])
def test_float16_matmul_accumulates_in_float32(a_shape, b_shape, rng):
    """float16 products sum in float32 and round once, as numpy does (float16 sums drift by ulps)."""
    a, b = rng.random(a_shape).astype("float16"), rng.random(b_shape).astype("float16")
    pa, pb = gc.placeholder("float16", a_shape), gc.placeholder("float16", b_shape)
    with gc.Session() as sess:
        got = sess.run(gc.matmul(pa, pb), {pa: a, pb: b})
    want = np.matmul(a.astype("float32"), b.astype("float32")).astype("float16")
    np.testing.assert_array_equal(got, want)


def test_register_block_rows_come_from_the_target():
    """The matmul's register block is as tall as the accumulator registers allow (AVX2: 12 accumulators of
    two 8-float vectors per row -> 6 rows; AVX-512: 28 of two 16-float -> 14), shortened where padding M
    to it would cost more than a sixteenth of the rows."""
    from graphc.codegen.lower.linalg import matmul_rows
    from graphc.codegen.target import cpu_target
    avx2, avx512 = cpu_target(mcpu="haswell"), cpu_target(mcpu="znver4")
    assert [matmul_rows(m, avx2) for m in (64, 128, 96, 16)] == [6, 6, 6, 4]
    assert [matmul_rows(m, avx512) for m in (256, 128, 140)] == [14, 13, 14]


@pytest.mark.parametrize("l2", [None, 256 << 10, 512 << 10, 2 << 20])
@pytest.mark.parametrize("k", [64, 576, 4608, 100000])
def test_gemm_row_group_fits_half_the_l2(l2, k):
    """The rows of A re-read for every B panel (a row group) fit half the target's L2 (a default when
    unknown), up to GEMM_MC, and are as many as fit."""
    import dataclasses
    from codegen.schedule import cpu
    from codegen.target import get_target
    target = dataclasses.replace(get_target("cpu"), l2_bytes=l2)
    rows = cpu._rows_in_l2(target, 4 * k)
    half = (l2 or cpu.DEFAULT_L2_BYTES) // 2
    assert 1 <= rows <= cpu.GEMM_MC
    assert rows == 1 or rows * 4 * k <= half
    assert rows == cpu.GEMM_MC or (rows + 1) * 4 * k > half


def test_conv_gemm_with_l2_sized_row_groups_matches_reference(rng):
    """ResNet's last 3x3 layer shape (K = 512 x 9): its weight rows are grouped by fewer than GEMM_MC so
    a group stays in L2 across the column tiles; the result still matches the reference."""
    from graphc import reference
    x_val = rng.standard_normal((1, 512, 7, 7)).astype("float32")
    w_val = (rng.standard_normal((96, 512, 3, 3)) / np.sqrt(512 * 9)).astype("float32")  # outputs ~ N(0, 1)
    x = gc.placeholder(gc.float32, x_val.shape)
    y = gc.conv(x, gc.constant(w_val), pads=[1, 1, 1, 1])
    want = reference.evaluate([y], {x: x_val})[0]
    with gc.Session() as sess:
        assert_close(sess.run(y, {x: x_val}), want)


def test_gemm_with_l2_sized_row_groups_matches_numpy(rng):
    """K so long that a row group is a single register tile (each row 80 KB); inputs scaled so the sums
    are ~ N(0, 1) and float32 rounding stays within the tolerance."""
    k = 20000
    a = rng.standard_normal((96, k)).astype("float32")
    b = (rng.standard_normal((k, 40)) / np.sqrt(k)).astype("float32")
    pa, pb = gc.placeholder("float32", a.shape), gc.placeholder("float32", b.shape)
    with gc.Session() as sess:
        assert_close(sess.run(gc.matmul(pa, pb), {pa: a, pb: b}), (a.astype("float64") @ b).astype("float32"))
