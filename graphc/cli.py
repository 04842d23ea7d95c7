"""The `graphc` command: compile ONNX models to artifacts, run, inspect, benchmark and draw them."""
import argparse
import os
import statistics
import sys
import time

import numpy as np


class CliError(Exception):
    """A bad command line or input file: printed as one line, exit status 2."""


def _progress(total, desc):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False)


def _parse_shapes(items):
    """{'x': (1, 3, 224, 224)} from ['x=1,3,224,224']."""
    shapes = {}
    for item in items or []:
        name, sep, dims = item.partition("=")
        try:
            if not sep:
                raise ValueError
            shapes[name] = tuple(int(d) for d in dims.split(",") if d)
        except ValueError:
            raise CliError(f"--input-shape {item!r}: expected name=d0,d1,... with integer dims") from None
    return shapes


def _import_onnx(path):
    """(graph, inputs, outputs) of ONNX model `path`, via graphc.onnx.import_model."""
    import graphc.onnx
    if not hasattr(graphc.onnx, "import_model"):
        raise CliError("this graphc has no ONNX importer (graphc.onnx.import_model); install the onnx-import "
                       "branch to compile .onnx files")
    if not os.path.isfile(path):
        raise CliError(f"model {path!r} does not exist")
    return graphc.onnx.import_model(path)


def _compile_onnx(path, target, opt_level, shapes):
    """An Executable for ONNX model `path` with every input dim fixed (from `shapes` or the model)."""
    import graphc
    _, inputs, outputs = _import_onnx(path)
    inputs = list(inputs.values()) if isinstance(inputs, dict) else list(inputs)
    feeds = {}
    for t in inputs:
        name = t.name.split(":")[0]
        shape = shapes.pop(name, None)
        if shape is None:
            dims = t.shape.as_list() if hasattr(t.shape, "as_list") else list(t.shape)
            if dims is None or any(d is None for d in dims):
                raise CliError(f"input {name!r} has unknown dims {dims}: give them with --input-shape {name}=...")
            shape = tuple(dims)
        feeds[t] = (shape, t.dtype)
    if shapes:
        raise CliError(f"--input-shape names {sorted(shapes)} that are not model inputs "
                       f"{[t.name.split(':')[0] for t in inputs]}")
    fetches = outputs if isinstance(outputs, dict) else list(outputs)
    exe = graphc.compile(fetches, feeds, target=target, opt_level=opt_level)
    return exe


def cmd_compile(args):
    """graphc compile: ONNX model -> artifact."""
    with _progress(2, "compile") as bar:
        exe = _compile_onnx(args.model, args.target, args.opt_level, _parse_shapes(args.input_shape))
        bar.update(1)
        bar.set_description("export")
        exe.export(args.output, sign_key=args.sign)
        bar.update(1)
    if args.emit_source:
        with open(args.emit_source, "w") as f:
            f.write(exe.inspect_source())
    print(f"wrote {args.output} ({os.path.getsize(args.output)} bytes, {exe.num_kernels} kernels, "
          f"target {args.target}{', signed' if args.sign else ''})")


def cmd_keygen(args):
    """graphc keygen: a new Ed25519 key pair for signing artifacts."""
    from graphc.runtime.artifact import generate_key
    generate_key(args.key)
    print(f"wrote {args.key} (private: keep it secret; sign with `graphc compile --sign {args.key}`) and "
          f"{args.key}.pub (public: give it to `graphc run --trusted-key`)")


def _load_inputs(runner, items):
    """Feeds by input name from ['x=x.npy', ...] (or one .npz holding every input)."""
    feeds = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep:  # a bare .npz holds inputs by name
            path, name = item, None
        if not os.path.isfile(path):
            raise CliError(f"--input {item!r}: file {path!r} does not exist")
        data = np.load(path)
        if isinstance(data, np.lib.npyio.NpzFile):
            feeds.update({k: data[k] for k in data.files} if name is None else {name: data[data.files[0]]})
        else:
            feeds[name or runner.inputs[0][0]] = data
    return feeds


def cmd_run(args):
    """graphc run: run an artifact on .npy inputs."""
    from graphc.runtime import load
    runner = load(args.artifact, num_threads=args.threads, trusted_keys=args.trusted_key)
    outputs = runner.run(_load_inputs(runner, args.input))
    if args.output:
        np.savez(args.output, **outputs)
        print(f"wrote {args.output}: {', '.join(outputs)}")
        return
    for name, v in outputs.items():
        print(f"{name}: shape {list(v.shape)} {v.dtype}  min {v.min():.6g} max {v.max():.6g} "
              f"mean {v.mean():.6g}" if v.size else f"{name}: shape {list(v.shape)} {v.dtype} (empty)")


