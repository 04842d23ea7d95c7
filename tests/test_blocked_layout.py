"""passes/blocked_layout.py: a MobileNetV2-style block (an RGB stem, depthwise and 1x1 convs with bias, clip and a
residual add) runs in the channel-blocked layout from conv to conv, converting only at its edges; the rewritten
graph computes what the original did (both through the numpy reference), and compiled it matches numpy. Convs
the layout does not take (computed weights, groups) stay NCHW, and padding channels never leak a NaN."""
import numpy as np
import pytest

import graphc as gc
from graphc import reference
from graphc.passes.blocked_layout import blocked_layout
from graphc.passes.specialize import specialize

from conftest import assert_close

BLOCK = 8


def _const(rng, *shape):
    return gc.constant((rng.standard_normal(shape) * 0.3).astype("float32"))


def _clip(y):
    return gc.minimum(gc.maximum(y, 0.0), 6.0)


def _mobile_block(rng, channels=16, expanded=32):
    """stem 3->channels s2 + clip, expand 1x1 + clip, depthwise 3x3 + clip, project 1x1, residual add, mean."""
    x = gc.placeholder(gc.float32, (2, 3, 17, 15), name="x")
    h = _clip(gc.conv(x, _const(rng, channels, 3, 3, 3), strides=[2, 2], pads=[1, 1, 1, 1])
              + _const(rng, channels, 1, 1))
    e = _clip(gc.conv(h, _const(rng, expanded, channels, 1, 1)) + _const(rng, expanded, 1, 1))
    d = _clip(gc.conv(e, _const(rng, expanded, 1, 3, 3), pads=[1, 1, 1, 1], groups=expanded)
              + _const(rng, expanded, 1, 1))
    p = gc.conv(d, _const(rng, channels, expanded, 1, 1)) + _const(rng, 1, channels, 1, 1)
    out = gc.reduce_mean(h + p, axis=[2, 3])
    return {x: rng.standard_normal((2, 3, 17, 15)).astype("float32")}, [out]


def _rewritten(feeds, fetches):
    """(specialized graph, its fetches, its feeds, the blocked graph, its fetches)."""
    g, mapping, _ = specialize(fetches, {t: (a.shape, gc.as_dtype(a.dtype)) for t, a in feeds.items()})
    spec_fetches = [mapping[id(t)] for t in fetches]
    spec_feeds = {mapping[id(t)]: a for t, a in feeds.items()}
    g2, new_fetches = blocked_layout(g, spec_fetches, BLOCK)
    return g, spec_fetches, spec_feeds, g2, new_fetches


def _by_name(graph, feeds):
    named = {t.node.name: a for t, a in feeds.items()}
    return {n.outputs[0]: named[n.name] for n in graph.nodes if n.op == "placeholder"}


def _ops(graph):
    return [n.op for n in graph.nodes]


@pytest.mark.parametrize("channels, expanded", [(16, 32), (12, 20)])  # whole blocks, and padded last blocks
def test_block_stays_blocked_from_conv_to_conv(rng, channels, expanded):
    feeds, fetches = _mobile_block(rng, channels, expanded)
    g, spec_fetches, spec_feeds, g2, new_fetches = _rewritten(feeds, fetches)
    ops = _ops(g2)
    assert ops.count("conv_blocked") == 4 and "conv" not in ops
    # the stem reads the RGB input as NCHW; one conversion back, before the mean
    assert ops.count("to_blocked") == 0 and ops.count("from_blocked") == 1, ops
    assert all(len(n.outputs[0].shape) == 5 for n in g2.nodes if n.op in ("add", "maximum", "minimum"))
    want = reference.evaluate(spec_fetches, spec_feeds)
    got = reference.evaluate(new_fetches, _by_name(g2, spec_feeds))
    assert_close(got[0], want[0])


def _compiled_blocked_matches_numpy(feeds, fetches):
    want = reference.evaluate(fetches, feeds)
    with gc.Session() as sess:
        exe = sess.compiled(fetches, feeds)
        got = sess.run(fetches, feeds)
    assert any("conv_blocked" in k for k in exe.kernels), list(exe.kernels)
    assert_close(got[0], want[0])


def test_compiled_block_matches_numpy(rng):
    _compiled_blocked_matches_numpy(*_mobile_block(rng, 12, 20))


