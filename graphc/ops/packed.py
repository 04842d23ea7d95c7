"""matmul_packed: a @ B where B was packed ahead of time into zero-padded column panels
[ceil(N/width), K, width] (the layout a CPU GEMM micro-kernel streams; the target chooses the width).
The pass passes/pack_weights.py makes it from a matmul whose B is a constant, so packing costs nothing
per run."""
import numpy as np

from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import rand

EXAMPLE_PANEL_WIDTH = 16  # the registry tests' panels (the CPU target's width)


def pack_panels(b, width):
    """numpy: a (..., K, N) matrix (or stack of them) as zero-padded panels of `width` columns, shape
    (..., ceil(N/width), K, width)."""
    *lead, k, n = b.shape
    panels = -(-n // width)
    padded = np.zeros((*lead, k, panels * width), b.dtype)
    padded[..., :n] = b
    return np.require(np.moveaxis(padded.reshape(*lead, k, panels, width), -2, -3), requirements="C")


def unpack_panels(packed, n):
    """numpy: the (K, n) matrix that `pack_panels` packed."""
    panels, k, width = packed.shape
    return packed.transpose(1, 0, 2).reshape(k, panels * width)[:, :n]


def _infer(node):
    a, packed = node.inputs
    n = node.attrs["n"]
    if a.dtype != packed.dtype or a.dtype.is_bool:
        raise ShapeError(f"matmul_packed operands {a.name} ({a.dtype.name}) and {packed.name} "
                         f"({packed.dtype.name}) must share a numeric dtype")
    if a.shape is None:
        return TensorType(None, a.dtype)
    if len(a.shape) < 2 or packed.shape is None or len(packed.shape) != 3:
        raise ShapeError(f"matmul_packed needs a rank >= 2 {a.name} and (panels, K, width) panels, got "
                         f"{list(a.shape)} and {packed.shape}")
    m, k = a.shape[-2:][::-1] if node.attrs.get("transpose_a") else a.shape[-2:]
    panels, kb, width = packed.shape
    if (k is not None and kb is not None and k != kb) or (panels is not None and width is not None
                                                          and not (panels - 1) * width < n <= panels * width):
        raise ShapeError(f"matmul_packed: {a.name} {list(a.shape)} does not match panels {list(packed.shape)} "
                         f"of a ({kb}, {n}) matrix")
    return TensorType(tuple(a.shape[:-2]) + (m, n), a.dtype)


def _reference(attrs, a, packed):
    if attrs.get("transpose_a"):
        a = np.swapaxes(a, -1, -2)
    return np.matmul(a, unpack_panels(packed, attrs["n"])).astype(a.dtype)


def _examples(rng):
    def case(a, b, **attrs):
        return Example([a, pack_panels(b, EXAMPLE_PANEL_WIDTH)], {"n": b.shape[1], **attrs})
    return [case(rand(rng, (4, 5)), rand(rng, (5, 3))),
            case(rand(rng, (33, 17)), rand(rng, (17, 40))),
            case(rand(rng, (1, 20)), rand(rng, (20, 32))),
            case(rand(rng, (5, 18)), rand(rng, (5, 3)), transpose_a=True),
            case(rand(rng, (2, 3, 4, 5)), rand(rng, (5, 7))),
            case(rand(rng, (6, 6), "int32", -3, 3), rand(rng, (6, 20), "int32", -3, 3))]


matmul_packed_op = register_op("matmul_packed", pattern=Pattern.OUT_ELEMWISE_FUSABLE, copied_inputs=(0,), infer=_infer,
                               reference=_reference, examples=_examples, differentiable=False)
