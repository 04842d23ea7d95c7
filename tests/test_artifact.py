"""Artifacts: compile -> export -> load in a fresh process matches in-process results and numpy;
corrupted, truncated, too-new and unrunnable artifacts are refused with clear errors."""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import graphc as gc
import graphc.compat.v1 as tf
from graphc.errors import DeviceError
from graphc.runtime.artifact import ArtifactError

from conftest import assert_close

# Loads an artifact in a fresh interpreter, runs it on inputs.npz, saves outputs.npz and checks that
# loading imported neither the compiler passes nor codegen.
LOAD_SCRIPT = r"""
import sys, numpy as np
import graphc.runtime
runner = graphc.runtime.load(sys.argv[1])
feeds = dict(np.load(sys.argv[2]))
out = runner.run(feeds)
np.savez(sys.argv[3], **out)
heavy = [m for m in sys.modules if m.startswith(("graphc.passes", "graphc.codegen"))]
assert not heavy, f"loading imported {heavy}"
print("signature", runner.inputs, runner.outputs)
"""


def run_in_fresh_process(artifact, feeds, tmp_path):
    """The artifact's outputs computed by a new Python process."""
    np.savez(tmp_path / "inputs.npz", **feeds)
    proc = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(artifact), str(tmp_path / "inputs.npz"),
                           str(tmp_path / "outputs.npz")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return dict(np.load(tmp_path / "outputs.npz"))


def mlp(rng):
    """A two-layer MLP with constant weights; returns (x, y, numpy function)."""
    w1 = rng.standard_normal((8, 16)).astype(np.float32)
    b1 = rng.standard_normal(16).astype(np.float32)
    w2 = rng.standard_normal((16, 4)).astype(np.float32)
    x = gc.placeholder(gc.float32, (None, 8), name="x")
    h = gc.maximum(gc.matmul(x, gc.constant(w1)) + gc.constant(b1), 0.0)
    y = gc.identity(gc.matmul(h, gc.constant(w2)), name="y") if hasattr(gc, "identity") else \
        gc.multiply(gc.matmul(h, gc.constant(w2)), 1.0, name="y")
    return x, y, lambda xv: np.maximum(xv @ w1 + b1, 0) @ w2


@pytest.fixture
def mlp_artifact(tmp_path, rng):
    x, y, ref = mlp(rng)
    xv = rng.standard_normal((3, 8)).astype(np.float32)
    exe = gc.compile(y, {x: xv})
    path = tmp_path / "mlp.gca"
    exe.export(str(path))
    return path, exe, x, xv, ref


def test_mlp_artifact_in_fresh_process_matches_in_process_and_numpy(mlp_artifact, tmp_path):
    path, exe, x, xv, ref = mlp_artifact
    (in_process,) = exe.run({x: xv})
    assert_close(in_process, ref(xv).astype(np.float32))
    out = run_in_fresh_process(path, {"x": xv}, tmp_path)
    assert list(out) == ["y"]
    np.testing.assert_array_equal(out["y"], in_process)


def test_loaded_runner_signature_and_list_feeds(mlp_artifact):
    path, exe, x, xv, ref = mlp_artifact
    runner = gc.runtime.load(str(path))
    assert runner.inputs == [("x", (3, 8), "float32")]
    assert runner.outputs == [("y", (3, 4), "float32")]
    (out,) = runner.run([xv])
    assert_close(out, ref(xv).astype(np.float32))
    with pytest.raises(gc.FeedError, match="shape"):
        runner.run({"x": xv[:2]})
    with pytest.raises(gc.FeedError, match="missing"):
        runner.run({"z": xv})


def test_export_writes_one_zip_with_verified_members(mlp_artifact):
    path = mlp_artifact[0]
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["kernels.so", "manifest.json", "manifest.sha256", "plan.json",
                                        "weights.safetensors"]
        manifest = json.loads(z.read("manifest.json"))
        plan = json.loads(z.read("plan.json"))
    assert manifest["format_version"] == 3 and manifest["target"]["kind"] == "cpu"
    assert set(manifest["sha256"]) == {"kernels.so", "plan.json", "weights.safetensors"}
    assert plan["calls"] and all(c["kernel"] for c in plan["calls"])
    assert not [f for f in os.listdir(path.parent) if f.startswith(".partial-")]  # no half-written files


