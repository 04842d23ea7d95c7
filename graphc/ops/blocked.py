"""The channel-blocked activation layout (NCHW[B]c, as TVM's x86 conv2d_NCHWc and ONNX Runtime's NCHWc): an
[N, C, H, W] tensor held as [N, ceil(C/B), H, W, B], B channels of one pixel side by side, so a conv vectorizes
over B output channels with whole vectors for any image size and a depthwise conv reads B channels of a pixel
with one vector load, at any stride. Channels past C (the last block's padding) hold values no consumer reads
into a result: the packed weights of every input channel past C are zero, and from_blocked drops them.

to_blocked / from_blocked convert at the edges of a blocked region; conv_blocked is a 2-D conv from blocked
(or, for an input of few channels such as a network's RGB input, plain NCHW) to blocked, over weights packed
at compile time. passes/blocked_layout.py rewrites a CPU graph's convs into this layout."""
import numpy as np

from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import make, rand
from .conv import _check_float, _conv_ref, pack_conv_panels, packed_conv_out_size, unpack_conv_panels

EXAMPLE_BLOCK = 8  # the registry tests' block (AVX2's float32 lanes); kernels take the block from the shapes


# ---- numpy layout helpers ------------------------------------------------------------------------------
def block_channels(x, block):
    """numpy: [N, C, *spatial] as [N, ceil(C/block), *spatial, block], the padding channels zero."""
    n, c = x.shape[:2]
    blocks = -(-c // block)
    padded = np.zeros((n, blocks * block) + x.shape[2:], x.dtype)
    padded[:, :c] = x
    return np.require(np.moveaxis(padded.reshape((n, blocks, block) + x.shape[2:]), 2, -1), requirements="C")


def unblock_channels(x, channels):
    """numpy: the [N, channels, *spatial] tensor that block_channels blocked."""
    n, blocks, block = x.shape[0], x.shape[1], x.shape[-1]
    full = np.moveaxis(x, -1, 2).reshape((n, blocks * block) + x.shape[2:-1])
    return np.require(full[:, :channels], requirements="C")


def pack_blocked_weights(w, block, groups=1, blocked_input=True):
    """numpy: OIHW conv weights packed for conv_blocked: groups 1 as [ceil(O/B), I', kh, kw, B] panels of B
    output channels, I' = ceil(I/B)*B input channels (zero past I) when the input is blocked, I when it is
    NCHW; depthwise (groups == O, one input channel each) as [ceil(O/B), 1, kh, kw, B]."""
    c_out, c_in = w.shape[:2]
    if groups == 1 and blocked_input and c_in % block:
        padded = np.zeros((c_out, -(-c_in // block) * block) + w.shape[2:], w.dtype)
        padded[:, :c_in] = w
        w = padded
    return pack_conv_panels(w, block)


def _check_block(t, block, what):
    if t.shape[-1] is not None and t.shape[-1] != block:
        raise ShapeError(f"conv_blocked: {what} {t.name} {list(t.shape)} has blocks of {t.shape[-1]} channels; the "
                         f"packed weights have {block}")


# ---- to_blocked / from_blocked ---------------------------------------------------------------------------
def _to_blocked_infer(node):
    x = node.inputs[0]
    block = int(node.attrs["block"])
    if x.shape is None or len(x.shape) < 3 or block < 1:
        raise ShapeError(f"to_blocked needs an (N, C, spatial...) input and a block >= 1, got {x.name} {x.shape} "
                         f"and block {block}")
    c = x.shape[1]
    return TensorType((x.shape[0], None if c is None else -(-c // block)) + tuple(x.shape[2:]) + (block,), x.dtype)


to_blocked_op = register_op(
    "to_blocked", moves_bits=True, pattern=Pattern.INJECTIVE, infer=_to_blocked_infer,
    reference=lambda attrs, x: block_channels(x, int(attrs["block"])),
    examples=lambda rng: [Example([rand(rng, (2, 16, 3, 5))], {"block": 8}),
                          Example([rand(rng, (1, 5, 4, 3))], {"block": 4}),
                          Example([rand(rng, (1, 3, 7))], {"block": 8})])


def to_blocked(x, block):
    """x [N, C, *spatial] in the channel-blocked layout [N, ceil(C/block), *spatial, block]."""
    return make("to_blocked", [x], {"block": int(block)})


def _from_blocked_infer(node):
    x = node.inputs[0]
    channels = int(node.attrs["channels"])
    if x.shape is None or len(x.shape) < 4:
        raise ShapeError(f"from_blocked needs an (N, C/B, spatial..., B) input, got {x.name} {x.shape}")
    blocks, block = x.shape[1], x.shape[-1]
    if None not in (blocks, block) and not (blocks - 1) * block < channels <= blocks * block:
        raise ShapeError(f"from_blocked: {channels} channels do not fit {blocks} blocks of {block} ({x.name} "
                         f"{list(x.shape)})")
    return TensorType((x.shape[0], channels) + tuple(x.shape[2:-1]), x.dtype)


from_blocked_op = register_op(
    "from_blocked", moves_bits=True, pattern=Pattern.INJECTIVE, infer=_from_blocked_infer,
    reference=lambda attrs, x: unblock_channels(x, int(attrs["channels"])),
    examples=lambda rng: [Example([rand(rng, (2, 2, 3, 5, 8))], {"channels": 16}),
                          Example([rand(rng, (1, 2, 4, 3, 4))], {"channels": 5}),
                          Example([rand(rng, (1, 1, 7, 8))], {"channels": 3})])


def from_blocked(x, channels):
    """x [N, C/B, *spatial, B] back in the plain layout [N, channels, *spatial]."""
    return make("from_blocked", [x], {"channels": int(channels)})


@to_blocked_op.def_gradient
def _to_blocked_grad(node, dys):
    return [from_blocked(dys[0], node.inputs[0].shape[1])]


@from_blocked_op.def_gradient
def _from_blocked_grad(node, dys):
    # (the padding channels never reach the output: their gradient is zero, which to_blocked pads with)
    return [to_blocked(dys[0], node.inputs[0].shape[-1])]


# ---- conv_blocked --------------------------------------------------------------------------------------
def _conv_blocked_infer(node):
    x, packed = node.inputs
    _check_float(x, packed)
    depthwise = bool(node.attrs.get("depthwise", False))
    if x.shape is None or len(x.shape) not in (4, 5) or packed.shape is None or len(packed.shape) != 5:
        raise ShapeError(f"conv_blocked needs a blocked (N, C/B, H, W, B) or an (N, C, H, W) input and (blocks, "
                         f"C, kh, kw, B) packed weights, got {x.name} {x.shape} and {packed.name} {packed.shape}")
    blocks, c_in, kh, kw, block = packed.shape
    if len(x.shape) == 5:
        _check_block(x, block, "input")
        expected = 1 if depthwise else None if None in (x.shape[1], x.shape[-1]) else x.shape[1] * x.shape[-1]
        if depthwise and None not in (x.shape[1], blocks) and x.shape[1] != blocks:
            raise ShapeError(f"conv_blocked: depthwise input {x.name} {list(x.shape)} has {x.shape[1]} blocks; the "
                             f"weights {packed.name} {list(packed.shape)} have {blocks}")
    else:
        if depthwise:
            raise ShapeError(f"conv_blocked: a depthwise conv needs a blocked input, got {x.name} {list(x.shape)}")
        expected = x.shape[1]
    if None not in (c_in, expected) and c_in != expected:
        raise ShapeError(f"conv_blocked: input {x.name} {list(x.shape)} gives {expected} input channels per output "
                         f"channel; the packed weights {packed.name} {list(packed.shape)} have {c_in}")
    return TensorType((x.shape[0], blocks) + packed_conv_out_size(node, x, kh, kw) + (block,), x.dtype)


def _conv_blocked_ref(attrs, x, packed):
    blocks, _, _, _, block = packed.shape
    depthwise = bool(attrs.get("depthwise", False))
    plain = unblock_channels(x, x.shape[1] * x.shape[-1]) if x.ndim == 5 else x
    w = unpack_conv_panels(packed, blocks * block)  # (all panels: the padding channels' weights are zero)
    conv_attrs = {k: attrs[k] for k in ("strides", "dilations", "pads") if attrs.get(k) is not None}
    y = _conv_ref(dict(conv_attrs, groups=blocks * block if depthwise else 1), plain, w)
    return block_channels(y, block)


def _conv_blocked_examples(rng):
    """Blocks of EXAMPLE_BLOCK: 1x1, padded and strided 3x3, an NCHW input of 3 channels (a stem), depthwise at
    strides 1 and 2, channel counts that are no whole number of blocks."""
    b = EXAMPLE_BLOCK

    def ex(xs, ws, groups=1, nchw=False, **attrs):
        x = rand(rng, xs)
        w = rand(rng, ws)
        packed = pack_blocked_weights(w, b, groups, not nchw)
        return Example([x if nchw else block_channels(x, b), packed], dict(attrs, depthwise=groups > 1))
    return [ex((1, 16, 5, 6), (24, 16, 1, 1)),
            ex((2, 12, 7, 7), (20, 12, 3, 3), pads=[1, 1, 1, 1], strides=[2, 2]),
            ex((1, 3, 11, 11), (16, 3, 3, 3), nchw=True, pads=[1, 1, 1, 1], strides=[2, 2]),
            ex((1, 16, 9, 9), (16, 1, 3, 3), groups=16, pads=[1, 1, 1, 1]),
            ex((1, 12, 10, 9), (12, 1, 3, 3), groups=12, pads=[1, 1, 1, 1], strides=[2, 2]),
            ex((1, 8, 8, 8), (8, 8, 3, 3), dilations=[2, 1], pads=[0, 1, 2, 1])]


register_op("conv_blocked", pattern=Pattern.OUT_ELEMWISE_FUSABLE, infer=_conv_blocked_infer,
            reference=_conv_blocked_ref, examples=_conv_blocked_examples, differentiable=False)


def conv_blocked(x, packed, depthwise=False, **attrs):
    """A 2-D conv of blocked (or NCHW) x over weights packed by pack_blocked_weights, blocked result."""
    return make("conv_blocked", [x, packed], dict(attrs, depthwise=bool(depthwise)))
