"""Session guarantees: bad feeds and fetches fail clearly, fetch structures round-trip, signatures
compile once (and a failed compile leaves nothing behind), '/gpu:0' compiles CUDA kernels."""
import collections

import numpy as np
import pytest

import graphc
from graphc.runtime.compiler import compile_graph
from graphc.passes.specialize import specialize

from conftest import assert_close


@pytest.fixture
def xy():
    x = graphc.placeholder(graphc.float32, [None, 3], name="x")
    y = graphc.placeholder(graphc.float32, [None, 3], name="y")
    return x, y


def _val(rows=2, seed=0):
    return np.random.default_rng(seed).standard_normal((rows, 3)).astype(np.float32)


# ---- bad feeds ----------------------------------------------------------------------------------
def test_missing_feed_names_placeholder_dtype_and_shape(xy):
    x, y = xy
    with graphc.Session() as sess:
        with pytest.raises(graphc.FeedError) as e:
            sess.run(x + y, {x: _val()})
    msg = str(e.value)
    assert "'y'" in msg and "float32" in msg and "['?', 3]" in msg


def test_feed_of_wrong_shape_names_tensor_and_expected_shape(xy):
    x, _ = xy
    with graphc.Session() as sess:
        with pytest.raises(graphc.FeedError) as e:
            sess.run(x * 2.0, {x: np.zeros((2, 4), np.float32)})
    msg = str(e.value)
    assert "x:0" in msg and "[2, 4]" in msg and "['?', 3]" in msg


def test_feed_of_wrong_rank_and_wrong_dtype(xy):
    x, _ = xy
    i = graphc.placeholder(graphc.int32, [2], name="i")
    with graphc.Session() as sess:
        with pytest.raises(graphc.FeedError, match="x:0"):
            sess.run(x * 2.0, {x: np.zeros((3,), np.float32)})
        with pytest.raises(graphc.FeedError) as e:
            sess.run(i + 1, {i: np.array([0.5, 1.5])})  # floats into an int tensor lose their kind
        assert "i:0" in str(e.value) and "int32" in str(e.value) and "float64" in str(e.value)
        with pytest.raises(graphc.FeedError, match="do not fit"):
            sess.run(i + 1, {i: np.array([2 ** 40, 0])})


def test_feed_key_that_is_not_a_tensor(xy):
    x, _ = xy
    with graphc.Session() as sess:
        with pytest.raises(graphc.FeedError, match="not a tensor"):
            sess.run(x * 2.0, {3: _val()})
        with pytest.raises(graphc.FeedError, match="nope"):
            sess.run(x * 2.0, {"nope:0": _val()})


# ---- bad fetches ---------------------------------------------------------------------------------
def test_unknown_fetch_name(xy):
    x, _ = xy
    with graphc.Session() as sess:
        with pytest.raises(graphc.FetchError, match="no_such_op"):
            sess.run("no_such_op:0", {x: _val()})
        with pytest.raises(graphc.FetchError, match="outputs"):
            sess.run("x:5", {x: _val()})


@pytest.mark.parametrize("bad", [3, object(), None, 1.5])
def test_fetch_of_a_non_tensor(bad):
    with graphc.Session() as sess:
        with pytest.raises(graphc.FetchError, match="expected a Tensor"):
            sess.run(bad)


def test_tensors_of_another_graph_cannot_be_fed_or_fetched(xy):
    x, _ = xy
    other = graphc.Graph()
    with other.as_default():
        z = graphc.placeholder(graphc.float32, [3], name="z")
        w = z * 2.0
    with graphc.Session() as sess:
        with pytest.raises(graphc.GraphError, match="another graph"):
            sess.run(w, {z: np.ones(3, np.float32)})
        with pytest.raises(graphc.GraphError, match="another graph"):
            sess.run(x * 2.0, {x: _val(), z: np.ones(3, np.float32)})


def _stateful_source_op():
    """A stateful source op for this test (no op of this branch is stateful: variables come elsewhere)."""
    from graphc.registry import Pattern, TensorType, get_op, register_op
    try:
        return get_op("_test_stateful_source")
    except KeyError:
        return register_op("_test_stateful_source", pattern=Pattern.SOURCE, stateful=True, differentiable=False,
                           infer=lambda n: TensorType((3,), graphc.float32),
                           reference=lambda n: np.zeros(3, np.float32))


def test_stateful_outputs_cannot_be_fed():
    _stateful_source_op()
    v = graphc.get_default_graph().create_node("_test_stateful_source", (), {}, "state").outputs[0]
    with graphc.Session() as sess:
        with pytest.raises(graphc.FeedError, match="state:0.*stateful"):
            sess.run(v * 2.0, {v: np.ones(3, np.float32)})


