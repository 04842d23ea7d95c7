"""The pass pipeline: which passes run at each optimization level."""


def optimize(graph, fetches, opt_level=3):
    """Run the pipeline for `opt_level` on a specialized graph; returns (graph, fetches)."""
    if opt_level >= 1:
        from .pack_weights import pack_weights
        graph, fetches = pack_weights(graph, fetches)
    return graph, fetches
