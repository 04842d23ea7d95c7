"""`python -m fuzz [--quick]`: every fuzzer, seeded and time-bounded; counts per outcome; exit status 1
on any crash, hang, wrong result or unclear exception (see fuzz/harness.py)."""
import argparse
import collections
import os
import shutil
import sys
import tempfile
import time

from . import artifacts, concurrency, graphs, onnx_models
from .harness import FAILURES, run_cases

# (random graphs, ONNX mutations, artifact mutations, concurrent runs)
FULL = (300, 400, 150, 10000)
QUICK = (2, 6, 5, 200)
FUZZERS = ["graphs", "onnx", "artifacts", "concurrency"]


def main(argv=None):
    """Run the fuzzers; returns the process exit status."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a few cases of each (for make test)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=180, help="seconds per case before it counts as a hang")
    ap.add_argument("--only", choices=FUZZERS, action="append")
    args = ap.parse_args(argv)
    n_graphs, n_onnx, n_artifacts, n_runs = QUICK if args.quick else FULL
    only = args.only or FUZZERS
    work = tempfile.mkdtemp(prefix="graphc-fuzz-")
    os.environ.setdefault("GRAPHC_CACHE_DIR", os.path.join(work, "kernel-cache"))  # workers share it
    t0 = time.time()
    try:
        cases = []  # one run over all fuzzers' cases: the workers (a few seconds to start) are shared
        if "graphs" in only:
            cases += graphs.cases(n_graphs, args.seed)
        if "onnx" in only:
            cases += onnx_models.cases(n_onnx, args.seed)
        if "artifacts" in only:
            base = os.path.join(work, "base.gca")
            artifacts.prepare(base)
            cases += artifacts.cases(n_artifacts, base, work, args.seed)
        if "concurrency" in only:
            cases += concurrency.cases(n_runs, seed=args.seed, per_case=min(2000, n_runs))
        outcomes = run_cases(cases, args.workers, args.timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by_fuzzer = collections.defaultdict(collections.Counter)
    for label, outcome, _ in outcomes:
        by_fuzzer[label.split()[0]][outcome] += 1
    for name, counts in by_fuzzer.items():
        print(f"{name}: {sum(counts.values())} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    bad = collections.Counter(o for _, o, _ in outcomes if o in FAILURES)
    print(f"fuzz: {'FAILED: ' + ', '.join(f'{k} {v}' for k, v in bad.items()) if bad else 'passed'} "
          f"({len(outcomes)} cases in {time.time() - t0:.0f} s)", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
