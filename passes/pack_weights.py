"""Pack constant matmul weights once at compile time: a matmul whose B is a 2-D constant becomes a
matmul_packed over the constant already laid out in GEMM panels, so no run repacks B."""
import numpy as np

from graphc.ops.packed import pack_panels


def _packable(node):
    if node.op != "matmul":
        return False
    b = node.inputs[1]
    return b.node.op == "constant" and len(b.shape) == 2 and not b.dtype.is_bool


def pack_weights(graph, fetches, panel_width):
    """Rewrite, in place, each matmul with a 2-D constant B into panels of `panel_width` columns (a CPU
    target's GEMM panel); returns (graph, fetches)."""
    replaced = {}  # id of an old matmul output -> the matmul_packed output replacing it
    weights = set()  # ids of the constants the old matmuls read
    for node in [n for n in graph.nodes if _packable(n)]:
        a, b = node.inputs
        value = b.node.attrs["value"]
        if node.attrs.get("transpose_b"):
            value = value.T
        const = graph.create_node("constant", (), {"value": _frozen(pack_panels(np.asarray(value), panel_width))},
                                  b.node.name + "_panels")
        packed = graph.create_node("matmul_packed", (a, const.outputs[0]),
                                   {"transpose_a": node.attrs.get("transpose_a", False), "n": int(value.shape[1])},
                                   node.name + "_packed")
        # keep the node list in execution order: the new nodes take the old matmul's place
        del graph.nodes[-2:]
        at = graph.nodes.index(node)
        graph.nodes[at:at + 1] = [const, packed]
        replaced[id(node.outputs[0])] = packed.outputs[0]
        weights.add(id(b.node))
    if not replaced:
        return graph, fetches
    for n in graph.nodes:
        n.inputs = tuple(replaced.get(id(t), t) for t in n.inputs)
    used = {id(t.node) for n in graph.nodes for t in n.inputs}
    fetches = [replaced.get(id(t), t) for t in fetches]
    used |= {id(t.node) for t in fetches}
    # constants only the old matmuls read are dead now; drop them so no buffer is made for them
    graph.nodes[:] = [n for n in graph.nodes if id(n) not in weights or id(n) in used]
    graph.version += 1
    return graph, fetches


def _frozen(arr):
    arr.setflags(write=False)
    return arr
