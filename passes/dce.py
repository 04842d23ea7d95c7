"""Dead code elimination: keep only the nodes the fetches need."""
from .rewrite import rebuild


def dce(graph, fetches):
    """A graph holding only what `fetches` need; returns (graph, fetches)."""
    return rebuild(graph, fetches)
