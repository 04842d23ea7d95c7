"""Tensor fusion for allreduce (as Horovod's): allreduces of one dtype and op are grouped, in the order
their inputs are computed, into buckets of at most `fusion_bytes` (an attribute each allreduce carries).
Each bucket becomes `allreduce_start` (pack, start a non-blocking MPI allreduce), placed just after the
bucket's last input is computed, and `allreduce_wait` (wait, unpack), placed just before the first use of
any of its results: the rest of the backward pass runs while the bucket is in flight. The flat buffer
between the two is an ordinary intermediate, so the memory plan keeps it alive while MPI uses it.

Kernel order follows graph order (passes/fusion.py sorts groups by their first node), so the pass moves
nodes (`rebuild` only replaces nodes in place, hence the loop of its own), and it moves the updates that
wait for allreduced gradients after the rest of the backward pass.
"""
import math
from dataclasses import dataclass, field

from graphc.graph import Graph


@dataclass
class _Bucket:
    members: list = field(default_factory=list)
    nbytes: int = 0
    ready: int = -1        # index of the node computing the bucket's last input
    first_use: int = 1 << 60  # index of the first node reading one of its results


def _fusable(node):
    if node.op != "allreduce" or node.control_inputs:
        return False
    shape = node.inputs[0].shape
    return shape is not None and None not in shape


def _buckets(nodes):
    """Buckets of fusable allreduce nodes, each listing its members in the order they become ready."""
    index = {id(n): i for i, n in enumerate(nodes)}
    first_use = {}
    for i, n in enumerate(nodes):
        for t in list(n.inputs):
            first_use.setdefault(id(t.node), i)
        for c in n.control_inputs:
            first_use.setdefault(id(c), i)
    reduces = sorted((n for n in nodes if _fusable(n)), key=lambda n: index[id(n.inputs[0].node)])
    buckets, open_bucket = [], {}
    for n in reduces:
        t, ready = n.inputs[0], index[id(n.inputs[0].node)]
        nbytes = math.prod(t.shape) * t.dtype.np.itemsize
        key = (t.dtype.name, n.attrs["op"])
        b = open_bucket.get(key)
        # a new bucket when this one is full, or when a result of it is needed before this input is ready
        if b is None or b.nbytes + nbytes > n.attrs["fusion_bytes"] or ready >= b.first_use:
            b = open_bucket[key] = _Bucket()
            buckets.append(b)
        b.members.append(n)
        b.nbytes += nbytes
        b.ready = max(b.ready, ready)
        b.first_use = min(b.first_use, first_use.get(id(n), len(nodes)))
    return buckets


def fuse_allreduce(graph, fetches):
    """The graph with its allreduces replaced by bucketed allreduce_start/allreduce_wait pairs."""
    if not any(_fusable(n) for n in graph.nodes):
        return graph, fetches
    nodes = _updates_last(graph.nodes)
    buckets = _buckets(nodes)
    starts_after, waits_before = {}, {}
    for b in buckets:
        starts_after.setdefault(b.ready, []).append(b)
        waits_before.setdefault(b.first_use, []).append(b)
    members = {id(m) for b in buckets for m in b.members}
    g = Graph()
    g.seed = graph.seed
    tensors, node_map, flat = {}, {}, {}
    with g.as_default():
        for i in range(len(nodes) + 1):
            for b in waits_before.get(i, []):
                k = buckets.index(b)
                attrs = {"op": b.members[0].attrs["op"], "bucket": k,
                         "shapes": [tuple(m.inputs[0].shape) for m in b.members]}
                wait = g.create_node("allreduce_wait", [flat[k]], attrs, f"allreduce_bucket{k}/wait")
                for m, t in zip(b.members, wait.outputs):
                    tensors[id(m.outputs[0])] = t
                    node_map[id(m)] = wait
            if i == len(nodes):
                break
            n = nodes[i]
            if id(n) not in members:
                controls = [node_map[id(c)] for c in n.control_inputs if id(c) in node_map]
                new = g.create_node(n.op, [tensors[id(t)] for t in n.inputs], n.attrs, n.name, control_inputs=controls)
                node_map[id(n)] = new
                tensors.update((id(old), t) for old, t in zip(n.outputs, new.outputs))
            for b in starts_after.get(i, []):
                k = buckets.index(b)
                start = g.create_node("allreduce_start", [tensors[id(m.inputs[0])] for m in b.members],
                                      {"op": b.members[0].attrs["op"], "bucket": k}, f"allreduce_bucket{k}/start")
                flat[k] = start.outputs[0]
    return g, [tensors[id(t)] for t in fetches]


def _updates_last(nodes):
    """`nodes` with the allreduces, what needs their results and what writes a variable (the optimizer's
    updates) moved after all others, each part in its order: the backward pass then runs while buckets are
    in flight. Every write stays after the reads that came before it (specialize's read-before-write)."""
    late = set()
    for n in nodes:
        if (_fusable(n) or n.opdef.writes_input is not None
                or any(id(t.node) in late for t in n.inputs) or any(id(c) in late for c in n.control_inputs)):
            late.add(id(n))
    return [n for n in nodes if id(n) not in late] + [n for n in nodes if id(n) in late]
