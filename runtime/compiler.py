"""The compile path: specialize -> passes -> fusion groups -> TVM kernels -> Plan -> Executable.

Imported by Session when it compiles; loading an artifact never imports this module.
"""
import numpy as np

from graphc.registry import Pattern

from .executor import Executor
from .plan import CONST, FEED, TEMP, VARIABLE, Buffer, Call, Plan


class Executable:
    """A compiled (fetches, feeds) signature: its plan, its TVM module and, once run, an executor."""

    def __init__(self, plan, module, kernels=None, graph=None, fetches=None):
        self.plan = plan
        self.module = module
        self.kernels_info = kernels or []
        self.graph = graph          # the optimized, specialized graph (for inspection)
        self.fetches = fetches
        self._executor = None

    @property
    def executor(self):
        if self._executor is None:
            self._executor = Executor(self.plan, self.module)
        return self._executor

    def run(self, feeds, variables=None):
        """Run once with `feeds` (arrays in feed order); returns the fetched arrays."""
        return self.executor.run(feeds, variables)

    @property
    def num_kernels(self):
        return len(self.plan.calls)

    @property
    def kernels(self):
        """Kernel names; each names the ops fused into it."""
        return [c.kernel for c in self.plan.calls]

    @property
    def arena_bytes(self):
        """Bytes of the one arena holding every planned intermediate buffer."""
        return self.plan.arena_bytes

    @property
    def unplanned_bytes(self):
        """Bytes all intermediate buffers would take without reuse."""
        from graphc.passes.memory import unplanned_bytes
        return unplanned_bytes(self.plan)

    def profile(self, feeds, repeat=10):
        """Mean seconds per kernel over `repeat` runs, as {kernel name: seconds}; `feeds` in feed order."""
        import time
        ex = self.executor
        feeds = list(feeds.values()) if isinstance(feeds, dict) else list(feeds)
        feeds = [np.require(np.asarray(v, dtype=b.dtype), requirements="C") for v, b in zip(feeds, self.plan.feeds)]
        ex.run(feeds)  # binds the feeds and warms up
        totals = [0.0] * len(ex.funcs)
        for _ in range(repeat):
            for k, (f, args) in enumerate(zip(ex.funcs, ex.calls)):
                t0 = time.perf_counter()
                f(*[ex.buffers[i] for i in args])
                totals[k] += time.perf_counter() - t0
        return {name: total / repeat for name, total in zip(self.kernels, totals)}


def build_plan(graph, fetches, groups, kernels, target):
    """Number every buffer the kernels and fetches touch, and list the kernel calls in order."""
    buffers, ids = [], {}

    def buffer_of(t):
        if id(t) in ids:
            return ids[id(t)]
        node = t.node
        if node.op == "placeholder":
            kind, extra = FEED, {"feed_index": node.attrs["feed_index"]}
        elif node.op == "constant":
            kind, extra = CONST, {}
        elif node.opdef.pattern == Pattern.SOURCE and "var_name" in node.attrs:
            kind, extra = VARIABLE, {"var_name": node.attrs["var_name"]}
        else:
            kind, extra = TEMP, {}
        b = Buffer(len(buffers), tuple(int(d) for d in t.shape), t.dtype.name, kind, t.name, **extra)
        buffers.append(b)
        ids[id(t)] = b.id
        return b.id

    for n in graph.nodes:  # every feed gets a buffer, fetched or not, so feeds keep their order
        if n.op == "placeholder":
            buffer_of(n.outputs[0])
    calls = [Call(k.name, [buffer_of(t) for t in k.inputs] + [buffer_of(t) for t in k.outputs])
             for k in kernels]
    fetch_ids = [buffer_of(t) for t in fetches]
    constants = {b.id: graph.get_tensor_by_name(b.name).node.attrs["value"]
                 for b in buffers if b.kind == CONST}
    return Plan(target, buffers, calls, fetch_ids, constants)


def compile_graph(graph, fetches, target="cpu", opt_level=3, side_effects=()):
    """Compile a specialized graph's fetches (and stateful `side_effects` nodes) into an Executable."""
    from graphc.codegen.build import build_module, kernel_name, lower_group
    from graphc.passes.fusion import fuse_groups

    graph, fetches, side_effects = _optimize_keeping(graph, list(fetches), list(side_effects), opt_level)
    groups = fuse_groups(graph, list(fetches) + [t for n in side_effects for t in n.outputs], opt_level)
    _dump_groups(graph, fetches, groups)
    live = _live_tensors(groups, list(fetches) + [t for n in side_effects for t in n.outputs])
    kernels = [lower_group(kernel_name(i, g), g, live, target) for i, g in enumerate(groups)]
    kernels = [k for k in kernels if k.outputs]
    module = build_module(kernels, target) if kernels else None
    plan = build_plan(graph, fetches, groups, kernels, target)
    if opt_level >= 1:
        from graphc.passes.memory import plan_memory
        plan_memory(plan, kernels)
    return Executable(plan, module, kernels, graph, fetches)


def _optimize_keeping(graph, fetches, side_effects, opt_level):
    """Run the pass pipeline, keeping stateful side-effect nodes (tracked through their outputs)."""
    from graphc.passes import optimize
    if any(not n.outputs for n in side_effects):
        return graph, fetches, side_effects  # nothing to track them by: leave the graph as is
    extra = [n.outputs[0] for n in side_effects]
    graph, outs = optimize(graph, fetches + extra, opt_level)
    return graph, outs[:len(fetches)], [t.node for t in outs[len(fetches):]]


def _dump_groups(graph, fetches, groups):
    """With GRAPHC_DUMP set, also draw the fused kernels of the final graph."""
    import os
    dump_dir = os.environ.get("GRAPHC_DUMP")
    if dump_dir:
        from graphc.passes.manager import dump_graph
        os.makedirs(dump_dir, exist_ok=True)
        dump_graph(graph, fetches, os.path.join(dump_dir, "99_fused"), groups)


def _live_tensors(groups, fetches):
    """Ids of tensors read outside the group that makes them, or fetched."""
    group_of = {id(n): i for i, g in enumerate(groups) for n in g}
    live = {id(t) for t in fetches}
    for i, g in enumerate(groups):
        for n in g:
            for t in n.inputs:
                if group_of.get(id(t.node), -1) != i:
                    live.add(id(t))
    return live
