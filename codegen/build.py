"""Lower groups of nodes to scheduled TIR kernels and build them all into one TVM module."""
import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
import tvm
import tvm_ffi
from tvm import te, tirx

from graphc.dtypes import as_storage
from graphc.errors import CompileError

from . import cache
from .lower import get_lowering
from .schedule.rule import schedule
from .target import get_target, lowering_for

INLINE_CONSTANT_MAX = 1  # constants this small become immediates inside the kernel (and any splat, below)


@dataclass
class Kernel:
    """One generated function: the graph tensors it reads and writes, in parameter order."""
    name: str
    nodes: list
    inputs: list
    outputs: list
    func: object = field(repr=False, default=None)
    scheduled: bool = True  # False: func is TE's unscheduled PrimFunc


def kernel_name(index, nodes):
    """A readable, unique symbol: k<index>_<ops fused into it>."""
    ops = "_".join(dict.fromkeys(n.op for n in nodes))
    return re.sub(r"\W", "_", f"k{index}_{ops}")[:80]


def _splat_value(value):
    """The one value all elements of array `value` hold (0 when empty), or None: a splat (e.g. the zeros a
    gradient's fill_like folds to) becomes an immediate instead of a buffer every element is loaded from."""
    flat = as_storage(value).reshape(-1)
    if flat.size <= INLINE_CONSTANT_MAX:
        return flat[0].item() if flat.size else 0
    first = flat[0]
    # (the last element and a sparse sample first: a weight array is told apart without a full pass)
    if flat[-1] != first or np.any(flat[::4093] != first) or np.any(flat != first):
        return None
    return first.item()


def _inline_constant(tensor):
    node = tensor.node
    value = _splat_value(node.attrs["value"]) if node.opdef.constant else None
    if value is None:
        return None
    dtype = tensor.dtype.storage
    return te.compute(tuple(tensor.shape), lambda *i: tirx.const(value, dtype), name="const")


def group_io(nodes, live):
    """(inputs, outputs) of a group: tensors read from outside it, and tensors used after it."""
    inside = {id(n) for n in nodes}
    inputs, seen = [], set()
    for n in nodes:
        for t in n.opdef.data_inputs(n):
            if id(t.node) not in inside and id(t) not in seen and _inline_constant(t) is None:
                seen.add(id(t))
                inputs.append(t)
    outputs = [t for n in nodes for t in n.outputs if id(t) in live]
    return inputs, outputs


def check_storage_only(node):
    """A CompileError unless `node` only moves or casts the narrow types graphc holds as bits."""
    if node.opdef.moves_bits:  # (cast interprets the bits; every other op that computes refuses them)
        return
    for t in list(node.inputs) + list(node.outputs):
        if t.dtype.is_storage_only:
            raise CompileError(f"{node.op} '{node.name}' computes in {t.dtype.name} ({t.name}), which graphc "
                               f"holds as bits and computes with only through cast; cast it to float32 (or "
                               f"int32) first")


def lower_group(name, nodes, live, target="cpu"):
    """A Kernel whose PrimFunc computes the group's outputs from its inputs, as TE made it for `target`:
    build_module schedules it unless its library is cached. Nodes are checked by check_storage_only
    (runtime/compiler.py does so for the whole graph first)."""
    with lowering_for(get_target(target)):
        return _lower_group(name, nodes, live)


def _lower_group(name, nodes, live):
    inputs, outputs = group_io(nodes, live)
    te_of = {}
    params = []
    for i, t in enumerate(inputs):
        ph = te.placeholder(tuple(t.shape), name=f"in{i}", dtype=t.dtype.storage)
        te_of[id(t)] = ph
        params.append(ph)
    for n in nodes:
        args = []
        data = {id(t) for t in n.opdef.data_inputs(n)}
        for t in n.inputs:
            if id(t) not in te_of:
                te_of[id(t)] = _inline_constant(t) if id(t) in data else \
                    te.placeholder(tuple(t.shape), name="shape_only", dtype=t.dtype.storage)  # never read
            args.append(te_of[id(t)])
        try:
            result = get_lowering(n.op)(n, *args)
        except KeyError:
            raise
        except Exception as e:
            raise CompileError(f"lowering {n.op} '{n.name}' failed: {e}") from e
        results = result if isinstance(result, (list, tuple)) else [result]
        if len(results) != len(n.outputs):
            raise CompileError(f"lowering of {n.op} returned {len(results)} tensors for {len(n.outputs)} outputs")
        for t, r in zip(n.outputs, results):
            te_of[id(t)] = r
    outs = []
    for i, t in enumerate(outputs):
        r = te_of[id(t)]
        if isinstance(r.op, te.PlaceholderOp) or any(r.same_as(o) for o in outs) or \
                tuple(int(d) for d in r.shape) != tuple(t.shape):
            src = r
            r = te.compute(tuple(t.shape), lambda *idx: src(*idx) if len(src.shape) == len(idx)
                           else src(*([0] * len(src.shape))), name=f"out{i}")
        outs.append(r)
    kernel = Kernel(name, nodes, inputs, outputs, te.create_prim_func(params + outs), scheduled=False)
    return kernel


