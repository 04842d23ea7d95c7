"""Pictures of graphs: nodes, data edges and, when given, fused groups drawn as clusters."""
import shutil
import warnings

from .graph import Tensor


def _dot(graph, fetches=(), groups=None):
    import graphviz
    dot = graphviz.Digraph(graph_attr={"rankdir": "TB"}, node_attr={"shape": "box", "fontsize": "10"})
    in_group = {}
    for k, grp in enumerate(groups or []):
        with dot.subgraph(name=f"cluster_{k}") as sub:
            sub.attr(label=f"kernel {k}", style="rounded,filled", fillcolor="#eef4ff")
            for n in grp:
                in_group[id(n)] = k
                sub.node(str(id(n)), f"{n.name}\n{n.op}")
    fetched = {id(t.node) for t in fetches}
    for n in graph.nodes:
        if id(n) not in in_group:
            style = {"style": "filled", "fillcolor": "#ffeecc"} if n.op in ("placeholder", "constant") else {}
            dot.node(str(id(n)), f"{n.name}\n{n.op}", **style)
        if id(n) in fetched:
            dot.node(f"fetch{id(n)}", "fetch", shape="ellipse")
            dot.edge(str(id(n)), f"fetch{id(n)}")
        for t in n.inputs:
            shape = list(t.shape) if t.shape is not None else "?"
            dot.edge(str(id(t.node)), str(id(n)), label=str(shape), fontsize="8")
    return dot


def render(graph, path_stem, fetches=(), groups=None):
    """Write `path_stem`.svg (or only `path_stem`.dot, with a warning, when `dot` is not installed)."""
    dot = _dot(graph, fetches, groups)
    with open(path_stem + ".dot", "w") as f:
        f.write(dot.source)
    if shutil.which("dot") is None:
        warnings.warn(f"graphviz's `dot` program is not installed: wrote {path_stem}.dot only "
                      "(install it with `make install` or apt-get install graphviz)")
        return path_stem + ".dot"
    dot.render(path_stem, format="svg", cleanup=False)
    return path_stem + ".svg"


def viz(graph_or_tensors, path, opt_level=3):
    """Write an SVG of a graph (or of what the given tensors need), fused groups drawn as clusters."""
    from .graph import Graph, needed_nodes
    from graphc.passes.fusion import fuse_groups
    items = graph_or_tensors if isinstance(graph_or_tensors, (list, tuple)) else [graph_or_tensors]
    if isinstance(graph_or_tensors, Graph):
        graph, fetches = graph_or_tensors, []
        nodes = graph.nodes
    else:
        fetches = [t for t in items if isinstance(t, Tensor)]
        graph = fetches[0].graph
        nodes = needed_nodes([t.node for t in fetches], set())
    view = _SubGraph(graph, nodes)
    groups = fuse_groups(view, fetches, opt_level)
    stem = path[:-4] if path.endswith(".svg") else path
    return render(view, stem, fetches, groups)


class _SubGraph:
    """A read-only view of some of a graph's nodes (what fusion and drawing need)."""

    def __init__(self, graph, nodes):
        self.nodes = list(nodes)
        self.seed = graph.seed
