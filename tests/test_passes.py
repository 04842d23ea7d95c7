"""Each pass on small graphs (the structure it produces), fusion and memory planning targets,
and the inspection API."""
import os

import numpy as np
import pytest

import graphc as gc
import graphc.compat.v1 as tf
from graphc.passes.cse import cse
from graphc.passes.dce import dce
from graphc.passes.fold import fold
from graphc.analysis.fusion import fuse_groups
from graphc.analysis.memory import plan_memory
from graphc.passes.simplify import simplify
from graphc.passes.specialize import specialize

from conftest import assert_close


def specialized(fetches, feeds):
    g, mapping, _ = specialize(fetches, {t: (a.shape, gc.as_dtype(a.dtype)) for t, a in feeds.items()})
    return g, [mapping[id(t)] for t in fetches]


def ops_of(graph):
    return [n.op for n in graph.nodes]


def test_dce_keeps_feeds_and_state_drops_the_rest():
    x = gc.placeholder(gc.float32, (3,))
    y = gc.exp(x)
    gc.log(x)  # unused
    g, (yy,) = specialized([y], {x: np.ones(3, np.float32)})
    g2, _ = dce(g, [yy])
    assert ops_of(g2) == ["placeholder", "exp"]


def test_cse_merges_equal_nodes():
    x = gc.placeholder(gc.float32, (3,))
    y = gc.exp(x) + gc.exp(x)
    g, fetches = specialized([y], {x: np.ones(3, np.float32)})
    g2, _ = cse(g, fetches)
    assert ops_of(g2).count("exp") == 1 and ops_of(g).count("exp") == 2


def test_fold_folds_constants_but_not_feeds():
    x = gc.placeholder(gc.float32, (2,))
    c = gc.exp(gc.constant([0.0, 1.0])) * 2.0
    y = x * c
    g, fetches = specialized([y], {x: np.ones(2, np.float32)})
    g2, (yy,) = fold(g, fetches)
    assert ops_of(g2).count("multiply") == 1 and "exp" not in ops_of(g2)
    assert yy.node.op == "multiply" and yy.node.inputs[0].node.op == "placeholder"
    np.testing.assert_allclose(yy.node.inputs[1].node.attrs["value"], np.exp([0.0, 1.0]) * 2, rtol=1e-6)


def test_simplify_identities_and_matmul_transposes():
    a = gc.placeholder(gc.float32, (4, 3))
    b = gc.placeholder(gc.float32, (4, 5))
    y = gc.matmul(gc.transpose(a), b) * 1.0 + 0.0
    z = gc.negative(gc.negative(gc.reshape(a, (4, 3))))
    w = gc.transpose(gc.transpose(a, (1, 0)), (1, 0))
    g, fetches = specialized([y, z, w], {a: np.ones((4, 3), np.float32), b: np.ones((4, 5), np.float32)})
    g2, (yy, zz, ww) = simplify(g, fetches)
    assert yy.node.op == "matmul" and yy.node.attrs["transpose_a"] and yy.node.inputs[0].node.op == "placeholder"
    assert zz.node.op == "placeholder" and ww.node.op == "placeholder"


def _mlp(layers, width=64, batch=16, rng=None):
    rng = rng or np.random.default_rng(0)
    x = gc.placeholder(gc.float32, (None, width), name="x")
    h = x
    for _ in range(layers):
        w = gc.constant(rng.standard_normal((width, width)).astype(np.float32) / 8)
        b = gc.constant(rng.standard_normal(width).astype(np.float32))
        h = gc.relu(gc.matmul(h, w) + b)
    return x, h, rng.standard_normal((batch, width)).astype(np.float32)


def test_mlp_forward_is_three_kernels_and_matches_unfused():
    x, h, xv = _mlp(3)
    with gc.Session() as fused, gc.Session(opt_level=0) as plain:
        exe = fused.compiled(h, {x: xv})
        assert exe.num_kernels == 3, exe.kernels
        assert all("matmul" in k and "relu" in k for k in exe.kernels)
        assert plain.compiled(h, {x: xv}).num_kernels == 9
        assert_close(fused.run(h, {x: xv}), plain.run(h, {x: xv}))


