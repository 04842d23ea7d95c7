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
    libs = set(os.listdir(out / "py" / "tvm" / "lib"))
    assert {"libtvm_runtime.so", "libtvm_runtime_cuda.so"} <= libs and "libtvm_compiler.so" not in libs
    wheels = os.listdir(out / "wheels")
    assert any(w.startswith("apache_tvm_ffi") and ("cp312" in w or "abi3" in w) for w in wheels)
    # runtime-only TVM imports from the bundle's files (the installed tvm_ffi stands in for the wheel)
    env = {**os.environ, "TVM_USE_RUNTIME_LIB": "1", "PYTHONPATH": str(out / "py")}
    probe = "import tvm, graphc.runtime.executor; print(tvm.__file__)"
    got = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert got.returncode == 0 and got.stdout.strip().startswith(str(out / "py")), got.stderr[-2000:]
