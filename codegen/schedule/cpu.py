"""CPU schedules: vectorized, parallel loop nests; op-specific rules for the heavy kernels."""
import math

import tvm

from ..target import num_threads, vector_lanes
from . import inline_spatial, is_reduction, sblocks

PARALLEL_MIN_ELEMENTS = 1 << 14  # below this, waking the thread pool costs more than it saves

RULES = {}  # block name -> fn(sch, block): op-specific schedules (matmul, ...)


def rule(*names):
    """Decorator: `fn(sch, block)` schedules blocks called `names` on CPU."""
    def register(fn):
        for n in names:
            RULES[n] = fn
        return fn
    return register


def _extent(sch, loop):
    ext = sch.get(loop).extent
    return int(ext) if isinstance(ext, tvm.tirx.IntImm) else None


def _dtype_bits(sch, block):
    writes = sch.get(block).writes
    return tvm.runtime.DataType(writes[0].source.dtype).bits if writes else 32


def schedule_injective(sch, block):
    """Fuse all loops, vectorize the innermost lanes, split the rest across threads when large."""
    loops = sch.get_loops(block)
    if not loops:
        return
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    total = _extent(sch, fused)
    if total is None:
        return
    lanes = vector_lanes(max(8, _dtype_bits(sch, block)))
    while lanes > 1 and total % lanes:
        lanes //= 2
    if lanes > 1 and total >= lanes:
        outer, inner = sch.split(fused, [None, lanes])
        sch.vectorize(inner)
    else:
        outer = fused
    outer_ext = total // max(lanes, 1)
    if total >= PARALLEL_MIN_ELEMENTS and outer_ext >= 2:
        sch.parallel(outer)


def schedule_reduction(sch, block):
    """Parallel over the fused spatial loops when they are many; reduction loops stay serial."""
    biter = sch.get(block).iter_vars
    loops = sch.get_loops(block)
    n_spatial = 0
    for iv in biter:
        if iv.iter_type == tvm.tirx.IterVar.CommReduce:
            break
        n_spatial += 1
    spatial = loops[:n_spatial]
    if not spatial:
        return
    fused = sch.fuse(*spatial) if len(spatial) > 1 else spatial[0]
    ext = _extent(sch, fused) or 0
    work = ext * math.prod(_extent(sch, l) or 1 for l in loops[n_spatial:])
    if ext >= 2 and work >= PARALLEL_MIN_ELEMENTS and num_threads() > 1:
        sch.parallel(fused)


def schedule_cpu(sch):
    """Schedule every block of a kernel for this CPU."""
    inline_spatial(sch)
    for block in sblocks(sch):
        name = sch.get(block).name_hint
        if name in RULES:
            RULES[name](sch, block)
        elif is_reduction(sch, block):
            schedule_reduction(sch, block)
        else:
            schedule_injective(sch, block)
    return sch
