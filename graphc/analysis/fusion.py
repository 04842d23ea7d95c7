"""Operator fusion, as TVM's FuseOps: each node joins the group of its immediate post-dominator
when every op on the paths between them has a pattern that composes into one kernel. Groups are
lowered by codegen into ONE kernel each (TE computes composed, injective parts inlined).

Rules, by the kind of the producer's group (its most restrictive pattern):
- elemwise/broadcast/injective into a consumer up to a reduction (a reduction takes its prologue);
- out_elemwise_fusable (matmul) into elemwise/broadcast consumers (bias, activation, residual);
- reduce into elemwise/broadcast consumers (an epilogue after the reduction);
- a group that only rearranges elements (reshape, transpose, slice) into an input of a matmul that the
  matmul's lowering copies anyway (OpDef.copied_inputs): the copy reads through it;
- an elementwise producer group into an assignment consuming it (an optimizer update ends the
  kernel that computes it), unless the group also reads the variable being overwritten.
A node whose value is fetched, or that writes state, post-dominates into the sink: it ends a group.
Nodes named in `late` (rematerialization's recomputing copies, passes/remat.py) never share a kernel
with a node placed before the first of them: a recomputation must run late, where it saves memory.
"""
import networkx as nx

from graphc.registry import Pattern

# How freely an op fuses (TVM's OpPatternKind order): lower numbers join more kinds of groups
FUSION_ORDER = {Pattern.ELEMWISE: 0, Pattern.BROADCAST: 1, Pattern.INJECTIVE: 2, Pattern.REDUCE: 3,
                Pattern.OUT_ELEMWISE_FUSABLE: 4, Pattern.OPAQUE: 8}
SINK = -1


def kernel_nodes(graph):
    """Nodes that need a kernel: everything but placeholders, constants and variables."""
    return [n for n in graph.nodes if n.opdef.pattern != Pattern.SOURCE]


def _fusion_order(node):
    """The node's FUSION_ORDER; an update of state in place fuses as an elementwise op."""
    if node.opdef.writes_input is not None:
        return FUSION_ORDER[Pattern.ELEMWISE]  # an in-place update: elementwise in (variable, value)
    return 8 if node.opdef.stateful else FUSION_ORDER[node.opdef.pattern]


def _reads_target(members, writer):
    """Whether any of `members` reads the variable that `writer` overwrites."""
    target = writer.inputs[writer.opdef.writes_input]
    return any(t is target for m in members for t in m.opdef.data_inputs(m))


def _can_fuse(group_kind, path_orders, target_order):
    if group_kind <= FUSION_ORDER[Pattern.INJECTIVE]:
        return max(path_orders, default=0) <= FUSION_ORDER[Pattern.INJECTIVE] and target_order <= FUSION_ORDER[Pattern.REDUCE]
    if group_kind in (FUSION_ORDER[Pattern.OUT_ELEMWISE_FUSABLE], FUSION_ORDER[Pattern.REDUCE]):
        return max(path_orders + [target_order]) <= FUSION_ORDER[Pattern.BROADCAST]
    return False


def _joins_epilogue(group_kind, path_orders, target_group_kind, target_order):
    """An elementwise/broadcast group feeding the epilogue (not the matmul itself) of a matmul group:
    e.g. the residual `exp(-h)` in `relu(h @ w) + exp(-h)` is computed inside the epilogue."""
    return (target_group_kind == FUSION_ORDER[Pattern.OUT_ELEMWISE_FUSABLE] and target_order <= FUSION_ORDER[Pattern.BROADCAST]
            and max(path_orders + [group_kind]) <= FUSION_ORDER[Pattern.BROADCAST])


def _joins_operand_copy(producer_group, producer, consumer, between):
    """A group of element-rearranging ops (no arithmetic, no data-dependent indices) that feeds only
    inputs the consumer copies before its inner loop (OpDef.copied_inputs): the copy reads through it."""
    copied = consumer.opdef.copied_inputs
    reads = [k for k, t in enumerate(consumer.inputs) if t.node is producer]
    return (not between and reads and all(k in copied for k in reads) and
            all(m.opdef.moves_bits and m.opdef.index_bounds is None and
                FUSION_ORDER.get(m.opdef.pattern, 8) <= FUSION_ORDER[Pattern.INJECTIVE] for m in producer_group))


def _reenters(forward, find, target_root, joining_roots):
    """Whether some joining group depends on the target group through a node outside both (merging
    them would then need a kernel to run before itself)."""
    inside = {target_root} | joining_roots
    members = [i for i in forward.nodes if find(i) == target_root]
    outside = {s for m in members for s in forward.successors(m) if find(s) not in inside}
    reach = set(outside)
    for s in outside:
        reach |= nx.descendants(forward, s)
    return any(find(r) in joining_roots for r in reach)


def _reachable(step, start, allowed):
    """Nodes reachable from `start` through `step` (successors or predecessors) while `allowed(node)`."""
    seen, stack = set(), [start]
    while stack:
        for m in step(stack.pop()):
            if m not in seen and allowed(m):
                seen.add(m)
                stack.append(m)
    return seen


