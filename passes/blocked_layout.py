"""Channel-blocked layout for a CPU graph's convs (graphc/ops/blocked.py): each 2-D float32 conv with constant
weights (groups 1, or depthwise) becomes a conv_blocked over weights packed at compile time, between to_blocked
and from_blocked; the from_blocked is then sunk through the elementwise ops after the conv (bias add, clip,
residual add) until it meets the next conv's to_blocked, and both vanish. Activations so stay blocked from
conv to conv and convert only at the region's edges: the network's input (or none at all for a stem of few
channels, which conv_blocked reads as NCHW) and the first op that is no conv or elementwise (a pool, a
flatten). A region (convs joined by blocked tensors) is kept only where its conversions move fewer elements
than MAX_CONVERTED_FRACTION of what its convs write: a lone conv between NCHW ops (ResNet's strided convs
between Winograd ones) stays NCHW, a MobileNetV2 runs blocked from its stem to its pooling.

A conv's output channels past C (the last block's padding) hold values no consumer reads into a result:
every packed weight of an input channel past C is zero. They must stay finite (0 * inf is NaN), so where C
is no whole number of blocks the layout passes only through ops that keep the zeros of the padding finite
(FINITE_ON_ZEROS)."""
import networkx as nx
import numpy as np

from graphc.ops.blocked import block_channels, pack_blocked_weights

from .dce import dce
from .pack_weights import _frozen
from .rewrite import rebuild
from .sink_transposes import known_shape, layout_free

STEM_MAX_CHANNELS = 4  # inputs of at most this many channels are read as NCHW (a block would be mostly padding)
MAX_CONVERTED_FRACTION = 0.5  # a region converts at most this many elements per element its convs write
FINITE_ON_ZEROS = frozenset({"add", "subtract", "multiply", "maximum", "minimum", "relu", "negative", "abs",
                             "sigmoid", "tanh", "square", "identity"})


def _blockable(node):
    """Whether `node` is a conv conv_blocked computes: 2-D, float32, static shapes, constant weights, groups 1
    or depthwise (one input channel per output channel)."""
    if node.op != "conv" or len(node.inputs) != 2:
        return False
    x, w = node.inputs
    if not (w.node.opdef.constant and known_shape(x) and known_shape(w) and len(x.shape) == 4 and len(w.shape) == 4
            and x.dtype.name == "float32" == w.dtype.name):
        return False
    groups = int(node.attrs.get("groups", 1))
    return groups == 1 or groups == x.shape[1] == w.shape[0] and w.shape[1] == 1


def _blocked_source(t, block):
    """The blocked tensor a from_blocked `t` unblocks (block `block`), or None."""
    if t.node.op == "from_blocked" and t.node.inputs[0].shape[-1] == block:
        return t.node.inputs[0]
    return None


def _blocked_operand(t, channels, block, g):
    """Operand `t` of an elementwise op over [N, channels, H, W] in the blocked layout: a from_blocked's source,
    a scalar as it is, a constant of one value per channel ([C, 1, 1] or [1, C, 1, 1]) or a splat blocked at
    compile time; None where it cannot move."""
    source = _blocked_source(t, block)
    if source is not None:
        return source
    if len(t.shape) == 0:
        return t
    if not (t.node.opdef.constant and known_shape(t) and len(t.shape) <= 4 and all(v == 1 for v in t.shape[-2:])):
        return None
    value = np.asarray(t.node.attrs["value"])
    lead = (1,) * (4 - value.ndim) + value.shape
    if lead[0] != 1 or lead[1] not in (1, channels):
        return None
    value = value.reshape(lead)
    if lead[1] == 1:  # a splat over channels: the padding channels take it too (harmless, and finite)
        value = np.broadcast_to(value, (1, channels, 1, 1))
    const = g.create_node("constant", (), {"value": _frozen(block_channels(value, block))}, t.node.name + "_blocked")
    return const.outputs[0]


def _finite_constant(t):
    """Whether `t` is a constant whose values are all finite (so padding zeros combined with it stay finite)."""
    return t.node.opdef.constant and bool(np.isfinite(np.asarray(t.node.attrs["value"])).all())


def _sunk(node, inputs, block, g):
    """The elementwise `node` computed on its inputs' blocked sources, then unblocked once; None where it
    cannot be (no input unblocked, an unblocked input of fewer channels, which NCHW broadcasts over channels,
    another input of its rank, or padding it could make infinite). An unblocked input of one pixel (a
    squeeze-and-excitation scale) broadcasts over the pixels blocked as unblocked."""
    out = node.outputs[0]
    if not layout_free(node) or not known_shape(out) or len(out.shape) != 4:
        return None
    sources = [_blocked_source(t, block) for t in inputs]
    if not any(s is not None for s in sources):
        return None
    channels = out.shape[1]
    if channels % block and (node.op not in FINITE_ON_ZEROS or not all(
            s is not None or _finite_constant(t) for s, t in zip(sources, inputs))):
        return None  # (0 + inf, 0 * inf: the padding would turn infinite, and 0 * inf NaN in the next conv)
    if any(s is not None and (t.shape[1] != channels or tuple(t.shape[2:]) not in (tuple(out.shape[2:]), (1, 1)))
           for s, t in zip(sources, inputs)):
        return None
    moved = [_blocked_operand(t, channels, block, g) for t in inputs]
    if any(t is None for t in moved):
        return None
    return _unblocked(g.create_node(node.op, moved, node.attrs, node.name + "/blocked"), channels, node)


