"""The depthwise conv of a channel-blocked input (conv_blocked with depthwise=True: codegen/lower/blocked.py
_depthwise_blocked, scheduled as DEPTHWISE_BLOCKED) against the op's numpy reference: odd sizes, strides 1 and 2
(and 3), uneven pads, dilation, other kernel sizes, channel counts that are no whole number of blocks, batch 2,
rows whose width no register tile divides, with the fused epilogue (bias + clip to [0, 6], a residual add); and
that the loop partition leaves the inside tiles reading the input with no bounds test."""
import re

import numpy as np
import pytest

import graphc as gc
from graphc import reference
from graphc.codegen import build
from graphc.codegen.lower import blocked as lower_blocked
from graphc.codegen.schedule.kinds import EPILOGUE_DONE, KEY
from graphc.ops.blocked import block_channels, conv_blocked, pack_blocked_weights

from conftest import assert_close

CASES = [  # (x shape NCHW, kernel (kh, kw), strides, dilations, pads [top, left, bottom, right], block)
    ((1, 32, 28, 28), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 8),      # MobileNetV2's stride-1 layer
    ((2, 20, 15, 17), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 8),      # stride 2, odd sizes, 20 channels, batch 2
    ((1, 24, 14, 14), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 8),      # stride 2 on even sizes: no bottom/right pad read
    ((1, 12, 7, 7), (5, 5), (1, 1), (1, 1), (2, 2, 2, 2), 8),        # 5x5 on a 7x7 plane: every tile at the border
    ((1, 6, 13, 11), (3, 2), (1, 2), (2, 1), (0, 1, 2, 0), 8),       # uneven pads, dilation, 6 channels in one block
    ((2, 9, 9, 23), (3, 3), (1, 3), (1, 2), (1, 0, 1, 2), 8),        # column stride 3, a row of 23 (prime) pixels
    ((1, 16, 10, 10), (3, 3), (1, 1), (1, 1), (0, 0, 0, 0), 8),      # no padding: no bounds test at all
    ((1, 40, 12, 12), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 16),     # blocks of 16 (AVX-512's lanes)
    ((1, 8, 4, 5), (3, 3), (1, 1), (1, 1), (3, 3, 3, 3), 8),         # pads past the kernel: all-padding outputs
    ((1, 10, 2, 3), (5, 5), (2, 1), (2, 2), (4, 4, 4, 4), 8),        # a plane smaller than the dilated kernel
    ((1, 64, 113, 113), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 8),    # a big plane at stride 2, 57-pixel rows
    ((1, 8, 64, 64), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 8),       # one plane: its rows in bands, one a thread
    ((1, 7, 93, 93), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 8),       # one plane of 47 (prime) rows: bands of one row
]


def _used(monkeypatch, tmp_path):
    """Lower afresh (a kernel cache in tmp_path) and count the calls of _depthwise_blocked."""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    used, real = [], lower_blocked._depthwise_blocked
    monkeypatch.setattr(lower_blocked, "_depthwise_blocked", lambda *a: used.append(1) or real(*a))
    return used


def _relu6_graph(rng, x_shape, kernel, strides, dilations, pads, block, residual=False):
    """(x placeholder, clip(conv + bias, 0, 6) [+ a residual], feeds) of a blocked depthwise conv."""
    c = x_shape[1]
    x_val = block_channels(3 * rng.standard_normal(x_shape).astype("float32"), block)  # (3x: some reach 6)
    w = rng.standard_normal((c, 1) + tuple(kernel)).astype("float32")
    bias = block_channels(rng.standard_normal((1, c, 1, 1)).astype("float32"), block)
    x = gc.placeholder(gc.float32, x_val.shape)
    y = conv_blocked(x, gc.constant(pack_blocked_weights(w, block, c)), depthwise=True, strides=list(strides),
                     dilations=list(dilations), pads=list(pads))
    y = gc.minimum(gc.maximum(y + gc.constant(bias), 0.0), 6.0)
    feeds = {x: x_val}
    if residual:
        other = gc.placeholder(gc.float32, tuple(y.shape))
        feeds[other] = rng.standard_normal(tuple(y.shape)).astype("float32")
        y = y + other
    return y, feeds


