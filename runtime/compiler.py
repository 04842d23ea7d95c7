"""The compile driver: specialize -> optimize -> fuse -> lower -> schedule -> build -> plan -> arena ->
Executable (compile_fetches), each stage timed in Executable.stage_records and, with GRAPHC_DUMP=dir,
dumped like a pass. The opt_level is interpreted here only (opt_options).

Imported by Session when it compiles; loading an artifact never imports this module.
"""
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

from graphc.errors import CompileError

from graphc.registry import Pattern

from .executor import ExecutorPool
from graphc.host import release_freed_memory
from .plan import CONST, FEED, TEMP, VARIABLE, Buffer, Call, Plan


class Executable:
    """A compiled (fetches, feeds) signature: its plan, its TVM module and, once run, an executor."""

    def __init__(self, plan, module, kernels=None, graph=None, fetches=None, groups=(), pass_records=(),
                 stage_records=(), feed_tensors=(), output_names=()):
        self.plan = plan
        self.module = module
        self.kernels_info = kernels or []
        self.graph = graph          # the optimized, specialized graph (for inspection)
        self.fetches = fetches
        self.groups, self.pass_records, self.stage_records = list(groups), list(pass_records), list(stage_records)
        self.feed_tensors = list(feed_tensors)  # the fed placeholders, in feed order
        self.output_names = list(output_names)
        self._num_threads = None
        self.executors = ExecutorPool(plan, module)  # one executor per concurrent run
        self.random_counters = []   # names of the random ops' run counters, fed after feed_tensors
        self.remat = None           # passes/remat.py's RematReport when compiled with a memory_budget
        self.checked = False        # kernels built with TVM's argument checks (compile(): for artifacts)

    @property
    def num_threads(self):
        """Threads its kernels run on; None: the process default."""
        return self._num_threads

    @num_threads.setter
    def num_threads(self, value):
        self._num_threads = self.executors.num_threads = value

    @property
    def executor(self):
        """An executor of this plan for inspection and profiling (runs go through the pool)."""
        executor = self.executors.acquire()
        self.executors.release(executor)
        return executor

    def run(self, feeds, variables=None, trace=None):
        """Run once with `feeds` (arrays in feed order, or a feed_dict); returns the fetched arrays
        (`trace`: a list that receives each kernel call's timing, see Executor.run)."""
        if isinstance(feeds, dict):
            from .feeds import check_feed
            by_name = {getattr(k, "name", k): v for k, v in feeds.items()}
            feeds = [check_feed(t, by_name[t.name] if t.name in by_name else by_name[t.name.split(":")[0]])
                     for t in self.feed_tensors] + self._first_counters()
        return self.executors.run(feeds, variables, trace)

    def _first_counters(self):
        """Run counters for a run outside a Session: every random op draws its first values."""
        return [np.array(0, np.int64) for _ in self.random_counters]

    def export(self, path, sign_key=None):
        """Write this executable to a deployable artifact file (see runtime/artifact.py), signed with
        `sign_key` (an Ed25519 private key or its PEM file) if given."""
        from .artifact import export_executable
        inputs = [(t.name.split(":")[0], tuple(b.shape), b.dtype) for t, b in zip(self.feed_tensors, self.plan.feeds)]
        fetched = [self.plan.buffers[i] for i in self.plan.fetches]
        names = self.output_names if len(self.output_names) == len(fetched) else \
            [f"output_{k}" for k in range(len(fetched))]  # compiled by a Session: its fetches are unnamed
        outputs = [(n, tuple(b.shape), b.dtype) for n, b in zip(names, fetched)]
        return export_executable(self, path, inputs, outputs, sign_key)

    def inspect_source(self):
        """The generated device source: CUDA C for a GPU target, LLVM IR for a CPU one."""
        if self.module is None:
            return ""
        return _module_source(self.module) or _module_source(self._module_in_memory())

    def checked_module(self):
        """The kernel library with TVM's argument checks, as an artifact carries it: this module, or the
        same kernels built again with checks (a Session's kernels are built without them)."""
        if self.checked or self.module is None:
            return self.module
        from graphc.codegen.build import build_module, cached_module
        compiled = [k for k in self.kernels_info if k.func is not None]
        key, module = cached_module(compiled, self.plan.target, checked=True)
        return module or build_module(compiled, self.plan.target, key, checked=True)

    def _module_in_memory(self):
        """The kernels built again in memory: a library loaded from the kernel cache keeps no source."""
        from graphc.codegen.build import build_module
        return build_module([k for k in self.kernels_info if k.func is not None], self.plan.target)

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
        """Mean seconds per run in each kernel over `repeat` runs: {kernel name: seconds}, the calls of a
        kernel several ops share summed. `feeds` is a
        feed_dict (as given to Session.run) or a list of arrays in feed order."""
        if isinstance(feeds, dict):
            from .feeds import check_feed
            feeds = [check_feed(t, feeds[t]) for t in self.feed_tensors] + self._first_counters()
        executor = self.executors.acquire()
        try:
            return executor.profile(feeds, repeat, variables)
        finally:
            self.executors.release(executor)


