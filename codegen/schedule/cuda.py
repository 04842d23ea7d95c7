"""CUDA schedule rules. TVM's dlight GPU rules where they fit (matmul with shared-memory tiles and
register blocking, GEMV, row reductions with a warp or block per row), wrapped as graphc rules; graphc's
own fallback after them binds every block to blocks and threads and never leaves a reduction on one
thread: a reduction with few outputs is split across a block's threads (a cross-thread reduction
with warp shuffles). A long reduction to a few values (a full reduce_sum/mean/max) runs in two stages:
blocks on every SM reduce slices into partials, then one block combines the partials."""
import functools
import math

import tvm
from tvm.s_tir import dlight
from tvm.s_tir.schedule import ScheduleError

from . import inline_spatial, is_layout_copy, is_reduction, sblocks
from .rule import ScheduleRule

REDUCE = tvm.tirx.IterVar.CommReduce
ROW_THREADS = 256         # threads sharing one output's reduction


class Dlight(ScheduleRule):
    """One of tvm.s_tir.dlight's GPU rules as a graphc rule (None where it does not apply or fails)."""

    def __init__(self, rule):
        self.rule = rule
        self.name = "dlight_" + type(rule).__name__

    def apply(self, func, target):
        # tensor cores are TensorCoreMatmul's (tried first, within the dynamic shared-memory limit)
        func = func.with_attr("dlight.do_not_tensorize", True)
        try:
            rule_target = _dlight_target(DLIGHT_ARCH, target.max_shared_memory_per_block,
                                         target.max_threads_per_block, target.warp_size)
            with rule_target:
                sch = self.rule.apply(func, rule_target, False)
        except Exception:  # noqa: BLE001 (a dlight rule that trips over a kernel does not apply to it)
            return None
        if isinstance(sch, (list, tuple)):
            sch = sch[0] if sch else None
        # a schedule over the GPU's limits (seen: a conv's whole product staged in 141 KB of shared
        # memory by GeneralReduction) is not applicable either
        return sch if sch is not None and splits_reductions_validly(sch) and fits_gpu(sch.mod["main"], target) \
            else None


def sm_version(arch):
    """70 for 'sm_70', 90 for 'sm_90a'; 0 when the arch does not say."""
    digits = "".join(ch for ch in arch.removeprefix("sm_") if ch.isdigit())
    return int(digits) if digits else 0


def _float16_product(func, min_side):
    """Whether the kernel reads float16 and has one reduction whose last three iterators (M, N, K of a
    product) all span at least `min_side` (a candidate for tensor cores: smaller sides waste the tiles)."""
    if not any(str(getattr(param, "dtype", "")) == "float16" for param in func.params):
        return False
    sch = tvm.s_tir.Schedule(func)
    reductions = [b for b in sblocks(sch) if is_reduction(sch, b)]
    if len(reductions) != 1:
        return False
    sides = [iv.dom.extent for iv in sch.get(reductions[0]).iter_vars][-3:]
    return len(sides) == 3 and all(isinstance(e, tvm.tirx.IntImm) and int(e) >= min_side for e in sides)


class TensorCoreMatmul(ScheduleRule):
    """A float16 product (matmul, batch matmul, dense) on sm_70+ on tensor cores: dlight's
    MatmulTensorization: 16x16x16 WMMA fragments (wmma::mma_sync) fed from double-buffered dynamic shared memory,
    accumulating in float32 (float16 when the kernel accumulates in float16), the epilogue in the same
    kernel. Not applicable when a side is under 64, when dlight does not tensorize the kernel, or over the
    GPU's limits."""
    name = "cuda_tensor_core_matmul"
    min_sm = 70
    min_side = 64    # as dlight's Matmul: a smaller M, N or K runs on CUDA cores

    def apply(self, func, target):
        if sm_version(target.arch) < self.min_sm or not _float16_product(func, self.min_side):
            return None
        _register_wmma_intrinsics()
        func = _without_layout_copies(func)
        if func is None:
            return None
        rule_target = _dlight_target(target.arch, target.max_shared_memory_per_block,
                                     target.max_threads_per_block, target.warp_size)
        try:
            with rule_target:
                sch = dlight.gpu.matmul.MatmulTensorization().apply(func, rule_target, False)
        except Exception:  # noqa: BLE001 (a dlight rule that trips over a kernel does not apply to it)
            return None
        # its tiles live in dynamic shared memory, which may exceed the static 48 KiB
        return sch if sch is not None and fits_gpu(sch.mod["main"], target, target.max_dynamic_shared_memory_per_block) \
            else None