def _rewrite(path, out, member, change):
    """Copy artifact `path` to `out` with `member`'s bytes passed through `change`."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, change(data) if name == member else data)
    return str(out)


def _flip(data, at=None):
    at = len(data) // 2 if at is None else at
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


@pytest.mark.parametrize("member", ["kernels.so", "plan.json", "weights.safetensors"])
def test_flipped_byte_in_a_member_fails_its_hash(mlp_artifact, tmp_path, member):
    bad = _rewrite(mlp_artifact[0], tmp_path / "bad.gca", member, _flip)
    with pytest.raises(ArtifactError, match=f"corrupted: member {member} does not match its sha256"):
        gc.runtime.load(bad)


def test_flipped_bytes_in_the_file_and_truncation_are_refused(mlp_artifact, tmp_path):
    data = mlp_artifact[0].read_bytes()
    (tmp_path / "flipped.gca").write_bytes(_flip(data, 200))  # inside the first stored member
    with pytest.raises(ArtifactError, match="corrupted"):
        gc.runtime.load(str(tmp_path / "flipped.gca"))
    for cut in (len(data) // 2, len(data) - 10, 10):
        (tmp_path / "cut.gca").write_bytes(data[:cut])
        with pytest.raises(ArtifactError, match="not a zip file|corrupted"):
            gc.runtime.load(str(tmp_path / "cut.gca"))
    (tmp_path / "text.gca").write_text("hello")
    with pytest.raises(ArtifactError, match="not a zip file"):
        gc.runtime.load(str(tmp_path / "text.gca"))


def _edit_manifest(path, out, edit):
    """Copy artifact `path` to `out` with its manifest changed by `edit` and the manifest digest recomputed."""
    def change(data):
        m = json.loads(data)
        edit(m)
        return json.dumps(m).encode()
    return _rewrite_all(path, out, {"manifest.json": change})


def _rewrite_all(path, out, changes):
    """Copy artifact `path` to `out` with members changed by {name: change}; the manifest's hashes and
    sizes and its digest are recomputed, as a tamperer would."""
    import hashlib
    with zipfile.ZipFile(path) as src:
        members = {n: src.read(n) for n in src.namelist()}
    for name, change in changes.items():
        members[name] = change(members.get(name))
    if "manifest.json" not in changes:  # else the manifest is exactly what the change made
        m = json.loads(members["manifest.json"])
        for name in m["sha256"]:
            m["sha256"][name] = hashlib.sha256(members[name]).hexdigest()
            m["sizes"][name] = len(members[name])
        members["manifest.json"] = json.dumps(m).encode()
    members["manifest.sha256"] = hashlib.sha256(members["manifest.json"]).hexdigest().encode()
    with zipfile.ZipFile(out, "w") as dst:
        for name, data in members.items():
            dst.writestr(name, data)
    return str(out)


def test_newer_format_version_is_refused(mlp_artifact, tmp_path):
    bad = _edit_manifest(mlp_artifact[0], tmp_path / "new.gca", lambda m: m.update(format_version=99))
    with pytest.raises(ArtifactError, match="format version 99.*upgrade graphc"):
        gc.runtime.load(bad)


def test_manifest_missing_fields_is_refused(mlp_artifact, tmp_path):
    bad = _edit_manifest(mlp_artifact[0], tmp_path / "nohash.gca", lambda m: m.pop("sha256"))
    with pytest.raises(ArtifactError, match="manifest lacks sha256"):
        gc.runtime.load(bad)


def test_cpu_features_this_machine_lacks_are_refused(mlp_artifact, tmp_path):
    from graphc.host import host_features
    have = set(host_features())
    lacking = next(f for f in ("avx512f", "avx512bw", "amx-tile") if f not in have)
    bad = _edit_manifest(mlp_artifact[0], tmp_path / "avx512.gca",
                         lambda m: m["target"]["host_features"].append(lacking))
    with pytest.raises(DeviceError, match=f"lacks its features {lacking}"):
        gc.runtime.load(bad)


def test_cuda_artifact_exports_here_and_loads_only_with_a_gpu(tmp_path, rng):
    import tvm
    x, y, ref = mlp(rng)
    xv = rng.standard_normal((3, 8)).astype(np.float32)
    path = str(tmp_path / "mlp_cuda.gca")
    gc.compile(y, {x: xv}, target="cuda").export(path)
    with zipfile.ZipFile(path) as z:
        assert json.loads(z.read("manifest.json"))["target"]["kind"] == "cuda"
    if tvm.cuda(0).exist:
        assert_close(gc.runtime.load(path).run({"x": xv})["y"], ref(xv).astype(np.float32))
    else:
        with pytest.raises(DeviceError, match="built for 'cuda' but no CUDA GPU is present"):
            gc.runtime.load(path)


def test_trained_variables_are_frozen_into_the_artifact(tmp_path, rng):
    xs = rng.standard_normal((16, 3)).astype(np.float32)
    ys = xs @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    x = tf.placeholder(tf.float32, (None, 3), name="x")
    t = tf.placeholder(tf.float32, (None, 1), name="t")
    w = tf.Variable(np.zeros((3, 1), np.float32), name="w")
    pred = tf.matmul(x, w, name="pred")
    loss = tf.reduce_mean((pred - t) * (pred - t))
    train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(5):
            sess.run(train_op, {x: xs, t: ys})
        trained = sess.run(w)
        want = sess.run(pred, {x: xs[:4]})
        with pytest.raises(gc.FailedPreconditionError, match="session="):
            gc.compile(pred, {x: xs[:4]})
        exe = gc.compile(pred, {x: xs[:4]}, session=sess)
    assert np.abs(trained).sum() > 0  # training moved the weights
    assert_close(want, xs[:4] @ trained)
    path = tmp_path / "trained.gca"
    exe.export(str(path))
    out = run_in_fresh_process(path, {"x": xs[:4]}, tmp_path)
    assert_close(out["pred"], want)


onnx_importer = pytest.mark.skipif(not hasattr(__import__("graphc.onnx").onnx, "import_model"),
                                   reason="needs the ONNX importer (branch onnx-import)")


def matmul_add_relu_onnx(path, rng):
    """A MatMul+Add+Relu ONNX model written to `path`; returns its numpy function."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["a"]),
         helper.make_node("Relu", ["a"], ["y"])], "mar",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return lambda xv: np.maximum(xv @ w + b, 0)


@onnx_importer
def test_onnx_model_artifact_in_fresh_process(tmp_path, rng):
    ref = matmul_add_relu_onnx(tmp_path / "m.onnx", rng)
    _, inputs, outputs = gc.onnx.import_model(str(tmp_path / "m.onnx"))
    xv = rng.standard_normal((2, 4)).astype(np.float32)
    exe = gc.compile(outputs, {inputs["x"]: xv})
    (in_process,) = exe.run({inputs["x"]: xv})
    assert_close(in_process, ref(xv).astype(np.float32))
    exe.export(str(tmp_path / "m.gca"))
    out = run_in_fresh_process(tmp_path / "m.gca", {"x": xv}, tmp_path)
    np.testing.assert_array_equal(out["y"], in_process)
