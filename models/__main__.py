"""`python -m graphc.models list` and `python -m graphc.models train NAME [--quick] [--steps N]`."""
import argparse
import importlib
import sys
import time

MODELS = {"cnn": "LeNet-5-style conv net, batch norm, on digits",
          "rnn": "LSTM character language model (64 unrolled steps) on numpy's docstrings",
          "transformer": "GPT-style decoder on numpy's docstrings",
          "gnn": "GCN and GraphSAGE on the karate club and a stochastic block model",
          "moe": "top-2 mixture-of-experts classifier on digits",
          "newton": "logistic regression by Newton-CG with Hessian-vector products"}


def load(name):
    """The model module `name`."""
    if name not in MODELS:
        raise SystemExit(f"unknown model {name!r}; expected one of {', '.join(MODELS)}")
    return importlib.import_module(f"{__package__}.{name}")


def main(argv=None):
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m graphc.models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the models")
    train = sub.add_parser("train", help="train one model and check it against its bar")
    train.add_argument("name", choices=sorted(MODELS))
    train.add_argument("--quick", action="store_true", help="a few seconds: only the loss must fall")
    train.add_argument("--steps", type=int, default=None, help="training steps (default: the model's own)")
    train.add_argument("--precision", choices=["float32", "float16", "bfloat16"], default="float32",
                       help="matmuls and convs in this dtype (cnn, transformer; float16 with loss scaling)")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, what in MODELS.items():
            print(f"{name:12s} {what}")
        return 0
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    from .common import PRECISION
    PRECISION["dtype"] = args.precision
    start = time.perf_counter()
    result = load(args.name).train(quick=args.quick, steps=args.steps)
    if result.session is not None:
        result.session.close()
    for key, value in result.extra.items():
        print(f"{key}: {value}")
    print(f"time: {time.perf_counter() - start:.1f} s")
    print(result.line())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
