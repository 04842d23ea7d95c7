"""Pictures of graphs: nodes, data edges, and fused groups drawn as clusters (Graphviz)."""
import shutil

import graphviz

from .graph import Graph, Tensor
from .registry import Pattern


def _dot(graph, groups=None):
    d = graphviz.Digraph(graph_attr={"rankdir": "TB", "fontsize": "10"},
                         node_attr={"shape": "box", "fontsize": "9", "style": "rounded"})
    grouped = set()
    for k, group in enumerate(groups or []):
        if len(group) < 2:
            continue
        with d.subgraph(name=f"cluster_{k}") as c:
            c.attr(label=f"kernel {k}", style="dashed", color="steelblue")
            for n in group:
                c.node(str(id(n)), f"{n.op}\n{n.name}")
                grouped.add(id(n))
    for n in graph.nodes:
        if id(n) not in grouped:
            shape = "ellipse" if n.opdef.pattern == Pattern.SOURCE else "box"
            d.node(str(id(n)), f"{n.op}\n{n.name}", shape=shape)
        for t in n.inputs:
            label = "" if t.shape is None else "x".join("?" if s is None else str(s) for s in t.shape)
            d.edge(str(id(t.node)), str(id(n)), label=label, fontsize="8")
    return d


def write_picture(graph, path_stem, groups=None):
    """Write `path_stem`.svg (or `path_stem`.dot where Graphviz's dot is not installed); returns the path."""
    d = _dot(graph, groups)
    if shutil.which("dot"):
        with open(path_stem + ".svg", "wb") as f:
            f.write(d.pipe(format="svg"))
        return path_stem + ".svg"
    with open(path_stem + ".dot", "w") as f:
        f.write(d.source)
    return path_stem + ".dot"


def viz(obj, path):
    """Write an SVG of a Graph, of the graph behind some tensors, or of a compiled Executable
    (its optimized graph with each kernel's fused ops in a cluster)."""
    if hasattr(obj, "plan") and hasattr(obj, "graph"):           # an Executable
        graph, groups = obj.graph, obj.groups
    else:
        if isinstance(obj, Graph):
            graph = obj
        else:
            tensors = [obj] if isinstance(obj, Tensor) else list(obj)
            graph = tensors[0].graph
        from graphc.analysis.fusion import fuse_groups
        groups = fuse_groups(graph, [t for n in graph.nodes for t in n.outputs if not any(
            t in m.inputs for m in graph.nodes)])
    if not shutil.which("dot"):
        raise RuntimeError("graphc.viz needs Graphviz's `dot` program (`apt-get install graphviz`, which "
                           "`make install` does where it can)")
    stem = path[:-4] if path.endswith(".svg") else path
    return write_picture(graph, stem, groups)