def test_twenty_layer_mlp_reuses_memory():
    x, h, xv = _mlp(20)
    with gc.Session() as sess:
        exe = sess.compiled(h, {x: xv})
        assert exe.arena_bytes / exe.unplanned_bytes <= 0.35, (exe.arena_bytes, exe.unplanned_bytes)
        with gc.Session(opt_level=0) as plain:
            assert_close(sess.run(h, {x: xv}), plain.run(h, {x: xv}))


def test_tf1_snippet_with_gradients_is_at_most_four_kernels():
    x, y, z = (tf.placeholder(tf.float32) for _ in range(3))
    c = tf.reduce_sum(x * y + z)
    grads = tf.gradients(c, [x, y, z])
    big = np.ones((1100, 1000), np.float32)  # above the folding bound: the gradients stay kernels
    with tf.Session() as sess:
        exe = sess.compiled([c] + grads, {x: big, y: big, z: big})
        assert exe.num_kernels <= 4, exe.kernels


def test_mlp_training_step_is_at_most_eighteen_kernels():
    x = tf.placeholder(tf.float32, [None, 784])
    labels = tf.placeholder(tf.int32, [None])
    h = x
    for i, (a, b) in enumerate([(784, 512), (512, 512), (512, 10)]):
        w, bias = tf.Variable(tf.glorot_uniform_initializer()([a, b])), tf.Variable(tf.zeros([b]))
        h = tf.matmul(h, w) + bias
        h = tf.nn.relu(h) if i < 2 else h
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=h))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    feed = {x: np.random.default_rng(0).random((128, 784), np.float32),
            labels: np.arange(128, dtype=np.int32) % 10}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        exe = sess.compiled([train, loss], feed)
        assert exe.num_kernels <= 18, exe.kernels
        assert sum("assign_sub" in k for k in exe.kernels) == 6
        assert all(np.ptp(c) > 0 for c in exe.plan.constants.values())  # relu's zero gradient: immediates


def test_splat_constants_are_compiled_in_as_values(rng):
    """A constant whose elements are all equal (relu's gradient folds its zeros_like to one) becomes an
    immediate in the kernel instead of a buffer read element by element; other constants stay buffers."""
    x = tf.placeholder(tf.float32, [64, 300])
    threes, ramp = np.full((64, 300), 3.0, np.float32), np.arange(300, dtype=np.float32)
    y = tf.nn.relu(x) * tf.constant(threes) + tf.constant(ramp)
    xv = rng.standard_normal((64, 300)).astype(np.float32)
    with tf.Session() as sess:
        exe = sess.compiled(y, {x: xv})
        assert [c.shape for c in exe.plan.constants.values()] == [(300,)]
        assert_close(sess.run(y, {x: xv}), np.maximum(xv, 0) * threes + ramp)


def test_rearranging_producers_fuse_into_the_matmul_operand_copies(rng):
    """Attention's head split (reshape + transpose of q and k) is read by the matmul's operand copies, one
    kernel in all; a producer that computes (x * 2) stays a kernel of its own."""
    x, y = gc.placeholder(gc.float32, (128, 256)), gc.placeholder(gc.float32, (128, 256))
    heads = lambda t: gc.transpose(gc.reshape(t, (128, 4, 64)), (1, 0, 2))  # noqa: E731
    scores = gc.matmul(heads(x), heads(y * 2.0), transpose_b=True)
    xv, yv = (rng.standard_normal((128, 256)).astype(np.float32) for _ in range(2))
    split = lambda v: v.reshape(128, 4, 64).transpose(1, 0, 2)  # noqa: E731
    with gc.Session() as sess:
        exe = sess.compiled(scores, {x: xv, y: yv})
        assert exe.num_kernels == 2 and any("transpose_matmul" in k for k in exe.kernels), exe.kernels
        assert_close(sess.run(scores, {x: xv, y: yv}), split(xv) @ split(yv * 2).transpose(0, 2, 1))


def test_split_becomes_slices_that_fuse_into_their_consumers(rng):
    """simplify cuts a split into slices, so each part is read where it is used: one kernel, not a split
    kernel writing all parts and another reading them."""
    x = gc.placeholder(gc.float32, (8, 12))
    a, b, c = gc.split(x, 3, axis=1)
    y = gc.exp(a) + b * c
    xv = rng.standard_normal((8, 12)).astype(np.float32)
    g, (sy,) = specialized([y], {x: xv})
    assert "split" not in ops_of(simplify(g, [sy])[0])
    with gc.Session() as sess:
        assert sess.compiled(y, {x: xv}).num_kernels == 1
        assert_close(sess.run(y, {x: xv}), np.exp(xv[:, :4]) + xv[:, 4:8] * xv[:, 8:])


