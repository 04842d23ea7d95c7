"""The GPU check bundle (benchmarks/gpu_bundle): its run.sh refuses cleanly without a GPU, and the
bundle builds within its size limit with everything run.sh needs."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLE = os.path.join(ROOT, "benchmarks", "gpu_bundle")


def has_gpu():
    return shutil.which("nvidia-smi") is not None and \
        "GPU" in subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout


@pytest.mark.skipif(has_gpu(), reason="this machine has a GPU: run.sh would run the bundle")
def test_run_sh_refuses_without_a_gpu_in_one_line(tmp_path):
    proc = subprocess.run(["sh", os.path.join(BUNDLE, "run.sh")], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode != 0
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and "no NVIDIA GPU" in lines[0], lines
    assert not os.listdir(tmp_path)  # it wrote nothing


@pytest.mark.slow
def test_gpu_bundle_builds_within_60_mib(tmp_path):
    out = tmp_path / "gpu-bundle"
    subprocess.run([sys.executable, os.path.join(BUNDLE, "build.py"), "--out", str(out)], check=True,
                   timeout=1200, cwd=ROOT)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    assert size <= 60 << 20
    names = set(os.listdir(out))
    assert {"run.sh", "check.py", "cases.json", "cases", "py", "wheels"} <= names
    import json
    cases = {c["name"]: c for c in json.loads((out / "cases.json").read_text())}
    models = [f"{m}_b{b}" for m in ("resnet18", "bert_mini", "mobilenet") for b in (1, 64)]
    assert set(models) | {"mlp_b1", "mlp_b64", "mlp_train_step", "matmul_4096_float32", "matmul_4096_float16"} <= set(cases)
    for name in models:  # weights are fed (made on the GPU machine), not carried: ResNet-18's alone are 46 MB
        assert sum(s.get("weight", False) for s in cases[name]["feeds"]) > 10
        assert os.path.getsize(out / "cases" / f"{name}.gca") < 8 << 20
    libs = set(os.listdir(out / "py" / "tvm" / "lib"))
    assert {"libtvm_runtime.so", "libtvm_runtime_cuda.so"} <= libs and "libtvm_compiler.so" not in libs
    wheels = os.listdir(out / "wheels")
    assert any(w.startswith("apache_tvm_ffi") and ("cp312" in w or "abi3" in w) for w in wheels)
    # runtime-only TVM imports from the bundle's files (the installed tvm_ffi stands in for the wheel)
    env = {**os.environ, "TVM_USE_RUNTIME_LIB": "1", "PYTHONPATH": str(out / "py")}
    probe = "import tvm, graphc.runtime.executor, graphc.tvm_runtime, models.onnx_zoo; print(tvm.__file__)"
    got = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert got.returncode == 0 and got.stdout.strip().startswith(str(out / "py")), got.stderr[-2000:]


def test_bundle_networks_with_weights_fed_match_the_models_with_weights_inside():
    """The bundle's models take their weights as inputs, drawn from the builders' seeds on the GPU machine
    (networks.weights): fed those, each gives what the model with its initializers gives (ONNX Runtime)."""
    import numpy as np
    import onnxruntime as ort
    sys.path[:0] = [ROOT, BUNDLE]
    try:
        import networks
    finally:
        del sys.path[:2]
    small = {"resnet18": {"image": 64}, "mobilenet": {"image": 64}, "bert_mini": {"seq": 16}}
    for name, build in networks.MODELS.items():
        inside = build(batch=2, **small[name])
        fed = networks.with_weights_as_inputs(build(batch=2, **small[name]))
        weights = networks.weights(name)
        assert len(fed.graph.input) == 1 + len(weights) and not any(networks.is_weight(i) for i in fed.graph.initializer)
        shape = [d.dim_value for d in inside.graph.input[0].type.tensor_type.shape.dim]
        x = np.random.default_rng(0).standard_normal(shape).astype("float32")

        def run(model, feeds):
            return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        # (with initializers ONNX Runtime folds batch norm into the conv weights: float rounding differs)
        np.testing.assert_allclose(run(fed, {"x": x, **weights}), run(inside, {"x": x}), rtol=1e-4, atol=1e-3)
