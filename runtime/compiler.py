"""The compile path: specialize -> passes -> fusion groups -> TVM kernels -> Plan -> Executable.

Imported by Session when it compiles; loading an artifact never imports this module.
"""
import warnings

import numpy as np

from graphc.errors import CompileError

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
        self.groups, self.pass_records, self.feed_tensors = [], [], []
        self.output_names = []

    @property
    def executor(self):
        if self._executor is None:
            self._executor = Executor(self.plan, self.module)
        return self._executor

    def run(self, feeds, variables=None):
        """Run once with `feeds` (arrays in feed order, or a feed_dict); returns the fetched arrays."""
        if isinstance(feeds, dict):
            from .session import check_feed
            by_name = {getattr(k, "name", k): v for k, v in feeds.items()}
            feeds = [check_feed(t, by_name[t.name] if t.name in by_name else by_name[t.name.split(":")[0]])
                     for t in self.feed_tensors]
        return self.executor.run(feeds, variables)

    def export(self, path):
        """Write this executable to a deployable artifact file (see runtime/artifact.py)."""
        from .artifact import export_executable
        inputs = [(t.name.split(":")[0], tuple(b.shape), b.dtype) for t, b in zip(self.feed_tensors, self.plan.feeds)]
        outputs = [(n, tuple(b.shape), b.dtype) for n, b in
                   zip(self.output_names, (self.plan.buffers[i] for i in self.plan.fetches))]
        return export_executable(self, path, inputs, outputs)

    def inspect_source(self):
        """The generated device source: CUDA C for a GPU target, LLVM IR for a CPU one."""
        if self.module is None:
            return ""
        mod = getattr(self.module, "mod", self.module)  # a tvm.compile Executable wraps the runtime module
        device = [m for m in mod.imports if m.kind != "library"] if hasattr(mod, "imports") else []
        if device:
            return "\n".join(m.inspect_source() for m in device)
        try:
            return mod.inspect_source("ll")
        except Exception as e:  # noqa: BLE001 (a library loaded from the kernel cache keeps no source)
            raise RuntimeError("these kernels were loaded from a compiled library (the kernel cache or an "
                               "artifact), which keeps no source; compile with the cache off to inspect") from e

    @property
    def num_kernels(self):
        return len(self.plan.calls)

    @property
    def kernels(self):
        """Kernel names; each names the ops fused into it."""
        return [c.kernel for c in self.plan.calls]

    @property
    def arena_bytes(self):
        """Bytes of the one arena that holds every planned intermediate."""
        return self.plan.arena_bytes

    @property
    def unplanned_bytes(self):
        """Bytes the intermediates would take, each in a buffer of its own."""
        fetched = set(self.plan.fetches)
        return sum(b.nbytes for b in self.plan.buffers if b.kind == TEMP and b.id not in fetched)

    def profile(self, feeds, repeat=10, variables=None):
        """Mean seconds per kernel over `repeat` runs: {kernel name: seconds}. `feeds` is a
        feed_dict (as given to Session.run) or a list of arrays in feed order."""
        if isinstance(feeds, dict):
            from .session import check_feed
            feeds = [check_feed(t, feeds[t]) for t in self.feed_tensors]
        return self.executor.profile(feeds, repeat, variables)


def compile(fetches, feeds, target="cpu", opt_level=3, session=None, output_names=None):
    """Compile `fetches` (a tensor, a list, or {output name: tensor}) for `feeds` ({placeholder:
    example array or (shape, dtype)}) into an Executable; variables read take their current values
    in `session` as constants (a trained model's weights)."""
    from graphc import dtypes
    from graphc.passes.specialize import specialize
    if isinstance(fetches, dict):
        output_names, fetches = output_names or list(fetches), list(fetches.values())
    single = not isinstance(fetches, (list, tuple))
    fetches = [fetches] if single else list(fetches)
    specs = {}
    for t, v in feeds.items():
        shape, dtype = v if isinstance(v, tuple) else (np.shape(v), np.asarray(v).dtype)
        specs[t] = (tuple(int(d) for d in shape), dtypes.as_dtype(dtype))
    g, mapping, _ = specialize(fetches, specs, [])
    exe = compile_graph(g, [mapping[id(t)] for t in fetches], target, opt_level)
    exe.feed_tensors = list(feeds)
    exe.output_names = output_names or [t.name.split(":")[0] if t.name.endswith(":0") else t.name for t in fetches]
    if exe.plan.variable_reads:
        _freeze_variables(exe.plan, session)
    return exe


