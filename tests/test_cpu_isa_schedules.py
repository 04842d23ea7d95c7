"""Register tiles come from the target's vector width and register count: cross-compiled for an AVX-512
CPU (Zen 4) the GEMM, conv (implicit-im2col GEMM and direct) and depthwise conv micro-kernels run on full zmm vectors, for an AVX2 CPU (Haswell) on full ymm
vectors. Two views: the LLVM IR's vector multiply-adds are exactly one register wide (a 24-float tile on
AVX-512 shows as v24f32, which LLVM pads to two zmm, half of one wasted) or a whole number of them, and the assembly's FMAs use only
that register class, none narrower (partial-vector or scalar tails). LLVM cross-compiles, so this runs on
any x86 machine; the kernels are read, never run."""
import re

import numpy as np
import pytest

import graphc as gc
from graphc.codegen.target import cpu_target

ISAS = [("znver4", 512, "zmm"), ("haswell", 256, "ymm")]


def _fma_kinds(asm):
    """{(register class, ps/ss/pd/sd)} of every FMA instruction in `asm`."""
    kinds = set()
    for line in re.findall(r"\bvfn?m(?:add|sub)\w*\s+[^\n]*", asm):
        suffix = re.match(r"vfn?m(?:add|sub)\w*?(p[sd]|s[sd])\b", line).group(1)
        kinds |= {(reg, suffix) for reg in re.findall(r"%([xyz]mm)\d+", line)}
    return kinds


def _kernels():
    """(name, fetch, feeds) of float32 products that take the register-tiled micro-kernels."""
    g = gc.Graph()
    with g.as_default():
        a, b = gc.placeholder(gc.float32, [64, 256]), gc.placeholder(gc.float32, [256, 256])
        x, w = gc.placeholder(gc.float32, [2, 32, 28, 28]), gc.placeholder(gc.float32, [64, 32, 3, 3])
        y = gc.conv(x, w, pads=[1, 1, 1, 1])
        dy = gc.constant(np.ones(tuple(y.shape), "float32"))
        dx, dw = gc.gradients(gc.reduce_sum(y * dy), [x, w])
        conv_feeds = {x: ((2, 32, 28, 28), "float32"), w: ((64, 32, 3, 3), "float32")}
        wd = gc.placeholder(gc.float32, [32, 1, 3, 3])
        dw_feeds = {x: ((2, 32, 28, 28), "float32"), wd: ((32, 1, 3, 3), "float32")}
        depthwise = [("depthwise conv" + (" stride 2" if s == 2 else ""),
                      gc.conv(x, wd, strides=[s, s], pads=[1, 1, 1, 1], groups=32), dw_feeds) for s in (1, 2)]
        # constant weights: packed into channel panels at compile time, the direct conv (pixels x NR channels);
        # not all ones: LLVM folds x * 1.0 out of a constant weight array and leaves no FMA to check
        panels = np.random.default_rng(0).standard_normal((64, 32, 3, 3)).astype("float32")
        direct = gc.relu(gc.conv(x, gc.constant(panels), strides=[2, 2], pads=[1, 1, 1, 1]))
        # constant weights: the Winograd F(2x2, 3x3) conv (passes/winograd.py), its GEMM and channel-vector transforms
        winograd = gc.relu(gc.conv(x, gc.constant(np.ones((64, 32, 3, 3), "float32")), pads=[1, 1, 1, 1]))
        winograd_feeds = {x: ((2, 32, 28, 28), "float32")}
        x1, w1 = gc.placeholder(gc.float32, [1, 32, 16, 16]), gc.placeholder(gc.float32, [64, 32, 1, 1])
        relu6 = gc.minimum(gc.relu(gc.conv(x1, w1)), gc.constant(np.float32(6)))  # 1x1 GEMM, epilogue per tile
        conv_1x1 = [("1x1 conv + ReLU6", relu6, {x1: ((1, 32, 16, 16), "float32"), w1: ((64, 32, 1, 1), "float32")})]
        bt, bias = gc.placeholder(gc.float32, [256, 256]), gc.constant(np.ones(256, "float32"))
        gelu = gc.nn.gelu(gc.matmul(a, bt, transpose_b=True) + bias)  # B^T panels, epilogue per tile
        xt, dyt = gc.placeholder(gc.float32, [128, 100]), gc.placeholder(gc.float32, [128, 256])
        weight_grad = gc.matmul(xt, dyt, transpose_a=True)  # A^T padded in its [K, M] layout
        heads = lambda t: gc.transpose(gc.reshape(t, (128, 4, 64)), (1, 0, 2))  # noqa: E731
        scores = gc.matmul(heads(dyt), heads(dyt), transpose_b=True)  # head split read by the operand copies
        # N = 768 and M = 64: a 4 x 3 ymm tile on AVX2; M = 77: 7 x 4 zmm on AVX-512 (linalg.matmul_tile)
        a77, b768 = gc.placeholder(gc.float32, [77, 256]), gc.placeholder(gc.float32, [256, 768])
        wide = gc.constant(np.ones(768, "float32"))
        return [("gemm", gc.matmul(a, b), {a: ((64, 256), "float32"), b: ((256, 256), "float32")}),
                ("gemm, wide panels + bias + gelu", gc.nn.gelu(gc.matmul(a, b768) + wide),
                 {a: ((64, 256), "float32"), b768: ((256, 768), "float32")}),
                ("gemm, wide panels, 77 rows", gc.matmul(a77, b768) + wide,
                 {a77: ((77, 256), "float32"), b768: ((256, 768), "float32")}),
                ("gemm B^T + bias + gelu", gelu, {a: ((64, 256), "float32"), bt: ((256, 256), "float32")}),
                ("gemm A^T (weight gradient)", weight_grad, {xt: ((128, 100), "float32"), dyt: ((128, 256), "float32")}),
                ("attention scores of split heads", scores, {dyt: ((128, 256), "float32")}),
                ("conv", y, conv_feeds), ("conv input gradient", dx, conv_feeds),
                ("conv weight gradient", dw, conv_feeds),
                ("direct conv, packed weights", direct, {x: ((2, 32, 28, 28), "float32")}),
                ("winograd conv", winograd, winograd_feeds)] + depthwise + conv_1x1