# ---- fetch structures ---------------------------------------------------------------------------
def test_nested_fetches_keep_their_structure(xy):
    x, y = xy
    Pair = collections.namedtuple("Pair", "sum diff")
    a, b = _val(seed=1), _val(seed=2)
    s, d, p = x + y, x - y, x * y
    fetches = {"pair": Pair(s, d), "list": [p, (x, [s])], "name": "y:0"}
    with graphc.Session() as sess:
        out = sess.run(fetches, {x: a, y: b})
    assert set(out) == {"pair", "list", "name"}
    assert isinstance(out["pair"], Pair) and isinstance(out["list"], list) and isinstance(out["list"][1], tuple)
    assert_close(out["pair"].sum, a + b)
    assert_close(out["pair"].diff, a - b)
    assert_close(out["list"][0], a * b)
    assert_close(out["list"][1][0], a)
    assert_close(out["list"][1][1][0], a + b)
    assert_close(out["name"], b)


def test_empty_structures_and_constants_need_no_feed():
    c = graphc.constant(np.arange(3.0, dtype=np.float32))
    with graphc.Session() as sess:
        assert sess.run([]) == [] and sess.run({}) == {} and sess.run(()) == ()
        got = sess.run({"c": c, "d": [c + 1.0]})
    assert_close(got["c"], np.arange(3.0, dtype=np.float32))
    assert_close(got["d"][0], np.arange(3.0, dtype=np.float32) + 1)


def test_fetching_an_op_returns_none_and_a_tensor_twice_returns_it_twice(xy):
    x, y = xy
    s = x + y
    a, b = _val(seed=3), _val(seed=4)
    with graphc.Session() as sess:
        assert sess.run(s.node, {x: a, y: b}) is None
        r = sess.run([s, s.node, s, "add"], {x: a, y: b})
    assert r[1] is None and r[3] is None
    assert_close(r[0], a + b)
    assert_close(r[2], a + b)


# ---- the compile cache --------------------------------------------------------------------------
def test_same_signature_compiles_once_and_a_new_shape_once_more(xy):
    x, y = xy
    s = graphc.reduce_sum(x * y, axis=1)
    with graphc.Session() as sess:
        for seed in range(3):
            a, b = _val(2, seed), _val(2, seed + 10)
            assert_close(sess.run(s, {x: a, y: b}), (a * b).sum(1))
        assert sess.compile_count == 1
        for seed in range(2):
            a, b = _val(5, seed), _val(5, seed + 10)
            assert_close(sess.run(s, {x: a, y: b}), (a * b).sum(1))
        assert sess.compile_count == 2
        sess.run(s, {x: _val(2), y: _val(2)})
        assert sess.compile_count == 2


def test_feed_dict_order_does_not_matter(xy):
    x, y = xy
    d = x - y
    a, b = _val(2, 1), _val(2, 2)
    with graphc.Session() as sess:
        assert_close(sess.run(d, {x: a, y: b}), a - b)
        assert_close(sess.run(d, {y: b, x: a}), a - b)
        assert_close(sess.run(d, {"y:0": a, x: b}), b - a)
        assert sess.compile_count == 1


def test_failed_compile_leaves_nothing_cached(xy):
    x, y = xy
    s = x + y
    with graphc.Session() as sess:
        with pytest.raises(graphc.ShapeError, match="broadcast"):
            sess.run(s, {x: _val(2), y: _val(4)})  # shapes that only clash when fed
        assert sess.compile_count == 0 and not sess._cache
        a, b = _val(4, 1), _val(4, 2)
        assert_close(sess.run(s, {x: a, y: b}), a + b)
        assert sess.compile_count == 1


def test_closed_session_refuses_to_run(xy):
    x, _ = xy
    sess = graphc.Session()
    sess.close()
    with pytest.raises(graphc.GraphError, match="closed"):
        sess.run(x, {x: _val()})


# ---- devices ---------------------------------------------------------------------------------------
def _small_graph():
    x = graphc.placeholder(graphc.float32, [None, 4], name="x")
    return x, graphc.reduce_sum(graphc.exp(x) * 2.0, axis=1) + x[:, 0]


def test_gpu_placement_compiles_cuda_then_reports_a_missing_gpu():
    import tvm
    if tvm.cuda(0).exist:
        pytest.skip("a GPU is present: the missing-GPU error cannot happen here")
    with graphc.device("/gpu:0"):
        x, y = _small_graph()
    with graphc.Session() as sess:
        with pytest.raises(graphc.DeviceError, match="no CUDA GPU"):
            sess.run(y, {x: np.ones((3, 4), np.float32)})
        assert sess.compile_count == 1  # the kernels were built before the run found no GPU


def test_cuda_module_source_has_global_kernels():
    x, y = _small_graph()
    g, mapping, _ = specialize([y], {x: ((3, 4), graphc.float32)})
    exe = compile_graph(g, [mapping[id(y)]], target="cuda")
    src = exe.module.mod.imports[0].inspect_source()
    assert src.count("__global__") >= 1
    for kernel in exe.kernels:
        assert kernel in src


def test_unknown_device_name():
    with pytest.raises(graphc.DeviceError, match="unknown device"):
        with graphc.device("/tpu:0"):
            pass
