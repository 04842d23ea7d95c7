"""Deploying: an artifact loads with TVM's runtime library alone (no libtvm_compiler, no torch), runs on
every core by default, unloads its library when freed or closed; a Session's compiled signatures are
bounded (LRU); the CLI takes --threads and signatures."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphc as gc
from graphc.runtime.artifact import ArtifactError

from conftest import assert_close

# Run in a fresh interpreter with TVM_NUM_THREADS unset and a fake `torch` importable (as where torch
# is installed): loading and running must map no libtvm_compiler, import neither torch nor the `tvm`
# package, size TVM's pool to the cores the process may use, and leave no library mapped or temporary
# file behind once the runner is closed or freed.
FRESH_PROCESS = r"""
import gc, json, os, sys, tempfile
import numpy as np
import graphc.runtime
from graphc import tvm_runtime

def mapped(name):
    with open("/proc/self/maps") as f:
        return sum(name in line for line in f)

path, x = sys.argv[1], np.load(sys.argv[2])
report = {"cores": len(os.sched_getaffinity(0))}
runner = graphc.runtime.load(path)
report["y"] = runner.run({"x": x})["y"].tolist()
report["threads"] = tvm_runtime.num_threads()
report["compiler_mapped"] = mapped("libtvm_compiler")
report["modules"] = sorted(m for m in ("torch", "tvm", "graphc.passes", "graphc.codegen") if m in sys.modules)
report["library_mapped"] = mapped("graphc-load-")
one = graphc.runtime.load(path, num_threads=1)
one.run({"x": x})
report["threads_one"] = tvm_runtime.num_threads()
runner.run({"x": x})
report["threads_after"] = tvm_runtime.num_threads()
runner.close()
del one
gc.collect()
report["library_mapped_after"] = mapped("graphc-load-")
report["temp_left"] = [f for f in os.listdir(tempfile.gettempdir()) if f.startswith("graphc-load-")]
print(json.dumps(report))
"""


def fresh_process(tmp_path, mlp_gca, cpus=None):
    """The report of FRESH_PROCESS on the MLP artifact, with the process pinned to `cpus` if given."""
    path, xv, _ = mlp_gca
    np.save(tmp_path / "x.npy", xv)
    fake = tmp_path / "fake_torch" / "torch"
    fake.mkdir(parents=True, exist_ok=True)
    (fake / "__init__.py").write_text("")
    env = {k: v for k, v in os.environ.items() if k != "TVM_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "fake_torch"), env.get("PYTHONPATH", "")])
    env["TMPDIR"] = str(tmp_path / "tmp")
    os.makedirs(env["TMPDIR"], exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(path), str(tmp_path / "x.npy")], env=env,
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_artifact_loads_with_the_runtime_library_alone_on_every_core(tmp_path, mlp_gca):
    report = fresh_process(tmp_path, mlp_gca)
    assert_close(np.array(report["y"], np.float32), mlp_gca[2])
    assert report["compiler_mapped"] == 0
    assert report["modules"] == []  # neither torch, nor tvm, nor the compiler's passes and codegen
    assert report["threads"] == report["cores"]
    assert report["threads_one"] == 1 and report["threads_after"] == report["cores"]
    assert report["library_mapped"] > 0 and report["library_mapped_after"] == 0
    assert report["temp_left"] == []


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to pin the process to one")
def test_default_threads_follow_the_process_affinity(tmp_path, mlp_gca):
    report = fresh_process(tmp_path, mlp_gca, cpus={min(os.sched_getaffinity(0))})
    assert report["cores"] == 1 and report["threads"] == 1


def test_bad_num_threads_is_refused(mlp_gca):
    for bad in (0, -2, 1.5, "2"):
        with pytest.raises(ValueError, match="num_threads must be a positive int"):
            gc.runtime.load(mlp_gca[0], num_threads=bad)
        with pytest.raises(ValueError, match="num_threads must be a positive int"):
            gc.Session(num_threads=bad)


def test_runner_close_and_context_manager(mlp_gca):
    path, xv, want = mlp_gca
    with gc.runtime.load(path, num_threads=1) as runner:
        assert_close(runner.run({"x": xv})["y"], want)
    with pytest.raises(gc.GraphcError, match="was closed"):
        runner.run({"x": xv})


def test_session_keeps_the_most_recently_used_signatures(rng):
    x = gc.placeholder(gc.float32, (None, 4), name="x")
    y = gc.maximum(x * 2.0 + 1.0, 0.0)
    feeds = {n: rng.standard_normal((n, 4)).astype(np.float32) for n in (1, 2, 3)}
    with gc.Session(cache_size=2, num_threads=1) as sess:
        for n in (1, 2, 1, 3):  # 3 pushes out 2, the least recently used
            assert_close(sess.run(y, {x: feeds[n]}), np.maximum(feeds[n] * 2 + 1, 0))
        assert sess.compile_count == 3 and len(sess._cache) == 2
        sess.run(y, {x: feeds[1]})
        assert sess.compile_count == 3  # still cached
        assert_close(sess.run(y, {x: feeds[2]}), np.maximum(feeds[2] * 2 + 1, 0))
        assert sess.compile_count == 4  # compiled again
    assert len(sess._cache) == 0
    with pytest.raises(ValueError, match="cache_size must be at least 1"):
        gc.Session(cache_size=0)


def test_cli_run_threads_and_signatures(mlp_gca, tmp_path, capsys):
    from graphc.cli import main
    from graphc.runtime.artifact import read_manifest
    path, xv, want = mlp_gca
    np.save(tmp_path / "x.npy", xv)
    assert main(["run", str(path), "--input", f"x={tmp_path / 'x.npy'}", "--threads", "1",
                 "--output", str(tmp_path / "out.npz")]) == 0
    assert_close(np.load(tmp_path / "out.npz")["y"], want)
    assert main(["keygen", str(tmp_path / "k.pem")]) == 0
    assert os.stat(tmp_path / "k.pem").st_mode & 0o077 == 0  # the private key is the owner's alone
    capsys.readouterr()
    assert main(["run", str(path), "--input", f"x={tmp_path / 'x.npy'}", "--trusted-key",
                 str(tmp_path / "k.pem.pub")]) == 1
    assert "is not signed, and trusted keys were given" in capsys.readouterr().err
    assert main(["info", str(path), "--trusted-key", str(tmp_path / "k.pem.pub")]) == 1
    with pytest.raises(ArtifactError, match="not signed"):
        read_manifest(str(path), trusted_keys=str(tmp_path / "k.pem.pub"))


def test_compiled_sessions_run_on_every_core_by_default(tmp_path):
    script = textwrap.dedent("""
        import os, numpy as np, graphc as gc
        from graphc.codegen.target import num_threads
        from graphc import tvm_runtime
        x = gc.placeholder(gc.float32, (None, 4))
        with gc.Session() as sess:
            out = sess.run(x * 2.0, {x: np.ones((2, 4), np.float32)})
        assert (out == 2).all()
        print(tvm_runtime.num_threads(), num_threads(), len(os.sched_getaffinity(0)))
    """)
    env = {k: v for k, v in os.environ.items() if k != "TVM_NUM_THREADS"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    runtime_threads, compiler_threads, cores = map(int, proc.stdout.split())
    assert runtime_threads == compiler_threads == cores
