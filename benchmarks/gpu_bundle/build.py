"""`make gpu-bundle`: write build/gpu-bundle/, a folder that checks graphc's CUDA kernels on a GPU machine
with Python 3.12, numpy and torch but no TVM, no graphc and no package index.

It carries: TVM's runtime libraries and the `tvm` Python files (never libtvm_compiler.so; loaded with
TVM_USE_RUNTIME_LIB=1), wheels of apache-tvm-ffi and ml_dtypes for CPython 3.12, graphc's runtime files
(plan, executor, device, dtypes, errors), sm_90 artifacts of each case with reference outputs computed
here by graphc's numpy reference interpreter, run.sh and check.py. Inputs and weights are not carried:
both machines draw them from numpy's seeded generators (cases.json says how)."""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [ROOT, HERE]  # models.onnx_zoo; networks

import networks  # noqa: E402
LIMIT_BYTES = 60 << 20
RUNTIME_FILES = {"graphc/__init__.py": None, "graphc/errors.py": "graphc/errors.py",
                 "graphc/dtypes.py": "graphc/dtypes.py", "graphc/host.py": "graphc/host.py",
                 "graphc/tvm_runtime.py": "graphc/tvm_runtime.py", "graphc/runtime/__init__.py": "runtime/__init__.py",
                 "graphc/runtime/plan.py": "runtime/plan.py", "graphc/runtime/executor.py": "runtime/executor.py",
                 "graphc/runtime/device.py": "runtime/device.py",
                 "models/__init__.py": None, "models/onnx_zoo.py": "models/onnx_zoo.py"}


def draw(spec):
    """The array a feed spec names: numpy's seeded generator, identical on every machine."""
    rng = np.random.default_rng(spec["seed"])
    if spec.get("classes"):
        return rng.integers(0, spec["classes"], spec["shape"]).astype(spec["dtype"])
    return (rng.standard_normal(spec["shape"]) * spec.get("scale", 1.0)).astype(spec["dtype"])