SPATIAL_REDUCTIONS = frozenset({"sum", "mean", "max", "min"})


def _sunk_reduction(node, inputs, block, g):
    """A sum, mean, max or min over the two spatial axes, keeping them (a global pool, a squeeze-and-excitation
    block's), of an unblocked tensor: the same reduction of its blocked source, then unblocked; else None."""
    if node.op not in SPATIAL_REDUCTIONS or not node.attrs.get("keepdims") or len(inputs) != 1:
        return None
    x = inputs[0]
    source = _blocked_source(x, block)
    axes = node.attrs.get("axes")
    if source is None or len(x.shape) != 4 or axes is None or sorted(a % 4 for a in axes) != [2, 3]:
        return None
    reduced = g.create_node(node.op, [source], dict(node.attrs, axes=(2, 3)), node.name + "/blocked")
    return _unblocked(reduced, x.shape[1], node)


def _unblocked(blocked, channels, node):
    """from_blocked of a node's one output, named after the `node` it replaces."""
    return blocked.graph.create_node("from_blocked", blocked.outputs, {"channels": channels},
                                     node.name + "/unblocked").outputs


def _conv_blocked(node, inputs, block, g, packed_weights):
    """conv `node` as from_blocked(conv_blocked(to_blocked(x))), the to_blocked skipped for an x that is
    already an unblocked tensor (its blocked source is read) or a stem's input of few channels (read as
    NCHW). `packed_weights` keeps each conv's packed weights, made once for both rewrites."""
    x, w = inputs
    value = np.asarray(node.inputs[1].node.attrs["value"])
    groups = int(node.attrs.get("groups", 1))
    depthwise = groups > 1
    source = _blocked_source(x, block)
    if source is None and not depthwise and x.shape[1] <= STEM_MAX_CHANNELS:
        source = x
    elif source is None:
        source = g.create_node("to_blocked", [x], {"block": block}, node.name + "/to_blocked").outputs[0]
    key = (node.name, len(source.shape))
    if key not in packed_weights:
        packed_weights[key] = _frozen(pack_blocked_weights(value, block, groups, blocked_input=len(source.shape) == 5))
    const = g.create_node("constant", (), {"value": packed_weights[key]}, node.inputs[1].node.name + "_blocked")
    attrs = {k: node.attrs[k] for k in ("strides", "dilations", "pads") if node.attrs.get(k) is not None}
    conv = g.create_node("conv_blocked", [source, const.outputs[0]], dict(attrs, depthwise=depthwise),
                         node.name + "/blocked")
    return _unblocked(conv, int(value.shape[0]), node)


def _regions(graph):
    """The graph's blocked regions: lists of nodes joined by blocked tensors (a conversion joins the region
    whose tensor it converts)."""
    joined = nx.Graph()
    for n in graph.nodes:
        if n.op in ("conv_blocked", "to_blocked", "from_blocked") or any(len(t.shape) == 5 for t in n.outputs):
            joined.add_node(n)
            for t in n.inputs:
                if t.node.op == "to_blocked" or len(t.shape) == 5 and t.node in joined:
                    joined.add_edge(n, t.node)
    return [list(c) for c in nx.connected_components(joined)]


def _worth_it(region):
    """Whether a region's conversions move fewer than MAX_CONVERTED_FRACTION of the elements its convs write."""
    def elements(n):
        return sum(int(np.prod(t.shape)) for t in n.outputs)
    written = sum(elements(n) for n in region if n.op == "conv_blocked")
    converted = sum(elements(n) for n in region if n.op in ("to_blocked", "from_blocked"))
    return converted <= MAX_CONVERTED_FRACTION * written


def _rewrite(graph, fetches, block, convs, packed_weights):
    """The graph with the convs named in `convs` blocked and the layout sunk; (graph, fetches, {blocked conv's
    name: the conv's name})."""
    origin = {}

    def rule(node, inputs, g):
        if node.control_inputs:  # (a replacement would not carry them)
            return None
        if node.name in convs:
            out = _conv_blocked(node, inputs, block, g, packed_weights)
            origin[out[0].node.inputs[0].node.name] = node.name
            return out
        if node.op == "to_blocked" and int(node.attrs["block"]) == block and _blocked_source(inputs[0], block):
            return [_blocked_source(inputs[0], block)]
        return _sunk(node, inputs, block, g) or _sunk_reduction(node, inputs, block, g)
    # the unpacked weights and the per-channel constants only the old nodes read are dead now
    return (*dce(*rebuild(graph, fetches, rule)), origin)


def blocked_layout(graph, fetches, block):
    """The graph with its blockable convs (see _blockable) in the channel-blocked layout of `block` channels,
    the layout sunk through the elementwise ops between them, where the region is worth it (_worth_it);
    returns (graph, fetches)."""
    convs = {n.name for n in graph.nodes if _blockable(n)}
    if not convs:
        return graph, fetches
    packed_weights = {}
    trial, _, origin = _rewrite(graph, fetches, block, convs, packed_weights)
    kept = {origin[n.name] for region in _regions(trial) if _worth_it(region) for n in region if n.name in origin}
    if not kept:
        return graph, fetches
    new_graph, new_fetches, _ = _rewrite(graph, fetches, block, kept, packed_weights)
    return new_graph, new_fetches
