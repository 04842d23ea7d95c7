"""ONNX node conformance: `python -m graphc.onnx.conformance [filter] [--jobs N] [--timeout S] [--write FILE]`.

Runs every node test case of the installed onnx package (onnx.backend.test.case.node) through
graphc.onnx.import_model and a graphc Session, compares with the case's rtol/atol and prints
`passed P/T` and the failures per op type. Each case runs in a worker process with a time limit;
a case that cannot be imported or run counts as failed (nothing is skipped).
"""
import argparse
import json
import multiprocessing as mp
import re
import sys
import time
import warnings
from collections import Counter, defaultdict

import numpy as np

def claimed_ops():
    """The ONNX op types graphc claims to import: those with a converter (graphc/onnx/convert/)."""
    from graphc.onnx.convert import CONVERTERS
    return sorted(CONVERTERS)


def _quiet_collect():
    from onnx.backend.test.case.node import collect_testcases
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return collect_testcases()


def op_type_of(case):
    """The op type a node test case exercises (its model's first node)."""
    return case.model.graph.node[0].op_type if case.model.graph.node else "?"


def _array(value):
    """A data-set entry as a numpy array (some cases store TensorProtos, as the onnx runner normalizes)."""
    import onnx
    return onnx.numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else np.asarray(value)


MODES = ("bound", "fed")
_MODE = ["bound"]  # set by run() and in each worker


def run_case(case, mode=None):
    """None when graphc matches every data set of `case`, else a one-line reason. Mode "bound" binds
    inputs that decide shapes or axes at import (import_model's bind=); "fed" feeds every input at run
    time (graphc.onnx.SpecializedModel)."""
    if (mode or _MODE[0]) == "fed":
        return _run_case_fed(case)
    from graphc.onnx.importer import StaticInputError, import_model
    names_out = [vi.name for vi in case.model.graph.output]
    for inputs, expected in case.data_sets:
        inputs, expected = [_array(v) for v in inputs], [_array(v) for v in expected]
        all_in = [vi.name for vi in case.model.graph.input]
        values, bind = dict(zip(all_in, inputs)), {}
        try:
            while True:
                try:
                    imp = import_model(case.model, bind=bind)
                    break
                except StaticInputError as e:  # shapes/axes fed as inputs: bind those inputs at import
                    if not e.inputs or set(e.inputs) <= set(bind) or not set(e.inputs) <= set(values):
                        raise
                    bind.update((n, values[n]) for n in e.inputs)
        except Exception as e:  # noqa: BLE001 (any failure is a conformance failure, reported)
            return f"import: {type(e).__name__}: {str(e)[:300]}"
        names_in = [n for n in all_in if n in imp.inputs]
        fail = _run_data_set(imp, values, names_in, names_out, expected, case)
        if fail:
            return fail
    return None


def _run_case_fed(case):
    """run_case with every input fed at run time, one SpecializedModel over all the data sets."""
    from graphc.onnx.specialized import SpecializedModel
    try:
        model = SpecializedModel(case.model)
    except Exception as e:  # noqa: BLE001
        return f"import: {type(e).__name__}: {str(e)[:300]}"
    names_in = [vi.name for vi in case.model.graph.input]
    for inputs, expected in case.data_sets:
        values = dict(zip(names_in, [_array(v) for v in inputs]))
        fail = _compare(lambda: model.run(values), model.output_names, [_array(v) for v in expected], case)
        if fail:
            return fail
    return None


def _run_data_set(imp, values, names_in, names_out, expected, case):
    """None when graphc's outputs for one data set match `expected`, else a one-line reason."""
    import graphc

    def outputs():
        with graphc.Session(graph=imp.graph) as sess:
            return sess.run([imp.outputs[n] for n in names_out], {imp.inputs[n]: values[n] for n in names_in})
    return _compare(outputs, names_out, expected, case)


def _compare(outputs, names_out, expected, case):
    """None when `outputs()` (run here, its errors reported) matches `expected`, else a one-line reason."""
    try:
        got = outputs()
        for n, g, want in zip(names_out, got, expected):
            want = np.asarray(want)
            if g.shape != want.shape:
                return f"output {n}: shape {g.shape}, expected {want.shape}"
            if g.dtype != want.dtype:
                return f"output {n}: dtype {g.dtype}, expected {want.dtype}"
            if want.dtype.kind == "V" or want.dtype.name.startswith(("float8", "bfloat16")):  # ml_dtypes types
                g, want = (a.astype(np.float32 if want.dtype.name.startswith(("float", "bfloat")) else np.int32)
                           for a in (g, want))
            if want.dtype.kind in "fc":
                np.testing.assert_allclose(g, want, rtol=case.rtol, atol=case.atol, err_msg=n)
            elif not np.array_equal(g, want):
                return f"output {n}: values differ from the expected ones"
    except AssertionError as e:
        return "mismatch: " + " ".join(str(e).split())[:300]
    except Exception as e:  # noqa: BLE001
        return f"run: {type(e).__name__}: {str(e)[:300]}"
    return None


_CASES = {}  # name -> TestCase, collected once in the parent and inherited by forked workers


