"""A short run of the fuzzers (`make fuzz` runs the full one): random graphs, ONNX mutations, artifact
tampering and the concurrency stress (Session and loaded artifact), each case in a worker process with a
timeout; no crash, hang, wrong result or unclear exception."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quick_fuzz_finds_no_failure():
    proc = subprocess.run([sys.executable, "-m", "fuzz", "--quick", "--only", "graphs", "--only", "onnx",
                           "--only", "artifacts", "--only", "concurrency", "--workers", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "fuzz: passed" in proc.stdout
