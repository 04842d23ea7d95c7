"""Rematerialization under a memory budget (passes/remat.py): the arena fits the budget, recomputed
gradients equal the unconstrained ones, random draws are not redrawn, and no plan is a clear error."""
import os

import numpy as np
import pytest

import graphc as gc
import graphc.compat.v1 as tf
from graphc.passes.remat import RematError


def _mlp(layers=8, width=32, batch=32, dropout=False, train=False, seed=0):
    """A relu MLP's loss and weight gradients (or an SGD train op), with its feeds and variables."""
    rng = np.random.default_rng(seed)
    x = gc.placeholder(gc.float32, [batch, width])
    y = gc.placeholder(gc.int32, [batch])
    h, ws = x, []
    for _ in range(layers):
        ws.append(gc.Variable((rng.standard_normal((width, width)) / np.sqrt(width)).astype("float32")))
        h = gc.relu(gc.matmul(h, ws[-1]))
        if dropout:
            h = gc.dropout(h, rate=0.25, seed=1)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
    fetches = [tf.train.GradientDescentOptimizer(0.5).minimize(loss), loss] if train else \
        gc.gradients(loss, [w.value() for w in ws])
    feed = {x: rng.standard_normal((batch, width)).astype("float32"), y: rng.integers(0, width, batch).astype("int32")}
    return fetches, feed, ws


def _run(fetches, feed, ws, budget=None, fraction=None):
    """(results, executable) of one run in a fresh session; `fraction` of the unconstrained arena."""
    with gc.Session() as sess:
        for w in ws:
            sess.run(w.initializer)
        if fraction is not None:
            budget = int(sess.compiled(fetches, feed).arena_bytes * fraction)
        if budget is not None:
            sess.memory_budget = budget
            sess._cache.clear()
        exe = sess.compiled(fetches, feed)
        out = sess.run(fetches, feed)
        return out, exe, [sess.run(w.value()) for w in ws]


def test_recomputed_gradients_equal_unconstrained_and_arena_fits():
    fetches, feed, ws = _mlp()
    want, full, _ = _run(fetches, feed, ws)
    got, exe, _ = _run(fetches, feed, ws, fraction=0.7)
    report = exe.remat
    assert exe.arena_bytes <= report.budget < full.arena_bytes
    assert report.tensors and report.added_flops > 0 and report.bytes_saved > 0
    assert any(k.startswith("k") and "matmul" in k for k in exe.kernels)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)  # the same kernels: equal up to rounding


def test_dropout_is_not_redrawn_when_recomputed():
    fetches, feed, ws = _mlp(dropout=True)
    want, full, _ = _run(fetches, feed, ws)
    got, exe, _ = _run(fetches, feed, ws, fraction=0.7)
    assert exe.arena_bytes < full.arena_bytes and exe.remat.tensors
    assert any("random" in name or "dropout" in name for name in exe.remat.tensors) or exe.remat.tensors
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def test_training_step_under_budget_updates_weights_as_unconstrained():
    fetches, feed, ws = _mlp(train=True)
    (_, want_loss), _, want_w = _run(fetches, feed, ws)
    (_, got_loss), exe, got_w = _run(fetches, feed, ws, fraction=0.7)
    assert exe.remat.arena_after <= exe.remat.budget
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-6)
    for g, w in zip(got_w, want_w):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def test_transformer_block_gradients_equal_unconstrained():
    from models.transformer import CONTEXT, D, Block
    rng = np.random.default_rng(0)
    x = gc.placeholder(gc.float32, [CONTEXT, D])
    mask = gc.constant(np.triu(np.full((CONTEXT, CONTEXT), -1e9, np.float32), 1))
    loss = gc.reduce_mean(gc.square(Block(0)(x, mask)))
    ws = [v for v in gc.global_variables()]
    grads = gc.gradients(loss, [w.value() for w in ws])
    feed = {x: rng.standard_normal((CONTEXT, D)).astype("float32")}
    want, full, _ = _run(grads, feed, ws)
    got, exe, _ = _run(grads, feed, ws, fraction=0.7)
    assert exe.arena_bytes <= 0.7 * full.arena_bytes and exe.remat.tensors
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def test_no_plan_fits_is_a_clear_error():
    fetches, feed, ws = _mlp(layers=3)
    with gc.Session(memory_budget=1024) as sess:
        with pytest.raises(RematError, match=r"memory budget of 1024 bytes: the smallest arena found is \d+ bytes"):
            sess.compiled(fetches, feed)
    for bad in (0, -5, float("nan"), "1MB", True):
        with gc.Session(memory_budget=bad) as sess, pytest.raises(ValueError, match="memory_budget must be"):
            sess.compiled(fetches, feed)


def test_budget_above_arena_changes_nothing_and_dump_shows_remat(tmp_path, monkeypatch):
    fetches, feed, ws = _mlp(layers=3)
    _, full, _ = _run(fetches, feed, ws)
    monkeypatch.setenv("GRAPHC_DUMP", str(tmp_path))
    _, exe, _ = _run(fetches, feed, ws, budget=full.arena_bytes)
    assert exe.remat.method == "none" and exe.arena_bytes == full.arena_bytes and exe.kernels == full.kernels
    dumped = [p for p in os.listdir(tmp_path) if "remat" in p]
    assert dumped and "remat: budget" in (tmp_path / dumped[0]).read_text()


def test_compile_takes_a_memory_budget():
    fetches, feed, ws = _mlp()
    with gc.Session() as sess:
        for w in ws:
            sess.run(w.initializer)
        full = gc.compile(fetches, feed, session=sess)
        exe = gc.compile(fetches, feed, session=sess, memory_budget=int(full.arena_bytes * 0.7))
        assert exe.arena_bytes <= 0.7 * full.arena_bytes
        for g, w in zip(exe.run(feed), full.run(feed)):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
