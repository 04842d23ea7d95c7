"""Tampered artifacts: one member of a small model's .gca edited (plan.json structure, weight values,
weights header, kernel library, manifest fields), the manifest's sha256 and size entries and its own
digest (manifest.sha256) recomputed, as a tamperer would, so only validation beyond hashes can notice.
The kernel library is native code, trusted like any library (only a signature tells who built it): its
tamperings are bytes flipped with its hash left as it was (corruption, which the hash must catch) and a
replacement by another model's library with the hashes recomputed (refused from the plan's kernel names,
before the library is loaded, or by the kernels' own argument checks). A tampered artifact must be refused with a clear error, or, when only
weight values changed (indistinguishable from another model unless signed), may run."""
import hashlib
import io
import json
import os
import zipfile

import numpy as np

from .harness import classify_error, same

FEEDS = {"x": np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4), "i": np.array([4, 0, -1], np.int64)}


def prepare(path):
    """Compile and export the base artifact (a small MLP-like graph with a gather by a fed index) to `path`."""
    import graphc as gc
    rng = np.random.default_rng(0)
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(np.float32, [3, 4], name="x")
        i = gc.placeholder(np.int64, [3], name="i")
        w = gc.constant(rng.standard_normal((4, 5)).astype(np.float32))
        b = gc.constant(rng.standard_normal((5,)).astype(np.float32))
        h = gc.relu(gc.matmul(x, w) + b)
        y = gc.reduce_sum(gc.tanh(h) * 2.0, axis=1)
        exe = gc.compile({"y": y, "h": h, "g": gc.gather(h, i, axis=1)}, {x: FEEDS["x"], i: FEEDS["i"]})
    exe.export(path)
    with g.as_default():  # another model, whose kernel library replaces the base's in some cases
        h2 = gc.relu(gc.matmul(x, w) * 3.0 + b)
        gc.compile({"y": gc.reduce_sum(gc.tanh(h2) * 2.0, axis=1), "h": h2}, {x: FEEDS["x"]}).export(_other(path))
    return "ok", path


def _other(base):
    return base + ".other.gca"


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(members, path, keep_hash=()):
    """Write `members` as an artifact, the hashes and sizes in the manifest (but of `keep_hash`) recomputed."""
    manifest = json.loads(members["manifest.json"])
    for m in manifest.get("sha256", {}):
        if m in members and m not in keep_hash:
            manifest["sha256"][m] = hashlib.sha256(members[m]).hexdigest()
            manifest["sizes"][m] = len(members[m])
    members["manifest.json"] = json.dumps(manifest).encode()
    members["manifest.sha256"] = hashlib.sha256(members["manifest.json"]).hexdigest().encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)


def _tamper_plan(plan, rng):
    calls, bufs = plan["calls"], plan["buffers"]
    choice = int(rng.integers(0, 14))
    if choice == 0 and len(calls) > 1:
        plan["calls"] = calls[::-1]
        return "calls reversed"
    if choice == 1 and calls:
        del calls[int(rng.integers(len(calls)))]
        return "a call dropped"
    if choice == 2 and calls:
        c = calls[int(rng.integers(len(calls)))]
        if len(c["args"]) > 1:
            i, j = rng.choice(len(c["args"]), 2, replace=False)
            c["args"][i], c["args"][j] = c["args"][j], c["args"][i]
            return "call arguments swapped"
    if choice == 3:
        consts = [b for b in bufs if b["kind"] == "const"]
        if consts:
            consts[0]["kind"] = "temp"
            return "a const turned temp"
    if choice == 4:
        plan["fetches"] = plan["fetches"][:-1]
        return "a fetch removed"
    if choice == 5 and calls:
        c = calls[int(rng.integers(len(calls)))]
        c["args"][int(rng.integers(len(c["args"])))] = int(rng.choice([len(bufs), 10 ** 6, -1]))
        return "an argument out of range"
    if choice == 6:
        b = bufs[int(rng.integers(len(bufs)))]
        b["shape"] = [int(rng.integers(0, 40)) for _ in b["shape"]] or [7]
        return "a buffer's shape changed"
    if choice == 7:
        b = bufs[int(rng.integers(len(bufs)))]
        b["dtype"] = str(rng.choice(["float64", "int8", "float16", "bogus"]))
        return "a buffer's dtype changed"
    if choice == 8:
        plan["arena_bytes"] = int(rng.choice([0, 8, 2 ** 62]))
        return "arena size changed"
    if choice == 9:
        temps = [b for b in bufs if b["kind"] == "temp"]
        if temps:
            temps[0]["offset"] = int(rng.choice([10 ** 9, -5, 3]))
            return "an arena offset changed"
    if choice == 10 and calls:
        calls[0]["kernel"] = "no_such_kernel"
        return "a kernel name changed"
    if choice == 11 and calls:
        calls[0]["num_inputs"] = int(rng.choice([0, 99]))
        return "num_inputs changed"
    if choice == 12 and plan.get("index_checks"):
        values = [0, -1, "x", [], [0], 10 ** 6]
        plan["index_checks"][0][int(rng.integers(3))] = values[int(rng.integers(len(values)))]
        return "an index check changed"
    if choice == 13:
        plan["index_checks"] = []
        return "index checks dropped"
    plan["calls"] = calls + calls[:1]
    return "a call repeated"


