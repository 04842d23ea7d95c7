"""The `graphc` command through subprocess: every subcommand, its --help, and one-line errors."""
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from test_artifact import matmul_add_relu_onnx, mlp, onnx_importer

from conftest import assert_close


def graphc_cli(*args, ok=True):
    """Run `python -m graphc.cli args`; returns the finished process (asserting its exit status)."""
    proc = subprocess.run([sys.executable, "-m", "graphc.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def artifact(tmp_path, rng):
    x, y, ref = mlp(rng)
    xv = rng.standard_normal((3, 8)).astype(np.float32)
    path = tmp_path / "mlp.gca"
    gc.compile(y, {x: xv}).export(str(path))
    np.save(tmp_path / "x.npy", xv)
    return path, xv, ref


@pytest.mark.parametrize("sub", ["compile", "run", "info", "bench", "viz"])
def test_every_subcommand_has_help(sub):
    out = graphc_cli(sub, "--help").stdout
    assert out.startswith(f"usage: graphc {sub}")


def test_run_writes_outputs_that_match_numpy(artifact, tmp_path):
    path, xv, ref = artifact
    graphc_cli("run", path, "--input", f"x={tmp_path / 'x.npy'}", "--output", tmp_path / "out.npz")
    assert_close(np.load(tmp_path / "out.npz")["y"], ref(xv).astype(np.float32))


def test_run_without_output_prints_a_summary(artifact, tmp_path):
    path, xv, ref = artifact
    out = graphc_cli("run", path, "--input", f"x={tmp_path / 'x.npy'}").stdout
    assert out.startswith("y: shape [3, 4] float32")
    got_max = float(out.split(" max ")[1].split()[0])
    assert abs(got_max - ref(xv).max()) < 1e-3


def test_info_prints_the_manifest(artifact):
    out = graphc_cli("info", artifact[0]).stdout
    assert "format version 3" in out and "target: cpu" in out
    assert "x: float32[3, 8]" in out and "y: float32[3, 4]" in out and "kernels.so" in out


def test_bench_a_gca_and_vs_onnxruntime_needs_the_onnx(artifact):
    out = graphc_cli("bench", artifact[0], "--repeat", 3).stdout
    assert "graphc: median" in out and "over 3 runs" in out
    err = graphc_cli("bench", artifact[0], "--vs", "onnxruntime", ok=False).stderr
    assert err.strip() == ("graphc bench: error: --vs onnxruntime on a .gca needs the ONNX model it came from: "
                           "pass --onnx model.onnx")


def test_errors_are_one_line_and_verbose_shows_the_traceback(artifact, tmp_path):
    (tmp_path / "junk.gca").write_text("not a zip")
    err = graphc_cli("info", tmp_path / "junk.gca", ok=False).stderr
    assert err.count("\n") == 1 and "not a zip file" in err and err.startswith("graphc info: error: ArtifactError")
    err = graphc_cli("--verbose", "info", tmp_path / "junk.gca", ok=False).stderr
    assert "Traceback" in err
    err = graphc_cli("run", artifact[0], "--input", "x=missing.npy", ok=False).stderr
    assert err.strip() == "graphc run: error: --input 'x=missing.npy': file 'missing.npy' does not exist"
    assert graphc_cli("compile", "m.onnx", "-o", "m.gca", "--input-shape", "x=1,a", ok=False).returncode == 2


def test_run_on_a_cuda_artifact_without_gpu_says_so(tmp_path, rng):
    import tvm
    if tvm.cuda(0).exist:
        pytest.skip("this machine has a GPU; test_artifact covers running CUDA artifacts")
    x, y, _ = mlp(rng)
    xv = rng.standard_normal((3, 8)).astype(np.float32)
    gc.compile(y, {x: xv}, target="cuda").export(str(tmp_path / "c.gca"))
    np.save(tmp_path / "x.npy", xv)
    err = graphc_cli("run", tmp_path / "c.gca", "--input", f"x={tmp_path / 'x.npy'}", ok=False).stderr
    assert "built for 'cuda' but no CUDA GPU is present" in err


@onnx_importer
def test_compile_run_bench_viz_an_onnx_model(tmp_path, rng):
    import onnxruntime as ort
    onnx_path = tmp_path / "m.onnx"
    ref = matmul_add_relu_onnx(onnx_path, rng)
    xv = rng.standard_normal((2, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", xv)
    out = graphc_cli("compile", onnx_path, "-o", tmp_path / "m.gca", "--opt-level", 2).stdout
    assert out.startswith(f"wrote {tmp_path / 'm.gca'}")
    graphc_cli("run", tmp_path / "m.gca", "--input", f"x={tmp_path / 'x.npy'}", "--output", tmp_path / "o.npz")
    want = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"x": xv})[0]
    assert_close(np.load(tmp_path / "o.npz")["y"], want)
    assert_close(want, ref(xv).astype(np.float32))
    out = graphc_cli("bench", onnx_path, "--vs", "onnxruntime", "--repeat", 3).stdout
    assert "onnxruntime: median" in out and "ratio graphc/onnxruntime" in out
    out = graphc_cli("bench", tmp_path / "m.gca", "--onnx", onnx_path, "--vs", "onnxruntime", "--repeat", 3).stdout
    assert "ratio graphc/onnxruntime" in out
    graphc_cli("viz", onnx_path, "-o", tmp_path / "g.svg")
    svg = (tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "MatMul".lower() in svg.lower()