def _worker(conn, mode):
    _MODE[0] = mode
    if not _CASES:  # a spawned worker collects the cases itself
        select()
    while True:
        name = conn.recv()
        if name is None:
            return
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                result = run_case(_CASES[name])
            except Exception as e:  # noqa: BLE001 (e.g. sequence-typed data sets, which graphc has no type for)
                result = f"case: {type(e).__name__}: {str(e)[:300]}"
            conn.send(result)


class _Worker:
    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, _MODE[0]), daemon=True)
        self.proc.start()
        self.name, self.started = None, 0.0

    def submit(self, name):
        self.name, self.started = name, time.monotonic()
        self.conn.send(name)

    def stop(self):
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(2)
        if self.proc.is_alive():
            self.proc.kill()


def run(names, jobs=2, timeout=60.0, progress=False, log=None, mode="bound"):
    """{case name: None (passed) or failure reason}, each case in a worker with a `timeout` in seconds;
    each result is also appended to the file `log` (one JSON line per case) as it arrives. `mode`: see
    run_case."""
    if mode not in MODES:
        raise ValueError(f"conformance mode {mode!r}: expected one of {MODES}")
    _MODE[0] = mode
    if not _CASES:
        select()
    # Fork while the parent holds only onnx test cases; once it has imported TVM (e.g. a test process that ran
    # kernels before), a forked child can deadlock in the thread pool it inherits: spawn instead.
    ctx = mp.get_context("spawn" if "tvm" in sys.modules else "fork")
    todo, results = list(names), {}
    workers = [_Worker(ctx) for _ in range(max(1, min(jobs, len(todo))))]
    startup = 60.0  # the first case of a worker also imports graphc and TVM
    fresh = {id(w) for w in workers}
    for w in workers:
        if todo:
            w.submit(todo.pop(0))
    while any(w.name for w in workers):
        for i, w in enumerate(workers):
            if w.name is None:
                continue
            limit = timeout + (startup if id(w) in fresh else 0)
            done = w.name
            if w.conn.poll(0.02):
                try:
                    results[w.name] = w.conn.recv()
                except EOFError:
                    results[w.name] = "crash: the worker process died"
                    w.proc.kill()
                    w = workers[i] = _Worker(ctx)
                    fresh.add(id(w))
                else:
                    fresh.discard(id(w))
            elif not w.proc.is_alive():
                results[w.name] = f"crash: the worker process died (exit code {w.proc.exitcode})"
                w = workers[i] = _Worker(ctx)
                fresh.add(id(w))
            elif time.monotonic() - w.started > limit:
                results[w.name] = f"timeout: over {timeout:.0f} s"
                w.proc.kill()
                w = workers[i] = _Worker(ctx)
                fresh.add(id(w))
            else:
                continue
            if progress:
                print("." if results[done] is None else "F", end="", flush=True)
            if log:
                with open(log, "a") as f:
                    f.write(json.dumps({"name": done, "failure": results[done]}) + "\n")
            w.name = None
            if todo:
                w.submit(todo.pop(0))
    for w in workers:
        w.stop()
    return results


def select(pattern=None, ops=None):
    """(name, op type) of the node test cases whose name matches `pattern` and whose op is in `ops`."""
    out = []
    if not _CASES:
        _CASES.update((c.name, c) for c in _quiet_collect())
    for c in _CASES.values():
        op = op_type_of(c)
        if pattern and not re.search(pattern, c.name):
            continue
        if ops is not None and op not in ops:
            continue
        out.append((c.name, op))
    return out


def main(argv=None):
    """Command-line entry: run the conformance cases and print the summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("filter", nargs="?", help="regular expression on case names (e.g. 'test_add')")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    p.add_argument("--claimed", action="store_true", help="only the op types graphc has converters for")
    p.add_argument("--write", help="write the names of the passing cases to this file")
    p.add_argument("--log", help="append each case's result to this file (JSON lines) as it finishes")
    p.add_argument("--fed", action="store_true",
                   help="feed every input at run time (no bind=: shape/axes inputs specialize per value)")
    args = p.parse_args(argv)
    cases = select(args.filter, set(claimed_ops()) if args.claimed else None)
    op_of = dict(cases)
    t0 = time.monotonic()
    results = run([n for n, _ in cases], jobs=args.jobs, timeout=args.timeout, progress=True, log=args.log,
                  mode="fed" if args.fed else "bound")
    print()
    passed = sorted(n for n, r in results.items() if r is None)
    failed_by_op = defaultdict(list)
    for n, r in sorted(results.items()):
        if r is not None:
            failed_by_op[op_of[n]].append((n, r))
    for op, fails in sorted(failed_by_op.items(), key=lambda kv: -len(kv[1])):
        print(f"{op}: {len(fails)} failed")
        for n, r in fails[:3]:
            print(f"    {n}: {r}")
    total_by_op = Counter(op_of.values())
    print(f"ops fully passing: {sum(1 for op in total_by_op if op not in failed_by_op)}/{len(total_by_op)}")
    print(f"passed {len(passed)}/{len(results)} in {time.monotonic() - t0:.0f} s")
    if args.write:
        with open(args.write, "w") as f:
            f.write("\n".join(passed) + "\n")
    return 0 if len(passed) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
