"""Einsum, composed from transpose, reshape, matmul, multiply and reduce_sum; Det."""
import numpy as np

import graphc as gc

from . import OnnxImportError, converter, rank_of


def _parse(equation, operands, node):
    """Per-operand subscripts and the output's, with '...' spelled out as distinct spare letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise OnnxImportError(f"Einsum equation {equation!r} names {len(terms)} operands, the node has {len(operands)}")
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in eq]
    n_ell = 0
    spelled = []
    for term, x in zip(terms, operands):
        if "..." in term:
            k = rank_of(x, node) - (len(term) - 3)
            n_ell = max(n_ell, k)
            term = term.replace("...", "".join(spare[n_ell - k:n_ell]))  # right-aligned, as broadcasting
        elif len(term) != rank_of(x, node):
            raise OnnxImportError(f"Einsum term {term!r} does not match the rank {len(x.shape)} of {x.name}")
        spelled.append(term)
    ell = "".join(spare[:n_ell])
    if arrow:
        out = out.replace("...", ell)
    else:  # implicit output: the ellipsis dims, then the letters used once, in alphabetical order
        counts = {c: "".join(spelled).count(c) for c in set("".join(spelled))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return spelled, out


def _diagonal(x, term):
    """x with each repeated subscript of `term` reduced to its diagonal, and the term without repeats."""
    while len(set(term)) < len(term):
        c = next(c for c in term if term.count(c) > 1)
        p = term.index(c)
        q = term.index(c, p + 1)
        dim = x.shape[p]
        mask_shape = [1] * len(term)
        mask_shape[p] = mask_shape[q] = dim
        mask = np.eye(dim, dtype=x.dtype.np).reshape(mask_shape)
        x = gc.reduce_sum(gc.multiply(x, gc.constant(mask)), axis=q)
        term = term[:q] + term[q + 1:]
    return x, term


def _sum_out(x, term, keep):
    """x summed over the subscripts not in `keep`."""
    axes = [i for i, c in enumerate(term) if c not in keep]
    if not axes:
        return x, term
    return gc.reduce_sum(x, axis=axes), "".join(c for c in term if c in keep)


def _permute(x, term, order):
    perm = [term.index(c) for c in order]
    return (x if perm == list(range(len(perm))) else gc.transpose(x, perm)), order


def _broadcast_product(a, ta, b, tb):
    """a * b with both laid out on the union of their subscripts (numpy broadcasting)."""
    union = ta + "".join(c for c in tb if c not in ta)

    def lay_out(x, t):
        x, t = _permute(x, t, "".join(c for c in union if c in t))
        shape = [x.shape[t.index(c)] if c in t else 1 for c in union]
        return gc.reshape(x, shape) if len(shape) != len(t) else x
    return gc.multiply(lay_out(a, ta), lay_out(b, tb)), union


def _contract(a, ta, b, tb, keep):
    """The product of a and b summed over the subscripts shared by both and not in `keep`, via matmul."""
    batch = "".join(c for c in ta if c in tb and c in keep)
    inner = "".join(c for c in ta if c in tb and c not in keep)
    left = "".join(c for c in ta if c not in tb)
    right = "".join(c for c in tb if c not in ta)
    dims = {c: d for t, x in ((ta, a), (tb, b)) for c, d in zip(t, x.shape)}
    shared_equal = all(a.shape[ta.index(c)] == b.shape[tb.index(c)] for c in batch + inner)
    if None in dims.values() or not shared_equal:  # unknown or broadcast dims: multiply, then sum
        prod, t = _broadcast_product(a, ta, b, tb)
        return _sum_out(prod, t, keep)
    size = lambda s: int(np.prod([dims[c] for c in s]))  # noqa: E731
    a, _ = _permute(a, ta, batch + left + inner)
    b, _ = _permute(b, tb, batch + inner + right)
    a = gc.reshape(a, [size(batch), size(left), size(inner)])
    b = gc.reshape(b, [size(batch), size(inner), size(right)])
    y = gc.reshape(gc.matmul(a, b), [dims[c] for c in batch + left + right])
    return y, batch + left + right


@converter("Einsum")
def _einsum(ctx, node, ins, attrs):
    narrow = ins[0].dtype if ins[0].dtype.is_storage_only else None
    if narrow is not None:  # bfloat16 and the like: compute in float32, round back at the end
        ins = [gc.cast(x, gc.float32) for x in ins]
    y = _einsum_of(attrs["equation"], ins, node)
    return gc.cast(y, narrow) if narrow is not None else y


def _einsum_of(equation, ins, node):
    terms, out = _parse(equation, ins, node)
    xs = []
    for i, (x, t) in enumerate(zip(ins, terms)):
        x, t = _diagonal(x, t)
        # letters no other operand nor the output uses are summed out at once
        others = out + "".join(u for j, u in enumerate(terms) if j != i)
        xs.append(_sum_out(x, t, others))
    acc, ta = xs[0]
    for k, (b, tb) in enumerate(xs[1:], start=1):
        keep = out + "".join(terms[k + 1:])
        acc, ta = _contract(acc, ta, b, tb, keep)
    acc, ta = _sum_out(acc, ta, out)
    return _permute(acc, ta, out)[0] if len(out) > 1 else acc


@converter("Det")
def _det(ctx, node, ins, attrs):
    return gc.det(ins[0])
