"""Operator fusion: partition a graph's kernel nodes into groups, each lowered to one kernel."""
from graphc.registry import Pattern


def kernel_nodes(graph):
    """Nodes that need a kernel: everything but placeholders, constants and variables."""
    return [n for n in graph.nodes if n.opdef.pattern != Pattern.SOURCE]


def fuse_groups(graph, fetches, opt_level=3):
    """Groups of nodes, in execution order; one group per kernel node (no fusion yet)."""
    return [[n] for n in kernel_nodes(graph)]
