"""Rematerialization under a memory budget: drop activations after their last early (forward) use and
recompute them right before their late (backward) uses, when the planned arena exceeds the budget.

A dropped tensor's late readers read a copy of its producer, placed in graph order just before the
first of them; the copy reads the original inputs, or the copies of inputs that are dropped too, so a
chain of dropped tensors is recomputed once from the nearest kept one (Chen et al.'s segments). The
copies are the same ops with the same attributes on the same values, so they compute the same
numbers. Random ops read their run counter like any input, so a copy draws the same values. A copy of
an elementwise or injective op is made again for each late reader, so fusion puts it in that reader's
kernel (a GELU's or a scale's intermediates then never take arena space in the backward pass).

The choice is greedy with the real arena planner in the loop (`arena_of` runs fusion and memory
planning on a candidate graph): largest tensors first, a whole size class at once when that shrinks
the arena (one plan for all of a transformer's attention probabilities and MLP activations), else one
by one, cheapest FLOPs per byte first; then the remaining candidates across sizes. When greedy cannot
reach the budget, evenly spaced checkpoints (sqrt(n) segments and their neighbours) are tried. A plan
that fits nowhere is an error naming the smallest arena found.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from graphc.errors import ResourceExhaustedError
from graphc.registry import Pattern

from .dce import dce
from .rewrite import rebuild

PREFIX = "remat/"   # names of the recomputing copies
CHEAP = (Pattern.ELEMWISE, Pattern.BROADCAST, Pattern.INJECTIVE)  # recomputed per reader (fusable)
MIN_GAP = 3         # a tensor whose uses lie within this many nodes of each other is never dropped


class RematError(ResourceExhaustedError):
    """No rematerialization plan fits the memory budget."""


@dataclass
class RematReport:
    """What rematerialization did to one compiled signature (`Executable.remat`)."""
    budget: int
    arena_before: int
    arena_after: int
    method: str = "none"               # "greedy", "segments", or "none" (the graph already fitted)
    tensors: list = field(default_factory=list)  # names of the dropped-and-recomputed tensors
    copies: list = field(default_factory=list)   # names of the recomputing nodes in the new graph
    added_flops: int = 0
    evaluations: int = 0               # arena plans computed while choosing

    @property
    def bytes_saved(self):
        """Arena bytes saved by recomputing."""
        return self.arena_before - self.arena_after

    def __str__(self):
        head = (f"remat: budget {self.budget} bytes, arena {self.arena_before} -> {self.arena_after} bytes "
                f"({self.method}, {self.evaluations} plans tried), {len(self.tensors)} tensors recomputed, "
                f"{self.added_flops} FLOPs added")
        return "\n".join([head] + [f"  recompute {name}" for name in self.tensors]) + "\n"


def node_flops(node):
    """Rough floating-point operations of one node: 2*M*N*K for products, output elements otherwise."""
    out = sum(int(np.prod(t.shape)) for t in node.outputs)
    if node.op.startswith("matmul") and len(node.inputs) >= 2 and out:
        a = int(np.prod(node.inputs[0].shape))
        n = int(node.outputs[0].shape[-1]) if node.outputs[0].shape else 1
        return 2 * out * max(1, a * n // out)  # a * n / out is the contracted length K
    if node.op.startswith("conv") and len(node.inputs) >= 2:
        w = node.inputs[1]
        per_output = int(np.prod(w.shape)) // max(1, int(w.shape[0]))
        return 2 * out * max(1, per_output)
    return max(out, sum(int(np.prod(t.shape)) for t in node.inputs if t.shape is not None))


def _recomputable(node):
    """Whether a copy of `node` computes the same values later: pure kernel ops only."""
    d = node.opdef
    return not (d.pattern == Pattern.SOURCE or d.stateful or d.host or d.writes_input is not None
                or node.control_inputs)


@dataclass
class _Candidate:
    tensor: object
    split: int      # readers at positions after this read the recomputed copy
    nbytes: int
    flops: int


def _candidates(graph, fetches):
    """Tensors worth dropping: made by a recomputable node, not fetched, read again long after their
    early uses (the split is the largest gap between consecutive uses)."""
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    readers = {}
    for i, n in enumerate(graph.nodes):
        for t in n.opdef.data_inputs(n):
            readers.setdefault(id(t), []).append(i)
    fetched = {id(t) for t in fetches}
    found, splits = [], {}
    for n in graph.nodes:
        if not _recomputable(n):
            continue
        for t in n.outputs:
            uses = sorted(set(readers.get(id(t), [])))
            if id(t) in fetched or not uses:
                continue
            points = [position[id(n)]] + uses
            gap, k = max((points[j + 1] - points[j], j) for j in range(len(points) - 1))
            if gap > MIN_GAP:
                splits[id(t)] = points[k]

    def chain_flops(node, depth=0):
        """The node's FLOPs and those of the short-lived inputs a copy would recompute with it."""
        inputs = [u.node for u in node.opdef.data_inputs(node)
                  if _recomputable(u.node) and id(u) not in splits and id(u) not in fetched]
        return node_flops(node) + (sum(chain_flops(m, depth + 1) for m in inputs) if depth < 8 else 0)

    for n in graph.nodes:
        for t in n.outputs:
            if id(t) in splits:
                found.append(_Candidate(t, splits[id(t)], t.dtype.np.itemsize * int(np.prod(t.shape)),
                                        chain_flops(n)))
    return found