def _module_source(module):
    """A built module's source (device code if it has any, else LLVM IR), or "" for a loaded library."""
    mod = getattr(module, "mod", module)  # a tvm.compile Executable wraps the runtime module
    device = [m for m in mod.imports if m.kind != "library"] if hasattr(mod, "imports") else []
    if device:
        return "\n".join(m.inspect_source() for m in device)
    try:
        return mod.inspect_source("ll")
    except Exception:  # noqa: BLE001 (a loaded shared library keeps no source)
        return ""


def compile(fetches, feeds, target="cpu", opt_level=3, session=None, output_names=None, memory_budget=None):
    """Compile `fetches` (a tensor, a list, or {output name: tensor}) for `feeds` ({placeholder:
    example array or (shape, dtype)}) into an Executable; variables read take their current values
    in `session` as constants (a trained model's weights); `memory_budget`: arena bytes to
    rematerialize down to (passes/remat.py)."""
    from graphc import dtypes
    if isinstance(fetches, dict):
        output_names, fetches = output_names or list(fetches), list(fetches.values())
    single = not isinstance(fetches, (list, tuple))
    fetches = [fetches] if single else list(fetches)
    specs = {}
    for t, v in feeds.items():
        shape, dtype = v if isinstance(v, tuple) else (np.shape(v), np.asarray(v).dtype)
        specs[t] = (tuple(int(d) for d in shape), dtypes.as_dtype(dtype))
    from graphc.graph import needed_nodes
    if any(n.op == "random_counter" for n in needed_nodes([t.node for t in fetches], {id(t) for t in specs})):
        raise CompileError("the fetches draw random numbers (random ops or dropout), which a compiled artifact "
                           "cannot advance between runs; remove them (e.g. dropout at inference) or run them "
                           "in a Session")
    names = output_names or [t.name.split(":")[0] if t.name.endswith(":0") else t.name for t in fetches]
    return compile_fetches(fetches, specs, target=target, opt_level=opt_level, output_names=names,
                           freeze=True, session=session, memory_budget=memory_budget)


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


