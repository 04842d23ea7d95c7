"""Reverse-mode autodiff as a graph pass: adjoint nodes are appended to the forward graph, so the
backward pass is specialized, optimized, fused and planned like any other part of it."""
from graphc.errors import GraphError
from graphc.graph import Tensor, needed_nodes
from graphc.ops import add, cast, ones_like, zeros_like


def _differentiable(t):
    return t.dtype.is_floating


def _depends_on(nodes, sources):
    """Ids of tensors among `nodes`' outputs that depend on a tensor in `sources` (ids)."""
    reached = set(sources)
    for n in nodes:
        if any(id(t) in reached for t in n.inputs):
            reached.update(id(t) for t in n.outputs)
    return reached


def _sum(parts):
    total = parts[0]
    for p in parts[1:]:
        total = add(total, p)
    return total


def gradients(ys, xs, grad_ys=None, stop_gradients=None, name="gradients"):
    """d(sum of ys)/d(x) for each x in xs, as graph tensors; None where ys do not depend on x."""
    ys = [ys] if isinstance(ys, Tensor) else list(ys)
    single_x = isinstance(xs, Tensor)
    xs = [xs] if single_x else list(xs)
    xs = [x._as_graph_element() if not isinstance(x, Tensor) and hasattr(x, "_as_graph_element") else x
          for x in xs]
    if grad_ys is None:
        grad_ys = [None] * len(ys)
    elif isinstance(grad_ys, Tensor):
        grad_ys = [grad_ys]
    graph = ys[0].graph
    for t in ys + xs:
        if not isinstance(t, Tensor):
            raise TypeError(f"gradients: expected tensors, got {type(t).__name__}")
        if t.graph is not graph:
            raise GraphError(f"gradients: {t.name} belongs to another graph than {ys[0].name}")
    stops = {id(t) for t in (stop_gradients or [])}
    x_ids = {id(x) for x in xs}
    forward = needed_nodes([y.node for y in ys], set())
    live = _depends_on(forward, x_ids)  # tensors on a path from some x

    partials = {}
    with graph.as_default(), graph.name_scope(name):
        for y, gy in zip(ys, grad_ys):
            if id(y) in live and _differentiable(y):
                partials.setdefault(id(y), []).append(ones_like(y) if gy is None else cast(gy, y.dtype))
        for node in reversed(forward):
            if not any(id(t) in partials for t in node.outputs) or all(id(t) in stops for t in node.outputs):
                continue
            if not any(id(t) in live and id(t) not in stops for t in node.inputs):
                continue
            dys = [_sum(partials[id(t)]) if id(t) in partials else zeros_like(t) for t in node.outputs]
            for t, d in zip(node.outputs, dys):
                partials[id(t)] = [d]  # summed once, reused by x lookups below
            opdef = node.opdef
            if not opdef.differentiable:
                continue
            if opdef.gradient is None:
                raise LookupError(f"no gradient is defined for op {node.op} ('{node.name}')")
            in_grads = opdef.gradient(node, dys)
            for t, g in zip(node.inputs, in_grads):
                if g is None or id(t) not in live or id(t) in stops or not _differentiable(t):
                    continue
                partials.setdefault(id(t), []).append(g)
        results = [_sum(partials[id(x)]) if id(x) in partials else None for x in xs]
    return results[0] if single_x else results