def cmd_info(args):
    """graphc info: print an artifact's manifest."""
    from graphc.runtime.artifact import read_manifest
    m = read_manifest(args.artifact, trusted_keys=args.trusted_key)
    t = m["target"]
    print(f"graphc artifact, format version {m['format_version']} (graphc {m['graphc_version']}, "
          f"TVM {m['tvm_version']})")
    print(f"target: {t['kind']} (host CPU {t['host_mcpu']}, {len(t['host_features'])} LLVM features)")
    for kind in ("inputs", "outputs"):
        print(f"{kind}:")
        for s in m[kind]:
            print(f"  {s['name']}: {s['dtype']}{s['shape']}")
    print("members:")
    for name, digest in m["sha256"].items():
        print(f"  {name}  sha256 {digest[:16]}...")


def _random_inputs(signature, rng):
    out = {}
    for name, shape, dtype in signature:
        d = np.dtype(dtype)
        out[name] = (rng.standard_normal(shape).astype(d) if d.kind == "f"
                     else rng.integers(0, 2, shape).astype(d))
    return out


def _median_seconds(fn, repeat, desc):
    fn()  # warm up
    times = []
    for _ in _progress_iter(range(repeat), desc):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _progress_iter(it, desc):
    from tqdm import tqdm
    return tqdm(it, desc=desc, file=sys.stderr, leave=False)


def cmd_bench(args):
    """graphc bench: median latency of a model (and of onnxruntime with --vs onnxruntime)."""
    model = args.model
    onnx_path = args.onnx or (model if model.endswith(".onnx") else None)
    if args.vs and not onnx_path:
        raise CliError("--vs onnxruntime on a .gca needs the ONNX model it came from: pass --onnx model.onnx")
    if model.endswith(".onnx"):
        exe = _compile_onnx(model, args.target, args.opt_level, _parse_shapes(args.input_shape))
        import tempfile

        from graphc.runtime import load
        with tempfile.TemporaryDirectory(prefix="graphc-bench-") as tmp:  # time what deploys: the artifact
            path = os.path.join(tmp, "model.gca")
            exe.export(path)
            runner = load(path, num_threads=args.threads)
    else:
        from graphc.runtime import load
        runner = load(model, num_threads=args.threads, trusted_keys=args.trusted_key)
    feeds = _random_inputs(runner.inputs, np.random.default_rng(0))
    graphc_s = _median_seconds(lambda: runner.run(feeds), args.repeat, "graphc")
    print(f"graphc: median {graphc_s * 1e3:.3f} ms over {args.repeat} runs")
    if args.vs:
        import onnxruntime as ort
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        ort_names = [i.name for i in sess.get_inputs()]
        ort_feeds = {n: feeds[n] for n in ort_names if n in feeds}
        if len(ort_feeds) != len(ort_names):
            raise CliError(f"the ONNX model's inputs {ort_names} differ from the artifact's {list(feeds)}")
        ort_s = _median_seconds(lambda: sess.run(None, ort_feeds), args.repeat, "onnxruntime")
        print(f"onnxruntime: median {ort_s * 1e3:.3f} ms over {args.repeat} runs")
        print(f"ratio graphc/onnxruntime: {graphc_s / ort_s:.2f}x")


def draw_graph(graph, path):
    """Write an SVG of `graph`'s nodes and edges with the graphviz package (one box per op)."""
    import graphviz
    dot = graphviz.Digraph(format="svg")
    for n in graph.nodes:
        dot.node(str(id(n)), f"{n.op}\n{n.name}", shape="box")
        for t in n.inputs:
            dot.edge(str(id(t.node)), str(id(n)), label=str(list(t.shape) if t.shape is not None else "?"))
    data = dot.pipe(format="svg")
    with open(path, "wb") as f:
        f.write(data)


def cmd_viz(args):
    """graphc viz: draw an ONNX model's imported graph as SVG."""
    graph, _, outputs = _import_onnx(args.model)
    import graphc
    if hasattr(graphc, "viz"):
        graphc.viz(graph, args.output)
    else:
        draw_graph(graph, args.output)
    print(f"wrote {args.output}")