def cases():
    """[(name, {placeholder: feed spec}, [fetched tensors], tolerance, graph)] for every bundle case."""
    import graphc as gc
    out = []

    def case(name, build, feeds, rtol=1e-4):
        g = gc.Graph()
        with g.as_default():
            phs = {k: gc.placeholder(s["dtype"], s["shape"], name=k) for k, s in feeds.items()}
            fetches = build(**phs)
        out.append((name, [(phs[k], {**s, "name": k}) for k, s in feeds.items()],
                    fetches if isinstance(fetches, list) else [fetches], rtol, g))

    def f(shape, seed, scale=1.0, dtype="float32"):
        return {"shape": list(shape), "dtype": dtype, "seed": seed, "scale": scale}
    # one case per op family
    case("add_broadcast", lambda a, b: gc.add(a, b), {"a": f((256, 512), 1), "b": f((512,), 2)})
    case("elemwise_chain", lambda a: gc.tanh(gc.exp(a) * 0.5), {"a": f((1 << 20,), 3)})
    case("matmul_relu", lambda a, b: gc.relu(gc.matmul(a, b)), {"a": f((512, 256), 4), "b": f((256, 384), 5)})
    case("gemv", lambda a, b: gc.matmul(a, b), {"a": f((1, 1024), 6), "b": f((1024, 1024), 7)})
    case("conv3x3", lambda x, w: gc.relu(gc.conv(x, w, pads=[1, 1, 1, 1])),
         {"x": f((8, 32, 28, 28), 8), "w": f((64, 32, 3, 3), 9, 0.1)})
    case("depthwise", lambda x, w: gc.conv(x, w, pads=[1, 1, 1, 1], groups=32),
         {"x": f((8, 32, 28, 28), 10), "w": f((32, 1, 3, 3), 11)})
    case("max_pool", lambda x: gc.max_pool(x, [2, 2], [2, 2]), {"x": f((8, 32, 28, 28), 12)})
    case("sum_full", lambda a: gc.reduce_sum(a), {"a": f((3000, 4000), 13)}, rtol=1e-3)
    case("softmax_rows", lambda a: gc.softmax(a), {"a": f((64, 4096), 14)})
    case("layer_norm", lambda a, s, b: gc.layer_norm(a, s, b), {"a": f((128, 768), 15), "s": f((768,), 16),
                                                                "b": f((768,), 17)})
    case("transpose", lambda a: gc.transpose(a, [0, 2, 1]), {"a": f((16, 512, 384), 18)})

    # the MLP (784-512-512-10) at batch 1 and 64, weights fed; and one SGD step of it, variables in and out
    sizes = (784, 512, 512, 10)
    wspec = {}
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        wspec[f"w{i}"] = f((n_in, n_out), 100 + i, float(np.sqrt(2.0 / n_in)))
        wspec[f"b{i}"] = f((n_out,), 200 + i, 0.01)

    def mlp(x, **w):
        h = x
        for i in range(len(sizes) - 1):
            h = gc.matmul(h, w[f"w{i}"]) + w[f"b{i}"]
            h = gc.relu(h) if i < len(sizes) - 2 else h
        return h
    for batch in (1, 64):
        case(f"mlp_b{batch}", mlp, {"x": f((batch, 784), 300 + batch), **wspec})

    def sgd_step(x, labels, **w):
        logits = mlp(x, **w)
        loss = gc.reduce_mean(gc.losses.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        names = sorted(w)
        grads = gc.gradients(loss, [w[n] for n in names])
        return [loss] + [w[n] - 0.1 * g for n, g in zip(names, grads)]
    case("mlp_train_step", sgd_step, {"x": f((64, 784), 400), "labels": {"shape": [64], "dtype": "int32",
                                                                          "seed": 401, "classes": 10}, **wspec},
         rtol=1e-3)
    return out


def model_cases():
    """[(name, model, batch, ONNX model with its weights as inputs, reference-rows model or None)]: ResNet-18,
    BERT-mini and the MobileNet at each batch size. At batch 64 the reference covers the first and last
    samples only (the outputs of a sample depend on it alone): the batch-2 model computes them."""
    out = []
    for model in networks.MODELS:
        for batch in networks.BATCHES:
            onnx_model = networks.with_weights_as_inputs(networks.MODELS[model](batch=batch))
            rows_model = networks.with_weights_as_inputs(networks.MODELS[model](batch=2)) if batch > 2 else None
            out.append((f"{model}_b{batch}", model, batch, onnx_model, rows_model))
    return out


def write_model_cases(dest, target, index):
    """Compile each model case to dest/cases/<name>.gca, its weights fed (drawn on the GPU machine from the
    model's seed: networks.weights), with reference outputs computed here."""
    import graphc as gc
    from graphc import reference
    from graphc.onnx import import_model
    for name, model, batch, onnx_model, rows_model in model_cases():
        imp = import_model(onnx_model)
        x = {"name": "x", "shape": [int(d) for d in imp.inputs["x"].shape], "dtype": "float32",
             "seed": 500 + batch, "scale": 1.0}
        weights = networks.weights(model)
        assert list(imp.inputs)[0] == "x"  # then the weights, in the model's order: the artifact's feed order
        with imp.graph.as_default():
            exe = gc.compile(dict(imp.outputs), {t: (tuple(int(d) for d in t.shape), t.dtype.name)
                                                 for t in imp.inputs.values()}, target=target)
        feeds = [x] + [{"name": k, "weight": True} for k in list(imp.inputs)[1:]]
        x_value, rows = draw(x), None
        if rows_model is not None:
            rows = [0, batch - 1]
            imp, x_value = import_model(rows_model), x_value[rows]
        with imp.graph.as_default():
            arrays = {t: (x_value if k == "x" else weights[k]) for k, t in imp.inputs.items()}
            want = reference.evaluate(list(imp.outputs.values()), arrays)
        exe.export(os.path.join(dest, "cases", name + ".gca"))
        np.savez(os.path.join(dest, "cases", name + ".ref.npz"), *[np.asarray(w) for w in want])
        index.append({"name": name, "model": model, "batch": batch, "feeds": feeds, "rtol": 1e-3,
                      "ref_rows": rows, "kernels": exe.num_kernels})
        print(f"  {name}: {exe.num_kernels} kernels", flush=True)


def write_matmul_cases(dest, target, index):
    """matmul 4096 x 4096 in float32 and float16 (timed against cuBLAS on the GPU); the reference holds
    the first and last rows of the product, computed here from those rows of the left operand."""
    import graphc as gc
    from graphc import reference
    n = 4096
    for dtype, rtol in (("float32", 1e-4), ("float16", 1e-2)):
        name = f"matmul_{n}_{dtype}"
        specs = [{"name": "a", "shape": [n, n], "dtype": dtype, "seed": 600, "scale": 1.0},
                 {"name": "b", "shape": [n, n], "dtype": dtype, "seed": 601, "scale": 1.0}]
        g = gc.Graph()
        with g.as_default():
            a, b = gc.placeholder(dtype, [n, n], name="a"), gc.placeholder(dtype, [n, n], name="b")
            exe = gc.compile({"out0": gc.matmul(a, b)}, {a: ((n, n), dtype), b: ((n, n), dtype)}, target=target)
            rows = gc.placeholder(dtype, [2, n], name="rows")
            want = reference.evaluate(gc.matmul(rows, b), {rows: draw(specs[0])[[0, n - 1]], b: draw(specs[1])})
        exe.export(os.path.join(dest, "cases", name + ".gca"))
        np.savez(os.path.join(dest, "cases", name + ".ref.npz"), np.asarray(want))
        index.append({"name": name, "feeds": specs, "rtol": rtol, "ref_rows": [0, n - 1], "matmul": n,
                      "kernels": exe.num_kernels})
        print(f"  {name}: {exe.num_kernels} kernels", flush=True)


def cuda_target():
    """graphc's sm_90 target with a baseline x86-64 host (the GPU machine's CPU is unknown here)."""
    import dataclasses

    import tvm

    from graphc.codegen.target import cuda_target as make
    base = make("sm_90")
    host = {"kind": "llvm", "mcpu": "x86-64"}
    return dataclasses.replace(base, tvm_target=tvm.target.Target({"kind": "cuda", "arch": "sm_90"}, host=host))


def write_cases(dest):
    """Compile every case to dest/cases/<name>.gca with its reference outputs; writes cases.json."""
    import graphc as gc
    from graphc import reference
    os.makedirs(os.path.join(dest, "cases"))
    target, index = cuda_target(), []
    for name, feeds, fetches, rtol, g in cases():
        with g.as_default():
            arrays = {ph: draw(spec) for ph, spec in feeds}
            want = reference.evaluate(fetches, arrays)
            exe = gc.compile({f"out{i}": t for i, t in enumerate(fetches)},
                             {ph: (tuple(spec["shape"]), spec["dtype"]) for ph, spec in feeds}, target=target)
        exe.export(os.path.join(dest, "cases", name + ".gca"))
        np.savez(os.path.join(dest, "cases", name + ".ref.npz"), *[np.asarray(w) for w in want])
        index.append({"name": name, "feeds": [spec for _, spec in feeds], "rtol": rtol,
                      "kernels": exe.num_kernels})
        print(f"  {name}: {exe.num_kernels} kernels", flush=True)
    write_matmul_cases(dest, target, index)
    write_model_cases(dest, target, index)
    with open(os.path.join(dest, "cases.json"), "w") as fh:
        json.dump(index, fh, indent=1)


def copy_tvm_runtime(dest):
    """The tvm package's Python files and runtime libraries (not libtvm_compiler.so), libcudart beside them."""
    import tvm
    src = os.path.dirname(tvm.__file__)
    out = os.path.join(dest, "py", "tvm")
    for path in glob.glob(os.path.join(src, "**", "*.py"), recursive=True):
        rel = os.path.relpath(path, src)
        if rel.split(os.sep)[0] in ("3rdparty", "src", "include", "relax", "s_tir", "contrib", "testing"):
            continue  # compiler-side packages; runtime-only mode never imports them
        os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
        shutil.copyfile(path, os.path.join(out, rel))
    os.makedirs(os.path.join(out, "lib"), exist_ok=True)
    for lib in ("libtvm_runtime.so", "libtvm_runtime_cuda.so"):
        shutil.copyfile(os.path.join(src, "lib", lib), os.path.join(out, "lib", lib))
    cudart = subprocess.run(["ldd", os.path.join(src, "lib", "libtvm_runtime_cuda.so")], capture_output=True,
                            text=True).stdout
    for line in cudart.splitlines():  # the CUDA runtime TVM was linked with (the driver's libcuda is not carried)
        if "libcudart" in line and "=>" in line and "not found" not in line:
            shutil.copyfile(line.split("=>")[1].split("(")[0].strip(), os.path.join(out, "lib", line.split()[0]))


def download_wheels(dest):
    """apache-tvm-ffi (this TVM's version, else the newest the index has) and ml_dtypes for CPython 3.12."""
    from importlib.metadata import version
    wheels = os.path.join(dest, "wheels")
    pip = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps", "--python-version",
           "3.12", "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
           "--platform", "manylinux_2_28_x86_64", "-d", wheels]
    for pkg, pinned in (("apache-tvm-ffi", version("apache-tvm-ffi")), ("ml_dtypes", version("ml_dtypes"))):
        if subprocess.run(pip + [f"{pkg}=={pinned}"], capture_output=True).returncode:
            print(f"  note: {pkg}=={pinned} has no CPython 3.12 wheel on the index; taking the newest that does")
            subprocess.run(pip + [pkg], check=True)


