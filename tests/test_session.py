"""Session semantics: fetch structures, the compile cache, and clear errors for bad input."""
import collections

import numpy as np
import pytest

import graphc as gc

from conftest import assert_close


@pytest.fixture
def graph():
    x = gc.placeholder(gc.float32, (None, 3), name="x")
    y = gc.reduce_sum(x * 2.0, axis=1, name="y")
    return x, y


def test_nested_fetches_keep_their_structure(graph):
    x, y = graph
    Pair = collections.namedtuple("Pair", "a b")
    xv = np.ones((2, 3), np.float32)
    with gc.Session() as sess:
        out = sess.run({"list": [y, (y, x)], "pair": Pair(y, "y:0"), "op": y.node}, {x: xv})
    assert isinstance(out["list"], list) and isinstance(out["list"][1], tuple)
    assert isinstance(out["pair"], Pair)
    assert_close(out["pair"].b, np.full(2, 6, np.float32))
    assert_close(out["list"][1][1], xv)
    assert out["op"] is None


def test_compile_cache_by_signature(graph):
    x, y = graph
    with gc.Session() as sess:
        sess.run(y, {x: np.ones((2, 3), np.float32)})
        sess.run(y, {x: np.zeros((2, 3), np.float32)})
        assert sess.compile_count == 1          # same signature: no new compile
        sess.run(y, {x: np.ones((5, 3), np.float32)})
        sess.run(y, {x: np.ones((5, 3), np.float32)})
        assert sess.compile_count == 2          # a new feed shape compiles once
        sess.run([y, x], {x: np.ones((5, 3), np.float32)})
        assert sess.compile_count == 3          # new fetches: a new signature


def test_missing_feed_names_the_placeholder(graph):
    _, y = graph
    with gc.Session() as sess, pytest.raises(gc.FeedError, match=r"placeholder 'x'.*float32.*\['\?', 3\]"):
        sess.run(y)


def test_wrong_shape_and_dtype_feeds(graph):
    x, y = graph
    with gc.Session() as sess:
        with pytest.raises(gc.FeedError, match=r"shape \[2, 4\] to tensor x:0, which has shape \['\?', 3\]"):
            sess.run(y, {x: np.ones((2, 4), np.float32)})
        i = gc.placeholder(gc.int32, (2,), name="i")
        with pytest.raises(gc.FeedError, match="dtype float64 to tensor i:0, which has dtype int32"):
            sess.run(i + 1, {i: np.ones(2)})
        with pytest.raises(gc.FeedError, match="do not fit"):
            sess.run(i + 1, {i: np.array([2 ** 40, 1])})
        assert sess.compile_count == 0


def test_unknown_and_foreign_fetches(graph):
    x, y = graph
    other = gc.Graph()
    with other.as_default():
        z = gc.placeholder(gc.float32, (3,), name="z")
    with gc.Session() as sess:
        with pytest.raises(gc.FetchError, match="no operation named 'nope'"):
            sess.run("nope:0")
        with pytest.raises(gc.FetchError, match="cannot fetch 3.5"):
            sess.run(3.5)
        with pytest.raises(gc.GraphError, match="another graph"):
            sess.run(z, {z: np.ones(3, np.float32)})
        with pytest.raises(gc.GraphError, match="another graph"):
            sess.run(y, {z: np.ones(3, np.float32)})


def test_feeding_an_intermediate_tensor_prunes_its_inputs(graph):
    x, y = graph
    doubled = y.node.inputs[0]
    with gc.Session() as sess:
        assert_close(sess.run(y, {doubled: np.ones((2, 3), np.float32)}), np.full(2, 3, np.float32))


def test_failed_compile_leaves_nothing_in_the_cache():
    a = gc.placeholder(gc.float32, (None,), name="a")
    b = gc.placeholder(gc.float32, (None,), name="b")
    c = a + b
    with gc.Session() as sess:
        with pytest.raises(gc.ShapeError, match="do not broadcast"):
            sess.run(c, {a: np.ones(3, np.float32), b: np.ones(4, np.float32)})
        assert sess.compile_count == 0 and not sess._cache
        assert_close(sess.run(c, {a: np.ones(3, np.float32), b: np.ones(3, np.float32)}), np.full(3, 2, np.float32))
        assert sess.compile_count == 1


def test_gpu_placement_compiles_cuda_then_reports_no_gpu():
    import tvm
    if tvm.cuda(0).exist:
        pytest.skip("this machine has a GPU: the no-GPU message does not apply")
    with gc.device("/gpu:0"):
        x = gc.placeholder(gc.float32, (4, 8), name="x")
        y = gc.softmax(gc.matmul(x, gc.transpose(x)) + 1.0)
    with gc.Session() as sess:
        exe = sess.compiled(y, {x: np.ones((4, 8), np.float32)})
        assert exe.plan.target == "cuda"
        source = exe.module.mod.imports[0].inspect_source()
        assert "__global__" in source
        with pytest.raises(gc.DeviceError, match="no CUDA GPU is present"):
            sess.run(y, {x: np.ones((4, 8), np.float32)})


def test_unknown_device_name():
    with pytest.raises(gc.DeviceError, match="unknown device '/tpu:0'"):
        with gc.device("/tpu:0"):
            pass
