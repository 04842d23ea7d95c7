"""CUDA schedule rules: for now only the fallback, every block's spatial loops bound to blocks and threads."""
import tvm

from . import inline_spatial, is_reduction, sblocks
from .rule import ScheduleRule


def _bind_spatial(sch, loops, threads):
    if not loops:
        return
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    bx, tx = sch.split(fused, [None, threads])
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")


class OneThreadPerElement(ScheduleRule):
    """Any kernel (the CUDA fallback): one thread per output element, reductions serial in their thread."""
    name = "cuda_one_thread_per_element"
    threads = 256

    def apply(self, func, target):
        sch = tvm.s_tir.Schedule(func)
        inline_spatial(sch)
        threads = min(self.threads, target.max_threads_per_block or self.threads)
        for block in sblocks(sch):
            loops = sch.get_loops(block)
            if is_reduction(sch, block):
                iters = sch.get(block).iter_vars
                n_spatial = sum(1 for iv in iters if iv.iter_type != tvm.tirx.IterVar.CommReduce)
                spatial = list(loops[:n_spatial])
                if not spatial:  # a full reduction: one thread
                    spatial = [sch.add_unit_loop(block)]
                _bind_spatial(sch, spatial, threads)
            else:
                if not loops:
                    loops = [sch.add_unit_loop(block)]
                _bind_spatial(sch, loops, threads)
        return sch


CUDA_RULES = (OneThreadPerElement(),)  # a Target's rules, in order; the fallback last