def _without_layout_copies(func):
    """`func` with its layout copies (the CPU GEMM's B panels) inlined: dlight stages its own tiles; None
    when one cannot be inlined."""
    sch = tvm.s_tir.Schedule(func)
    for block in sblocks(sch):
        if is_layout_copy(sch, block):
            try:
                sch.compute_inline(block)
            except ScheduleError:
                return None
    return sch.mod["main"]


@functools.lru_cache(maxsize=None)
def _register_wmma_intrinsics():
    """Register TVM's CUDA tensor intrinsics (WMMA/MMA), which dlight's tensorization names. Slow (TVM
    parses ~250 TVMScript functions: 1-3 minutes), so only when a float16 product is compiled for sm_70+."""
    import tvm.s_tir.tensor_intrin.cuda  # noqa: F401


# The arch dlight's CUDA-core rules schedule for: below sm_70. On sm_70+ dlight's Matmul imports
# tvm.s_tir.tensor_intrin for any float16 or int8 product (minutes of TVMScript parsing) before it reads
# dlight.do_not_tensorize; no other rule reads the arch, and the build uses the real one.
DLIGHT_ARCH = "sm_60"


@functools.lru_cache(maxsize=None)
def _dlight_target(arch, max_shared_memory_per_block, max_threads_per_block, warp_size):
    """The TVM target a dlight rule schedules for: `arch` and the GPU's limits."""
    return tvm.target.Target({"kind": "cuda", "arch": arch, "max_shared_memory_per_block": max_shared_memory_per_block,
                              "max_threads_per_block": max_threads_per_block, "thread_warp_size": warp_size})


def splits_reductions_validly(sch):
    """Whether TVM can lower the schedule's cross-thread reductions (it cannot for a reducer whose
    identity and combiner it does not recognise, e.g. max_pool's argmax over window offsets)."""
    try:
        tvm.s_tir.transform.LowerCrossThreadReduction()(sch.mod)
        return True
    except Exception:  # noqa: BLE001 (TVM raises its own error types)
        return False


def _extent(sch, loop):
    ext = sch.get(loop).extent
    return int(ext) if isinstance(ext, tvm.tirx.IntImm) else None


def _split_iters(sch, block):
    """(spatial loops, reduction loops) of a block whose loops match its iterators one to one, else None."""
    iters, loops = sch.get(block).iter_vars, sch.get_loops(block)
    if len(iters) != len(loops):
        return None
    kinds = [iv.iter_type == REDUCE for iv in iters]
    n_spatial = kinds.index(True) if True in kinds else len(kinds)
    if any(not k for k in kinds[n_spatial:]):  # reduction loops must come last
        return None
    return list(loops[:n_spatial]), list(loops[n_spatial:])


def _fused(sch, loops, block):
    if not loops:
        return sch.add_unit_loop(block)
    return sch.fuse(*loops) if len(loops) > 1 else loops[0]


def bind_spatial(sch, loops, threads, block):
    """Fuse `loops` (or a unit loop) and bind them to blocks of `threads` threads."""
    fused = _fused(sch, loops, block)
    bx, tx = sch.split(fused, [None, threads])
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")


def reduce_across_threads(sch, block, spatial, reduce, threads):
    """One thread block per output: its threads share the reduction (TVM lowers it to warp shuffles)."""
    out = _fused(sch, spatial, block)
    r = sch.fuse(*reduce) if len(reduce) > 1 else reduce[0]
    _, rt = sch.split(r, [None, threads])
    sch.bind(out, "blockIdx.x")
    sch.bind(rt, "threadIdx.x")


