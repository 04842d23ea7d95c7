"""Every registered op, on its examples: TVM kernels (through Session) against the numpy reference."""
import numpy as np
import pytest

import graphc
from graphc import reference
from graphc.codegen.lower import get_lowering
from graphc.registry import Pattern, all_ops, get_op

from conftest import assert_close

# stateful ops (assignments) read and write Session variables: tests/test_training.py covers them; host ops
# (collectives) have no kernel: the runtime runs them (test_host_op_matches_reference, tests/test_distributed.py)
KERNEL_OPS = sorted(name for name, op in all_ops().items()
                    if op.pattern != Pattern.SOURCE and not op.stateful and not op.host)
HOST_OPS = sorted(name for name, op in all_ops().items() if op.host)


def run_example(name, example, unknown_dims=False, opt_level=3):
    g = graphc.Graph()
    with g.as_default():
        phs = [graphc.placeholder(a.dtype, [None] * a.ndim if unknown_dims else a.shape) for a in example.inputs]
        node = g.create_node(name, phs, example.attrs)
        feed = dict(zip(phs, example.inputs))
        want = reference.evaluate(list(node.outputs), feed)
        with graphc.Session(graph=g, opt_level=opt_level) as sess:
            got = sess.run(list(node.outputs), feed)
    for gv, wv in zip(got, want):
        assert_close(gv, wv)


def test_registry_has_the_walking_skeleton_ops():
    required = {"negative", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "sin", "cos",
                "erf", "sign", "square", "reciprocal", "add", "subtract", "multiply", "divide", "pow",
                "maximum", "minimum", "equal", "less", "greater", "where", "cast", "matmul", "sum", "mean",
                "max", "min", "prod", "argmax", "reshape", "transpose", "softmax", "log_softmax", "fill",
                "fill_like", "constant", "placeholder"}
    assert required <= set(all_ops())


# levels 0 (no passes) and 3 (the default) in `make test`; 1 and 2 in `make test-slow`
@pytest.mark.parametrize("opt_level", [0, pytest.param(1, marks=pytest.mark.slow),
                                       pytest.param(2, marks=pytest.mark.slow), 3])
@pytest.mark.parametrize("name", KERNEL_OPS)
def test_op_matches_reference(name, opt_level):
    op = get_op(name)
    assert op.examples is not None, f"op {name} has no examples: the registry tests cannot check it"
    get_lowering(name)  # raises for an op without a lowering
    examples = op.examples(np.random.default_rng(0))
    assert examples, f"op {name} has an empty example list"
    for ex in examples:
        run_example(name, ex, opt_level=opt_level)


@pytest.mark.parametrize("name", KERNEL_OPS)
def test_op_with_dims_known_only_at_feed_time(name):
    examples = get_op(name).examples(np.random.default_rng(1))
    ex = max(examples, key=lambda e: sum(a.ndim for a in e.inputs))
    run_example(name, ex, unknown_dims=True)


# Known CUDA failures, each a bug to fix (strict: the test fails once the op builds, so the entry is removed)
CUDA_KNOWN_FAILURES = {}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=CUDA_KNOWN_FAILURES[n], strict=True))
                                  if n in CUDA_KNOWN_FAILURES else n for n in KERNEL_OPS])
def test_op_builds_for_cuda(name):
    """Every op lowers, schedules and compiles for CUDA (running needs a GPU; building does not)."""
    from graphc.passes.specialize import specialize
    from graphc.runtime.compiler import compile_graph
    ex = get_op(name).examples(np.random.default_rng(0))[0]
    g = graphc.Graph()
    with g.as_default():
        phs = [graphc.placeholder(a.dtype, a.shape) for a in ex.inputs]
        node = g.create_node(name, phs, ex.attrs)
    spec, mapping, _ = specialize(list(node.outputs), {p: (a.shape, graphc.as_dtype(a.dtype)) for p, a in zip(phs, ex.inputs)})
    # opt_level 0: the op itself is lowered (at higher levels shape-only ops such as `shape` fold away)
    exe = compile_graph(spec, [mapping[id(t)] for t in node.outputs], target="cuda", opt_level=0)
    assert "__global__" in exe.module.mod.imports[0].inspect_source()


def _with_special_values(example):
    """The example with NaN, +inf and -inf written over the first elements of each float input."""
    inputs = []
    for a in example.inputs:
        a = np.array(a)
        if a.dtype.kind == "f" and a.size:
            flat = a.reshape(-1)
            specials = [np.nan, np.inf, -np.inf][:flat.size]
            flat[:len(specials)] = specials
        inputs.append(a)
    return example._replace(inputs=inputs)


def _has_float_input(example):
    return any(np.asarray(a).dtype.kind == "f" for a in example.inputs)


# Ops whose result for NaN inputs neither numpy nor TF defines: sampling from NaN logits
NAN_UNDEFINED = {"multinomial"}
FLOAT_KERNEL_OPS = [name for name in KERNEL_OPS if name not in NAN_UNDEFINED
                    and any(_has_float_input(ex) for ex in get_op(name).examples(np.random.default_rng(0)))]


@pytest.mark.parametrize("name", FLOAT_KERNEL_OPS)
def test_op_propagates_nan_and_inf_as_reference(name):
    """IEEE semantics: NaN, +inf and -inf in every float input give what numpy gives (NaN stays NaN)."""
    checked = 0
    for ex in [ex for ex in get_op(name).examples(np.random.default_rng(0)) if _has_float_input(ex)][:2]:
        special = _with_special_values(ex)
        g = graphc.Graph()
        with g.as_default():
            phs = [graphc.placeholder(a.dtype, a.shape) for a in special.inputs]
            node = g.create_node(name, phs, special.attrs)
            feed = dict(zip(phs, special.inputs))
            try:
                with np.errstate(all="ignore"):
                    want = reference.evaluate(list(node.outputs), feed)
            except (ValueError, OverflowError, IndexError):
                continue  # the input is a size or an index, which NaN is not: nothing defined to compare
            with graphc.Session(graph=g) as sess:
                got = sess.run(list(node.outputs), feed)
        for gv, wv in zip(got, want):
            assert_close(gv, wv)
        checked += 1
    assert checked, f"no example of {name} has a float input numpy accepts NaN in"


@pytest.mark.parametrize("opt_level", [0, 3])
@pytest.mark.parametrize("name", HOST_OPS)
def test_host_op_matches_reference(name, opt_level):
    """Host ops run by the runtime between kernels (here as the single process of a job) match their reference."""
    examples = get_op(name).examples(np.random.default_rng(0))
    assert examples, f"host op {name} has no examples"
    for ex in examples:
        run_example(name, ex, opt_level=opt_level)
