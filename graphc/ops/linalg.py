"""Matrix products: matmul (2-D and batched, numpy broadcasting of batch dims)."""
import numpy as np

from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import binary_operands, broadcast_shape, make, rand


def matmul_dims(node):
    """(batch shape, M, K, N) of a matmul node, honouring its transpose flags."""
    a, b = node.inputs
    if a.shape is None or b.shape is None:
        return None
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ShapeError(f"matmul needs rank >= 2 operands, got {a.name} {list(a.shape)} and {b.name} {list(b.shape)}")
    m, ka = a.shape[-2:][::-1] if node.attrs.get("transpose_a") else a.shape[-2:]
    kb, n = b.shape[-2:][::-1] if node.attrs.get("transpose_b") else b.shape[-2:]
    if ka is not None and kb is not None and ka != kb:
        raise ShapeError(f"inner dims differ: {a.name} {list(a.shape)} and {b.name} {list(b.shape)} "
                         f"(transpose_a={node.attrs.get('transpose_a', False)}, transpose_b={node.attrs.get('transpose_b', False)})")
    batch = broadcast_shape(a.shape[:-2], b.shape[:-2])
    return batch, m, ka if ka is not None else kb, n


def _infer(node):
    a, b = node.inputs
    if a.dtype != b.dtype or a.dtype.is_bool:
        raise ShapeError(f"operands {a.name} ({a.dtype.name}) and {b.name} ({b.dtype.name}) must share a numeric dtype")
    dims = matmul_dims(node)
    if dims is None:
        return TensorType(None, a.dtype)
    batch, m, _, n = dims
    return TensorType(tuple(batch) + (m, n), a.dtype)


def _reference(attrs, a, b):
    if attrs.get("transpose_a"):
        a = np.swapaxes(a, -1, -2)
    if attrs.get("transpose_b"):
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b).astype(a.dtype)


matmul_op = register_op(
    "matmul", packed_form="matmul_packed", pattern=Pattern.OUT_ELEMWISE_FUSABLE, copied_inputs=(0, 1), infer=_infer,
    reference=_reference,
    examples=lambda rng: [
        Example([rand(rng, (4, 5)), rand(rng, (5, 3))]),
        Example([rand(rng, (33, 17)), rand(rng, (17, 40))]),
        Example([rand(rng, (5, 4)), rand(rng, (5, 3))], {"transpose_a": True}),
        Example([rand(rng, (4, 5)), rand(rng, (3, 5))], {"transpose_b": True}),
        Example([rand(rng, (5, 4)), rand(rng, (3, 5))], {"transpose_a": True, "transpose_b": True}),
        Example([rand(rng, (2, 4, 5)), rand(rng, (2, 5, 3))]),
        Example([rand(rng, (3, 1, 4, 5)), rand(rng, (2, 5, 6))]),
        Example([rand(rng, (4, 6), "int32", -3, 3), rand(rng, (6, 2), "int32", -3, 3)]),
    ])


@matmul_op.def_gradient
def _matmul_grad(node, dys):
    from .reduce import sum_to
    a, b = node.inputs
    dy = dys[0]
    ta, tb = node.attrs.get("transpose_a", False), node.attrs.get("transpose_b", False)
    if not ta and not tb:
        da, db = matmul(dy, b, transpose_b=True), matmul(a, dy, transpose_a=True)
    elif not ta and tb:
        da, db = matmul(dy, b), matmul(dy, a, transpose_a=True)
    elif ta and not tb:
        da, db = matmul(b, dy, transpose_b=True), matmul(a, dy)
    else:
        da, db = matmul(b, dy, transpose_a=True, transpose_b=True), matmul(dy, a, transpose_a=True, transpose_b=True)
    return [sum_to(da, a), sum_to(db, b)]


def matmul(a, b, transpose_a=False, transpose_b=False, name=None, adjoint_a=False, adjoint_b=False):
    """a @ b over the last two dims, batch dims broadcast like numpy."""
    a, b = binary_operands(a, b, "matmul")
    return make("matmul", [a, b], {"transpose_a": bool(transpose_a or adjoint_a),
                                   "transpose_b": bool(transpose_b or adjoint_b)}, name)


# ---- det --------------------------------------------------------------------------------------------
DET_MAX_N = 5  # the lowering expands the Leibniz formula: n! products of n entries


def _det_infer(node):
    x = node.inputs[0]
    if not x.dtype.is_floating:
        raise ShapeError(f"det input {x.name} has dtype {x.dtype.name}; expected a floating dtype")
    if x.shape is None:
        return TensorType(None, x.dtype)
    if len(x.shape) < 2 or (None not in x.shape[-2:] and x.shape[-1] != x.shape[-2]):
        raise ShapeError(f"det needs square matrices in the last two dims, got {x.name} {list(x.shape)}")
    if x.shape[-1] is not None and x.shape[-1] > DET_MAX_N:
        raise ShapeError(f"det of {x.shape[-1]}x{x.shape[-1]} matrices is not supported (at most {DET_MAX_N})")
    return TensorType(tuple(x.shape[:-2]), x.dtype)


det_op = register_op(
    "det", pattern=Pattern.INJECTIVE, infer=_det_infer,
    reference=lambda attrs, x: np.asarray(np.linalg.det(x)).astype(x.dtype),
    examples=lambda rng: [Example([rand(rng, (3, 3))]), Example([rand(rng, (2, 2, 2))]),
                          Example([rand(rng, (1, 1))]), Example([rand(rng, (4, 4))])])


@det_op.def_gradient
def _det_grad(node, dys):
    """d det(A) / dA[i, j] is the cofactor (-1)**(i+j) det(A without row i and column j)."""
    from .creation import ones_like
    from .shape import expand_dims, gather, stack
    x = node.inputs[0]
    n = x.shape[-1]
    if n == 1:
        cof = ones_like(x)
    else:
        rows = []
        for i in range(n):
            keep_r = [r for r in range(n) if r != i]
            minors = gather(x, np.array(keep_r, "int32"), axis=-2)
            row = [det(gather(minors, np.array([c for c in range(n) if c != j], "int32"), axis=-1))
                   * float((-1) ** (i + j)) for j in range(n)]
            rows.append(stack(row, axis=-1))
        cof = stack(rows, axis=-2)
    dy = expand_dims(expand_dims(dys[0], -1), -1)
    return [dy * cof]


def det(x, name=None):
    """The determinant of each square matrix in the last two dims of x."""
    from ._base import convert_to_tensor
    return make("det", [convert_to_tensor(x)], None, name)