def schedule_reduction(sch, block, target, threads):
    """Spread a reduction block over threads: one thread per output when there are many outputs, a block
    of threads per output when there are few."""
    split = _split_iters(sch, block)
    if split is None:
        raise ScheduleError("reduction loops are not the innermost")
    spatial, reduce = split
    outputs = math.prod(_extent(sch, s) or 1 << 20 for s in spatial)
    length = math.prod(_extent(sch, r) or 1 << 20 for r in reduce)
    sms = target.sm_count or 100
    if outputs >= sms * threads or length < 32:  # enough outputs to fill the GPU one thread each
        return bind_spatial(sch, spatial, threads, block)
    row_threads = min(threads, 1 << max(5, (length - 1).bit_length() - 2))  # about 4+ elements per thread
    return reduce_across_threads(sch, block, spatial, reduce, row_threads)


def two_stage_reduction(sch, block, parts, threads, bind=True):
    """Reduce `block` in two kernels: `parts` blocks of `threads` threads each reduce a strided slice into
    a partial (threads read consecutive elements: coalesced; each thread sums its elements in a register,
    then the block's threads combine theirs), then one block of `parts` threads combines the partials.
    bind=False leaves the loops serial, the same indexing, to check it on the CPU."""
    bind = sch.bind if bind else (lambda loop, thread_axis: None)
    for other in sblocks(sch):  # TVM 0.27's rfactor fails beside a block with no loop (a 0-d epilogue)
        if not sch.get_loops(other):
            sch.add_unit_loop(other)
    spatial, reduce = _split_iters(sch, block)
    r = sch.fuse(*reduce) if len(reduce) > 1 else reduce[0]
    _, part, _ = sch.split(r, [None, parts, threads])
    partials = sch.rfactor(part, 0)     # stage 1 writes partials[part, ...]; `block` now reduces over part
    *outs, serial, part, thread = sch.get_loops(partials)   # rfactor made new loops
    sch.reorder(part, thread, serial)
    # a thread's own sum first (a predicated serial loop), so the cross-thread step has no predicate:
    # TVM leaves a predicated cross-thread reduction unlowered (a race on the output)
    per_thread = sch.rfactor(thread, 0)
    *outs, part, thread, serial = sch.get_loops(per_thread)
    if len(outs) > 1:
        outs = [sch.fuse(*outs)]
    bind(thread, "threadIdx.x")
    bind(part, "blockIdx.x")
    if outs:
        bind(outs[0], "blockIdx.y")
    sch.set_scope(per_thread, 0, "local")
    sch.decompose_reduction(per_thread, serial)   # zero the sum outside the predicated loop
    sch.reverse_compute_at(partials, part, preserve_unit_loops=True)
    # under `part` the partial's loops are unit loops and the one over the threads' sums, made innermost
    # (TVM's cross-thread reduction needs that)
    inner = sch.get_loops(partials)[len(outs) + 1:]
    combine_threads = next(loop for loop in inner if _extent(sch, loop) == threads)
    units = [loop for loop in inner if _extent(sch, loop) == 1]
    if units:
        sch.reorder(*units, combine_threads)
    bind(combine_threads, "threadIdx.x")
    *outs, combine = sch.get_loops(block)   # the spatial loops, then the reduction over the partials
    bind(sch.fuse(*outs) if len(outs) > 1 else outs[0] if outs else sch.add_unit_loop(combine), "blockIdx.x")
    bind(combine, "threadIdx.x")


def _thread_bound(sch, block):
    return any(sch.get(loop).kind == tvm.tirx.ForKind.THREAD_BINDING for loop in sch.get_loops(block))


