"""Shared machinery for graph rewrites: copy a graph node by node, letting a pass replace nodes."""
from graphc.graph import Graph, needed_nodes


def rebuild(graph, fetches, replace=None, keep=()):
    """A new Graph with what `fetches` (and `keep` nodes) need; returns (graph, new fetches).

    `replace(new_graph, node, new_inputs)` may return a list of tensors in the new graph standing
    for the node's outputs, or None to copy the node as is.
    """
    g = Graph()
    g.seed = graph.seed
    new_of = {}
    # every placeholder stays, used or not: the executor binds feeds by their position
    roots = [n for n in graph.nodes if n.op == "placeholder"] + [t.node for t in fetches] + list(keep)
    for n in needed_nodes(roots, set()):
        inputs = [new_of[id(t)] for t in n.inputs]
        outs = replace(g, n, inputs) if replace else None
        if outs is None:
            new = g.create_node(n.op, inputs, n.attrs, n.name)
            new.control_inputs = tuple(new_of[id(c.outputs[0])].node for c in n.control_inputs
                                       if c.outputs and id(c.outputs[0]) in new_of)
            outs = new.outputs
        for old, nt in zip(n.outputs, outs):
            new_of[id(old)] = nt
    return g, [new_of[id(t)] for t in fetches]