def share_identical_kernels(kernels):
    """Point every kernel that computes what an earlier one computes (structurally equal unscheduled TIR:
    same ops on the same shapes, as the steps of an unrolled recurrence are) at that kernel's function and
    symbol, so each distinct kernel is scheduled and built once. Returns the kernels, updated in place."""
    first = {}  # structural hash -> kernels with it (equal hashes are confirmed by structural_equal)
    for k in kernels:
        same = first.setdefault(tvm_ffi.structural_hash(k.func, map_free_vars=True), [])
        rep = next((r for r in same if tvm_ffi.structural_equal(r.func, k.func, map_free_vars=True)), None)
        if rep is None:
            same.append(k)
        else:
            k.name, k.func, k.scheduled = rep.name, rep.func, rep.scheduled
    return kernels


def distinct(kernels):
    """One kernel per symbol (kernels sharing a function: see share_identical_kernels)."""
    return list({k.name: k for k in kernels}.values())


def _frozen(value):
    """A hashable stand-in for an attribute value (arrays by dtype, shape and content digest)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, hashlib.sha1(np.ascontiguousarray(value).view(np.uint8)).digest())
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    return (type(value).__name__, repr(value))


def group_signature(nodes, live):
    """What lowering a group reads: each node's op, attributes and output types; where each of its inputs
    comes from (an output of an earlier node of the group, or the i-th outside input, by type, or an
    inlined constant (one element or a splat), by value); which outputs are used after the group. Groups with equal
    signatures lower to the same PrimFunc (the steps of an unrolled recurrence do), so one is lowered."""
    inputs, _ = group_io(nodes, live)
    outside = {id(t): i for i, t in enumerate(inputs)}
    produced = {}
    sig = []
    for k, n in enumerate(nodes):
        sources = []
        for t in n.inputs:
            if id(t) in produced:
                sources.append(("node", produced[id(t)]))
            elif id(t) in outside:
                sources.append(("input", outside[id(t)]))
            elif _inline_constant(t) is not None:
                sources.append(("constant", _frozen(_splat_value(t.node.attrs["value"]))))
            else:
                sources.append(("unread",))
            sources[-1] += (tuple(t.shape), str(t.dtype))
        for j, t in enumerate(n.outputs):
            produced[id(t)] = (k, j)
        sig.append((n.op, _frozen(dict(n.attrs)), tuple(sources),
                    tuple((tuple(t.shape), str(t.dtype), id(t) in live) for t in n.outputs)))
    return tuple(sig)


def lower_kernels(groups, live, target):
    """One unscheduled Kernel per group (k<index>_<ops>), lowered for `target`: a group with the signature
    of an earlier one (group_signature) reuses its function without lowering, and kernels whose TIR is
    structurally equal share one function (share_identical_kernels)."""
    first = {}     # signature -> the kernel lowered for it
    copies = []    # (index in the result, group, the kernel it repeats)
    kernels = []
    for i, g in enumerate(groups):
        sig = group_signature(g, live)
        if sig in first:
            copies.append((i, g, first[sig]))
            kernels.append(None)
        else:
            first[sig] = lower_group(kernel_name(i, g), g, live, target)
            kernels.append(first[sig])
    share_identical_kernels(list(first.values()))
    for i, g, rep in copies:
        inputs, outputs = group_io(g, live)
        kernels[i] = Kernel(rep.name, g, inputs, outputs, rep.func, rep.scheduled)
    return kernels


def schedule_kernel(kernel, target):
    """Schedule an unscheduled kernel's PrimFunc by the target's rules (in place); returns the kernel."""
    if not kernel.scheduled:
        sch = schedule(kernel.func, get_target(target))
        kernel.func = sch.mod["main"].with_attr("global_symbol", kernel.name)
        kernel.scheduled = True
    return kernel


def schedule_kernels(kernels, target):
    """Schedule every distinct kernel for `target` (in place); returns them."""
    return [schedule_kernel(k, target) for k in distinct(kernels)]


def cached_module(kernels, target, checked=False):
    """(cache key, the library cached under it or None) for unscheduled `kernels` (built with argument
    checks when `checked`, see build_module); the key is None where the target's libraries are not cached
    (codegen/cache.py)."""
    target = get_target(target)
    kernels = distinct(kernels)
    if not kernels or not target.cacheable or cache.cache_dir() is None or any(k.scheduled for k in kernels):
        return None, None
    key = cache.module_key([(k.name, k.func) for k in kernels], target.tvm_target, checked)
    return key, cache.load(key, [k.name for k in kernels])


def build_module(kernels, target, key=None, checked=False):
    """Compile every distinct kernel (scheduling any not yet scheduled) into one TVM module for the target;
    returns the runtime module, also stored in the on-disk cache under `key` (from cached_module) when given.
    `checked`: keep TVM's argument checks (shape, dtype, alignment of every buffer argument), for libraries
    that leave the process in an artifact, whose plan.json could have been edited."""
    target = get_target(target)
    kernels = distinct(kernels)
    mod = tvm.IRModule({k.name: schedule_kernel(k, target).func for k in kernels})
    try:
        # In process, no argument asserts: the executor only passes the buffers of its own plan (shapes,
        # dtypes, alignment fixed at compile time, feeds checked first), and the asserts, dozens per buffer
        # argument, were two thirds of LLVM's time (LSTM training step: 8.2 CPU-s -> 2.4).
        with tvm.transform.PassContext(config={"tirx.disable_assert": not checked}):
            module = tvm.compile(mod, target=target.tvm_target)
    except Exception as e:
        raise CompileError(f"TVM failed to build {len(kernels)} kernels for {target.kind}: {e}") from e
    if key is not None and cache.store(key, module) is not None:
        # Run the stored library rather than the in-memory module: that one would JIT every kernel through
        # LLVM's backend again on first use (as long as writing the library took).
        return cache.load(key, [k.name for k in kernels]) or module
    return module
