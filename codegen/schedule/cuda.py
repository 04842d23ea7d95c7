"""CUDA schedules: every block's spatial loops bound to blocks and threads."""
import tvm

from . import inline_spatial, is_reduction, sblocks

THREADS = 256


def _bind_spatial(sch, loops):
    if not loops:
        return
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    bx, tx = sch.split(fused, [None, THREADS])
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")


def schedule_cuda(sch):
    """Schedule every block of a kernel for a CUDA GPU (one thread per output element)."""
    inline_spatial(sch)
    for block in sblocks(sch):
        loops = sch.get_loops(block)
        if is_reduction(sch, block):
            iters = sch.get(block).iter_vars
            n_spatial = sum(1 for iv in iters if iv.iter_type != tvm.tirx.IterVar.CommReduce)
            spatial = list(loops[:n_spatial])
            if not spatial:  # a full reduction: one thread
                spatial = [sch.add_unit_loop(block)]
            _bind_spatial(sch, spatial)
        else:
            if not loops:
                loops = [sch.add_unit_loop(block)]
            _bind_spatial(sch, loops)
    return sch