class TwoStageReduction(ScheduleRule):
    """A kernel with one long reduction to few outputs (e.g. a sum of 12M values): two_stage_reduction,
    with two blocks per SM in the first stage; its epilogue blocks one thread per element."""
    name = "cuda_two_stage_reduction"
    min_length = 1 << 16       # shorter reductions fit one block (dlight's Reduction)
    max_outputs = 8            # more outputs fill the GPU with a block per output already
    threads = 256

    def apply(self, func, target):
        sch = tvm.s_tir.Schedule(func)
        inline_spatial(sch)
        reductions = [b for b in sblocks(sch) if is_reduction(sch, b)]
        split = _split_iters(sch, reductions[0]) if len(reductions) == 1 else None
        if split is None or None in [_extent(sch, loop) for loop in split[0] + split[1]]:
            return None
        outputs = math.prod(_extent(sch, s) for s in split[0])
        length = math.prod(_extent(sch, r) for r in split[1])
        if outputs > self.max_outputs or length < self.min_length:
            return None
        parts = min(target.max_threads_per_block or 1024, 1 << (2 * (target.sm_count or 100) - 1).bit_length())
        try:
            two_stage_reduction(sch, reductions[0], parts, self.threads)
            for other in sblocks(sch):   # the epilogue (e.g. a mean's division)
                if not _thread_bound(sch, other):
                    bind_spatial(sch, list(sch.get_loops(other)), 32, other)
        except ScheduleError:
            return None
        return sch if splits_reductions_validly(sch) and fits_gpu(sch.mod["main"], target) else None


class ThreadedFallback(ScheduleRule):
    """Any kernel (the CUDA fallback): spatial blocks one thread per element (coalesced along the
    innermost axis); reductions spread over threads by schedule_reduction."""
    name = "cuda_fallback"
    threads = 256

    def apply(self, func, target):
        sch = tvm.s_tir.Schedule(func)
        inline_spatial(sch)
        threads = min(self.threads, target.max_threads_per_block or self.threads)
        for block in sblocks(sch):
            if is_reduction(sch, block):
                work = sch.copy()
                try:
                    schedule_reduction(work, work.get_sblock(sch.get(block).name_hint), target, threads)
                except ScheduleError:
                    work = None
                if work is not None and splits_reductions_validly(work):
                    sch = work
                    continue
                split = _split_iters(sch, block)
                bind_spatial(sch, split[0] if split else [], threads, block)
            else:
                bind_spatial(sch, list(sch.get_loops(block)), threads, block)
        return sch


# a Target's rules, in order: long reductions to few values, float16 products on tensor cores, dlight's
# specialised rules, then the fallback
CUDA_RULES = (
    TwoStageReduction(),
    TensorCoreMatmul(),
    Dlight(dlight.gpu.Matmul()),
    Dlight(dlight.gpu.GEMV()),
    Dlight(dlight.gpu.LowBatchGEMV()),
    Dlight(dlight.gpu.Reduction()),
    Dlight(dlight.gpu.GeneralReduction()),
    Dlight(dlight.gpu.Transpose()),
    ThreadedFallback(),
)


def fits_gpu(func, target, shared_memory=None):
    """Whether a scheduled kernel respects the GPU's limits (threads per block, shared memory per
    block, or `shared_memory` bytes when given, vector widths), by TVM's verify_gpu_code after the
    lowering passes meta-schedule runs."""
    verify = _gpu_verifier(target.arch, shared_memory or target.max_shared_memory_per_block,
                           target.max_threads_per_block, target.warp_size)
    try:
        sch = tvm.s_tir.Schedule(func)
    except Exception:  # noqa: BLE001 (ill-formed TIR, e.g. a Let inlined twice into an argmax's condition)
        return False
    return bool(verify.apply(sch))


@functools.lru_cache(maxsize=None)
def _gpu_verifier(arch, max_shared_memory_per_block, max_threads_per_block, warp_size):
    """meta_schedule's VerifyGPUCode postproc for these limits. Its TuneContext is made by the FFI
    constructor: TuneContext.__init__ imports tvm.s_tir.tensor_intrin, which parses ~250 TVMScript
    functions through inspect.stack (over a minute per process; most of ResNet-18's 152 s CUDA compile)."""
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule import _ffi_api
    limits = tvm.target.Target({"kind": "cuda", "arch": arch, "max_shared_memory_per_block": max_shared_memory_per_block,
                                "max_threads_per_block": max_threads_per_block, "thread_warp_size": warp_size})
    context = ms.TuneContext.__new__(ms.TuneContext)
    context.__init_handle_by_constructor__(_ffi_api.TuneContext, None, limits, None, None, "main", 1, -1, None)
    verify = ms.postproc.VerifyGPUCode()
    verify._initialize_with_tune_context(context)
    return verify
