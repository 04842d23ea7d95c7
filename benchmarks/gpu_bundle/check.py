"""Runs on the GPU machine (from run.sh): every case against its reference, then graphc against PyTorch.

Loads each artifact the way graphc's runtime/artifact.py does (plan.json + kernels.so, run by graphc's
Executor), with TVM's runtime alone. Inputs and weights come from numpy's seeded generators, as in build.py."""
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


def median_ms(fn, sync, repeat=30):
    """Median milliseconds of fn() over `repeat` runs after warm-up, each timed with `sync` around it."""
    for _ in range(3):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def torch_ms(fn, repeat=30):
    """Median milliseconds of a torch callable by CUDA events."""
    import torch
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def torch_mlp(feeds):
    """The MLP case in PyTorch with the same weights: (eager fn, compiled fn)."""
    import torch
    t = {k: torch.from_numpy(v).cuda() for k, v in feeds.items()}

    def f(x):
        h = x
        for i in range(3):
            h = h @ t[f"w{i}"] + t[f"b{i}"]
            h = torch.relu(h) if i < 2 else h
        return h
    compiled = torch.compile(f)
    return (lambda: f(t["x"])), (lambda: compiled(t["x"]))


def main():
    """Check, time, print the table; exit 1 if any case is wrong."""
    import tvm
    ctypes.CDLL(os.path.join(os.path.dirname(tvm.__file__), "lib", "libtvm_runtime_cuda.so"), ctypes.RTLD_GLOBAL)
    if not tvm.cuda(0).exist:
        sys.exit("graphc gpu-bundle: TVM's CUDA runtime sees no GPU")
    with open(os.path.join(HERE, "cases.json")) as fh:
        index = json.load(fh)
    rows, failed = [], 0
    dev = tvm.cuda(0)
    for case in index:
        name = case["name"]
        feeds = {s["name"]: draw(s) for s in case["feeds"]}
        try:
            exe, _ = load(os.path.join(HERE, "cases", name + ".gca"))
            got = exe.run([feeds[s["name"]] for s in case["feeds"]])
            ref = np.load(os.path.join(HERE, "cases", name + ".ref.npz"))
            want = [ref[f"arr_{i}"] for i in range(len(ref.files))]
            errs = [float(np.max(np.abs(g.astype(np.float64) - w) / (np.abs(w) + 1.0))) for g, w in zip(got, want)]
            ok = all(e <= case["rtol"] * 10 for e in errs)
            ms = median_ms(lambda: exe.run([feeds[s["name"]] for s in case["feeds"]]), dev.sync, repeat=10)
            row = {"case": name, "match": ok, "max_rel_err": max(errs), "graphc_ms": ms}
        except Exception as e:  # noqa: BLE001 (one broken case is reported, the others still run)
            row, ok = {"case": name, "match": False, "error": f"{type(e).__name__}: {e}"[:300]}, False
        if name.startswith("mlp_b") and ok:
            try:
                eager, compiled = torch_mlp(feeds)
                row["torch_eager_ms"], row["torch_compile_ms"] = torch_ms(eager), torch_ms(compiled)
                row["ratio_vs_eager"] = row["graphc_ms"] / row["torch_eager_ms"]
            except Exception as e:  # noqa: BLE001
                row["torch_error"] = str(e)[:200]
        failed += not ok
        rows.append(row)
        print(json.dumps(row), flush=True)
    import torch
    for dtype in ("float32", "float16"):
        a = torch.randn(4096, 4096, device="cuda", dtype=getattr(torch, dtype))
        ms = torch_ms(lambda: torch.matmul(a, a), repeat=20)
        rows.append({"case": f"torch.matmul 4096 {dtype}", "torch_ms": ms, "tflops": 2 * 4096 ** 3 / ms / 1e9})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'case':28s} {'ok':>4s} {'graphc ms':>10s} {'eager ms':>9s} {'compile ms':>10s}")
    for r in rows:
        print(f"{r['case']:28s} {str(r.get('match', '')):>4s} {r.get('graphc_ms', r.get('torch_ms', 0)):10.3f} "
              f"{r.get('torch_eager_ms', 0):9.3f} {r.get('torch_compile_ms', 0):10.3f}")
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "gpu_bundle.json"), "w") as fh:
            json.dump(rows, fh, indent=1)
    print(f"{len(index) - failed}/{len(index)} cases match their references")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