def test_padding_channels_do_not_reach_results_through_ops_that_would_make_them_infinite(rng):
    """12 channels in blocks of 8: a log after the convs would turn the padding's zeros into -inf, and the next
    conv's zero weights into NaN; the layout stops before it."""
    x = gc.placeholder(gc.float32, (1, 3, 6, 6), name="x")
    y = gc.conv(x, _const(rng, 12, 3, 3, 3), pads=[1, 1, 1, 1])
    y = gc.conv(gc.conv(y, _const(rng, 12, 12, 1, 1)), _const(rng, 12, 12, 1, 1))
    y = gc.log(gc.square(y) + 1.0)
    y = gc.conv(gc.conv(y, _const(rng, 48, 12, 3, 3), pads=[1, 1, 1, 1]), _const(rng, 12, 48, 1, 1))
    feeds = {x: rng.standard_normal((1, 3, 6, 6)).astype("float32")}
    g, spec_fetches, spec_feeds, g2, new_fetches = _rewritten(feeds, [y])
    assert _ops(g2).count("conv_blocked") == 5
    log = next(n for n in g2.nodes if n.op == "log")
    assert len(log.outputs[0].shape) == 4  # (square and add run blocked: zeros stay finite through them)
    assert any(n.op == "to_blocked" and n.inputs[0].node is log for n in g2.nodes)  # the next conv converts it
    got = reference.evaluate(new_fetches, _by_name(g2, spec_feeds))[0]
    assert np.isfinite(got).all()
    assert_close(got, reference.evaluate(spec_fetches, spec_feeds)[0])


def test_a_lone_conv_between_plain_ops_stays_nchw(rng):
    """Converting its input and output would move as many elements as it computes."""
    x = gc.placeholder(gc.float32, (1, 16, 8, 8), name="x")
    y = gc.max_pool(gc.relu(gc.conv(x, _const(rng, 16, 16, 3, 3), pads=[1, 1, 1, 1])), kernel_shape=[2, 2],
                    strides=[2, 2])
    feeds = {x: rng.standard_normal((1, 16, 8, 8)).astype("float32")}
    g, spec_fetches, spec_feeds, g2, new_fetches = _rewritten(feeds, [y])
    assert "conv_blocked" not in _ops(g2) and "conv" in _ops(g2)


def test_convs_it_does_not_take_stay_nchw(rng):
    x = gc.placeholder(gc.float32, (1, 8, 6, 6), name="x")
    w = gc.placeholder(gc.float32, (8, 8, 3, 3), name="w")
    y = gc.conv(x, w, pads=[1, 1, 1, 1])                           # weights computed at run time
    y = gc.conv(y, _const(rng, 8, 4, 3, 3), groups=2, pads=[1, 1, 1, 1])  # grouped, not depthwise
    feeds = {x: rng.standard_normal((1, 8, 6, 6)).astype("float32"),
             w: rng.standard_normal((8, 8, 3, 3)).astype("float32")}
    g, spec_fetches, spec_feeds, g2, new_fetches = _rewritten(feeds, [y])
    assert "conv_blocked" not in _ops(g2) and _ops(g2).count("conv") == 2


def _random_chain(rng):
    """A random chain of 3-5 convs (1x1, 3x3 strided and padded, depthwise), with bias, clip or ReLU, and residual
    adds where shapes allow, channel counts mostly no whole number of blocks; (feeds, fetches)."""
    channels = int(rng.integers(3, 20))
    x = gc.placeholder(gc.float32, (int(rng.integers(1, 3)), channels, 13, 11), name="x")
    h, layers = x, int(rng.integers(3, 6))
    for _ in range(layers):
        kind = rng.choice(["1x1", "3x3", "depthwise"])
        c = int(h.shape[1])
        if kind == "depthwise":
            y = gc.conv(h, _const(rng, c, 1, 3, 3), pads=[1, 1, 1, 1], groups=c, strides=[int(rng.integers(1, 3))] * 2)
        elif kind == "3x3":
            y = gc.conv(h, _const(rng, int(rng.integers(4, 24)), c, 3, 3), pads=[1, 0, 1, 1],
                        strides=[int(rng.integers(1, 3))] * 2)
        else:
            y = gc.conv(h, _const(rng, int(rng.integers(4, 24)), c, 1, 1))
        y = y + _const(rng, int(y.shape[1]), 1, 1)
        y = _clip(y) if rng.random() < 0.5 else gc.relu(y)
        h = h + y if tuple(y.shape) == tuple(h.shape) and h is not x else y
    return {x: rng.standard_normal(tuple(x.shape)).astype("float32")}, [gc.reduce_mean(h, axis=[2, 3], keepdims=True)]


