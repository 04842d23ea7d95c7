"""verify(graph): the invariants every pass must keep. The pass manager runs it after every pass when
GRAPHC_VERIFY=1 (the tests set it)."""
import os

from graphc.errors import GraphError


def verification_on():
    """Whether GRAPHC_VERIFY=1 asks for every pass's result to be verified."""
    return os.environ.get("GRAPHC_VERIFY") == "1"


def verify(graph, fetches=(), static=False, after=""):
    """Raise a GraphError unless nodes are in topological order, read only tensors of this graph, are
    indexed by their names, and (`static`: after specialization) every shape is fully known. `after`
    names the pass that made the graph, for the message."""
    where = f" after {after}" if after else ""
    seen = set()
    for node in graph.nodes:
        if node.graph is not graph or graph._by_name.get(node.name) is not node:
            raise GraphError(f"{node.op} '{node.name}' is not indexed under its name in its graph{where}")
        for t in node.inputs:
            if t.node.graph is not graph:
                raise GraphError(f"{node.op} '{node.name}' reads {t.name} of another graph{where}")
            if id(t.node) not in seen:
                raise GraphError(f"{node.op} '{node.name}' reads {t.name}, which is not computed before it{where}")
        for c in node.control_inputs:
            if id(c) not in seen:
                raise GraphError(f"{node.op} '{node.name}' runs after '{c.name}', which is not before it{where}")
        for i, t in enumerate(node.outputs):
            if t.node is not node or t.index != i:
                raise GraphError(f"output {i} of {node.op} '{node.name}' does not point back to it{where}")
            if static and (t.shape is None or any(d is None for d in t.shape)):
                raise GraphError(f"{t.name} ({node.op}) has shape {t.shape} after specialization{where}; "
                                 "every shape must be known")
        seen.add(id(node))
    for t in fetches:
        if id(t.node) not in seen:
            raise GraphError(f"fetch {t.name} is not in the graph{where}")
