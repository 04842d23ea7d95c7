"""Static memory planning: give every intermediate (TEMP) buffer an offset in one arena, reusing
the space of buffers that are dead by then (best fit), in place for elementwise kernels."""
from graphc.registry import Pattern

ALIGN = 64  # every view into the arena starts on a 64-byte boundary (DLPack/TVM alignment)


def _aligned(nbytes):
    return max(ALIGN, (nbytes + ALIGN - 1) // ALIGN * ALIGN)


def plan_memory(plan, kernels):
    """Set `offset` on the plan's non-fetched TEMP buffers and `plan.arena_bytes`; returns the plan."""
    from graphc.runtime.plan import TEMP
    fetched = set(plan.fetches)
    planned = {b.id for b in plan.buffers if b.kind == TEMP and b.id not in fetched and b.nbytes > 0}
    last_use = {}
    for i, call in enumerate(plan.calls):
        for bid in call.args:
            last_use[bid] = i
    free = []          # (offset, size) blocks free for reuse
    arena = 0
    size_of = {bid: _aligned(plan.buffers[bid].nbytes) for bid in planned}
    for i, (call, kernel) in enumerate(zip(plan.calls, kernels)):
        n_in = len(kernel.inputs)
        ins, outs = call.args[:n_in], call.args[n_in:]
        dying = [b for b in dict.fromkeys(ins) if b in planned and last_use[b] == i and b not in outs]
        in_place = all(n.opdef.pattern == Pattern.ELEMWISE for n in kernel.nodes)
        for bid in outs:
            if bid not in planned or plan.buffers[bid].offset >= 0:
                continue
            buf = plan.buffers[bid]
            donor = next((d for d in dying if in_place and plan.buffers[d].nbytes == buf.nbytes and
                          plan.buffers[d].dtype == buf.dtype), None) if in_place else None
            if donor is not None:  # out[i] = f(in[i]): writing over the dying input is safe
                buf.offset = plan.buffers[donor].offset
                dying.remove(donor)
                size_of[bid] = size_of.pop(donor)
                continue
            need = size_of[bid]
            fits = [blk for blk in free if blk[1] >= need]
            if fits:
                blk = min(fits, key=lambda blk: blk[1])
                free.remove(blk)
                buf.offset = blk[0]
                size_of[bid] = blk[1]
            else:
                buf.offset = arena
                arena += need
        for bid in dying:
            free.append((plan.buffers[bid].offset, size_of[bid]))
        for bid in outs:  # an output nobody reads afterwards is dead at once
            if bid in planned and last_use[bid] == i and plan.buffers[bid].offset >= 0 and \
                    (plan.buffers[bid].offset, size_of[bid]) not in free:
                free.append((plan.buffers[bid].offset, size_of[bid]))
    plan.arena_bytes = arena
    return plan


def unplanned_bytes(plan):
    """Bytes all intermediate buffers would take with no reuse."""
    from graphc.runtime.plan import TEMP
    return sum(b.nbytes for b in plan.buffers if b.kind == TEMP)
