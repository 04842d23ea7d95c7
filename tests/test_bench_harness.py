"""benchmarks/run.py's output-agreement check on the MLP against onnxruntime (nothing is timed)."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import run as bench  # noqa: E402


def test_mlp_agrees_with_onnxruntime_and_a_mismatch_is_caught():
    pytest.importorskip("onnxruntime")
    workload = next(w for w in bench.workloads() if w.key == "a")
    ours, peers = bench.prepare(workload)       # raises if onnxruntime's logits differ from graphc's
    (name, ort), = peers
    assert name == "onnxruntime" and isinstance(ort, bench.Runner)
    reference = ours.run()
    bad = [r.copy() for r in reference]
    bad[0][3, 7] += 0.05 * np.abs(reference[0]).max()
    with pytest.raises(AssertionError, match="differs from graphc"):
        bench.check_agreement(reference, bad, "perturbed")


def test_unimportable_model_is_reported_not_fatal(monkeypatch):
    def broken(*_):
        raise bench.NotAvailable("ONNX op Conv is not supported")
    monkeypatch.setattr(bench, "_graphc_onnx", broken)
    workload = next(w for w in bench.workloads() if w.key == "a")
    with pytest.raises(bench.NotAvailable, match="Conv"):
        bench.prepare(workload)
    table = bench.format_table([(workload, "not available: ONNX op Conv is not supported", [])])
    assert "(a) MLP inference b64" in table and "not available" in table


@pytest.mark.slow
@pytest.mark.parametrize("key", ["g", "h", "i"])
def test_zoo_training_steps_agree_with_tensorflow_and_torch(key):
    """The ports of the zoo's cnn, rnn and transformer steps compute graphc's loss and updated weights."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("torch")
    workload = next(w for w in bench.workloads() if w.key == key)
    ours, peers = bench.prepare(workload)       # raises if a peer's loss or weights after a step differ
    assert [name for name, _ in peers] == ["tf1", "torch"]
    assert all(isinstance(runner, bench.Runner) for _, runner in peers)
