"""Shape and layout ops: reshape, transpose (the rest of the family: see the issue tracker)."""
import numpy as np

from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import convert_to_tensor, make, rand, static_value


def resolve_reshape(in_shape, shape):
    """The target shape with its -1 filled in from `in_shape` (None dims stay unknown)."""
    shape = list(shape)
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape target {shape} has more than one -1")
    if in_shape is None or any(d is None for d in in_shape):
        return tuple(None if d == -1 else d for d in shape)
    total = int(np.prod(in_shape))
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1]))
        if known == 0 or total % known:
            raise ShapeError(f"cannot reshape {list(in_shape)} ({total} elements) to {shape}")
        shape[shape.index(-1)] = total // known
    if int(np.prod(shape)) != total:
        raise ShapeError(f"cannot reshape {list(in_shape)} ({total} elements) to {shape}")
    return tuple(shape)


reshape_op = register_op(
    "reshape", pattern=Pattern.INJECTIVE,
    infer=lambda n: TensorType(resolve_reshape(n.inputs[0].shape, n.attrs["shape"]), n.inputs[0].dtype),
    reference=lambda n, x: x.reshape(resolve_reshape(x.shape, n.attrs["shape"])),
    examples=lambda rng: [Example([rand(rng, (3, 4))], {"shape": (4, 3)}),
                          Example([rand(rng, (2, 3, 4))], {"shape": (-1, 4)}),
                          Example([rand(rng, (6,), "int32")], {"shape": (2, 1, 3)}),
                          Example([rand(rng, (1,))], {"shape": ()})])


@reshape_op.def_gradient
def _reshape_grad(node, dys):
    return [reshape_like(dys[0], node.inputs[0])]


def reshape(tensor, shape, name=None):
    """tensor with a new shape of the same size; one dim may be -1."""
    return make("reshape", [convert_to_tensor(tensor)], {"shape": tuple(static_value(shape, "reshape shape"))}, name)


reshape_like_op = register_op(
    "reshape_like", pattern=Pattern.INJECTIVE,
    infer=lambda n: TensorType(n.inputs[1].shape, n.inputs[0].dtype),
    reference=lambda n, x, like: x.reshape(like.shape),
    examples=lambda rng: [Example([rand(rng, (3, 4)), rand(rng, (2, 6))])])


@reshape_like_op.def_gradient
def _reshape_like_grad(node, dys):
    return [reshape_like(dys[0], node.inputs[0]), None]


def reshape_like(x, like):
    """x reshaped to like's shape (known at run time)."""
    if x.shape is not None and like.shape is not None and tuple(x.shape) == tuple(like.shape) \
            and all(d is not None for d in x.shape):
        return x
    return make("reshape_like", [x, like])


def _transpose_infer(node):
    x = node.inputs[0]
    perm = node.attrs["perm"]
    if x.shape is None:
        return TensorType(None, x.dtype)
    if sorted(perm) != list(range(len(x.shape))):
        raise ShapeError(f"perm {list(perm)} is not a permutation of the {len(x.shape)} dims of {x.name}")
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


transpose_op = register_op(
    "transpose", pattern=Pattern.INJECTIVE, infer=_transpose_infer,
    reference=lambda n, x: np.require(np.transpose(x, n.attrs["perm"]), requirements="C"),
    examples=lambda rng: [Example([rand(rng, (3, 4))], {"perm": (1, 0)}),
                          Example([rand(rng, (2, 3, 4))], {"perm": (2, 0, 1)}),
                          Example([rand(rng, (2, 3, 4, 5), "int32")], {"perm": (0, 2, 3, 1)})])


@transpose_op.def_gradient
def _transpose_grad(node, dys):
    inverse = tuple(int(i) for i in np.argsort(node.attrs["perm"]))
    return [transpose(dys[0], inverse)]


def transpose(a, perm=None, name=None):
    """a with its dims permuted (reversed when perm is None)."""
    a = convert_to_tensor(a)
    if perm is None:
        if a.shape is None:
            raise ShapeError(f"transpose of {a.name} without perm needs its rank known")
        perm = tuple(reversed(range(len(a.shape))))
    return make("transpose", [a], {"perm": tuple(static_value(perm, "transpose perm"))}, name)
