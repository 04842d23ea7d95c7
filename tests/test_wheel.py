"""The wheel `pip wheel .` builds holds every module, and graphc installed from it alone (in a fresh
virtualenv) imports an ONNX model, compiles and runs it, from Python and from the `graphc` command."""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = {"graphc": "graphc", "passes": "graphc/passes", "codegen": "graphc/codegen",
           "runtime": "graphc/runtime", "models": "graphc/models"}

# Run by the fresh virtualenv's Python, outside the source tree: graphc must come from the wheel.
FROM_WHEEL = r"""
import os, sys, numpy as np, onnx
import graphc as gc
import graphc.onnx
from graphc.models.onnx_zoo import mlp
assert gc.__file__.startswith(sys.prefix), gc.__file__
model = mlp(sizes=(6, 5, 3), batch=2)
onnx.save(model, "m.onnx")
_, inputs, outputs = gc.onnx.import_model("m.onnx")
x = np.random.default_rng(0).standard_normal((2, 6)).astype(np.float32)
(got,) = gc.compile(outputs, {inputs["x"]: x}).run({inputs["x"]: x})
w = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
mm = [n.input[1] for n in model.graph.node if n.op_type == "MatMul"]
add = [n.input[1] for n in model.graph.node if n.op_type == "Add"]
want = np.maximum(x @ w[mm[0]] + w[add[0]], 0) @ w[mm[1]] + w[add[1]]
np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
np.save("x.npy", x)
np.save("want.npy", want)
print("ok")
"""


def _source_copy(dest):
    """What the wheel is built from: setup.py, the README and the package folders (no build leftovers)."""
    os.makedirs(dest)
    for name in ("setup.py", "README.md"):
        shutil.copy(os.path.join(ROOT, name), dest)
    for folder in FOLDERS:
        shutil.copytree(os.path.join(ROOT, folder), os.path.join(dest, folder),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _modules(folder):
    """Every module under source `folder`, as its path inside the wheel."""
    out = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
        if "__pycache__" in dirpath:
            continue
        rel = os.path.relpath(dirpath, os.path.join(ROOT, folder))
        for f in files:
            if f.endswith(".py"):
                out.add(os.path.normpath(os.path.join(FOLDERS[folder], rel, f)))
    return out


@pytest.mark.slow
def test_wheel_holds_every_module_and_works_from_a_fresh_virtualenv(tmp_path):
    src, wheels, venv = tmp_path / "src", tmp_path / "wheels", tmp_path / "venv"
    _source_copy(src)
    subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(wheels)],
                   cwd=src, check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("graphc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in FOLDERS:
        missing = sorted(_modules(folder) - names)
        assert not missing, f"the wheel lacks {missing}"

    # A fresh virtualenv that sees this one's dependencies (not graphc: its editable install is a .pth
    # here, which a .pth line does not process) and gets graphc from the wheel alone.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(site, "deps.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--force-reinstall",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    proc = subprocess.run([str(py), "-c", FROM_WHEEL], cwd=work, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr
    cli = str(venv / "bin" / "graphc")
    for args in (["compile", "m.onnx", "-o", "m.gca"], ["run", "m.gca", "--input", "x=x.npy", "--output", "y.npz"]):
        proc = subprocess.run([cli] + args, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
    import numpy as np
    np.testing.assert_allclose(np.load(work / "y.npz")["logits"], np.load(work / "want.npy"), rtol=1e-4, atol=1e-4)
