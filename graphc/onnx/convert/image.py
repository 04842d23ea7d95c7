"""Image-layout ops: Pad, Resize/Upsample, DepthToSpace/SpaceToDepth, CenterCropPad, Col2Im, grids."""
import numpy as np

import graphc as gc

from . import OnnxImportError, const, converter, ints, rank_of
from .shape import slice_static


def pad_crop(x, pads, mode="constant", value=0):
    """x padded by `pads` ((before, after) per axis) in `mode`; negative amounts crop."""
    crop = [(i, -min(b, 0), -min(a, 0)) for i, (b, a) in enumerate(pads) if b < 0 or a < 0]
    if crop:
        x = slice_static(x, [b for _, b, _ in crop], [-a if a else 2 ** 62 for _, _, a in crop],
                         [i for i, _, _ in crop], [1] * len(crop))
    grow = [(max(b, 0), max(a, 0)) for b, a in pads]
    if not any(b or a for b, a in grow):
        return x if crop else gc.identity(x)
    return gc.pad(x, grow, mode=mode, constant_values=value)


@converter("Pad")
def _pad(ctx, node, ins, attrs):
    x = ins[0]
    rank = rank_of(x, node)
    mode = attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if ctx.opset < 11:
        flat, value = list(attrs.get("pads", attrs.get("paddings", []))), attrs.get("value", 0.0)
        axes = list(range(rank))
    else:
        flat = ints(ctx.static(ins[1], "Pad pads"))
        value = 0
        if len(ins) > 2 and ins[2] is not None:
            static = ctx.maybe_static(ins[2])
            value = ins[2] if static is None else np.asarray(static).reshape(-1)[0].item()
        axes = [a % rank for a in ints(ctx.static(ins[3], "Pad axes"))] if len(ins) > 3 and ins[3] is not None \
            else list(range(rank))
    if len(flat) != 2 * len(axes):
        raise OnnxImportError(f"Pad has {len(flat)} pads for {len(axes)} axes; expected two per axis")
    pads = [(0, 0)] * rank
    for i, a in enumerate(axes):
        pads[a] = (flat[i], flat[i + len(axes)])
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise OnnxImportError(f"Pad mode {mode!r}; expected constant, reflect, edge or wrap")
    if isinstance(value, gc.Tensor):  # a value fed at run time: pad with 0, then add value where padded
        outside = pad_crop(gc.zeros_like(x), pads, mode, 1)
        return gc.add(pad_crop(x, pads, mode, 0), gc.multiply(outside, gc.reshape(value, [])))
    return pad_crop(x, pads, mode, value)


def _static_dims(x, node, first=1):
    if x.shape is None or None in x.shape[first:]:
        raise OnnxImportError(f"{node.op_type} needs the dims of {x.name} after the batch known at import time")
    return list(x.shape)


def _mode(attrs, default):
    m = attrs.get("mode", default)
    return m.decode() if isinstance(m, bytes) else m


@converter("DepthToSpace")
def _depth_to_space(ctx, node, ins, attrs):
    x, b = ins[0], attrs["blocksize"]
    n, c, h, w = _static_dims(x, node)
    if _mode(attrs, "DCR") == "DCR":  # depth is (row offset, column offset, channel)
        y = gc.transpose(gc.reshape(x, [-1, b, b, c // (b * b), h, w]), [0, 3, 4, 1, 5, 2])
    else:  # CRD: depth is (channel, row offset, column offset)
        y = gc.transpose(gc.reshape(x, [-1, c // (b * b), b, b, h, w]), [0, 1, 4, 2, 5, 3])
    return gc.reshape(y, [-1, c // (b * b), h * b, w * b])


@converter("SpaceToDepth")
def _space_to_depth(ctx, node, ins, attrs):
    x, b = ins[0], attrs["blocksize"]
    n, c, h, w = _static_dims(x, node)
    y = gc.reshape(x, [-1, c, h // b, b, w // b, b])
    perm = [0, 3, 5, 1, 2, 4] if _mode(attrs, "DCR") == "DCR" else [0, 1, 3, 5, 2, 4]
    return gc.reshape(gc.transpose(y, perm), [-1, c * b * b, h // b, w // b])


@converter("CenterCropPad")
def _center_crop_pad(ctx, node, ins, attrs):
    x = ins[0]
    rank = rank_of(x, node)
    target = ints(ctx.static(ins[1], "CenterCropPad shape"))
    axes = [a % rank for a in attrs.get("axes", range(rank))]
    pads = [(0, 0)] * rank
    for a, size in zip(axes, target):
        dim = x.shape[a]
        if dim is None:
            raise OnnxImportError(f"CenterCropPad needs dim {a} of {x.name} known at import time")
        d = abs(size - dim)
        sign = 1 if size > dim else -1  # pad or crop, the smaller half first
        pads[a] = (sign * (d // 2), sign * (d - d // 2))
    return pad_crop(x, pads)