def build_plan(graph, fetches, groups, kernels, target, checks=()):
    """Number every buffer the kernels and fetches touch, and list the kernel calls in order;
    `checks` are index_check tensors and what they check (passes/index_checks.py)."""
    buffers, ids = [], {}

    def buffer_of(t):
        if id(t) in ids:
            return ids[id(t)]
        node = t.node
        if node.opdef.feed:
            kind, extra = FEED, {"feed_index": node.attrs["feed_index"]}
        elif node.opdef.constant:
            kind, extra = CONST, {}
        elif node.opdef.variable:
            kind, extra = VARIABLE, {"var_name": node.attrs["var_name"]}
        else:
            kind, extra = TEMP, {}
        b = Buffer(len(buffers), tuple(int(d) for d in t.shape), t.dtype.name, kind, t.name, **extra)
        buffers.append(b)
        ids[id(t)] = b.id
        return b.id

    for n in graph.nodes:  # every feed gets a buffer, fetched or not, so feeds keep their order
        if n.opdef.feed:
            buffer_of(n.outputs[0])
    for k in kernels:  # an op that writes an input in place shares that input's buffer
        for n in k.nodes:
            if n.opdef.writes_input is not None:
                ids[id(n.outputs[0])] = buffer_of(n.inputs[n.opdef.writes_input])
    calls = [Call(k.name, [buffer_of(t) for t in k.inputs] + [buffer_of(t) for t in k.outputs], len(k.inputs),
                  **_host_call(k, target))
             for k in kernels]
    fetch_ids = [buffer_of(t) for t in fetches]
    constants = {b.id: graph.get_tensor_by_name(b.name).node.attrs["value"]
                 for b in buffers if b.kind == CONST}
    reads, writes = _variable_access(kernels, fetches)
    index_checks = [[ids[id(t)], what, list(t.node.attrs["dims"])] for t, what in checks if id(t) in ids]
    return Plan(target, buffers, calls, fetch_ids, constants, variable_reads=reads, variable_writes=writes,
                index_checks=index_checks)


def _host_call(kernel, target):
    """Call fields of a host op's call (a collective or a loop the runtime runs between kernels), else none;
    a loop's subgraphs become sub-executables here, compiled for its inputs' shapes."""
    node = kernel.nodes[0]
    if not node.opdef.host:
        return {}
    attrs = {k: v for k, v in node.attrs.items() if k in ("op", "root", "bucket", "num_vars")}
    attrs.update({k: _compile_subgraph(node, v, target) for k, v in node.attrs.items() if hasattr(v, "graph")})
    return {"host_op": node.op, "attrs": attrs}


def _compile_subgraph(node, sub, target):
    """A Subgraph (graphc/ops/loop.py) of `node` as an Executable taking `node`'s inputs' shapes and dtypes."""
    from graphc.graph import needed_nodes
    specs = {ph: (tuple(int(d) for d in t.shape), t.dtype) for ph, t in zip(sub.inputs, node.inputs)}
    inner = needed_nodes([t.node for t in sub.outputs], {id(ph) for ph in sub.inputs})
    bad = [n for n in inner if n.opdef.stateful and n.opdef.pattern != Pattern.SOURCE or n.op == "random_counter"]
    if bad:
        raise CompileError(f"{node.op} '{node.name}': its body runs {bad[0].op} '{bad[0].name}'; a loop run at run "
                           "time may not assign variables or draw random numbers")
    exe = compile_fetches(sub.outputs, specs, target=target)
    if len(sub.outputs) == node.attrs.get("num_vars"):  # the body: each loop variable keeps its shape
        for t, fid in zip(node.inputs, exe.plan.fetches):
            if tuple(exe.plan.buffers[fid].shape) != tuple(t.shape):
                raise CompileError(f"{node.op} '{node.name}': loop variable {t.name} has shape {list(t.shape)} but "
                                   f"the body returns shape {list(exe.plan.buffers[fid].shape)}")
    return exe


def _lower(groups, live, target):
    """The groups' kernels in order: TIR for compute groups (codegen lower_kernels), a host record for each
    host op's group (a collective the runtime runs between kernels)."""
    from graphc.codegen.build import kernel_name, lower_kernels
    lowered = iter(lower_kernels([g for g in groups if not g[0].opdef.host], live, target))
    return [_host_kernel(kernel_name(i, g), g, target) if g[0].opdef.host else next(lowered)
            for i, g in enumerate(groups)]