def test_a_split_into_many_parts_stays_one_kernel_so_unrolled_steps_share_theirs(rng):
    """An unstack over time (a split into more parts than SLICED_SPLIT_MAX_PARTS) stays a split: sliced,
    each step's consumer would read its own offset and be a distinct kernel to compile."""
    from graphc.passes.simplify import SLICED_SPLIT_MAX_PARTS
    steps = SLICED_SPLIT_MAX_PARTS + 4
    x = gc.placeholder(gc.float32, (4, steps, 8))
    h = gc.zeros((4, 8), gc.float32)
    for part in gc.split(x, steps, axis=1):
        h = gc.tanh(gc.reshape(part, (4, 8)) * 0.5 + h)
    xv = rng.standard_normal((4, steps, 8)).astype(np.float32)
    g, (sh,) = specialized([h], {x: xv})
    assert "split" in ops_of(simplify(g, [sh])[0])
    want = np.zeros((4, 8), np.float32)
    for t in range(steps):
        want = np.tanh(xv[:, t] * 0.5 + want)
    with gc.Session() as sess:
        exe = sess.compiled(h, {x: xv})
        assert len(set(exe.kernels)) < steps, exe.kernels
        assert_close(sess.run(h, {x: xv}), want)


def test_fusion_keeps_a_multiply_used_value_written_out():
    x = gc.placeholder(gc.float32, (8,))
    e = gc.exp(x)
    y, z = e * 2.0, gc.reduce_sum(e)
    g, fetches = specialized([y, z, e], {x: np.ones(8, np.float32)})
    groups = fuse_groups(g, fetches)
    assert sum(len(gr) for gr in groups) == len([n for n in g.nodes if n.op not in ("placeholder", "constant")])
    xv = np.linspace(-1, 1, 8).astype(np.float32)
    with gc.Session() as sess:
        yv, zv, ev = sess.run([y, z, e], {x: xv})
    assert_close(ev, np.exp(xv))
    assert_close(yv, np.exp(xv) * 2)
    np.testing.assert_allclose(zv, np.exp(xv).sum(), rtol=1e-5)


def test_memory_plan_reuses_dead_buffers_and_writes_in_place():
    temps = {1: 1000, 2: 1000, 3: 1000, 4: 1000}
    calls = [((0,), (1,)), ((1,), (2,)), ((2,), (3,)), ((3,), (4,))]
    offsets, size = plan_memory(calls, temps)
    assert size == 2 * 1024 and offsets[1] == offsets[3] and offsets[2] == offsets[4]
    offsets, size = plan_memory(calls, temps, in_place_calls={1, 2, 3})
    assert size == 1024 and len(set(offsets.values())) == 1
    # a buffer read later must not be overwritten
    offsets, _ = plan_memory([((0,), (1,)), ((1,), (2,)), ((1, 2), (3,))], {1: 64, 2: 64, 3: 64})
    assert len({offsets[1], offsets[2]}) == 2


def test_dump_instrument_profile_and_viz(tmp_path, monkeypatch):
    x, h, xv = _mlp(2)
    monkeypatch.setenv("GRAPHC_DUMP", str(tmp_path / "dump"))
    with gc.Session() as sess:
        exe = sess.compiled(h, {x: xv})
        times = exe.profile({x: xv}, repeat=3)
    dumped = sorted(os.listdir(tmp_path / "dump"))
    assert any(f.endswith("simplify_before.txt") for f in dumped) and any(f.endswith("dce_after.txt") for f in dumped)
    assert [r.name for r in exe.pass_records][:2] == ["simplify", "fold"]
    assert all(r.seconds >= 0 and r.nodes_after <= r.nodes_before + 4 for r in exe.pass_records)
    assert set(times) == set(exe.kernels) and all(t > 0 for t in times.values())
    import shutil
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (make install adds it)")
    svg = gc.viz(exe, str(tmp_path / "mlp.svg"))
    text = open(svg).read()
    assert text.lstrip().startswith("<?xml") and "cluster" in text and "matmul" in text