def cmd_launch(args):
    """graphc launch: run a command on N processes through MPI (graphc/launch.py)."""
    from graphc.launch import LaunchError, launch
    hosts = [h for item in args.host or [] for h in item.split(",") if h]
    try:
        rc = launch(args.n, args.cmd, hosts, args.threads)
    except LaunchError as e:
        raise CliError(str(e)) from None
    if rc:
        raise SystemExit(rc)


def _runtime_options(p):
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads the kernels run on (default: TVM_NUM_THREADS, else every core)")
    p.add_argument("--trusted-key", action="append", metavar="PUBKEY",
                   help="refuse the artifact unless this Ed25519 public key (PEM) signed it (repeatable)")


def build_parser():
    """The argparse parser of the `graphc` command and its subcommands."""
    p = argparse.ArgumentParser(prog="graphc", description="graphc: compile ONNX models to deployable artifacts "
                                "(.gca), run, inspect and benchmark them.")
    p.add_argument("--verbose", action="store_true", help="show the full traceback on errors")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compile", help="compile an ONNX model to an artifact")
    c.add_argument("model", help="the .onnx model")
    c.add_argument("-o", "--output", required=True, help="the artifact to write (.gca)")
    c.add_argument("--target", choices=["cpu", "cuda"], default="cpu")
    c.add_argument("--opt-level", type=int, default=3, choices=range(4), metavar="N", help="0..3 (default 3)")
    c.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...",
                   help="fix an input's shape (repeatable)")
    c.add_argument("--sign", metavar="KEYFILE", help="sign the artifact with this Ed25519 private key (PEM)")
    c.add_argument("--emit-source", metavar="FILE",
                   help="also write the generated kernel source (CUDA C for cuda, LLVM IR for cpu)")
    c.set_defaults(func=cmd_compile)

    k = sub.add_parser("keygen", help="write a new Ed25519 key pair for signing artifacts")
    k.add_argument("key", help="the private key file to write (the public key goes to KEY.pub)")
    k.set_defaults(func=cmd_keygen)

    r = sub.add_parser("run", help="run an artifact on .npy/.npz inputs")
    r.add_argument("artifact")
    r.add_argument("--input", action="append", metavar="NAME=FILE.npy", help="an input (repeatable)")
    r.add_argument("--output", help="write outputs to this .npz (else print a summary)")
    _runtime_options(r)
    r.set_defaults(func=cmd_run)

    i = sub.add_parser("info", help="print an artifact's manifest")
    i.add_argument("artifact")
    i.add_argument("--trusted-key", action="append", metavar="PUBKEY",
                   help="refuse the artifact unless this Ed25519 public key (PEM) signed it (repeatable)")
    i.set_defaults(func=cmd_info)

    b = sub.add_parser("bench", help="median latency of a model or artifact")
    b.add_argument("model", help="a .onnx model or a .gca artifact")
    b.add_argument("--vs", choices=["onnxruntime"], help="also time onnxruntime and print the ratio")
    b.add_argument("--onnx", help="the ONNX model a .gca was compiled from (for --vs onnxruntime)")
    b.add_argument("--repeat", type=int, default=20)
    b.add_argument("--target", choices=["cpu", "cuda"], default="cpu")
    b.add_argument("--opt-level", type=int, default=3, choices=range(4), metavar="N")
    b.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...")
    _runtime_options(b)
    b.set_defaults(func=cmd_bench)

    v = sub.add_parser("viz", help="draw an ONNX model's graph as SVG")
    v.add_argument("model")
    v.add_argument("-o", "--output", required=True)
    v.set_defaults(func=cmd_viz)

    la = sub.add_parser("launch", help="run a command on N processes through MPI (graphc.distributed)")
    la.add_argument("-n", type=int, required=True, help="number of processes (ranks)")
    la.add_argument("--host", action="append", metavar="H1,H2", help="machines to run on (default: this one, "
                    "over loopback and shared memory)")
    la.add_argument("--threads", type=int, help="kernel threads per rank (default: cores split between local ranks)")
    la.add_argument("cmd", nargs=argparse.REMAINDER, help="the command each rank runs, e.g. python train.py")
    la.set_defaults(func=cmd_launch)
    return p


def main(argv=None):
    """Entry point of the `graphc` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("graphc: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if args.verbose:
            import traceback
            traceback.print_exc()
        kind = "" if isinstance(e, CliError) else f"{type(e).__name__}: "
        print(f"graphc {args.command}: error: {kind}{e}".splitlines()[0], file=sys.stderr)
        return 2 if isinstance(e, CliError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