def _between(forward, i, p, ordered):
    """The nodes on paths from i to p, both excluded. When every edge goes from a lower index to a higher
    one (graph order is topological), such nodes lie in (i, p): searching only there keeps fusion linear
    in the size of each candidate region rather than the whole graph (unrolled recurrences have thousands
    of nodes)."""
    if not ordered:
        return (nx.descendants(forward, i) & nx.ancestors(forward, p)) - {i, p}
    down = _reachable(forward.successors, i, lambda m: m < p)
    up = _reachable(forward.predecessors, p, lambda m: m > i)
    return down & up


def fuse_groups(graph, fetches, fuse=True, late=None):
    """Groups of kernel nodes in a valid execution order; one node per group when `fuse` is False.
    `late` (after rematerialization): names of nodes kept out of groups with nodes before them (see the
    module docstring), and groups are ordered by their last node rather than their first."""
    nodes = kernel_nodes(graph)
    if not fuse or len(nodes) < 2:
        return [[n] for n in nodes]  # (in graph order, which rematerialization placed)
    index = {id(n): i for i, n in enumerate(nodes)}
    forward = nx.DiGraph()
    forward.add_nodes_from(range(len(nodes)))
    for i, n in enumerate(nodes):
        for t in n.opdef.data_inputs(n):
            if id(t.node) in index:
                forward.add_edge(index[id(t.node)], i)
    ordered = all(a < b for a, b in forward.edges)
    ends_group = {index[id(t.node)] for t in fetches if id(t.node) in index}
    ends_group |= {i for i, n in enumerate(nodes) if n.opdef.stateful or n.opdef.host}
    reverse = nx.DiGraph()
    reverse.add_node(SINK)
    for i in range(len(nodes)):
        reverse.add_node(i)
        if i in ends_group or forward.out_degree(i) == 0:
            reverse.add_edge(SINK, i)
        for c in forward.successors(i):
            reverse.add_edge(c, i)
    ipdom = nx.immediate_dominators(reverse, SINK)

    leader = list(range(len(nodes)))
    kind = [_fusion_order(n) for n in nodes]
    position = min if late is None else max
    late = set(late or ())
    first_late = min((i for i, n in enumerate(nodes) if n.name in late), default=len(nodes))
    # per group root: (has a late node, has a node before the first late one)
    phase = [(n.name in late, i < first_late and n.name not in late) for i, n in enumerate(nodes)]

    def find(i):
        while leader[i] != i:
            leader[i] = leader[leader[i]]
            i = leader[i]
        return i

    for i in range(len(nodes)):
        p = ipdom.get(i, SINK)
        if p == SINK or i in ends_group or find(i) == find(p):
            continue
        between = _between(forward, i, p, ordered)
        if any(b in ends_group for b in between):
            continue
        path_orders = [kind[find(b)] for b in between]
        if not _can_fuse(kind[find(i)], path_orders, kind[find(p)]) and not (
                _joins_epilogue(kind[find(i)], path_orders, kind[find(p)], _fusion_order(nodes[p])) and
                not _reenters(forward, find, find(p), {find(i)} | {find(b) for b in between})) and not (
                nodes[p].opdef.copied_inputs and _joins_operand_copy(
                    [nodes[j] for j in range(len(nodes)) if find(j) == find(i)], nodes[i], nodes[p], between) and
                not _reenters(forward, find, find(p), {find(i)})):
            continue
        if nodes[p].opdef.writes_input is not None:
            group = [nodes[j] for j in range(len(nodes)) if find(j) in {find(i)} | {find(b) for b in between}]
            if _reads_target(group, nodes[p]):
                continue
        roots = {find(p), find(i)} | {find(b) for b in between}
        merged_phase = (any(phase[r][0] for r in roots), any(phase[r][1] for r in roots))
        if all(merged_phase):
            continue
        root = find(p)
        phase[root] = merged_phase
        merged_kind = max([kind[root], kind[find(i)]] + [kind[find(b)] for b in between])
        for member in [i, *between]:
            leader[find(member)] = root
        kind[root] = merged_kind
    return _ordered_groups(nodes, forward, find, position)


def _write_after_reads(nodes):
    """(reader, writer) index pairs: every read of a variable placed before an assignment to it."""
    index = {id(n): i for i, n in enumerate(nodes)}
    readers = {}
    for i, n in enumerate(nodes):
        for t in n.inputs:
            readers.setdefault(id(t), []).append(i)
    return [(r, w) for w, n in enumerate(nodes) if n.opdef.writes_input is not None
            for r in readers.get(id(n.inputs[n.opdef.writes_input]), []) if r < w and r != index[id(n)]]


def _ordered_groups(nodes, forward, find, position=min):
    """Groups sorted so each runs after the groups it reads from and every read of a variable before
    the assignments placed after it (or unfused, if that fails); among ready groups, the one whose
    first (`position=min`) or last (max: where its result is made) member comes first in the graph."""
    members = {}
    for i in range(len(nodes)):
        members.setdefault(find(i), []).append(i)
    deps = nx.DiGraph()
    deps.add_nodes_from(members)
    for a, b in list(forward.edges) + _write_after_reads(nodes):
        if find(a) != find(b):
            deps.add_edge(find(a), find(b))
    try:
        order = list(nx.lexicographical_topological_sort(deps, key=lambda r: position(members[r])))
    except nx.NetworkXUnfeasible:  # fusion made a cycle between groups: fall back to one op per kernel
        return [[n] for n in nodes]
    return [[nodes[i] for i in sorted(members[r])] for r in order]
