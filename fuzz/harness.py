"""Worker processes with per-case timeouts: a case that crashes its worker (a signal) or outlives its
timeout is recorded as `crash` / `hang`, and the worker is replaced."""
import importlib
import multiprocessing as mp
import queue
import threading
import traceback

# outcomes that fail a fuzz run, whichever fuzzer reports them
FAILURES = ("crash", "hang", "mismatch", "unclear")


def _serve(conn):
    """Worker loop: run (module, function, args) cases until told to stop (None)."""
    while True:
        msg = conn.recv()
        if msg is None:
            return
        module, fn, args = msg
        try:
            result = getattr(importlib.import_module(module), fn)(*args)
        except BaseException as e:  # noqa: BLE001 - the case function classifies what it expects
            result = ("unclear", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")
        conn.send(result)


class _Worker:
    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def run(self, case, timeout):
        """(outcome, detail) of one case; ('crash'|'hang', ...) leaves this worker dead."""
        try:
            self.conn.send(case)
            if not self.conn.poll(timeout):
                self.kill()
                return "hang", f"no result in {timeout} s"
            return self.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            self.proc.join(5)
            return "crash", f"worker died (exit code {self.proc.exitcode})"

    def kill(self):
        self.proc.kill()
        self.proc.join(5)

    def stop(self):
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(10)
        if self.proc.is_alive():
            self.kill()


def run_cases(cases, workers=2, timeout=120, log=print):
    """Run `cases` [(label, module, function, args)] on `workers` processes; returns
    [(label, outcome, detail)] in completion order, logging the failing ones as they come."""
    ctx = mp.get_context("spawn")
    todo = queue.Queue()
    for c in cases:
        todo.put(c)
    results, lock = [], threading.Lock()

    def drive():
        worker = _Worker(ctx)
        while True:
            try:
                label, module, fn, args = todo.get_nowait()
            except queue.Empty:
                break
            outcome, detail = worker.run((module, fn, args), timeout)
            if outcome in ("crash", "hang"):
                worker = _Worker(ctx)
            with lock:
                results.append((label, outcome, detail))
                if outcome in FAILURES:
                    log(f"  {label}: {outcome}: {str(detail)[:400]}", flush=True)
        worker.stop()
    threads = [threading.Thread(target=drive) for _ in range(max(1, min(workers, len(cases))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def classify_error(e):
    """'rejected' for graphc's own errors (clear, named), 'unclear' for anything else."""
    from graphc.errors import GraphcError
    try:
        from graphc.onnx.errors import OnnxImportError
    except ImportError:  # pragma: no cover
        OnnxImportError = GraphcError
    if isinstance(e, (GraphcError, OnnxImportError)):
        return "rejected", f"{type(e).__name__}: {str(e)[:200]}"
    return "unclear", f"{type(e).__name__}: {str(e)[:300]}\n{traceback.format_exc(limit=4)}"


def same(got, want, rtol=1e-3, atol=1e-4):
    """NaN-aware closeness of two arrays (shapes and dtypes too); ints and bools exactly."""
    import numpy as np
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    if got.dtype.kind in "biu":
        return bool(np.array_equal(got, want))
    scale = float(np.nanmax(np.abs(want[np.isfinite(want)]))) if np.isfinite(want).any() else 1.0
    return bool(np.allclose(got, want, rtol=rtol, atol=atol * max(1.0, scale), equal_nan=True))
