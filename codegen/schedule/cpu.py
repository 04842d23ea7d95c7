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


@rule("matmul")
def schedule_gemm(sch, block):
    """Packed GEMM: an MR x NR register tile accumulated over all of K in registers (cache_write
    to local), NR vectorized, MR unrolled; blocks of GEMM_MC rows x one B panel in the parallel loop."""
    mr = int(sch.get(block).annotations["gemm_mr"])
    nr = int(sch.get(block).annotations["gemm_nr"])
    loops = sch.get_loops(block)
    *batch, i, j, k = loops
    m_pad, n_pad, k_ext = _extent(sch, i), _extent(sch, j), _extent(sch, k)
    io, ii = sch.split(i, [None, mr])
    jo, ji = sch.split(j, [None, nr])
    blocks = m_pad // mr
    rows_per_chunk = max(d for d in range(1, min(GEMM_MC // mr, blocks) + 1) if blocks % d == 0)  # no tail
    ioo, ioi = sch.split(io, [None, rows_per_chunk])
    sch.reorder(ioo, jo, ioi, k, ii, ji)
    acc = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(acc, ioi)
    sch.vectorize(sch.get_loops(acc)[-1])
    sch.unroll(ii)
    sch.vectorize(ji)
    work = math.prod(_extent(sch, l) for l in batch) * m_pad * n_pad * k_ext
    outer = sch.fuse(*batch, ioo, jo)
    if num_threads() > 1 and work >= GEMM_PARALLEL_MIN_MACS:
        sch.parallel(outer)
    sch.decompose_reduction(block, k)


GEMM_PARALLEL_MIN_MACS = 1 << 18  # smaller products finish before the thread pool wakes
GEMM_MC = 64  # rows of A per parallel work item: MC x K floats stay in L2 while B panels stream


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
