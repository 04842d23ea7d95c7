"""passes/sink_transposes.py: TF-style NHWC conv layers (transpose -> NCHW conv -> transpose) keep their
activations NCHW from conv to conv, forward and backward, converting only at the graph's edges; the
rewritten graph computes what the original did (both through the numpy reference), and compiled it
matches the numpy reference."""
import numpy as np

import graphc as gc
from graphc import reference
from graphc.passes.sink_transposes import sink_transposes
from graphc.passes.specialize import specialize

from conftest import assert_close

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def _nhwc_conv_layer(h, w, b):
    """TF's conv2d (NHWC, HWIO weights) as graphc imports it, + bias, ReLU, 2x2 max pool."""
    y = gc.transpose(gc.conv(gc.transpose(h, TO_NCHW), gc.transpose(w, [3, 2, 0, 1]), pads=[2, 2, 2, 2]), TO_NHWC)
    y = gc.relu(y + b)
    return gc.transpose(gc.max_pool(gc.transpose(y, TO_NCHW), kernel_shape=[2, 2], strides=[2, 2]), TO_NHWC)


def _conv_net(rng):
    """Two NHWC conv layers, a dense layer on the flattened result, the loss's gradients; (feeds, fetches)."""
    x = gc.placeholder(gc.float32, (2, 8, 8, 3), name="x")
    w1, b1 = gc.placeholder(gc.float32, (5, 5, 3, 4), name="w1"), gc.placeholder(gc.float32, (4,), name="b1")
    w2, b2 = gc.placeholder(gc.float32, (5, 5, 4, 6), name="w2"), gc.placeholder(gc.float32, (6,), name="b2")
    h = _nhwc_conv_layer(_nhwc_conv_layer(x, w1, b1), w2, b2)
    dense = gc.constant(rng.standard_normal((2 * 2 * 6, 3)).astype("float32"))
    loss = gc.reduce_sum(gc.square(gc.matmul(gc.reshape(h, [2, -1]), dense)))
    grads = gc.gradients(loss, [x, w1, b1, w2, b2])
    feeds = {t: rng.standard_normal(tuple(t.shape)).astype("float32") for t in (x, w1, b1, w2, b2)}
    return feeds, [loss] + grads


def _specialized(fetches, feeds):
    """(the specialized graph, its fetches, the feeds keyed by its placeholders)."""
    g, mapping, _ = specialize(fetches, {t: (a.shape, gc.as_dtype(a.dtype)) for t, a in feeds.items()})
    return g, [mapping[id(t)] for t in fetches], {mapping[id(t)]: a for t, a in feeds.items()}


def _by_name(graph, feeds):
    """The feeds keyed by the placeholders of the same name in `graph` (a rebuilt graph keeps names)."""
    named = {t.node.name: a for t, a in feeds.items()}
    return {n.outputs[0]: named[n.name] for n in graph.nodes if n.op == "placeholder"}


def _activation_transposes(graph):
    """The transposes of 4-D tensors other than weights (whose first dim is the batch of 2)."""
    return [n for n in graph.nodes if n.op == "transpose" and len(n.outputs[0].shape) == 4
            and int(n.outputs[0].shape[0]) == 2]


def test_conv_net_activations_stay_nchw_and_values_are_unchanged(rng):
    feeds, fetches = _conv_net(rng)
    g, spec_fetches, spec_feeds = _specialized(fetches, feeds)
    g2, new_fetches = sink_transposes(g, spec_fetches)
    before, after = _activation_transposes(g), _activation_transposes(g2)
    # left: the input's (forward, and its gradient's way back) and the flatten's (forward and backward)
    assert len(before) >= 12 and len(after) == 4, [n.inputs[0].node.op for n in after]
    assert {n.inputs[0].node.op for n in after} <= {"placeholder", "max_pool", "reshape_like", "conv_transpose"}
    assert not any(n.op == "sum_to" and n.inputs[0].node.op == "transpose" for n in g2.nodes)  # bias grads
    want = reference.evaluate(spec_fetches, spec_feeds)
    got = reference.evaluate(new_fetches, _by_name(g2, spec_feeds))
    for gv, wv in zip(got, want):
        assert gv.shape == wv.shape
        assert_close(gv, wv)


def test_conv_net_gradients_compiled_with_the_pass_match_numpy(rng):
    feeds, fetches = _conv_net(rng)
    want = reference.evaluate(fetches, feeds)
    with gc.Session() as sess:
        exe = sess.compiled(fetches, feeds)
        got = sess.run(fetches, feeds)
    # the NHWC <-> NCHW transposes around each conv are gone: a bias add + ReLU fuses into its conv
    assert sum("conv_add_relu" in k for k in exe.kernels) == 2, list(exe.kernels)
    for gv, wv in zip(got, want):
        assert_close(gv, wv)


def test_elementwise_chains_and_broadcast_operands_sink(rng):
    """exp, multiply by a scalar, add of a per-channel operand, where over a transposed condition: one
    transpose left at the end, and a same-rank operand that is no transpose (a copy to move it) stops it."""
    a = gc.placeholder(gc.float32, (2, 3, 4, 5), name="a")
    c = gc.placeholder(gc.float32, (3, 1, 1), name="c")    # per channel of the NCHW source (dims 1 of 4)
    t = gc.transpose(a, TO_NHWC)                            # [2, 4, 5, 3]
    y = gc.exp(t) * 2.0 + gc.reshape(c, [3])
    z = gc.where(gc.greater(t, 0.0), y, gc.zeros_like(y))
    other = gc.placeholder(gc.float32, (2, 4, 5, 3), name="other")
    blocked = z + other                                     # stays: `other` would need a transpose of its own
    out = gc.transpose(z, TO_NCHW) * 3.0
    feeds = {a: rng.standard_normal((2, 3, 4, 5)).astype("float32"), c: rng.standard_normal((3, 1, 1)).astype("float32"),
             other: rng.standard_normal((2, 4, 5, 3)).astype("float32")}
    g, fetches, spec_feeds = _specialized([out, blocked], feeds)
    g2, new_fetches = sink_transposes(g, fetches)
    ops = [n.op for n in g2.nodes]
    assert ops.count("transpose") == 1  # z's, for `blocked`; `out` reads the untransposed chain
    assert new_fetches[0].node.op == "multiply" and new_fetches[0].node.inputs[0].node.op == "where"
    want = reference.evaluate(fetches, spec_feeds)
    got = reference.evaluate(new_fetches, _by_name(g2, spec_feeds))
    for gv, wv in zip(got, want):
        np.testing.assert_array_equal(gv, wv)  # elementwise ops in another order of elements: bit-exact


def test_no_sinking_where_it_would_transpose_more(rng):
    """A transpose whose transposed value is fetched as well as an op of it: sinking would add a second
    transpose (of exp's result), so the graph is left as it was."""
    a = gc.placeholder(gc.float32, (2, 3, 4, 5), name="a")
    t = gc.transpose(a, TO_NHWC)
    feeds = {a: rng.standard_normal((2, 3, 4, 5)).astype("float32")}
    g, fetches, _ = _specialized([t, gc.exp(t)], feeds)
    g2, new_fetches = sink_transposes(g, fetches)
    assert g2 is g and new_fetches == fetches
