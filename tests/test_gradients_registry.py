"""Every differentiable op's gradient rule, first and second order, against central differences."""
import numpy as np
import pytest

from graphc.registry import Pattern, all_ops, get_op
from graphc.test import check_gradients

DIFFERENTIABLE = sorted(n for n, op in all_ops().items() if op.differentiable and op.pattern != Pattern.SOURCE)
SECOND_ORDER_EXAMPLES = 2  # second-order checks on the first examples only, to bound the run time


def _float64(example):
    return [a.astype(np.float64) if a.dtype.kind == "f" else a for a in example.inputs]


def _checkable(example):
    return any(a.dtype.kind == "f" for a in example.inputs)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradient_rule(name):
    op = get_op(name)
    assert op.gradient is not None, f"op {name} is marked differentiable but has no gradient rule"
    make_examples = op.grad_examples or op.examples
    examples = [e for e in make_examples(np.random.default_rng(0)) if _checkable(e)]
    assert examples, f"op {name} has no example with a float input to check its gradient on"
    checked = 0
    for k, ex in enumerate(examples):
        def f(*xs, ex=ex):
            node = xs[0].graph.create_node(name, list(xs), ex.attrs) if xs else None
            return list(node.outputs)
        inputs = _float64(ex)
        g_probe = [o for o in _output_dtypes(name, inputs, ex.attrs) if o.kind == "f"]
        if not g_probe:
            continue  # e.g. cast to int: no float output to differentiate
        check_gradients(f, inputs, second_order=k < SECOND_ORDER_EXAMPLES)
        checked += 1
    assert checked, f"no example of {name} has a float output"


def _output_dtypes(name, inputs, attrs):
    import graphc
    g = graphc.Graph()
    with g.as_default():
        phs = [graphc.placeholder(a.dtype, a.shape) for a in inputs]
        return [t.dtype.np for t in g.create_node(name, phs, attrs).outputs]