class _Infeasible(Exception):
    """A copy would read a variable after an assignment to it."""


def apply_remat(graph, fetches, dropped):
    """The graph with each tensor in `dropped` ({id: _Candidate}) recomputed for its late readers.
    A copy reads an input where it is still alive at that point, else recomputes it too (a chain back
    to live tensors). Returns (graph, fetches, names of the copies); raises _Infeasible for a plan
    that cannot be exact (a copy reading a variable after an assignment to it)."""
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    last_read, first_write = {}, {}
    for i, n in enumerate(graph.nodes):
        for t in n.opdef.data_inputs(n):
            last_read[id(t)] = i
        if n.opdef.writes_input is not None:
            first_write.setdefault(id(n.inputs[n.opdef.writes_input]), i)
    for t in fetches:
        last_read[id(t)] = len(graph.nodes)
    copies, copy_names = {}, []   # original tensor id -> its copy in the new graph

    def alive(u, at):
        """Whether the original `u` is still held at position `at` of the rematerialized graph."""
        if not _recomputable(u.node):
            return True
        return dropped[id(u)].split >= at if id(u) in dropped else last_read.get(id(u), -1) >= at

    def recomputed(t, tensors, g, at):
        # a cheap elementwise copy is made again for each reader, so fusion puts it in that reader's
        # kernel and it never takes arena space; other copies are made once and shared
        key = (id(t), at) if t.node.opdef.pattern in CHEAP else id(t)
        if key in copies:
            return copies[key]
        node = t.node
        inputs = []
        for u in node.inputs:
            if first_write.get(id(u), at) < at:
                raise _Infeasible(f"{node.name} reads {u.name} after it is assigned")
            inputs.append(tensors[id(u)] if alive(u, at) else recomputed(u, tensors, g, at))
        new = g.create_node(node.op, inputs, node.attrs, PREFIX + node.name)
        copy_names.append(new.name)
        for old, nt in zip(node.outputs, new.outputs):
            copies[key if old is t else (id(old), at) if old.node.opdef.pattern in CHEAP else id(old)] = nt
        return copies[key]

    def rule(node, inputs, g):
        at = position[id(node)]
        data = {id(t) for t in node.opdef.data_inputs(node)}
        late = [k for k, t in enumerate(node.inputs)
                if id(t) in dropped and id(t) in data and at > dropped[id(t)].split]
        if not late:
            return None
        inputs = list(inputs)
        for k in late:
            inputs[k] = recomputed(node.inputs[k], state["tensors"], g, at)
        controls = [state["nodes"][id(c)] for c in node.control_inputs if id(c) in state["nodes"]]
        return g.create_node(node.op, inputs, node.attrs, node.name, control_inputs=controls).outputs

    state = {"tensors": {}, "nodes": {}}
    new_graph, new_fetches = _rebuild_tracking(graph, fetches, rule, state)
    new_graph, new_fetches = dce(new_graph, new_fetches)
    kept = {n.name for n in new_graph.nodes}
    return new_graph, new_fetches, [name for name in copy_names if name in kept]


