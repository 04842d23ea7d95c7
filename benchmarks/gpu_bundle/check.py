"""Runs on the GPU machine (from run.sh): every case against its reference, then graphc against PyTorch.

Loads each artifact the way graphc's runtime/artifact.py does (plan.json + kernels.so, run by graphc's
Executor), with TVM's runtime alone. Inputs and weights come from numpy's seeded generators, as in build.py;
the models' weights from their builders' seeds (networks.py), one set per model for both batch sizes.
Timing: graphc's kernel launches with every feed already on the GPU, PyTorch eager and torch.compile on the
same weights, and cuBLAS (torch.matmul) for the matmul cases; CUDA events, medians."""
import ctypes
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BUDGET_S = 300      # no torch.compile starts once the run is this old (run.sh: under 8 minutes in all)


def draw(spec):
    """The array a feed spec names (the same function as build.py's)."""
    rng = np.random.default_rng(spec["seed"])
    if spec.get("classes"):
        return rng.integers(0, spec["classes"], spec["shape"]).astype(spec["dtype"])
    return (rng.standard_normal(spec["shape"]) * spec.get("scale", 1.0)).astype(spec["dtype"])


def read_safetensors(path):
    """{name: array} from a safetensors file (header length, JSON header, raw little-endian data)."""
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
        data = fh.read()
    kinds = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
             "U8": "u1", "BOOL": "?", "U16": "<u2", "U32": "<u4", "U64": "<u8"}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        lo, hi = meta["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], kinds[meta["dtype"]]).reshape(meta["shape"]).copy()
    return out


def load(path):
    """(Executor, its module) for a .gca artifact."""
    import tvm
    from graphc.runtime.executor import Executor
    from graphc.runtime.plan import Buffer, Call, Plan
    tmp = tempfile.mkdtemp(prefix="gpu-bundle-")
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp, ["kernels.so", "plan.json", "weights.safetensors"])
    with open(os.path.join(tmp, "plan.json")) as fh:
        p = json.load(fh)
    weights = read_safetensors(os.path.join(tmp, "weights.safetensors"))
    plan = Plan(p["target"], [Buffer(**{**b, "shape": tuple(b["shape"])}) for b in p["buffers"]],
                [Call(**c) for c in p["calls"]], p["fetches"], {int(k): v for k, v in weights.items()},
                p["arena_bytes"], p["variable_reads"], p["variable_writes"])
    module = tvm.runtime.load_module(os.path.join(tmp, "kernels.so"))
    return Executor(plan, module), module


def events_ms(fn, sync, repeat=20):
    """Median milliseconds of fn() over `repeat` runs after warm-up: CUDA events where torch is present
    (TVM and torch both launch on the legacy default stream), else wall time with `sync` after each."""
    for _ in range(3):
        fn()
    sync()
    try:
        import torch
    except ImportError:
        torch = None
    times = []
    for _ in range(repeat):
        if torch is None:
            t0 = time.perf_counter()
            fn()
            sync()
            times.append((time.perf_counter() - t0) * 1e3)
            continue
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def torch_sync():
    import torch
    torch.cuda.synchronize()


def kernel_launcher(exe, feeds):
    """A function that launches one run's kernels, feeds already on the GPU, outputs left there."""
    bufs, _ = exe._bind(feeds, None)
    calls = [(f, [bufs[i] for i in args]) for f, args in zip(exe.funcs, exe.calls)]

    def launch():
        for f, args in calls:
            f(*args)
    return launch


_weights = {}


def case_feeds(case):
    """{feed name: array} of a case: drawn from its seed, or a model weight from the model's builder."""
    import networks
    if case.get("model") and case["model"] not in _weights:
        _weights[case["model"]] = networks.weights(case["model"])
    return {s["name"]: _weights[case["model"]][s["name"]] if s.get("weight") else draw(s) for s in case["feeds"]}


def check(case, exe, feeds):
    """(matches, max relative error) of a case's outputs against its reference."""
    got = exe.run([feeds[s["name"]] for s in case["feeds"]])
    ref = np.load(os.path.join(HERE, "cases", case["name"] + ".ref.npz"))
    want = [ref[f"arr_{i}"] for i in range(len(ref.files))]
    if case.get("ref_rows"):  # the reference holds these rows (samples) of the first output only
        got = [got[0][case["ref_rows"]]]
    errs = [float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)) / (np.abs(w.astype(np.float64)) + 1.0)))
            for g, w in zip(got, want)]
    return all(e <= case["rtol"] * 10 for e in errs), max(errs)