def _freeze_variables(plan, session):
    """Turn the plan's variable buffers into constants holding their values in `session`."""
    from graphc.errors import FailedPreconditionError
    if session is None or plan.variable_writes:
        raise FailedPreconditionError(f"the fetches read variables {plan.variable_reads}: pass session= (a "
                                      "Session holding their values) to compile them in as constants, "
                                      "and fetch no op that assigns them")
    for b in plan.buffers:
        if b.kind == VARIABLE:
            if b.var_name not in session.initialized:
                raise FailedPreconditionError(f"variable '{b.var_name}' is uninitialized in the session")
            plan.constants[b.id] = session.variables[b.var_name].numpy()
            b.kind, b.var_name = CONST, ""
    plan.variable_reads = []


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
    for k in kernels:  # an op that writes an input in place shares that input's buffer
        for n in k.nodes:
            if n.opdef.writes_input is not None:
                ids[id(n.outputs[0])] = buffer_of(n.inputs[n.opdef.writes_input])
    calls = [Call(k.name, [buffer_of(t) for t in k.inputs] + [buffer_of(t) for t in k.outputs], len(k.inputs))
             for k in kernels]
    fetch_ids = [buffer_of(t) for t in fetches]
    constants = {b.id: graph.get_tensor_by_name(b.name).node.attrs["value"]
                 for b in buffers if b.kind == CONST}
    reads, writes = _variable_access(kernels, fetches)
    return Plan(target, buffers, calls, fetch_ids, constants, variable_reads=reads, variable_writes=writes)


def _variable_access(kernels, fetches):
    """(variables read, variables overwritten whole by `assign`) by the kernels, as names."""
    reads, writes = set(), set()
    for k in kernels:
        for n in k.nodes:
            for i, t in enumerate(n.inputs):
                if t.node.op == "variable" and not (n.op == "assign" and i == 0):
                    reads.add(t.node.attrs["var_name"])
            if n.op == "assign":
                writes.add(n.inputs[0].node.attrs["var_name"])
    for t in fetches:
        if t.node.op == "variable":
            reads.add(t.node.attrs["var_name"])
    return sorted(reads), sorted(writes)


def compile_graph(graph, fetches, target="cpu", opt_level=3, side_effects=None):
    """Compile a specialized graph's fetches (and its stateful ops) into an Executable for `target` (a
    codegen Target, or 'cpu'/'cuda')."""
    from graphc.codegen.build import build_module, check_storage_only, kernel_name, lower_group
    from graphc.codegen.target import get_target
    from graphc.passes import optimize
    from graphc.passes.fusion import fuse_groups

    target = get_target(target)
    records = []
    graph, fetches = optimize(graph, fetches, opt_level, records=records, target_passes=target.passes)
    side_effects = [n for n in graph.nodes if n.opdef.stateful and n.opdef.pattern != Pattern.SOURCE]
    def build(groups):
        live = _live_tensors(groups, list(fetches) + [t for n in side_effects for t in n.outputs])
        # nothing to compute: no output used (dead), or every used output is empty (a 0 extent breaks schedules)
        groups = [g for g in groups if any(id(t) in live and 0 not in t.shape for n in g for t in n.outputs)]
        kernels = [lower_group(kernel_name(i, g), g, live, target) for i, g in enumerate(groups)]
        return groups, kernels, (build_module(kernels, target) if kernels else None)

    for n in graph.nodes:  # a dtype error is the user's to fix, not a codegen failure to fall back from
        check_storage_only(n)
    try:
        groups, kernels, module = build(fuse_groups(graph, fetches, opt_level))
    except CompileError as e:
        if opt_level < 1:
            raise
        # A fused kernel can hit a TVM/LLVM codegen bug (seen: "Instruction does not dominate all
        # uses" in a vectorized attention kernel); one op per kernel still gives the right answer.
        warnings.warn(f"graphc: fused kernels failed to build, compiling one op per kernel: {e}")
        groups, kernels, module = build(fuse_groups(graph, fetches, opt_level=0))
    plan = build_plan(graph, fetches, groups, kernels, target.kind)
    if opt_level >= 1:
        _plan_arena(plan, kernels)
    exe = Executable(plan, module, kernels, graph, fetches)
    exe.groups, exe.pass_records = groups, records
    return exe


def _plan_arena(plan, kernels):
    """Place the plan's unfetched intermediates in one arena (passes/memory.py)."""
    from graphc.passes.memory import plan_memory
    fetched = set(plan.fetches)
    temps = {b.id: b.nbytes for b in plan.buffers if b.kind == TEMP and b.id not in fetched}
    calls = [(c.args[:c.num_inputs], c.args[c.num_inputs:]) for c in plan.calls]
    in_place = {i for i, k in enumerate(kernels)
                if all(n.opdef.pattern == Pattern.ELEMWISE and not n.opdef.stateful for n in k.nodes)}
    offsets, plan.arena_bytes = plan_memory(calls, temps, in_place)
    for b in plan.buffers:
        if b.id in offsets:
            b.offset = offsets[b.id]


def _live_tensors(groups, fetches):
    """Ids of tensors read outside the group that makes them, or fetched."""
    group_of = {id(n): i for i, g in enumerate(groups) for n in g}
    live = {id(t) for t in fetches}
    for i, g in enumerate(groups):
        for n in g:
            for t in n.opdef.data_inputs(n):
                if group_of.get(id(t.node), -1) != i:
                    live.add(id(t))
    return live
