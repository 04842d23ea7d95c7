"""tf.cond, tf.case and tf.while_loop, built from graph ops.

cond evaluates both branches and selects with `where` (so gradients flow through the taken branch
only, and branches must not assign variables). while_loop is unrolled while the graph already decides
its condition (constant_value): loops whose trip count depends on fed data are refused with an error,
not yet run as loops.
"""
from graphc import ops as _ops
from graphc.ops import convert_to_tensor
from graphc.ops._base import constant_value

WHILE_UNROLL_MAX = 10000


def _flatten(structure):
    if isinstance(structure, dict):
        return [leaf for k in structure for leaf in _flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [leaf for s in structure for leaf in _flatten(s)]
    return [structure]


def _pack(structure, leaves):
    it = iter(leaves)

    def build(s):
        if isinstance(s, dict):
            return type(s)((k, build(v)) for k, v in s.items())
        if isinstance(s, tuple) and hasattr(s, "_fields"):
            return type(s)(*[build(v) for v in s])
        if isinstance(s, (list, tuple)):
            return type(s)(build(v) for v in s)
        return next(it)
    return build(structure)


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


def while_loop(cond_fn, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, maximum_iterations=None, name=None, return_same_structure=False):
    """Apply body to loop_vars while cond_fn holds; unrolled when the graph decides the condition."""
    values = loop_vars
    for step in range(WHILE_UNROLL_MAX + 1):
        if maximum_iterations is not None and step >= int(maximum_iterations):
            break
        go = cond_fn(*values) if isinstance(values, (list, tuple)) else cond_fn(values)
        decided = constant_value(go) if hasattr(go, "node") else go
        if decided is None:
            raise NotImplementedError(
                "while_loop: the condition depends on values known only at run time (e.g. a fed tensor); "
                "graphc unrolls loops whose trip count the graph decides, and cannot yet run data-dependent loops")
        if not bool(decided):
            break
        out = body(*values) if isinstance(values, (list, tuple)) else body(values)
        if isinstance(values, (list, tuple)) and not isinstance(out, (list, tuple)):
            out = [out]
        values = _pack(values, _flatten(out)) if isinstance(values, (list, tuple)) else out
    else:
        raise ValueError(f"while_loop ran over {WHILE_UNROLL_MAX} iterations")
    return values
