"""Operator fusion (TVM FuseOps style): partition a graph's kernel nodes into groups, each lowered
to one kernel. A node fuses with its immediate post-dominator when every node on the paths between
them may join one kernel: injective chains, injective prologues into a reduction, elementwise
epilogues into a matmul/reduction. Each group holds at most one "master" (reduce or matmul)."""
import networkx as nx

from graphc.registry import Pattern

_SINK = "sink"
_INJECTIVE_LIKE = (Pattern.ELEMWISE, Pattern.BROADCAST, Pattern.INJECTIVE)
_EPILOGUE = (Pattern.ELEMWISE, Pattern.BROADCAST)
_MASTER = (Pattern.REDUCE, Pattern.OUT_ELEMWISE_FUSABLE)


def kernel_nodes(graph):
    """Nodes that need a kernel: everything but placeholders, constants and variables."""
    return [n for n in graph.nodes if n.opdef.pattern != Pattern.SOURCE]


def pattern_of(node):
    """The node's fusion pattern; stateful ops never fuse."""
    return Pattern.OPAQUE if node.opdef.stateful else node.opdef.pattern


def _dataflow(nodes, fetches):
    """Kernel-node DAG (by node id) with a virtual sink after every fetched or unconsumed node."""
    g = nx.DiGraph()
    inside = {id(n) for n in nodes}
    fetched = {id(t.node) for t in fetches}
    for n in nodes:
        g.add_node(id(n))
        for t in n.inputs:
            if id(t.node) in inside:
                g.add_edge(id(t.node), id(n))
    g.add_node(_SINK)
    for n in nodes:
        if id(n) in fetched or g.out_degree(id(n)) == 0:
            g.add_edge(id(n), _SINK)
    return g


def _between(g, src, dst):
    """Nodes on some path from src to dst, excluding src and including dst."""
    return (nx.descendants(g, src) & nx.ancestors(g, dst)) | {dst}


def _may_join(src_pattern, path_patterns, dst_pattern):
    if src_pattern == Pattern.OUT_ELEMWISE_FUSABLE or src_pattern == Pattern.REDUCE:
        return all(p in _EPILOGUE for p in path_patterns)  # epilogue into its producer's kernel
    if src_pattern in _INJECTIVE_LIKE:
        mids = path_patterns[:-1]
        return all(p in _INJECTIVE_LIKE for p in mids) and (
            dst_pattern in _INJECTIVE_LIKE or dst_pattern == Pattern.REDUCE)
    return False


def fuse_groups(graph, fetches, opt_level=3):
    """Groups of nodes in execution order; one node per group at opt_level 0, else fused."""
    nodes = kernel_nodes(graph)
    if opt_level <= 0:
        return [[n] for n in nodes]
    by_id = {id(n): n for n in nodes}
    g = _dataflow(nodes, fetches)
    ipdom = nx.immediate_dominators(g.reverse(copy=False), _SINK)
    group = {i: i for i in by_id}  # union-find parent

    def find(i):
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for n in nodes:
        src = id(n)
        dst = ipdom.get(src)
        if dst is None or dst == _SINK or pattern_of(n) == Pattern.OPAQUE:
            continue
        path = sorted(_between(g, src, dst), key=lambda i: by_id[i].id)
        patterns = [pattern_of(by_id[i]) for i in path]
        if not _may_join(pattern_of(n), patterns, pattern_of(by_id[dst])):
            continue
        roots = {find(i) for i in path} | {find(src)}
        members = [i for i in by_id if find(i) in roots]
        if sum(pattern_of(by_id[i]) in _MASTER for i in members) > 1:
            continue
        if _creates_cycle(g, members, find):
            continue
        for r in roots:
            group[r] = find(src)
    groups = {}
    for n in nodes:
        groups.setdefault(find(id(n)), []).append(n)
    return _execution_order(list(groups.values()), find)


def _creates_cycle(g, members, find):
    """Whether merging `members` would make the group graph cyclic (a path leaving and re-entering)."""
    inside = set(members)
    outside_reach = set()
    for m in members:
        for s in g.successors(m):
            if s not in inside and s != _SINK:
                outside_reach.add(s)
    seen, stack = set(), list(outside_reach)
    while stack:
        x = stack.pop()
        if x in seen:
            continue
        seen.add(x)
        for s in g.successors(x):
            if s in inside:
                return True
            if s != _SINK:
                stack.append(s)
        # nodes already grouped with x run together with it: follow their edges too
        root = find(x)
        stack.extend(y for y in g.nodes if y != _SINK and y not in seen and y not in inside and find(y) == root)
    return False


def _execution_order(groups, find):
    """Groups sorted so every group runs after the groups it reads from."""
    gid = {id(n): k for k, grp in enumerate(groups) for n in grp}
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(groups)))
    for k, grp in enumerate(groups):
        for n in grp:
            for t in n.inputs:
                j = gid.get(id(t.node))
                if j is not None and j != k:
                    dag.add_edge(j, k)
            for c in n.control_inputs:
                j = gid.get(id(c))
                if j is not None and j != k:
                    dag.add_edge(j, k)
    order = nx.lexicographical_topological_sort(dag, key=lambda k: min(n.id for n in groups[k]))
    return [sorted(groups[k], key=lambda n: n.id) for k in order]
