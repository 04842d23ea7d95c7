"""Shared fixtures: a fresh default graph for every test; a kernel cache of the test run's own."""
import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest

import graphc

# Tests never read or fill the user's kernel cache (~/.cache/graphc): each run (each xdist worker) gets
# a fresh folder, removed at exit.
os.environ["GRAPHC_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphc-test-cache-")
atexit.register(shutil.rmtree, os.environ["GRAPHC_CACHE_DIR"], True)
# Every pass's result is checked by passes/verify.py throughout the suite.
os.environ["GRAPHC_VERIFY"] = "1"


@pytest.fixture(autouse=True)
def fresh_graph():
    graphc.reset_default_graph()
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def assert_close(got, want, dtype=None):
    """Exact for ints and bools; a tolerance scaled to the float type otherwise."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"dtype {got.dtype} != {want.dtype}"
    dt = graphc.dtypes.as_dtype(got.dtype)
    if dt.is_storage_only:  # bfloat16, float8, int4...: exactly, NaN == NaN
        wide = "float32" if dt.is_floating else "int32"
        np.testing.assert_array_equal(got.astype(wide), want.astype(wide))
        return
    if got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want)
    else:
        tol = {2: 2e-3, 4: 1e-4, 8: 1e-9}[got.dtype.itemsize]
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def onnx_matches_onnxruntime(model, feeds, rtol=1e-5, atol=1e-5):
    """Import `model` into graphc and compare its outputs on `feeds` ({input name: array}) with onnxruntime's."""
    import onnxruntime as ort

    from graphc.onnx import import_model
    imp = import_model(model)
    with graphc.Session(graph=imp.graph) as sess:
        got = sess.run(list(imp.outputs.values()), {imp.inputs[k]: v for k, v in feeds.items()})
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def mlp_gca(tmp_path_factory):
    """(path, x value, expected y) of a two-kernel MLP artifact (test_artifact.mlp), built once per module."""
    from test_artifact import mlp
    rng = np.random.default_rng(0)
    with graphc.Graph().as_default():
        x, y, ref = mlp(rng)
        xv = rng.standard_normal((3, 8)).astype(np.float32)
        path = tmp_path_factory.mktemp("mlp_gca") / "mlp.gca"
        graphc.compile(y, {x: xv}).export(str(path))
    return path, xv, ref(xv).astype(np.float32)


def spy_conv_lowering(monkeypatch, tmp_path, name):
    """Lower every kernel afresh (a kernel cache in `tmp_path`) and record each call of codegen/lower/conv.py's
    function `name`: returns the list the calls are appended to, so a test can check its kernel was used."""
    from graphc.codegen.lower import conv as lower_conv
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    used, real = [], getattr(lower_conv, name)
    monkeypatch.setattr(lower_conv, name, lambda *a: used.append(1) or real(*a))
    return used
