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
        with pytest.raises(gc.FeedError, match="dtype <U1 to tensor i:0, which has dtype int32"):
            sess.run(i + 1, {i: np.array(["a", "b"])})
        with pytest.raises(gc.FeedError, match="do not fit"):
            sess.run(i + 1, {i: np.array([2 ** 40, 1])})
        assert sess.compile_count == 0
        # floats fed to an int placeholder are truncated toward zero, as TF1 converts them
        np.testing.assert_array_equal(sess.run(i + 1, {i: np.array([1.7, -2.5])}), [2, -1])


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


# ---- more guarantees (shape-ops helper) --------------------------------------------------------------
def _val(rows=2, seed=0):
    return np.random.default_rng(seed).standard_normal((rows, 3)).astype(np.float32)


def test_stateful_outputs_cannot_be_fed():
    # a variable may be fed, as in TF1 (tests/test_training.py); an assignment's result may not
    v = gc.Variable(np.zeros(3, np.float32), name="state")
    update = v.assign_add(np.ones(3, np.float32))
    with gc.Session() as sess:
        with pytest.raises(gc.FeedError, match="assign_add.*stateful"):
            sess.run(update * 2.0, {update: np.ones(3, np.float32)})


def test_feed_keys_that_are_not_tensors():
    x = gc.placeholder(gc.float32, (None, 3), name="x")
    with gc.Session() as sess:
        with pytest.raises(gc.FeedError, match="not a tensor"):
            sess.run(x * 2.0, {3: _val()})
        with pytest.raises(gc.FeedError, match="nope"):
            sess.run(x * 2.0, {"nope:0": _val()})


@pytest.mark.parametrize("bad", [3, object(), None])
def test_fetch_of_a_non_tensor(bad):
    with gc.Session() as sess:
        with pytest.raises(gc.FetchError, match="expected a Tensor"):
            sess.run(bad)


def test_fetching_an_op_returns_none_and_a_tensor_twice_returns_it_twice():
    x = gc.placeholder(gc.float32, (None, 3), name="x")
    y = gc.placeholder(gc.float32, (None, 3), name="y")
    s = gc.add(x, y, name="sum")
    a, b = _val(seed=3), _val(seed=4)
    with gc.Session() as sess:
        assert sess.run(s.node, {x: a, y: b}) is None
        r = sess.run([s, s.node, s, "sum"], {x: a, y: b})
    assert r[1] is None and r[3] is None
    assert_close(r[0], a + b)
    assert_close(r[2], a + b)


def test_empty_structures_and_constants_need_no_feed():
    c = gc.constant(np.arange(3.0, dtype=np.float32))
    with gc.Session() as sess:
        assert sess.run([]) == [] and sess.run({}) == {} and sess.run(()) == ()
        got = sess.run({"c": c, "d": [c + 1.0]})
    assert_close(got["c"], np.arange(3.0, dtype=np.float32))
    assert_close(got["d"][0], np.arange(3.0, dtype=np.float32) + 1)


def test_feed_dict_order_does_not_matter():
    x = gc.placeholder(gc.float32, (None, 3), name="x")
    y = gc.placeholder(gc.float32, (None, 3), name="y")
    d = x - y
    a, b = _val(2, 1), _val(2, 2)
    with gc.Session() as sess:
        assert_close(sess.run(d, {x: a, y: b}), a - b)
        assert_close(sess.run(d, {y: b, x: a}), a - b)
        assert_close(sess.run(d, {"y:0": a, x: b}), b - a)
        assert sess.compile_count == 1


def test_empty_results_need_no_kernel():
    x = gc.placeholder(gc.float32, (4, 5), name="x")
    v = np.arange(20, dtype=np.float32).reshape(4, 5)
    with gc.Session() as sess:
        got = sess.run([x[3:0:-1, 2:1], x[10:], x[1:3] * 2.0], {x: v})
    assert_close(got[0], v[3:0:-1, 2:1])
    assert_close(got[1], v[10:])
    assert_close(got[2], v[1:3] * 2)


def test_closed_session_refuses_to_run():
    x = gc.placeholder(gc.float32, (None, 3), name="x")
    sess = gc.Session()
    sess.close()
    with pytest.raises(gc.GraphError, match="closed"):
        sess.run(x, {x: _val()})


def test_cuda_module_source_has_global_kernels():
    from graphc.passes.specialize import specialize
    from graphc.runtime.compiler import compile_graph
    x = gc.placeholder(gc.float32, (None, 4), name="x")
    y = gc.reduce_sum(gc.exp(x) * 2.0, axis=1) + x[:, 0]
    g, mapping, _ = specialize([y], {x: ((3, 4), gc.float32)})
    exe = compile_graph(g, [mapping[id(y)]], target="cuda")
    src = exe.module.mod.imports[0].inspect_source()
    assert src.count("__global__") >= len(exe.kernels) > 0
    assert all(k in src for k in exe.kernels)


def test_read_only_aligned_feeds_are_copied_not_shared():
    from graphc.runtime.executor import aligned_empty
    x = gc.placeholder(gc.float32, (16,), name="ro")
    value = aligned_empty((16,), np.float32)
    value[:] = np.arange(16)
    value.setflags(write=False)  # e.g. np.frombuffer data, or arrays from onnx test sets
    with gc.Session() as sess:
        assert_close(sess.run(x * 2.0, {x: value}), np.arange(16, dtype=np.float32) * 2)
