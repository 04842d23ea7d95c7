"""Index checks: every op that indexes with a tensor (OpDef.index_bounds) gets an index_check node
beside it, whose value (the largest out-of-range index, if any) the executor reads after the run to
raise InvalidArgumentError naming the op and the index, as TF1 does. The indexing kernels clamp, so a
bad index never reads or writes out of bounds. Constant indices are checked here, at compile time."""
from graphc.ops.indexing import check_indices, describe

from .rewrite import rebuild


def add_index_checks(graph, fetches):
    """(graph, fetches, checks) with index_check nodes added; checks are [(check tensor, what)],
    `what` naming the checked op for the error message."""
    checks = []

    def rule(node, inputs, g):
        bounds = node.opdef.index_bounds
        if bounds is None:
            return None
        pos, dims = bounds(node)
        idx = inputs[pos]
        if idx.node.opdef.constant:
            check_indices(node, idx.node.attrs["value"])
        elif 0 not in idx.shape:
            what = describe(node)
            check = g.create_node("index_check", [idx], {"dims": tuple(int(d) for d in dims), "op": what},
                                  f"{node.name}/index_check")
            checks.append((check.outputs[0], what))
        return None  # the node itself is copied unchanged
    graph, fetches = rebuild(graph, fetches, rule)
    return graph, fetches, checks