def _host_kernel(name, nodes, target):
    """A kernel-like record for a host op's group (one node): no TIR, all its inputs and outputs."""
    from graphc.codegen.build import Kernel
    node = nodes[0]
    if not target.host_memory:
        raise CompileError(f"{node.op} '{node.name}' is a host op (a collective or a run-time loop); host ops run "
                           "on CPU targets only")
    return Kernel(name, nodes, list(node.opdef.data_inputs(node)), list(node.outputs))


def _variable_access(kernels, fetches):
    """(variables read, variables overwritten whole by `assign`) by the kernels, as names."""
    reads, writes = set(), set()
    for k in kernels:
        for n in k.nodes:
            for i, t in enumerate(n.inputs):
                if t.node.opdef.variable and not (n.opdef.overwrites_input and i == n.opdef.writes_input):
                    reads.add(t.node.attrs["var_name"])
            if n.opdef.overwrites_input:
                writes.add(n.inputs[n.opdef.writes_input].node.attrs["var_name"])
    for t in fetches:
        if t.node.opdef.variable:
            reads.add(t.node.attrs["var_name"])
    return sorted(reads), sorted(writes)


@dataclass(frozen=True)
class OptOptions:
    """What an opt_level turns on (decided by opt_options, and nowhere else)."""
    passes: list   # (name, fn) graph passes, the target's own last
    fuse: bool     # group ops into kernels (else one op per kernel)
    arena: bool    # place intermediates in one arena, reusing dead buffers


def opt_options(opt_level, target):
    """0: one op per kernel, nothing else; 1: dce, fusion, arena; 2-3: the full pass pipeline and the
    target's passes (passes/manager.py's PIPELINES)."""
    from graphc.passes.manager import PIPELINES
    level = min(max(int(opt_level), 0), 3)
    return OptOptions(passes=PIPELINES[level] + (list(target.passes) if level >= 2 else []),
                      fuse=level >= 1, arena=level >= 1)


@dataclass
class StageRecord:
    """One stage of the compile driver: its name and wall time."""
    name: str
    seconds: float


class _Stages:
    """Runs the driver's stages in order, timing each and, with GRAPHC_DUMP=dir, writing what it made."""

    def __init__(self):
        self.records = []
        self.dump_dir = os.environ.get("GRAPHC_DUMP")

    def run(self, name, fn, *args, dump=None, **kwargs):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        self.records.append(StageRecord(name, time.perf_counter() - t0))
        if self.dump_dir and dump is not None:
            os.makedirs(self.dump_dir, exist_ok=True)
            with open(os.path.join(self.dump_dir, f"stage{len(self.records):02d}_{name}.txt"), "w") as f:
                f.write(dump(result))
        return result


def compile_fetches(fetches, feed_specs, ops=(), target="cpu", opt_level=3, output_names=(), freeze=False,
                    session=None, memory_budget=None):
    """The compile driver: `fetches` (tensors) and `ops` of a graph, for feeds {placeholder: (shape, dtype)},
    into an Executable for `target` (a codegen Target or 'cpu'/'cuda'); `freeze`: the variables read
    become constants holding their values in `session` (compile()); `memory_budget`: arena bytes that
    rematerialization (passes/remat.py) brings the plan down to when it is larger."""
    from graphc.passes.manager import graph_text
    from graphc.passes.specialize import specialize
    from graphc.passes.verify import verification_on, verify
    stages = _Stages()
    graph, mapping, _ = stages.run("specialize", specialize, fetches, feed_specs, list(ops),
                                   dump=lambda r: graph_text(r[0]))
    spec_fetches = [mapping[id(t)] for t in fetches]
    if verification_on():
        verify(graph, spec_fetches, static=True, after="specialize")
    precision = _mixed_precision_of([t.graph for t in fetches] + [n.graph for n in ops])
    if precision:
        from graphc.passes.mixed_precision import low_precision
        graph, spec_fetches = stages.run("mixed_precision", low_precision(precision), graph, spec_fetches,
                                         dump=lambda r: graph_text(r[0]))
        if verification_on():
            verify(graph, spec_fetches, static=True, after="mixed_precision")
    return compile_graph(graph, spec_fetches, target, opt_level, feed_tensors=list(feed_specs),
                         output_names=output_names, freeze=freeze, session=session, stages=stages,
                         memory_budget=memory_budget)


