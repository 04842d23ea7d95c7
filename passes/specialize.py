"""Specialization: the pruned subgraph that computes the fetches from the feeds, with every
shape made concrete from the fed shapes. Everything after this pass sees static shapes."""
from graphc.errors import CompileError, FeedError
from graphc.graph import Graph, needed_nodes  # noqa: F401 (re-exported)


def specialize(fetches, feeds, extra_nodes=()):
    """A new Graph holding what `fetches` need; `feeds` maps fed tensors to (shape, dtype).

    Returns (graph, mapping from original tensor id to specialized tensor). Fed tensors become
    placeholders carrying `feed_index` (their position in `feeds`).
    """
    fed = {id(t): i for i, t in enumerate(feeds)}
    feed_list = list(feeds)
    nodes = needed_nodes([t.node for t in fetches] + list(extra_nodes), fed)
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
        if n.op == "placeholder":
            if all(id(t) in fed for t in n.outputs):
                continue
            shape = "unknown" if n.attrs["shape"] is None else [("?" if d is None else d) for d in n.attrs["shape"]]
            raise FeedError(f"you must feed a value for placeholder '{n.name}' "
                            f"(dtype {n.attrs['dtype'].name}, shape {shape})")
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