@pytest.mark.parametrize("x_shape,kernel,strides,dilations,pads,block", CASES)
def test_depthwise_blocked_matches_reference(x_shape, kernel, strides, dilations, pads, block, rng, monkeypatch,
                                             tmp_path):
    used = _used(monkeypatch, tmp_path)
    g = gc.Graph()
    with g.as_default():
        y, feeds = _relu6_graph(rng, x_shape, kernel, strides, dilations, pads, block)
        want = reference.evaluate([y], feeds)[0]
        with gc.Session(graph=g) as sess:
            got = sess.run(y, feeds)
    assert used, "the blocked depthwise kernel was not used"
    assert 0 < (want > 0).mean() and (want == 6).any(), "the clip bounds are not both exercised"
    assert_close(got, want)


@pytest.mark.parametrize("strides", [(1, 1), (2, 2)])
def test_depthwise_blocked_epilogue_per_tile(strides, rng, monkeypatch, tmp_path):
    """Bias, clip and a residual add run per register tile from the accumulators (EPILOGUE_DONE): the conv's
    product is never stored in a buffer of its own, and the result matches the reference."""
    used = _used(monkeypatch, tmp_path)
    scheduled, real = [], build.schedule_kernel
    monkeypatch.setattr(build, "schedule_kernel", lambda k, t: scheduled.append(real(k, t)) or scheduled[-1])
    g = gc.Graph()
    with g.as_default():
        y, feeds = _relu6_graph(rng, (2, 20, 28, 28), (3, 3), strides, (1, 1), (1, 1, 1, 1), 8, residual=True)
        want = reference.evaluate([y], feeds)[0]
        with gc.Session(graph=g) as sess:
            got = sess.run(y, feeds)
    assert used
    assert_close(got, want)
    kernel = [k for k in scheduled if "conv_blocked" in k.name][-1]
    text = kernel.func.script()
    assert f'"{KEY}": "{EPILOGUE_DONE}"' in text, "the epilogue is a pass of its own"
    assert 'T.sblock("conv_blocked_depthwise")' not in text, "the product is stored before its epilogue"


def test_depthwise_blocked_rejects_mismatched_blocks():
    """An input of 2 blocks and weights of 3 name both and what was expected."""
    x = gc.placeholder(gc.float32, (1, 2, 8, 8, 8))
    w = gc.constant(pack_blocked_weights(np.ones((24, 1, 3, 3), "float32"), 8, 24))
    with pytest.raises(gc.errors.ShapeError, match="has 2 blocks; the weights .* have 3"):
        conv_blocked(x, w, depthwise=True, pads=[1, 1, 1, 1])


@pytest.mark.parametrize("blocks,threads", [(2, "1"), (1, "4")])  # one plane, 4 threads: rows in 4 bands
def test_depthwise_blocked_inside_reads_without_bounds_tests(blocks, threads, monkeypatch, tmp_path):
    """TVM's LoopPartition (run when the kernel is built) splits the border rows and tiles off the inside ones,
    where every bounds test of the input's reads is proven true: the inside reads the input in place (also in
    the rows' bands, when the planes are fewer than the threads)."""
    import tvm
    from graphc.codegen.target import cpu_target
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TVM_NUM_THREADS", threads)
    scheduled, real = [], build.schedule_kernel
    monkeypatch.setattr(build, "schedule_kernel", lambda k, t: scheduled.append(real(k, t)) or scheduled[-1])
    target = cpu_target(mcpu="haswell")
    x = gc.placeholder(gc.float32, (1, blocks, 56, 56, 8))  # (big enough for threads)
    w = gc.placeholder(gc.float32, (blocks, 1, 3, 3, 8))
    gc.compile(conv_blocked(x, w, depthwise=True, pads=[1, 1, 1, 1]),
               {x: (tuple(x.shape), "float32"), w: (tuple(w.shape), "float32")}, target=target)
    partitioned = []

    @tvm.instrument.pass_instrument
    class AfterLoopPartition:
        def run_after_pass(self, mod, info):
            if info.name == "s_tir.LoopPartition":
                partitioned.append(mod)

    with tvm.transform.PassContext(instruments=[AfterLoopPartition()]):
        tvm.compile(tvm.IRModule({"f": scheduled[-1].func}), target=target.tvm_target)
    # per read's bounds test: whether the partition replaced it by constants (proven true: no variable left)
    tests = [not re.sub(r"T\.And|T\.bool|True|and|[(),\s]", "", cond)
             for cond in re.findall(r"T\.if_then_else\((.*?), in0", partitioned[0].script())]
    assert target.num_threads == int(threads)
    if blocks < target.num_threads:
        assert "T.parallel(4)" in scheduled[-1].func.script(), "the rows are not split into bands for the threads"
    assert any(tests), "no read proven inside the image: the loops were not partitioned"
    assert not all(tests), "no read tested at the border"