def copy_graphc_runtime(dest):
    """graphc's runtime files, as a package `graphc` that holds nothing else."""
    for rel, src in RUNTIME_FILES.items():
        path = os.path.join(dest, "py", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if src is None:
            with open(path, "w") as fh:
                fh.write('"""graphc\'s runtime only (the GPU check bundle)."""\n')
        else:
            shutil.copyfile(os.path.join(ROOT, src), path)


def bundle_bytes(dest):
    """Bytes of every file under `dest`."""
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(dest) for f in fs)


def main():
    """Write the bundle; fail if it exceeds the size limit."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "build", "gpu-bundle"))
    args = p.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    print("gpu-bundle: compiling cases for sm_90", flush=True)
    write_cases(args.out)
    copy_tvm_runtime(args.out)
    copy_graphc_runtime(args.out)
    download_wheels(args.out)
    for f in ("run.sh", "check.py", "networks.py"):
        shutil.copy(os.path.join(HERE, f), os.path.join(args.out, f))
    size = bundle_bytes(args.out)
    print(f"gpu-bundle: wrote {args.out} ({size / (1 << 20):.1f} MiB)")
    if size > LIMIT_BYTES:
        sys.exit(f"gpu-bundle: {size} bytes is over the {LIMIT_BYTES} byte limit")


if __name__ == "__main__":
    main()
