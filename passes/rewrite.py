"""The one way passes rebuild a graph: copy it node by node, letting a rule replace nodes."""
from graphc.graph import Graph, Tensor


def rebuild(graph, fetches, rule=None, nodes=None):
    """A new graph with `nodes` (default: all, in order) copied; `rule(node, new_inputs, new_graph)`
    may return replacement tensors for a node's outputs (or None to copy it). Returns (graph, fetches)."""
    g = Graph()
    g.seed = graph.seed
    tensors, node_map = {}, {}
    for n in (graph.nodes if nodes is None else nodes):
        inputs = [tensors[id(t)] for t in n.inputs]
        with g.as_default():
            out = rule(n, inputs, g) if rule else None
        if out is not None and any(isinstance(t, Tensor) and t.node.opdef.stateful for t in out):
            out = None  # a read of state stays a read: forwarding the variable would see later assignments
        if out is None:
            controls = [node_map[id(c)] for c in n.control_inputs if id(c) in node_map]
            new = g.create_node(n.op, inputs, n.attrs, n.name, control_inputs=controls)
            out = new.outputs
            node_map[id(n)] = new
        elif out and hasattr(out[0], "node"):
            node_map[id(n)] = out[0].node
        for old, t in zip(n.outputs, out):
            tensors[id(old)] = t
    return g, [tensors[id(t)] for t in fetches]


def is_kept(node):
    """Nodes no pass may remove or merge: feeds (their order is the run signature) and state."""
    return node.opdef.feed or node.opdef.stateful
