"""The pass pipeline: which passes run at each optimization level, with dumps and timing.

A pass is `fn(graph, fetches) -> (graph, fetches)`. Set GRAPHC_DUMP=dir (or pass `dump_dir`) to
write the graph before and after every pass as text and as a picture.
"""
import os
import time
from dataclasses import dataclass

from .cse import cse
from .dce import dce
from .fold import fold
from .simplify import simplify

PIPELINES = {
    0: [],
    1: [("dce", dce)],
    2: [("dce", dce), ("simplify", simplify), ("cse", cse)],
    3: [("dce", dce), ("fold", fold), ("simplify", simplify), ("cse", cse), ("simplify_again", simplify),
        ("dce_final", dce)],
}


@dataclass
class PassRecord:
    """What one pass did: its name, seconds taken and node counts before and after."""
    name: str
    seconds: float
    nodes_before: int
    nodes_after: int


LAST_RUN = []  # PassRecords of the most recent `optimize` call (the instrument hook's default sink)


def pipeline(opt_level):
    """The (name, pass) list for an opt level (clamped to 0..3)."""
    return PIPELINES[max(0, min(3, int(opt_level)))]


def graph_text(graph, fetches=()):
    """One line per node: `name = op(inputs) attrs -> shapes`, then the fetches."""
    lines = []
    for n in graph.nodes:
        attrs = {k: v for k, v in n.attrs.items() if k != "value"}
        if "value" in n.attrs:
            attrs["value"] = f"<array {n.attrs['value'].shape}>"
        outs = ", ".join(f"{list(t.shape) if t.shape is not None else '?'}:{t.dtype.name}" for t in n.outputs)
        ins = ", ".join(t.name for t in n.inputs)
        lines.append(f"{n.name} = {n.op}({ins}) {attrs} -> {outs}")
    lines.append("fetches: " + ", ".join(t.name for t in fetches))
    return "\n".join(lines) + "\n"


def dump_graph(graph, fetches, path_stem, groups=None):
    """Write `path_stem`.txt and a picture (.svg, or .dot when graphviz's `dot` is missing)."""
    from graphc.viz import render
    with open(path_stem + ".txt", "w") as f:
        f.write(graph_text(graph, fetches))
    return render(graph, path_stem, fetches=fetches, groups=groups)


def optimize(graph, fetches, opt_level=3, dump_dir=None, instrument=None):
    """Run the pipeline for `opt_level` on a specialized graph; returns (graph, fetches).

    `instrument(record)` is called with a PassRecord after every pass.
    """
    dump_dir = dump_dir or os.environ.get("GRAPHC_DUMP")
    fetches = list(fetches)
    LAST_RUN.clear()
    if dump_dir:
        os.makedirs(dump_dir, exist_ok=True)
    for i, (name, fn) in enumerate(pipeline(opt_level)):
        if dump_dir:
            dump_graph(graph, fetches, os.path.join(dump_dir, f"{i:02d}_{name}_before"))
        before = len(graph.nodes)
        t0 = time.perf_counter()
        graph, fetches = fn(graph, fetches)
        record = PassRecord(name, time.perf_counter() - t0, before, len(graph.nodes))
        LAST_RUN.append(record)
        if instrument:
            instrument(record)
        if dump_dir:
            dump_graph(graph, fetches, os.path.join(dump_dir, f"{i:02d}_{name}_after"))
    return graph, fetches