def _tamper_weights(data, rng):
    """(new bytes, weights-only?): weight values changed keep the header valid; else header bytes."""
    header_len = int.from_bytes(data[:8], "little")
    if rng.random() < 0.6 and len(data) > 8 + header_len:
        body = bytearray(data)
        for _ in range(int(rng.integers(1, 5))):
            body[8 + header_len + int(rng.integers(len(data) - 8 - header_len))] ^= int(rng.integers(1, 256))
        return bytes(body), True
    body = bytearray(data)
    body[int(rng.integers(0, min(len(data), 8 + header_len)))] ^= int(rng.integers(1, 256))
    return bytes(body), False


def case(base, seed, out_dir):
    """Load and run one tampered copy of `base`; compare with the untampered outputs."""
    from graphc.runtime.artifact import load
    rng = np.random.default_rng(seed)
    members = _members(base)
    weights_only, keep_hash = False, ()
    target = ["plan.json", "plan.json", "weights.safetensors", "kernels.so", "manifest.json"][seed % 5]
    if target == "plan.json":
        plan = json.loads(members["plan.json"])
        what = _tamper_plan(plan, rng)
        members["plan.json"] = json.dumps(plan).encode()
    elif target == "weights.safetensors":
        members[target], weights_only = _tamper_weights(members[target], rng)
        what = "weight values changed" if weights_only else "weights header changed"
    elif target == "kernels.so" and seed % 2:
        members[target], what = _members(_other(base))[target], "kernel library replaced by another model's"
    elif target == "kernels.so":
        so = bytearray(members[target])
        for _ in range(int(rng.integers(1, 16))):
            so[int(rng.integers(len(so)))] ^= int(rng.integers(1, 256))
        members[target], what, keep_hash = bytes(so), "kernel library bytes flipped (its hash kept)", (target,)
    else:
        manifest = json.loads(members["manifest.json"])
        field = str(rng.choice(["host_features", "inputs", "outputs", "format_version", "target"]))
        if field == "host_features":
            manifest["target"]["host_features"] = []
        elif field == "target":
            manifest["target"]["kind"] = str(rng.choice(["cuda", "tpu", ""]))
        elif field == "format_version":
            manifest["format_version"] = int(rng.integers(2, 99))
        else:
            manifest[field][0]["shape"] = [int(rng.integers(0, 9))]
        members["manifest.json"], what = json.dumps(manifest).encode(), f"manifest {field} changed"
    path = os.path.join(out_dir, f"tampered-{seed}.gca")
    _write(members, path, keep_hash)
    want = load(base).run(FEEDS)
    try:
        got = load(path).run(FEEDS)
    except Exception as e:  # noqa: BLE001
        outcome, detail = classify_error(e)
        return outcome, f"{what}: {detail}"
    finally:
        os.remove(path)
    if set(got) == set(want) and all(same(got[k], want[k], rtol=0, atol=0) for k in want):
        return "ran-unchanged", what
    if weights_only:
        return "ran-weights-tampered", what
    return "mismatch", f"{what}: the tampered artifact ran and returned other results"


def cases(n, base, out_dir, seed=0):
    """`n` tamperings of artifact `base`, the member cycling through plan (twice), weights, kernels, manifest."""
    return [(f"artifact seed={seed + k}", __name__, "case", (base, seed + k, out_dir)) for k in range(n)]
