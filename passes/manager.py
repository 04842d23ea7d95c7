"""The pass pipelines (which passes run at each optimization level: runtime/compiler.py's opt_options
chooses) and the pass manager that runs one, with dumps, timing and verification.

GRAPHC_DUMP=dir (or optimize(..., dump_dir=)) writes the graph before and after every pass as
text, and as SVG when Graphviz's `dot` is installed (else its .dot source).
"""
import os
import time
from dataclasses import dataclass

from .cse import cse
from .dce import dce
from .fold import fold
from .fuse_allreduce import fuse_allreduce
from .simplify import simplify
from .verify import verification_on, verify

PIPELINES = {  # target-independent passes; a target's own passes (e.g. pack_weights) run after them
    0: [],
    1: [("dce", dce), ("fuse_allreduce", fuse_allreduce)],
    2: [("simplify", simplify), ("fold", fold), ("cse", cse), ("dce", dce), ("fuse_allreduce", fuse_allreduce)],
    3: [("simplify", simplify), ("fold", fold), ("cse", cse), ("simplify", simplify), ("dce", dce),
        ("fuse_allreduce", fuse_allreduce)],
}


@dataclass
class PassRecord:
    """What the instrument hook saw of one pass."""
    name: str
    seconds: float
    nodes_before: int
    nodes_after: int


def graph_text(graph):
    """One line per node: name = op(inputs) : shape dtype."""
    lines = []
    for n in graph.nodes:
        ins = ", ".join(t.name for t in n.inputs)
        outs = "; ".join(f"{list(t.shape) if t.shape is not None else '?'} {t.dtype.name}" for t in n.outputs)
        lines.append(f"{n.name} = {n.op}({ins}) : {outs}")
    return "\n".join(lines) + "\n"


def dump_graph(graph, path_stem, groups=None):
    """Write `graph` as text and as a picture (SVG, or .dot source when `dot` is missing)."""
    with open(path_stem + ".txt", "w") as f:
        f.write(graph_text(graph))
    from graphc.drawing import write_picture
    write_picture(graph, path_stem, groups)


def optimize(graph, fetches, pipeline, dump_dir=None, records=None):
    """Run `pipeline` ((name, fn(graph, fetches) -> (graph, fetches)) pairs, or an opt level for PIPELINES[level])
    on the graph; returns (graph, fetches). `records` collects PassRecords."""
    dump_dir = dump_dir or os.environ.get("GRAPHC_DUMP")
    if dump_dir:
        os.makedirs(dump_dir, exist_ok=True)
    if isinstance(pipeline, int):
        pipeline = PIPELINES[min(max(pipeline, 0), 3)]
    for step, (name, fn) in enumerate(pipeline):
        if dump_dir:
            dump_graph(graph, os.path.join(dump_dir, f"{step:02d}_{name}_before"))
        before = len(graph.nodes)
        t0 = time.perf_counter()
        graph, fetches = fn(graph, fetches)
        if verification_on():
            verify(graph, fetches, static=True, after=name)
        if records is not None:
            records.append(PassRecord(name, time.perf_counter() - t0, before, len(graph.nodes)))
        if dump_dir:
            dump_graph(graph, os.path.join(dump_dir, f"{step:02d}_{name}_after"))
    return graph, fetches