def _mixed_precision_of(graphs):
    """The dtype graphc.train.mixed_precision set for the graph being compiled, or None."""
    from graphc.train import MIXED_PRECISION
    for g in graphs[:1]:
        found = g.get_collection(MIXED_PRECISION)
        return found[-1] if found else None
    return None


def compile_graph(graph, fetches, target="cpu", opt_level=3, feed_tensors=(), output_names=(), freeze=False,
                  session=None, stages=None, memory_budget=None):
    """The compile driver from a specialized graph: optimize -> [remat] -> index_checks -> fuse -> lower ->
    schedule -> build -> plan -> arena, then the Executable (see compile_fetches)."""
    from graphc.codegen.build import build_module, cached_module, check_storage_only, \
        schedule_kernels
    from graphc.codegen.target import get_target
    from graphc.passes import optimize
    from graphc.analysis.fusion import fuse_groups
    from graphc.passes.index_checks import add_index_checks
    from graphc.passes.manager import graph_text
    from graphc.passes.verify import verification_on, verify

    target = get_target(target)
    options = opt_options(opt_level, target)
    stages = stages or _Stages()
    pass_records = []
    graph, fetches = stages.run("optimize", optimize, graph, fetches, options.passes, records=pass_records,
                                dump=lambda r: graph_text(r[0]))
    graph, fetches, checks = stages.run("index_checks", add_index_checks, graph, fetches,
                                        dump=lambda r: graph_text(r[0]))
    remat_report, late = None, None
    if memory_budget is not None:  # the checks' results are kept like fetches
        graph, roots, remat_report = stages.run("remat", _rematerialize, graph, list(fetches) + [t for t, _ in checks],
                                                memory_budget, options.fuse, dump=lambda r: str(r[2]) + graph_text(r[0]))
        fetches, checks = roots[:len(fetches)], [(t, what) for t, (_, what) in zip(roots[len(fetches):], checks)]
        late = set(remat_report.copies) if remat_report.method != "none" else None
        if verification_on():
            verify(graph, fetches, static=True, after="remat")
    side_effects = [n for n in graph.nodes if n.opdef.stateful and n.opdef.pattern != Pattern.SOURCE]
    for n in graph.nodes:  # a dtype error is the user's to fix, not a codegen failure to fall back from
        check_storage_only(n)
    live_roots = list(fetches) + [t for n in side_effects for t in n.outputs] + [t for t, _ in checks]

    def kernels_of(fuse):
        groups = stages.run("fuse", fuse_groups, graph, fetches, fuse, late, dump=_groups_text)
        live = _live_tensors(groups, live_roots)
        # nothing to compute: no output used (dead), or every used output is empty (a 0 extent breaks schedules)
        groups = [g for g in groups if any(id(t) in live and 0 not in t.shape for n in g for t in n.outputs)]
        kernels = stages.run("lower", _lower, groups, live, target, dump=_kernels_text)
        compiled = [k for k in kernels if k.func is not None]  # not the host ops
        # a frozen plan is compiled for an artifact: its kernels keep their argument checks
        key, module = cached_module(compiled, target, checked=freeze)
        if module is None:
            stages.run("schedule", schedule_kernels, compiled, target, dump=_kernels_text)
            module = stages.run("build", build_module, compiled, target, key, freeze) if compiled else None
        return groups, kernels, module

    try:
        groups, kernels, module = kernels_of(options.fuse)
    except CompileError as e:
        if not options.fuse:
            raise
        # A fused kernel can hit a TVM/LLVM codegen bug (seen: "Instruction does not dominate all
        # uses" in a vectorized attention kernel); one op per kernel still gives the right answer.
        warnings.warn(f"graphc: fused kernels failed to build, compiling one op per kernel: {e}")
        groups, kernels, module = kernels_of(False)
    plan = stages.run("plan", build_plan, graph, fetches, groups, kernels, target.kind, checks, dump=_plan_text)
    if options.arena:
        stages.run("arena", _plan_arena, plan, kernels, dump=lambda _: _plan_text(plan))
    if freeze and plan.variable_reads:
        _freeze_variables(plan, session)
    exe = Executable(plan, module, kernels, graph, fetches, groups=groups, pass_records=pass_records,
                     stage_records=stages.records, feed_tensors=feed_tensors, output_names=output_names)
    exe.checked = freeze
    if remat_report is not None:
        remat_report.arena_after = plan.arena_bytes  # the real plan's (the choice planned without lowering)
        exe.remat = remat_report
    release_freed_memory()  # compiling leaves hundreds of MB freed but held by the allocator
    return exe