@pytest.mark.parametrize("mcpu,bits,register", ISAS)
def test_micro_kernels_use_full_vectors(mcpu, bits, register, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")  # the built module, whose assembly can be read
    target = cpu_target(mcpu=mcpu)
    assert target.vector_bits == bits
    for name, fetch, feeds in _kernels():
        _assert_full_vector_fmas(gc.compile(fetch, feeds, target=target), name, mcpu, bits, register)


def _assert_full_vector_fmas(exe, name, mcpu, bits, register):
    """The compiled kernels' vector FMAs are whole registers of `bits`, and in the assembly only on `register`."""
    widths = set(re.findall(r"fmuladd\.v(\d+)f32", exe.module.mod.inspect_source("ll")))
    assert widths and all(int(w) % (bits // 32) == 0 for w in widths), \
        f"{name} for {mcpu}: vector FMAs of {sorted(widths)} floats, want whole {bits // 32}-float vectors"
    kinds = _fma_kinds(exe.module.mod.inspect_source("asm"))
    assert kinds, f"{name} for {mcpu}: no FMA instructions"
    assert kinds == {(register, "ps")}, f"{name} for {mcpu}: FMAs on {sorted(kinds)}, want only {register}"


@pytest.mark.parametrize("mcpu,bits,register", ISAS)
def test_blocked_stem_conv_uses_full_vectors(mcpu, bits, register, monkeypatch):
    """The blocked stem conv (conv_blocked from an NCHW image, blocks of the target's float32 lanes: 16 on
    Zen 4, 8 on Haswell) with its bias + ReLU6 epilogue: a register tile of whole zmm / ymm accumulators."""
    from graphc.ops.blocked import block_channels, conv_blocked, pack_blocked_weights
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    target = cpu_target(mcpu=mcpu)
    block = target.vector_lanes(32)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((32, 3, 3, 3)).astype("float32")
    bias = rng.standard_normal((1, 32, 1, 1)).astype("float32")
    x = gc.placeholder(gc.float32, [1, 3, 64, 64])
    y = conv_blocked(x, gc.constant(pack_blocked_weights(w, block, 1, blocked_input=False)), strides=[2, 2],
                     pads=[1, 1, 1, 1])
    y = gc.minimum(gc.relu(y + gc.constant(block_channels(bias, block))), gc.constant(np.float32(6)))
    _assert_full_vector_fmas(gc.compile(y, {x: ((1, 3, 64, 64), "float32")}, target=target), "blocked stem conv",
                             mcpu, bits, register)


@pytest.mark.parametrize("mcpu,bits,register", ISAS)
def test_max_pool_and_relu6_run_on_full_vectors(mcpu, bits, register, monkeypatch):
    # the max-pool stencil's NaN-keeping max and a conv's ReLU6 (clip) epilogue test NaN on the float's
    # bits: vector compares on whole registers of the target (tirx.isnan made TVM emit scalar code)
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    target = cpu_target(mcpu=mcpu)
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, [1, 16, 32, 32])
        pooled = gc.max_pool(x, [3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
        wd = gc.placeholder(gc.float32, [16, 1, 3, 3])
        relu6 = gc.minimum(gc.relu(gc.conv(x, wd, pads=[1, 1, 1, 1], groups=16)), gc.constant(np.float32(6)))
    feeds = {x: ((1, 16, 32, 32), "float32"), wd: ((16, 1, 3, 3), "float32")}
    for name, fetch in (("max pool", pooled), ("depthwise conv + ReLU6", relu6)):
        asm = gc.compile(fetch, {x: feeds[x], **({wd: feeds[wd]} if fetch is relu6 else {})},
                         target=target).module.mod.inspect_source("asm")
        compares = re.findall(r"\bv(?:p?cmp|max|min|u?comi)\w*\s+[^\n]*", asm)
        scalar = [c for c in compares if re.match(r"v\w*(ss|sd)\b", c)]
        assert any(f"%{register}" in c for c in compares), f"{name} for {mcpu}: no {register} compare or max"
        assert not scalar, f"{name} for {mcpu}: scalar compares {scalar[:3]}"


@pytest.mark.parametrize("mcpu,bits,register", ISAS)
def test_gelu_erf_is_vector_code(mcpu, bits, register, monkeypatch):
    """erf (GELU's) compiles to vector arithmetic of the full register width, not a libm call per element."""
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    x = gc.placeholder(gc.float32, [64, 512])
    y = x * 0.5 * (1.0 + gc.erf(x * 0.7071067811865476))
    exe = gc.compile(y, {x: ((64, 512), "float32")}, target=cpu_target(mcpu=mcpu))
    ir = exe.module.mod.inspect_source("ll")
    assert "@erff" not in ir, f"{mcpu}: erf is a scalar libm call"
    assert re.search(rf"<{bits // 32} x float>", ir), f"{mcpu}: no {bits // 32}-float vectors"


def test_erf_float32_accuracy():
    """The vectorized float32 erf stays within a few float32 ulps of erf in float64, NaN stays NaN."""
    import math
    xv = np.concatenate([np.linspace(-6, 6, 20001), [0.0, 1e-30, -1e-20, 1e-8, np.inf, -np.inf, np.nan]])
    xv = xv.astype(np.float32)
    x = gc.placeholder(gc.float32, [xv.size])
    with gc.Session() as sess:
        got = sess.run(gc.erf(x), {x: xv})
    want = np.array([math.erf(v) for v in xv.astype(np.float64)])
    assert np.isnan(got[-1])
    ulp = np.spacing(np.abs(want[:-1]).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(got[:-1] - want[:-1]) <= 8 * ulp + 1e-45)


@pytest.mark.parametrize("mcpu,bits,register", ISAS)
def test_stride2_phase_split_is_whole_vector_shuffles(mcpu, bits, register, monkeypatch):
    """A stride-2 depthwise conv over a wide input splits its planes by column phase with shuffles of whole
    registers (codegen/schedule/deinterleave.py): no scalar loads or inserts gathering strided lanes, and its
    stencil's FMAs on full vectors."""
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    x, w = gc.placeholder(gc.float32, [1, 8, 20, 126]), gc.placeholder(gc.float32, [8, 1, 3, 3])
    y = gc.conv(x, w, strides=[2, 2], pads=[1, 1, 1, 1], groups=8)
    asm = gc.compile(y, {x: ((1, 8, 20, 126), "float32"), w: ((8, 1, 3, 3), "float32")},
                     target=cpu_target(mcpu=mcpu)).module.mod.inspect_source("asm")
    shuffles = re.findall(r"\bv(?:perm|shuf|unpck)\w*\s+[^\n]*", asm)
    assert shuffles and all(re.findall(r"%([xyz]mm)", s) == [register] * len(re.findall(r"%[xyz]mm", s))
                            for s in shuffles), f"{mcpu}: shuffles {sorted(set(shuffles))[:4]}, want {register} only"
    gathers = re.findall(r"\bv(?:insertps|movss|pinsrd|gather\w*)\s+[^\n]*", asm)
    assert not gathers, f"{mcpu}: strided lanes gathered one by one: {gathers[:3]}"
    assert _fma_kinds(asm) == {(register, "ps")}


@pytest.mark.parametrize("mcpu,bits,register", ISAS)
@pytest.mark.parametrize("stride", [1, 2])
def test_blocked_depthwise_tile_uses_full_vectors(mcpu, bits, register, stride, monkeypatch):
    """The blocked depthwise conv (blocks of the target's lanes: 16 on AVX-512, 8 on AVX2) with its bias + ReLU6
    epilogue: every FMA of its register tile, border and inside, is one whole register of the target's class."""
    from graphc.ops.blocked import block_channels, conv_blocked
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    target = cpu_target(mcpu=mcpu)
    block = bits // 32
    x = gc.placeholder(gc.float32, (1, 48 // block, 28, 28, block))
    w = gc.placeholder(gc.float32, (48 // block, 1, 3, 3, block))
    bias = block_channels(np.random.default_rng(0).standard_normal((1, 48, 1, 1)).astype("float32"), block)
    y = conv_blocked(x, w, depthwise=True, strides=[stride, stride], pads=[1, 1, 1, 1])
    y = gc.minimum(gc.maximum(y + gc.constant(bias), 0.0), 6.0)
    exe = gc.compile(y, {x: (tuple(x.shape), "float32"), w: (tuple(w.shape), "float32")}, target=target)
    widths = set(re.findall(r"fmuladd\.v(\d+)f32", exe.module.mod.inspect_source("ll")))
    assert widths == {str(block)}, f"{mcpu}: vector FMAs of {sorted(widths)} floats, want {block}"
    assert _fma_kinds(exe.module.mod.inspect_source("asm")) == {(register, "ps")}


@pytest.mark.parametrize("mcpu,bits,register", ISAS)
def test_blocked_conv_tile_uses_full_vectors(mcpu, bits, register, monkeypatch):
    """The blocked-layout group-1 conv (CONV_BLOCKED) with B = the target's float32 lanes (16 on AVX-512, 8 on AVX2):
    its register tile's multiply-adds, and its fused bias + ReLU6 epilogue, are whole registers, 1x1 (MobileNetV2's
    14x14 layers) and 3x3 stride 2 padded alike."""
    from graphc.ops.blocked import conv_blocked, pack_blocked_weights
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    target = cpu_target(mcpu=mcpu)
    block = target.vector_lanes(32)
    assert block == bits // 32
    rng = np.random.default_rng(0)
    for c_in, c_out, k, s, p, size in ((64, 96, 1, 1, 0, 14), (32, 48, 3, 2, 1, 15)):
        g = gc.Graph()
        with g.as_default():
            shape = (1, c_in // block, size, size, block)
            x = gc.placeholder(gc.float32, shape)
            w = rng.standard_normal((c_out, c_in, k, k)).astype("float32")
            y = conv_blocked(x, gc.constant(pack_blocked_weights(w, block)), strides=[s, s], pads=[p] * 4)
            bias = gc.constant(rng.standard_normal((1, y.shape[1], 1, 1, block)).astype("float32"))
            y = gc.minimum(gc.maximum(y + bias, 0.0), 6.0)
        exe = gc.compile(y, {x: (shape, "float32")}, target=target)
        name = f"blocked conv {c_in}->{c_out} {k}x{k} for {mcpu}"
        widths = set(re.findall(r"fmuladd\.v(\d+)f32", exe.module.mod.inspect_source("ll")))
        assert widths == {str(block)}, f"{name}: vector FMAs of {sorted(widths)} floats, want {block}"
        kinds = _fma_kinds(exe.module.mod.inspect_source("asm"))
        assert kinds == {(register, "ps")}, f"{name}: FMAs on {sorted(kinds)}, want only {register}"
