"""Pack constant conv weights once at compile time: a 2-D float32 conv (groups 1) with constant weights and
at least MIN_CHANNELS input channels, its kernel larger than 1x1 or a 1x1 stride-1 one over a small image
(see _small_1x1), becomes a conv_packed over the weights laid out in panels of output channels
(graphc/ops/conv.py), which the CPU lowers to a direct conv vectorized over output channels; no run repacks them. A target lists this pass (codegen/target.py) with its panel width."""
import numpy as np

from graphc.ops.conv import pack_conv_panels, spatial_attrs

from .dce import dce
from .pack_weights import _frozen
from .rewrite import rebuild


MIN_CHANNELS = 16  # input channels below which a conv keeps the implicit-im2col GEMM
SMALL_1X1_PAD_FRACTION = 0.125  # padding of the pixels to whole GEMM panels above which a 1x1 conv goes direct


def _small_1x1(node, panel_width):
    """Whether `node` is a 1x1 stride-1 unpadded conv whose pixels, padded to whole `panel_width`-column GEMM
    tiles, would waste over SMALL_1X1_PAD_FRACTION (MobileNetV2's 7x7 layers: 49 pixels as 64 columns; the
    direct conv's pixel tiles pad them to 54, and measured 1.05-1.29x ORT against 1.34-1.54x); larger images
    (14x14: 196 as 208) measured no faster direct, so they stay GEMMs."""
    x, w = node.inputs
    k, s, _, p = spatial_attrs(node.attrs, 2, [int(v) for v in w.shape[2:]])
    pixels = x.shape[2] * x.shape[3]
    return tuple(k) == (1, 1) and tuple(s) == (1, 1) and not any(p) and \
        -(-pixels // panel_width) * panel_width > (1 + SMALL_1X1_PAD_FRACTION) * pixels


def _packable(node, panel_width):
    """Whether `node` is a conv the direct conv over packed panels takes."""
    if not node.opdef.packed_form or len(node.inputs) != 2:
        return False
    x, w = node.inputs
    if not (w.node.opdef.constant and w.shape is not None and len(w.shape) == 4 and x.shape is not None
            and len(x.shape) == 4 and None not in x.shape and x.dtype.name == "float32" == w.dtype.name):
        return False
    # other 1x1 kernels stay GEMMs (contiguous reads already); so do inputs of few channels (the RGB stems of
    # ResNet and MobileNetV2: measured 1.53x ORT direct against 1.25x for MobileNetV2's), whose large
    # outputs would be unblocked from NR-channel panels in a pass of their own
    return int(node.attrs.get("groups", 1)) == 1 and x.shape[1] >= MIN_CHANNELS and \
        (w.shape[2] * w.shape[3] > 1 or _small_1x1(node, panel_width))


def pack_conv_weights(graph, fetches, panel_width):
    """The graph with each packable conv (see _packable) computed from its weights packed in panels of
    `panel_width` output channels; returns (graph, fetches)."""
    if not any(_packable(n, panel_width) for n in graph.nodes):
        return graph, fetches

    def rule(node, inputs, g):
        if not _packable(node, panel_width):
            return None
        x, w = inputs
        value = w.node.attrs["value"]
        const = g.create_node("constant", (), {"value": _frozen(pack_conv_panels(np.asarray(value), panel_width))},
                              w.node.name + "_panels")
        attrs = {k: node.attrs[k] for k in ("strides", "dilations", "pads") if node.attrs.get(k) is not None}
        packed = g.create_node(node.opdef.packed_form, (x, const.outputs[0]), dict(attrs, c_out=int(value.shape[0])),
                               node.name + "_packed")
        return packed.outputs
    # constants only the old convs read are dead now: dce drops them so no buffer is made for them
    return dce(*rebuild(graph, fetches, rule))