def _rematerialize(graph, fetches, budget, fuse):
    """passes/remat.py with this driver's fusion and arena planning in the loop."""
    from graphc.passes.remat import remat
    if not isinstance(budget, (int, float, np.integer, np.floating)) or isinstance(budget, bool) or \
            not np.isfinite(budget) or budget < 1:
        raise ValueError(f"memory_budget must be a positive number of bytes, got {budget!r}")
    return remat(graph, fetches, int(budget), lambda g, f, late=None: _planned_arena(g, f, late, fuse))


def _planned_arena(graph, fetches, late, fuse):
    """Arena bytes the driver would plan for `graph` (fusion and memory planning, without lowering);
    `fetches` include the index checks' results."""
    from graphc.analysis.fusion import fuse_groups
    from graphc.analysis.memory import plan_memory
    from graphc.codegen.build import group_io
    side_effects = [n for n in graph.nodes if n.opdef.stateful and n.opdef.pattern != Pattern.SOURCE]
    roots = list(fetches) + [t for n in side_effects for t in n.outputs]
    groups = fuse_groups(graph, fetches, fuse, late)
    live = _live_tensors(groups, roots)
    groups = [g for g in groups if any(id(t) in live and 0 not in t.shape for n in g for t in n.outputs)]
    kept = {id(t) for t in roots}
    temps, calls, in_place = {}, [], set()
    for i, g in enumerate(groups):
        inputs, outputs = group_io(g, live)
        for n in g:
            for t in n.outputs:
                if id(t) not in kept and n.opdef.writes_input is None:
                    temps[id(t)] = t.dtype.np.itemsize * int(np.prod(t.shape))
        calls.append(([id(t) for t in inputs], [id(t) for t in outputs]))
        if all(n.opdef.pattern == Pattern.ELEMWISE and not n.opdef.stateful for n in g):
            in_place.add(i)
    return plan_memory(calls, temps, in_place)[1]


def _groups_text(groups):
    return "".join(f"group {i}: {', '.join(f'{n.op} {n.name}' for n in g)}\n" for i, g in enumerate(groups))


def _kernels_text(kernels):
    return "".join(f"# {k.name}\n{k.func.script() if k.func is not None else '(host op)'}\n" for k in kernels)


def _plan_text(plan):
    lines = [f"target {plan.target}, arena {plan.arena_bytes} bytes"]
    lines += [f"buffer {b.id} {b.kind} {list(b.shape)} {b.dtype} {b.name} offset {b.offset}" for b in plan.buffers]
    lines += [f"call {c.kernel}({', '.join(map(str, c.args))})" for c in plan.calls]
    return "\n".join(lines) + "\n"


def _plan_arena(plan, kernels):
    """Place the plan's unfetched intermediates in one arena (graphc/analysis/memory.py)."""
    from graphc.analysis.memory import plan_memory
    fetched = set(plan.fetches) | {c[0] for c in plan.index_checks}  # read after the run: never reused
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
