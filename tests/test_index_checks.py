"""Data-dependent indices never read or write out of bounds: an index outside [-dim, dim) raises
InvalidArgumentError naming the op and the index (TF1's error); negative ones count from the end (ONNX).
Constant out-of-range indices are a clear error at compile time, at every opt level."""
import re

import numpy as np
import pytest

import graphc
from graphc import reference
from graphc.errors import InvalidArgumentError


def _gather(x, i):
    return graphc.gather(x, i, axis=0)


def _gather_elements(x, i):
    return graphc.gather_elements(x, i, axis=0)


def _gather_nd(x, i):
    return graphc.gather_nd(x, i)


def _scatter_elements(x, i):
    return graphc.scatter_elements(x, i, graphc.ones_like(graphc.cast(i, graphc.float32)), axis=0)


def _scatter_nd(x, i):
    return graphc.scatter_nd(x, i, graphc.constant(np.ones(2, np.float32)))


def _embedding(x, i):  # an embedding lookup is a gather of table rows (graphc has no separate op)
    return graphc.gather(x, i)


# op -> (builder, index shape (None: fed), good indices, bad indices, the bad index the error names)
CASES = {
    "gather": (_gather, [None], [0, -1, 4], [0, 5, 2], 5),
    "gather_far": (_gather, [None], [1], [-(10 ** 12)], -(10 ** 12)),
    "embedding_lookup": (_embedding, [None], [3, 0], [7, 2], 7),
    "gather_elements": (_gather_elements, [2, 3], [[0, -5, 4], [1, 2, 3]], [[0, 1, 2], [3, -6, 0]], -6),
    "gather_nd": (_gather_nd, [2, 2], [[0, 1], [-1, -3]], [[0, 1], [4, 3]], 3),
    "scatter_elements": (_scatter_elements, [2, 3], [[0, 1, 2], [3, 4, 0]], [[0, 1, 9], [3, 4, 0]], 9),
    "scatter_nd": (_scatter_nd, [2, 2], [[0, 1], [4, 2]], [[0, 1], [5, 2]], 5),
}


@pytest.mark.parametrize("opt_level", [0, 3])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fed_index_out_of_range_raises_invalid_argument(case, opt_level):
    build, i_shape, good, bad, named = CASES[case]
    xv = np.arange(15, dtype=np.float32).reshape(5, 3)
    g = graphc.Graph()
    with g.as_default():
        x = graphc.placeholder(np.float32, [5, 3])
        i = graphc.placeholder(np.int64, i_shape)
        y = build(x, i) * 1.0
    with graphc.Session(graph=g, opt_level=opt_level) as sess:
        feed = {x: xv, i: np.array(good, np.int64)}
        np.testing.assert_array_equal(sess.run(y, feed), reference.evaluate([y], feed)[0])
        with pytest.raises(InvalidArgumentError, match=rf"index {named} is out of range"):
            sess.run(y, {x: xv, i: np.array(bad, np.int64)})
        # the session still works after the error
        np.testing.assert_array_equal(sess.run(y, feed), reference.evaluate([y], feed)[0])


def test_index_computed_in_the_graph_is_checked():
    g = graphc.Graph()
    with g.as_default():
        x = graphc.placeholder(np.float32, [4])
        n = graphc.placeholder(np.int32, [None])
        y = graphc.gather(x, n * 3)  # out of range only once computed
    with graphc.Session(graph=g) as sess:
        np.testing.assert_array_equal(sess.run(y, {x: np.arange(4, dtype=np.float32), n: np.array([1, -1], np.int32)}),
                                      [3.0, 1.0])
        with pytest.raises(InvalidArgumentError, match="gather .*index 6"):
            sess.run(y, {x: np.arange(4, dtype=np.float32), n: np.array([0, 2], np.int32)})


@pytest.mark.parametrize("opt_level", [0, 3])
def test_constant_index_out_of_range_is_a_compile_time_error(opt_level):
    for params_fed in (True, False):
        g = graphc.Graph()
        with g.as_default():
            x = graphc.placeholder(np.float32, [5]) if params_fed else graphc.constant(np.ones(5, np.float32))
            y = graphc.gather(x, graphc.constant(np.array([1, 5], np.int64)))
        with graphc.Session(graph=g, opt_level=opt_level) as sess:
            with pytest.raises(InvalidArgumentError, match="gather .*index 5 is out of range"):
                sess.run(y, {x: np.ones(5, np.float32)} if params_fed else None)


@pytest.mark.parametrize("opt_level", [0, 1, 3])
def test_gather_of_concat_with_a_negative_constant_index(opt_level):
    """Fuzz-found: gather(concat([x, x]), constant(-1)) failed to build at opt 3 (int64 vs int32)."""
    g = graphc.Graph()
    with g.as_default():
        x = graphc.placeholder(np.float32, [3, 2])
        y = graphc.gather(graphc.concat([x, x], axis=0), graphc.constant(np.array(-1, np.int64)))
    xv = np.arange(6, dtype=np.float32).reshape(3, 2)
    with graphc.Session(graph=g, opt_level=opt_level) as sess:
        np.testing.assert_array_equal(sess.run(y, {x: xv}), np.concatenate([xv, xv])[-1])


# Runs an artifact in a fresh process that loads it with the runtime alone (no tvm package, no compiler)
FRESH_RUN = r"""
import json, sys
import numpy as np
import graphc.runtime
from graphc.errors import InvalidArgumentError
runner = graphc.runtime.load(sys.argv[1])
feeds = np.load(sys.argv[2])
report = {"good": runner.run({"x": feeds["x"], "i": feeds["good"]})["y"].tolist()}
try:
    runner.run({"x": feeds["x"], "i": feeds["bad"]})
except InvalidArgumentError as e:
    report["error"] = str(e)
report["modules"] = sorted(m for m in ("tvm", "graphc.passes", "graphc.codegen") if m in sys.modules)
print(json.dumps(report))
"""


@pytest.mark.parametrize("case", ["gather", "gather_nd"])
def test_artifact_keeps_its_index_checks(case, tmp_path):
    """An exported artifact checks fed indices as the Session does: its plan carries the index checks."""
    import json
    import subprocess
    import sys
    build, i_shape, good, bad, named = CASES[case]
    xv = np.arange(15, dtype=np.float32).reshape(5, 3)
    g = graphc.Graph()
    with g.as_default():
        x = graphc.placeholder(np.float32, [5, 3], name="x")
        i = graphc.placeholder(np.int64, [len(good)] if i_shape == [None] else i_shape, name="i")
        y = build(x, i) * 1.0
        good_feed = {x: xv, i: np.array(good, np.int64)}
        graphc.compile({"y": y}, good_feed).export(str(tmp_path / "g.gca"))
    np.savez(tmp_path / "feeds.npz", x=xv, good=np.array(good, np.int64), bad=np.array(bad, np.int64))
    proc = subprocess.run([sys.executable, "-c", FRESH_RUN, str(tmp_path / "g.gca"), str(tmp_path / "feeds.npz")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["modules"] == []
    np.testing.assert_array_equal(np.array(report["good"], np.float32), reference.evaluate([y], good_feed)[0])
    assert re.search(rf"{case} '.*': index {named} is out of range", report.get("error", "")), report
