"""Pack constant matmul weights once at compile time: a matmul whose B is a 2-D constant becomes a
matmul_packed over the constant already laid out in GEMM panels, so no run repacks B. A target lists
this pass (codegen/target.py) with the panel width its GEMM kernel streams."""
import numpy as np

from graphc.ops.packed import pack_panels

from .dce import dce
from .rewrite import rebuild


def _packable(node):
    b = node.inputs[1] if node.opdef.packed_form else None
    return b is not None and b.node.opdef.constant and len(b.shape) == 2 and not b.dtype.is_bool


def pack_weights(graph, fetches, panel_width):
    """The graph with each matmul of a 2-D constant B computed from B packed in panels of `panel_width`
    columns (a CPU target's GEMM panel), or of `panel_width(m, n, dtype_bits)` columns for an M x N product
    when it is a function (the register tile chosen for the shape); returns (graph, fetches)."""
    if not any(_packable(n) for n in graph.nodes):
        return graph, fetches

    def rule(node, inputs, g):
        if not _packable(node):
            return None
        a, b = inputs
        value = b.node.attrs["value"]
        if node.attrs.get("transpose_b"):
            value = value.T
        width = panel_width(node.outputs[0].shape[-2], int(value.shape[1]), value.dtype.itemsize * 8) \
            if callable(panel_width) else panel_width
        const = g.create_node("constant", (), {"value": _frozen(pack_panels(np.asarray(value), width))},
                              b.node.name + "_panels")
        packed = g.create_node(node.opdef.packed_form, (a, const.outputs[0]),
                               {"transpose_a": node.attrs.get("transpose_a", False), "n": int(value.shape[1])},
                               node.name + "_packed")
        return packed.outputs
    # constants only the old matmuls read are dead now: dce drops them so no buffer is made for them
    return dce(*rebuild(graph, fetches, rule))


def _frozen(arr):
    arr.setflags(write=False)
    return arr