def _rebuild_tracking(graph, fetches, rule, state):
    """rebuild(), letting `rule` see the new tensors and nodes made so far (for the copies' inputs)."""
    def tracking_rule(node, inputs, g):
        for old, new in zip(node.inputs, inputs):
            state["tensors"][id(old)] = new
        for c in node.control_inputs:
            found = g._by_name.get(c.name)
            if found is not None:
                state["nodes"][id(c)] = found
        return rule(node, inputs, g)
    return rebuild(graph, fetches, tracking_rule)


def _nbytes(t):
    return t.dtype.np.itemsize * int(np.prod(t.shape))


def memory_order(graph, fetches):
    """The graph's nodes in an order that ends lives early: among the nodes whose inputs exist, one that
    frees at least as many bytes as it allocates (a weight gradient reading the last use of an
    activation) runs first; otherwise the graph's own order is kept. An assignment still runs after
    every read of its variable placed before it."""
    nodes = graph.nodes
    position = {id(n): i for i, n in enumerate(nodes)}
    readers = {}
    for n in nodes:
        for t in n.opdef.data_inputs(n):
            readers.setdefault(id(t), set()).add(id(n))
    fetched = {id(t) for t in fetches}
    free = set()  # outputs that never take arena space: fetched, or only fed elementwise into writes
    for n in reversed(nodes):
        for t in n.outputs:
            rs = [nodes[position[r]] for r in readers.get(id(t), ())]
            if id(t) in fetched or n.opdef.writes_input is not None or (rs and all(r.opdef.writes_input is not None or (
                    r.opdef.pattern in (Pattern.ELEMWISE, Pattern.BROADCAST) and all(id(o) in free for o in r.outputs))
                    for r in rs)):
                free.add(id(t))
    deps = {id(n): {id(t.node) for t in n.inputs} | {id(c) for c in n.control_inputs} for n in nodes}
    for i, n in enumerate(nodes):  # a write waits for the reads of its variable placed before it
        if n.opdef.writes_input is not None:
            var = n.inputs[n.opdef.writes_input]
            deps[id(n)] |= {r for r in readers.get(id(var), ()) if position[r] < i}
            deps[id(n)] |= {id(m) for m in nodes[:i] if any(t is var for t in m.inputs)}
    waiting = {id(n): len(deps[id(n)]) for n in nodes}
    dependents = {}
    for n in nodes:
        for d in deps[id(n)]:
            dependents.setdefault(d, []).append(id(n))
    unread = {t: len(rs) for t, rs in readers.items()}

    def net(n):
        """Bytes freed minus bytes allocated by running `n` now."""
        freed = sum(_nbytes(t) for t in {id(t): t for t in n.opdef.data_inputs(n)}.values()
                    if unread[id(t)] == 1 and id(t) not in fetched and t.node.opdef.pattern != Pattern.SOURCE)
        return freed - sum(_nbytes(t) for t in n.outputs if id(t) not in free)

    ready = sorted(position[id(n)] for n in nodes if waiting[id(n)] == 0)
    order = []
    while ready:
        sources = [i for i in ready if nodes[i].opdef.pattern == Pattern.SOURCE]  # no arena space
        gains = [(net(nodes[i]), i) for i in ready] if not sources else []
        best = max((g for g in gains if g[0] >= 0 and g[0] + _allocated(nodes[g[1]], free) > 0),
                   key=lambda g: (g[0], -g[1]), default=None)
        i = sources[0] if sources else best[1] if best else ready[0]
        ready.remove(i)
        n = nodes[i]
        order.append(n)
        for t in n.opdef.data_inputs(n):
            unread[id(t)] -= 1
        for d in dependents.get(id(n), ()):
            waiting[d] -= 1
            if waiting[d] == 0:
                ready.append(position[d])
        ready.sort()
    if [id(n) for n in order] == [id(n) for n in nodes]:
        return graph, fetches
    return rebuild(graph, fetches, nodes=order)


