"""Every registered op, on its examples: TVM kernels (through Session) against the numpy reference."""
import numpy as np
import pytest

import graphc
from graphc import reference
from graphc.codegen.lower import get_lowering
from graphc.registry import Pattern, all_ops, get_op

from conftest import assert_close

KERNEL_OPS = sorted(name for name, op in all_ops().items() if op.pattern != Pattern.SOURCE)


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


@pytest.mark.parametrize("opt_level", [0, 3])
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
