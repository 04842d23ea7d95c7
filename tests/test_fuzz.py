"""A short run of the fuzzers (`make fuzz` runs the full one): random graphs, ONNX mutations and the
concurrency stress, each case in a worker process with a timeout; no crash, hang, wrong result or
unclear exception. (Artifact tampering joins once the loader validates plans: see fuzz/artifacts.py.)"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quick_fuzz_finds_no_failure():
    proc = subprocess.run([sys.executable, "-m", "fuzz", "--quick", "--only", "graphs", "--only", "onnx",
                           "--only", "concurrency", "--workers", "1"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "fuzz: passed" in proc.stdout