@pytest.mark.parametrize("seed", range(5))
def test_random_conv_chains_compiled_match_numpy(seed, monkeypatch):
    """Every region blocked, however small (the cost rule off), so each chain runs the layout."""
    monkeypatch.setattr("graphc.passes.blocked_layout.MAX_CONVERTED_FRACTION", float("inf"))
    _compiled_blocked_matches_numpy(*_random_chain(np.random.default_rng(seed)))


def test_squeeze_and_excitation_stays_blocked(rng):
    """MobileNetV3's squeeze-and-excitation: a spatial mean, 1x1 convs on one pixel, a sigmoid and the features
    scaled by it, all blocked (the mean and the one-pixel scale's broadcast included)."""
    x = gc.placeholder(gc.float32, (2, 3, 12, 12), name="x")
    h = gc.relu(gc.conv(x, _const(rng, 16, 3, 3, 3), pads=[1, 1, 1, 1]) + _const(rng, 16, 1, 1))
    h = gc.relu(gc.conv(h, _const(rng, 24, 16, 1, 1)))
    s = gc.reduce_mean(h, axis=[2, 3], keepdims=True)
    s = gc.sigmoid(gc.conv(gc.relu(gc.conv(s, _const(rng, 8, 24, 1, 1))), _const(rng, 24, 8, 1, 1)))
    y = gc.reduce_mean(gc.conv(h * s, _const(rng, 16, 24, 1, 1)), axis=[2, 3], keepdims=True)
    feeds = {x: rng.standard_normal((2, 3, 12, 12)).astype("float32")}
    g, spec_fetches, spec_feeds, g2, new_fetches = _rewritten(feeds, [y])
    ops = _ops(g2)
    assert ops.count("conv_blocked") == 5 and ops.count("to_blocked") == 0 and ops.count("from_blocked") == 1, ops
    assert_close(reference.evaluate(new_fetches, _by_name(g2, spec_feeds))[0],
                 reference.evaluate(spec_fetches, spec_feeds)[0])
    _compiled_blocked_matches_numpy(feeds, [y])


def test_a_tensor_of_one_channel_broadcasts_over_channels_unblocked(rng):
    """NCHW broadcasts a [N, 1, H, W] operand over the channels; its blocked form would not (its block's other
    lanes are padding), so that add stays NCHW."""
    x = gc.placeholder(gc.float32, (1, 8, 6, 6), name="x")
    h = gc.conv(gc.conv(x, _const(rng, 16, 8, 1, 1)), _const(rng, 16, 16, 3, 3), pads=[1, 1, 1, 1])
    gate = gc.conv(gc.conv(x, _const(rng, 4, 8, 1, 1)), _const(rng, 1, 4, 3, 3), pads=[1, 1, 1, 1])
    y = gc.conv(gc.conv(h + gate, _const(rng, 16, 16, 1, 1)), _const(rng, 8, 16, 1, 1))
    feeds = {x: rng.standard_normal((1, 8, 6, 6)).astype("float32")}
    g, spec_fetches, spec_feeds, g2, new_fetches = _rewritten(feeds, [y])
    add = next(n for n in g2.nodes if n.op == "add")
    assert len(add.outputs[0].shape) == 4
    assert_close(reference.evaluate(new_fetches, _by_name(g2, spec_feeds))[0],
                 reference.evaluate(spec_fetches, spec_feeds)[0])


def test_padding_channels_stay_finite_against_infinite_constants(rng):
    """12 channels in blocks of 8: adding an infinite constant to the padding's zeros would reach the next conv as
    0 * inf = NaN, so that add stays NCHW; a finite one is blocked."""
    x = gc.placeholder(gc.float32, (1, 3, 6, 6), name="x")
    h = gc.conv(gc.conv(x, _const(rng, 12, 3, 3, 3), pads=[1, 1, 1, 1]), _const(rng, 12, 12, 1, 1))
    h = gc.minimum((h + np.float32(0.5)) + np.float32(np.inf), 1.0)
    y = gc.conv(gc.conv(h, _const(rng, 48, 12, 3, 3), pads=[1, 1, 1, 1]), _const(rng, 12, 48, 1, 1))
    feeds = {x: rng.standard_normal((1, 3, 6, 6)).astype("float32")}
    g, spec_fetches, spec_feeds, g2, new_fetches = _rewritten(feeds, [y])
    adds = [n for n in g2.nodes if n.op == "add"]
    assert sorted(len(n.outputs[0].shape) for n in adds) == [4, 5], [n.outputs[0].shape for n in adds]
    got = reference.evaluate(new_fetches, _by_name(g2, spec_feeds))[0]
    assert np.isfinite(got).all()
    assert_close(got, reference.evaluate(spec_fetches, spec_feeds)[0])
