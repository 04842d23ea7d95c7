"""Specialization: the pruned subgraph that computes the fetches from the feeds, with every
shape made concrete from the fed shapes. Everything after this pass sees static shapes."""
import networkx as nx

from graphc.errors import CompileError, FeedError
from graphc.graph import Graph, needed_nodes  # noqa: F401 (re-exported)


def reads_before_writes(nodes):
    """`nodes` (topological) reordered so every read of a variable that does not depend on an
    assignment to it runs before that assignment: TF1 users expect `run([train_op, loss])` to
    report the loss of the variables' values before the update."""
    writers = [n for n in nodes if n.opdef.writes_input is not None]
    if not writers:
        return nodes
    position = {id(n): i for i, n in enumerate(nodes)}
    g = nx.DiGraph()
    g.add_nodes_from(position.values())
    for n in nodes:
        for dep in [t.node for t in n.inputs] + list(n.control_inputs):
            if id(dep) in position:
                g.add_edge(position[id(dep)], position[id(n)])
    for w in writers:
        var = w.inputs[w.opdef.writes_input]
        after_w = nx.descendants(g, position[id(w)])
        for reader in nodes:
            r = position[id(reader)]
            writes_var = reader.opdef.writes_input is not None and reader.inputs[reader.opdef.writes_input] is var
            if not writes_var and r not in after_w and any(t is var for t in reader.inputs):
                g.add_edge(r, position[id(w)])
    return [nodes[i] for i in nx.lexicographical_topological_sort(g)]


def specialize(fetches, feeds, extra_nodes=()):
    """A new Graph holding what `fetches` need; `feeds` maps fed tensors to (shape, dtype).

    Returns (graph, mapping from original tensor id to specialized tensor). Fed tensors become
    placeholders carrying `feed_index` (their position in `feeds`).
    """
    fed = {id(t): i for i, t in enumerate(feeds)}
    feed_list = list(feeds)
    nodes = reads_before_writes(needed_nodes([t.node for t in fetches] + list(extra_nodes), fed))
    g = Graph()
    g.seed = fetches[0].graph.seed if fetches else None
    mapping = {}
    for i, t in enumerate(feed_list):
        shape, dtype = feeds[t]
        ph = g.create_node("placeholder", (), {"shape": tuple(shape), "dtype": dtype, "feed_index": i},
                           t.name.replace(":", "_"))
        mapping[id(t)] = ph.outputs[0]
    node_map = {}
    for n in nodes:
        if n.opdef.feed:
            if all(id(t) in fed for t in n.outputs):
                continue
            shape = "unknown" if n.attrs["shape"] is None else [("?" if d is None else d) for d in n.attrs["shape"]]
            raise FeedError(f"you must feed a value for placeholder '{n.name}' "
                            f"(dtype {n.attrs['dtype'].name}, shape {shape})")
        if n.opdef.writes_input is not None and id(n.inputs[n.opdef.writes_input]) in fed:
            raise FeedError(f"variable {n.inputs[n.opdef.writes_input].node.name} is fed in this run and also "
                            f"assigned by {n.op} '{n.name}'; feed it or assign it, not both")
        inputs = [mapping[id(t)] for t in n.inputs]
        try:
            new = g.create_node(n.op, inputs, n.attrs, n.name)
        except ValueError as e:
            raise type(e)(f"with the fed shapes, {e}") from None
        new.control_inputs = tuple(node_map[id(c)] for c in n.control_inputs if id(c) in node_map)
        node_map[id(n)] = new
        for old, nt in zip(n.outputs, new.outputs):
            if id(old) not in mapping:
                mapping[id(old)] = nt
            if nt.shape is None or any(d is None for d in nt.shape):
                raise CompileError(f"the shape of {n.name} is still unknown after feeding: {nt.shape}")
    return g, mapping, node_map
