"""The pass pipeline: which passes run at each optimization level."""


def optimize(graph, fetches, opt_level=3):
    """Run the pipeline for `opt_level` on a specialized graph; returns (graph, fetches)."""
    return graph, fetches
