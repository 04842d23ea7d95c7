"""Dead-code elimination: drop nodes that neither the fetches nor any stateful op need."""
from graphc.graph import needed_nodes

from .rewrite import is_kept, rebuild


def dce(graph, fetches):
    """The graph without nodes that no fetch, feed or assignment depends on."""
    roots = [t.node for t in fetches] + [n for n in graph.nodes if is_kept(n)]
    keep = {id(n) for n in needed_nodes(roots, set())}
    if len(keep) == len(graph.nodes):
        return graph, fetches
    return rebuild(graph, fetches, nodes=[n for n in graph.nodes if id(n) in keep])