def torch_peers(case, feeds, compile_too):
    """{eager: fn, compile: fn or None} running the case's network in PyTorch on the same weights and input."""
    import torch
    t = {k: torch.from_numpy(np.ascontiguousarray(v)).cuda() for k, v in feeds.items()}
    if case.get("matmul"):
        return {"cublas": lambda: torch.matmul(t["a"], t["b"])}
    if case.get("model"):
        import networks
        eager = networks.torch_runner(networks.MODELS[case["model"]](batch=case["batch"]),
                                      {k: v for k, v in feeds.items() if k != "x"})
    elif case["name"].startswith("mlp_b"):
        def eager(x):
            h = x
            for i in range(3):
                h = h @ t[f"w{i}"] + t[f"b{i}"]
                h = torch.relu(h) if i < 2 else h
            return h
    else:
        return {}
    peers = {"eager": lambda: eager(t["x"])}
    if compile_too:
        compiled = torch.compile(eager)
        peers["compile"] = lambda: compiled(t["x"])
    return peers


def main():
    """Check every case, then time graphc and its PyTorch peers; print the table; exit 1 if any case is wrong."""
    started = time.time()
    import tvm
    ctypes.CDLL(os.path.join(os.path.dirname(tvm.__file__), "lib", "libtvm_runtime_cuda.so"), ctypes.RTLD_GLOBAL)
    if not tvm.cuda(0).exist:
        sys.exit("graphc gpu-bundle: TVM's CUDA runtime sees no GPU")
    sys.path.insert(0, HERE)
    from graphc import tvm_runtime as rt
    with open(os.path.join(HERE, "cases.json")) as fh:
        index = json.load(fh)
    dev = tvm.cuda(0)
    rows, loaded = [], {}
    for case in index:  # 1. every case against its reference
        name = case["name"]
        try:
            feeds = case_feeds(case)
            exe, _ = load(os.path.join(HERE, "cases", name + ".gca"))
            ok, err = check(case, exe, feeds)
            row = {"case": name, "match": ok, "max_rel_err": err, "kernels": len(exe.calls)}
            loaded[name] = (exe, feeds)
        except Exception as e:  # noqa: BLE001 (one broken case is reported, the others still run)
            row = {"case": name, "match": False, "error": f"{type(e).__name__}: {e}"[:300]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    for case, row in zip(index, rows):  # 2. graphc's time, then PyTorch's on the same weights
        if case["name"] not in loaded:
            continue
        exe, feeds = loaded[case["name"]]
        try:
            on_gpu = [rt.tensor(np.ascontiguousarray(feeds[s["name"]]), exe.device) for s in case["feeds"]]
            row["graphc_ms"] = events_ms(kernel_launcher(exe, on_gpu), dev.sync)
            peers = torch_peers(case, feeds, compile_too=time.time() - started < BUDGET_S)
            for peer, fn in peers.items():
                row[f"{peer}_ms"] = events_ms(fn, torch_sync)
                row[f"ratio_vs_{peer}"] = row["graphc_ms"] / row[f"{peer}_ms"]
            if case.get("model") and "compile" not in peers:
                row["compile_note"] = "torch.compile skipped: time budget"
        except Exception as e:  # noqa: BLE001
            row["timing_error"] = f"{type(e).__name__}: {e}"[:300]
        print(json.dumps(row), flush=True)
    print_table(rows)
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "gpu_bundle.json"), "w") as fh:
            json.dump(rows, fh, indent=1)
    failed = sum(not r["match"] for r in rows)
    print(f"{len(index) - failed}/{len(index)} cases match their references ({time.time() - started:.0f} s)")
    sys.exit(1 if failed else 0)


def print_table(rows):
    """One line per case: match, error, graphc ms, the peers' ms and graphc/peer ratios."""
    def ms(r, k):
        return f"{r[k]:9.3f}" if k in r else f"{'-':>9s}"

    def ratio(r, k):
        return f"{r[k]:6.2f}x" if k in r else f"{'-':>7s}"
    print(f"\n{'case':24s} {'ok':>5s} {'max err':>8s} {'graphc ms':>9s} {'eager ms':>9s} {'compile':>9s} "
          f"{'cuBLAS ms':>9s} {'/eager':>7s} {'/compile':>7s} {'/cuBLAS':>7s}")
    for r in rows:
        err = f"{r['max_rel_err']:8.1e}" if "max_rel_err" in r else f"{'-':>8s}"
        print(f"{r['case']:24s} {str(r['match']):>5s} {err} {ms(r, 'graphc_ms')} {ms(r, 'eager_ms')} "
              f"{ms(r, 'compile_ms')} {ms(r, 'cublas_ms')} {ratio(r, 'ratio_vs_eager')} "
              f"{ratio(r, 'ratio_vs_compile')} {ratio(r, 'ratio_vs_cublas')}")
        if "error" in r or "timing_error" in r:
            print(f"  {r.get('error') or r.get('timing_error')}")


if __name__ == "__main__":
    main()
