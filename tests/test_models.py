"""The model zoo (models/, graphc.models): quick runs whose loss must fall, ONNX export against ONNX Runtime,
.gca artifacts against the Session, the command line, and the small APIs the models brought
(unsorted_segment_sum, gelu; tf.clip_by_global_norm as the LSTM uses it). Full runs against the issue's bars are slow tests."""
import importlib
import os

import numpy as np
import pytest

import graphc as gc
import graphc.onnx  # noqa: F401
import graphc.runtime  # noqa: F401
import graphc.test  # noqa: F401  (check_gradients)
from graphc.compat.v1 import clip_by_global_norm
from graphc.models.__main__ import MODELS, main

# every model's quick run is in make test (rnn --quick unrolls 8 steps: about 15 s cold, like the transformer's)
QUICK = ["newton", "gnn", "cnn", "moe", "rnn", "transformer"]
_results = {}


def quick_result(name):
    """One quick run per model per test session, shared by the tests below (the session stays open)."""
    if name not in _results:
        _results[name] = importlib.import_module(f"graphc.models.{name}").train(quick=True, progress_bar=False)
    return _results[name]


@pytest.mark.parametrize("name", QUICK)
def test_quick_run_loss_falls(name):
    result = quick_result(name)
    assert result.ok, result.line()
    k = max(1, min(5, len(result.losses) // 2))
    assert np.mean(result.losses[-k:]) < np.mean(result.losses[:k]), result.losses
    assert result.line().endswith(" ok") and result.line().startswith(f"{name}: ")


def _session_outputs(result):
    return result.session.run(result.outputs, result.feeds)


@pytest.mark.parametrize("name", QUICK)
def test_export_matches_onnxruntime(name, tmp_path):
    import onnxruntime as ort
    result = quick_result(name)
    path = str(tmp_path / f"{name}.onnx")
    gc.onnx.export(result.outputs, path, list(result.feeds), session=result.session)
    runtime = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = runtime.run(None, {t.node.name: v for t, v in result.feeds.items()})
    for g, want in zip(got, _session_outputs(result)):
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", QUICK)
def test_artifact_matches_session(name, tmp_path):
    result = quick_result(name)
    exe = gc.compile(result.outputs, dict(result.feeds), session=result.session)
    path = str(tmp_path / f"{name}.gca")
    exe.export(path)
    loaded = gc.runtime.load(path)
    got = loaded.run({t.node.name: v for t, v in result.feeds.items()})
    assert len(got) == len(result.outputs)
    for g, want in zip(got.values(), _session_outputs(result)):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)


def test_cli_list_and_train(capsys):
    assert main(["list"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == list(MODELS)
    assert main(["train", "newton", "--quick"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("newton: loss=")
    with pytest.raises(SystemExit):
        main(["train", "nonesuch"])


def test_unsorted_segment_sum_matches_numpy(rng):
    data = rng.normal(size=(7, 3)).astype(np.float32)
    ids = np.array([4, 0, 4, 2, 0, 4, 1], np.int32)
    out = gc.unsorted_segment_sum(gc.constant(data), gc.constant(ids), 6)
    want = np.zeros((6, 3), np.float32)
    np.add.at(want, ids, data)
    with gc.Session() as sess:
        np.testing.assert_allclose(sess.run(out), want, rtol=1e-6)
    with pytest.raises(gc.ShapeError, match="segment_ids"):
        gc.unsorted_segment_sum(gc.constant(data), gc.constant(ids.reshape(7, 1)), 6)


def test_clip_by_global_norm_matches_numpy(rng):
    a, b = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    norm = np.sqrt((a ** 2).sum() + (b ** 2).sum())
    (ca, none, cb), got_norm = clip_by_global_norm([gc.constant(a), None, gc.constant(b)], 1.5)
    assert none is None
    with gc.Session() as sess:
        ra, rb, rn = sess.run([ca, cb, got_norm])
    np.testing.assert_allclose(rn, norm, rtol=1e-5)
    np.testing.assert_allclose(ra, a * 1.5 / norm, rtol=1e-5)
    np.testing.assert_allclose(rb, b * 1.5 / norm, rtol=1e-5)
    (same,), _ = clip_by_global_norm([gc.constant(a)], 100.0)  # under the limit: unchanged
    with gc.Session() as sess:
        np.testing.assert_allclose(sess.run(same), a, rtol=1e-6)


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_matches_numpy_and_differentiates(approximate):
    from math import erf
    x = np.linspace(-4, 4, 17)
    want = (0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))) if approximate else \
        np.array([0.5 * v * (1 + erf(v / np.sqrt(2))) for v in x])
    with gc.Session() as sess:
        np.testing.assert_allclose(sess.run(gc.nn.gelu(gc.constant(x.astype(np.float32)), approximate)), want,
                                   rtol=1e-5, atol=1e-6)
    gc.test.check_gradients(lambda t: gc.nn.gelu(t, approximate), [x[:8] + 0.05], second_order=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_full_run_meets_its_bar(name):
    result = importlib.import_module(f"graphc.models.{name}").train(progress_bar=False)
    result.session.close()
    assert result.ok, result.line()
