"""Helpers every benchmark shares."""
import time

import numpy as np


def sample_seconds(fn, repeat=30, warmup=5, clock=time.perf_counter, min_seconds=0.0):
    """Times of fn() by `clock` (wall time by default): `repeat` runs after `warmup` runs, more while
    they add up to less than `min_seconds` (so millisecond workloads are timed over a long window)."""
    for _ in range(warmup):
        fn()
    times = []
    while len(times) < repeat or sum(times) < min_seconds:
        t = clock()
        fn()
        times.append(clock() - t)
    return times


def median_seconds(fn, repeat=30, warmup=5, clock=time.perf_counter, min_seconds=0.0):
    """Median time of fn() over sample_seconds' runs (the machine is noisy)."""
    return float(np.median(sample_seconds(fn, repeat, warmup, clock, min_seconds)))


def kernel_calls(exe, feeds):
    """[(kernel name, function, bound arguments)] of each kernel call of a compiled graph (Session.compiled) for
    `feeds` (its input arrays in order), so each call can be timed alone."""
    executor = exe.executors.acquire()
    bufs, _ = executor._bind(list(feeds) + exe._first_counters(), None)
    return [(c.kernel, f, [bufs[i] for i in args])
            for c, f, args in zip(executor.plan.calls, executor.funcs, executor.calls)]


def call_times(calls, runs, warmup=5):
    """Thread CPU seconds of each of kernel_calls' calls, [runs, len(calls)]: every run makes the calls in turn
    (each finding the caches as the previous call left them), after `warmup` such runs."""
    times = np.zeros((runs + warmup, len(calls)))
    for r in range(runs + warmup):
        for k, (_, f, args) in enumerate(calls):
            start = time.thread_time_ns()
            f(*args)
            times[r, k] = (time.thread_time_ns() - start) * 1e-9
    return times[warmup:]


def ort_node_times(model, feeds, threads=1, runs=60, warmup=5):
    """onnxruntime's profile of `model` (ONNX ModelProto) run on `feeds` ({input name: array}), `threads` threads:
    (outputs of the last run, {node name: (op name, kernel seconds of each of `runs` runs after `warmup`)}), the
    nodes in network order. Its profiler's wall time of each node's kernel ("<node>_kernel_time" events)."""
    import json
    import tempfile

    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.enable_profiling = True
    opts.profile_file_prefix = tempfile.mkdtemp() + "/p"
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    for _ in range(runs + warmup):
        outputs = sess.run(None, feeds)
    nodes = {}
    with open(sess.end_profiling()) as f:
        for e in json.load(f):
            if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                op, times = nodes.setdefault(e["name"][:-len("_kernel_time")], (e["args"].get("op_name", ""), []))
                times.append(e["dur"] * 1e-6)
    return outputs, {name: (op, np.array(t[warmup:])) for name, (op, t) in nodes.items()}
