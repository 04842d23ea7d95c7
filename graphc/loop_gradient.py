"""The gradient rule of graphc/ops/loop.py's while_loop. It differentiates the loop body with
graphc.autodiff, which imports the ops, so it is registered from here (imported by graphc/__init__.py)."""
from .autodiff import gradients
from .ops.control import identity
from .ops.creation import zeros_like
from .ops.elemwise import cast
from .ops.loop import inline, while_loop, while_loop_op


@while_loop_op.def_gradient
def _while_gradient(node, dys):
    """Back through the iterations, last first: iteration j's inputs are recomputed from the initial
    values by a loop of j iterations (no stack of per-iteration values: O(trips^2) body runs), then the
    body's vector-Jacobian product carries the loop variables' cotangents back, and the captured
    tensors' cotangents are summed over the iterations."""
    k, body = node.attrs["num_vars"], node.attrs["body"]
    x0, captured, trips = list(node.inputs[:k]), list(node.inputs[k:]), node.outputs[k]
    floats = [t.dtype.is_floating for t in node.inputs]

    def back(v):
        g = v[0].graph
        j, gx, gc = v[0], v[1:1 + k], v[1 + k:]
        caps = [g.capture(c) for c in captured]
        xj = while_loop(lambda u: u[0] < j, lambda u: [u[0] + 1] + inline(body, u[1:] + caps),
                        [j * 0] + [g.capture(x) for x in x0])[1:]
        recomputed = list(xj[0].node.outputs)
        xj = [identity(x) for x in xj]  # the vjp below stops here: it is of one iteration, while the
        outs = inline(body, xj + caps)   # recomputation stays differentiable for higher orders
        pairs = [(o, d) for o, d, f in zip(outs, gx, floats) if f]
        wrt = [t for t, f in zip(xj + caps, floats) if f]
        grads = iter(gradients([o for o, _ in pairs], wrt, [d for _, d in pairs], recomputed) if pairs and wrt else [])
        new = [next(grads) if f else None for f in floats]
        new = [zeros_like(t) if d is None else d for t, d in zip(xj + caps, new)]
        return [j - 1] + new[:k] + [a + b for a, b in zip(gc, new[k:])]
    start = [trips - 1] + [cast(d, x.dtype) if f else zeros_like(x) for d, x, f in zip(dys[:k], x0, floats)] + \
        [zeros_like(c) for c in captured]
    out = while_loop(lambda v: v[0] >= 0, back, start)
    return [g if f else None for g, f in zip(out[1:], floats)]
