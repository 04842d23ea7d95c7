"""tf.cond, tf.case and tf.while_loop, built from graph ops.

cond evaluates both branches and selects with `where` (so gradients flow through the taken branch
only, and branches must not assign variables). while_loop is unrolled while the graph already decides
its condition (constant_value); a loop whose trip count depends on run-time values runs as a loop in the
runtime (graphc/ops/loop.py, runtime/loops.py; its gradient: graphc/loop_gradient.py).
"""
from graphc import ops as _ops
from graphc.nest import flatten as _flatten, pack as _pack
from graphc.ops import convert_to_tensor
from graphc.ops._base import constant_value

WHILE_UNROLL_MAX = 10000


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """true_fn() where pred is true, else false_fn(), for each tensor of their (matching) structures."""
    true_fn, false_fn = true_fn or fn1, false_fn or fn2
    static = constant_value(pred) if hasattr(pred, "node") else pred
    if static is not None and not hasattr(static, "node"):
        return true_fn() if bool(static) else false_fn()
    pred = convert_to_tensor(pred)
    a, b = true_fn(), false_fn()
    la, lb = _flatten(a), _flatten(b)
    if len(la) != len(lb):
        raise ValueError(f"cond branches return different structures: {len(la)} and {len(lb)} tensors")
    out = []
    for x, y in zip(la, lb):
        x, y = convert_to_tensor(x), convert_to_tensor(y)
        out.append(_ops.where(pred, x, y))
    return _pack(a, out)


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name=None):
    """The fn of the first true predicate (default when none is)."""
    pairs = list(pred_fn_pairs.items() if isinstance(pred_fn_pairs, dict) else pred_fn_pairs)
    result = default
    for pred, fn in reversed(pairs):
        result = (lambda p=pred, f=fn, r=result: cond(p, f, r)) if result is not None else fn
    return result()


def _call(fn, values):
    return fn(*values) if isinstance(values, (list, tuple)) else fn(values)


def _body_values(values, out):
    """The body's result `out` in the structure of the loop variables `values`."""
    if isinstance(values, (list, tuple)) and not isinstance(out, (list, tuple)):
        out = [out]
    return _pack(values, _flatten(out)) if isinstance(values, (list, tuple)) else out


def while_loop(cond_fn, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, maximum_iterations=None, name=None, return_same_structure=False):
    """Apply body to loop_vars while cond_fn holds: unrolled while the graph decides the condition, and
    from the first condition that depends on run-time values on, a loop the runtime runs (graphc/ops/loop.py)."""
    values = loop_vars
    for step in range(WHILE_UNROLL_MAX + 1):
        if maximum_iterations is not None and constant_value(convert_to_tensor(maximum_iterations)) is not None \
                and step >= int(constant_value(convert_to_tensor(maximum_iterations))):
            break
        go = _call(cond_fn, values)
        decided = constant_value(go) if hasattr(go, "node") else go
        if decided is None:
            return _run_time_loop(cond_fn, body, values, maximum_iterations, step, name)
        if not bool(decided):
            break
        values = _body_values(values, _call(body, values))
    else:
        raise ValueError(f"while_loop ran over {WHILE_UNROLL_MAX} iterations")
    return values


def _run_time_loop(cond_fn, body, values, maximum_iterations, done, name):
    """The rest of a while_loop (after `done` unrolled iterations) as one while_loop op; a counter
    loop variable enforces maximum_iterations."""
    from graphc.ops import logical_and
    from graphc.ops.loop import while_loop as loop_op
    flat = [convert_to_tensor(v) for v in _flatten(values)]
    limit = None if maximum_iterations is None else convert_to_tensor(maximum_iterations)
    if limit is not None:
        flat.append(convert_to_tensor(done, limit.dtype))

    def user_values(vs):
        return _pack(values, vs[:len(vs) - (limit is not None)])

    def cond_flat(vs):
        go = convert_to_tensor(_call(cond_fn, user_values(vs)))
        return go if limit is None else logical_and(vs[-1] < limit, go)

    def body_flat(vs):
        out = [convert_to_tensor(t) for t in _flatten(_body_values(values, _call(body, user_values(vs))))]
        return out if limit is None else out + [vs[-1] + 1]
    out = loop_op(cond_flat, body_flat, flat, name=name)
    return user_values(out)


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False, infer_shape=True,
           name=None):
    """fn applied to each row of elems (a tensor or a tuple of them), stacked; unrolled over the static
    first dim."""
    from graphc.ops import stack, unstack
    leaves = [convert_to_tensor(e) for e in _flatten(elems)]
    n = leaves[0].shape[0] if leaves[0].shape is not None else None
    if n is None:
        raise NotImplementedError(f"map_fn unrolls over the first dim of {leaves[0].name}, which must be known "
                                  "when the graph is built")
    rows = [unstack(t, num=n) for t in leaves]
    outs = [fn(_pack(elems, [r[i] for r in rows]) if isinstance(elems, (list, tuple)) else rows[0][i])
            for i in range(n)]
    first = outs[0]
    stacked = [stack([convert_to_tensor(x) for x in column]) for column in zip(*[_flatten(o) for o in outs])]
    return _pack(first, stacked) if isinstance(first, (list, tuple)) else stacked[0]