def test_arena_offsets_are_aligned_and_live_buffers_never_overlap():
    """Odd-sized intermediates still start on 64-byte boundaries; two buffers share bytes only when
    one is dead by the time the other is written (or is overwritten in place by the kernel reading it)."""
    from graphc.runtime.plan import TEMP
    rng = np.random.default_rng(3)
    x = tf.placeholder(tf.float32, (7, 13))
    h = x
    for i in range(4):
        w = tf.constant(rng.standard_normal((13, 13)).astype(np.float32))
        h = tf.nn.relu(tf.matmul(h, w)) * 0.5 + tf.exp(-h)
        h = h - tf.reduce_max(h, axis=1, keepdims=True)
    xv = rng.standard_normal((7, 13)).astype(np.float32)
    with gc.Session() as sess:
        exe = sess.compiled(h, {x: xv})
        plan = exe.plan
        planned = [b for b in plan.buffers if b.kind == TEMP and b.offset >= 0]
        assert planned and all(b.offset % 64 == 0 for b in planned), [(b.name, b.offset) for b in planned]
        assert all(b.offset + b.nbytes <= exe.arena_bytes for b in planned)
        born, last = {}, {}
        for i, call in enumerate(plan.calls):
            for bid in call.args:
                born.setdefault(bid, i)
                last[bid] = i
        for a in planned:
            for b in planned:
                if a.id >= b.id or a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset:
                    continue
                first, second = (a, b) if born[a.id] <= born[b.id] else (b, a)
                assert last[first.id] <= born[second.id], (first.name, second.name, exe.kernels)
        with gc.Session(opt_level=0) as plain:
            assert_close(sess.run(h, {x: xv}), plain.run(h, {x: xv}))


def test_elementwise_side_input_joins_the_matmul_epilogue():
    """relu(h @ w) * 0.5 + exp(-h): the exp(-h) branch is computed inside the matmul's kernel."""
    rng = np.random.default_rng(4)
    x = tf.placeholder(tf.float32, (6, 9))
    w = rng.standard_normal((9, 9)).astype(np.float32)
    y = tf.nn.relu(tf.matmul(x, tf.constant(w))) * 0.5 + tf.exp(-x)
    xv = rng.standard_normal((6, 9)).astype(np.float32)
    with gc.Session() as sess:
        exe = sess.compiled(y, {x: xv})
        assert exe.num_kernels == 1, exe.kernels
        np.testing.assert_allclose(sess.run(y, {x: xv}), np.maximum(xv @ w, 0) * 0.5 + np.exp(-xv),
                                   rtol=1e-5, atol=1e-5)


def test_side_input_depending_on_the_matmul_through_another_kernel_stays_correct():
    """relu(h @ w) + exp(softmax(h @ w)): exp depends on the matmul through softmax (its own kernel);
    the groups must still run in a valid order, fewer kernels than unfused, same values."""
    rng = np.random.default_rng(5)
    x = tf.placeholder(tf.float32, (4, 8))
    w = rng.standard_normal((8, 8)).astype(np.float32)
    mm = tf.matmul(x, tf.constant(w))
    y = tf.nn.relu(mm) + tf.exp(tf.nn.softmax(mm))
    xv = rng.standard_normal((4, 8)).astype(np.float32)
    with gc.Session() as sess, gc.Session(opt_level=0) as plain:
        fused, unfused = sess.compiled(y, {x: xv}), plain.compiled(y, {x: xv})
        assert fused.num_kernels < unfused.num_kernels, fused.kernels
        m = xv @ w
        e = np.exp(m - m.max(axis=1, keepdims=True))
        want = np.maximum(m, 0) + np.exp(e / e.sum(axis=1, keepdims=True))
        np.testing.assert_allclose(sess.run(y, {x: xv}), want, rtol=1e-5, atol=1e-5)


def test_profile_sums_the_calls_of_a_shared_kernel(monkeypatch):
    import time
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, [4, 8])
        w = gc.constant(np.full((8, 8), 0.5, "float32"))
        h = gc.tanh(gc.matmul(gc.tanh(gc.matmul(x, w)), w))  # the same kernel, called twice
        xv = np.ones((4, 8), "float32")
        with gc.Session(graph=g) as sess:
            exe = sess.compiled(h, {x: xv})
    calls = [c.kernel for c in exe.plan.calls]
    assert len(set(calls)) < len(calls), calls
    ticks = iter(range(10 ** 6))
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))  # every call lasts 1 "second"
    times = exe.profile({x: xv}, repeat=3)
    assert times == {k: float(calls.count(k)) for k in calls}