def _allocated(node, free):
    return sum(_nbytes(t) for t in node.outputs if id(t) not in free)


def _recompute_flops(graph, names):
    by_name = {n.name: n for n in graph.nodes}
    return sum(node_flops(by_name[name]) for name in names)


def remat(graph, fetches, budget, arena_of):
    """Rematerialize until `arena_of(graph, fetches, late_names) -> bytes` is at most `budget`.

    Returns (graph, fetches, RematReport). `late_names` (the copies; None for the graph as given) tells
    the planner's fusion to keep them out of the kernels of earlier nodes and to order kernels by
    where their results are made (see graphc/analysis/fusion.py)."""
    base = arena_of(graph, fetches, None)
    report = RematReport(int(budget), base, base)
    report.evaluations = 1
    if base <= budget:
        return graph, fetches, report
    graph, fetches = memory_order(graph, fetches)
    best = (arena_of(graph, fetches, []), graph, fetches, [], {})
    report.evaluations += 1
    report.method = "reorder"
    candidates = _candidates(graph, fetches)

    def evaluate(dropped):
        try:
            g, f, names = apply_remat(graph, fetches, dropped)
        except _Infeasible:
            return None
        report.evaluations += 1
        return arena_of(g, f, names), g, f, names, dropped

    # greedy by size, largest first: a whole size class at once when that shrinks the arena, else its
    # tensors one by one, cheapest recomputation per byte first, each kept unless the arena grows;
    # then the ones the budget does not need are dropped again (most FLOPs first)
    chosen, current = [], best
    sizes = sorted({c.nbytes for c in candidates}, reverse=True)
    for nbytes in sizes:
        if current[0] <= budget:
            break
        same = sorted((c for c in candidates if c.nbytes == nbytes), key=lambda c: c.flops / max(1, c.nbytes))
        if len(same) > 1:
            result = evaluate({id(k.tensor): k for k in chosen + same})
            if result is not None and result[0] < current[0]:
                chosen, current = chosen + same, result
                continue
        for c in same:
            if current[0] <= budget:
                break
            result = evaluate({id(k.tensor): k for k in chosen + [c]})
            if result is not None and result[0] <= current[0]:
                chosen, current = chosen + [c], result
    for c in sorted(candidates, key=lambda c: c.flops / max(1, c.nbytes)):  # the rest, across sizes
        if current[0] <= budget:
            break
        if c in chosen:
            continue
        result = evaluate({id(k.tensor): k for k in chosen + [c]})
        if result is not None and result[0] <= current[0]:
            chosen, current = chosen + [c], result
    if current[0] <= budget:
        for c in sorted(chosen, key=lambda c: -c.flops):
            rest = [k for k in chosen if k is not c]
            result = evaluate({id(k.tensor): k for k in rest})
            if result is not None and result[0] <= budget:
                chosen, current = rest, result
    if current[0] < best[0]:
        best = current
    if best[0] > budget:  # sqrt(n) segments and their neighbours: keep every k-th candidate, drop the rest
        by_position = sorted(candidates, key=lambda c: c.split)
        n = len(by_position)
        root = max(1, round(math.sqrt(n)))
        for k in sorted({max(1, root // 2), max(1, root - 1), root, root + 1, 2 * root, n + 1}):
            result = evaluate({id(c.tensor): c for j, c in enumerate(by_position) if j % k})
            if result is not None and result[0] < best[0]:
                best = result
                report.method = f"segments of {k}"
    arena, graph, fetches, names, dropped = best
    if arena > budget:
        raise RematError(f"no rematerialization plan fits the memory budget of {int(budget)} bytes: the "
                         f"smallest arena found is {arena} bytes (unconstrained: {base} bytes, "
                         f"{report.evaluations} plans tried); raise memory_budget to at least {arena}")
    report.arena_after = arena
    if report.method == "reorder" and names:
        report.method = "greedy"
    report.copies = list(names)
    report.tensors = sorted({c.tensor.node.name for c in dropped.values()})
    report.added_flops = _recompute_flops(graph, names)
    return graph, fetches, report
