"""Static memory planning: every intermediate buffer of a compiled signature gets an offset in
one arena. Liveness comes from the kernel order; a freed block is reused by the best-fitting
later buffer; an elementwise kernel may write its output over an input that dies there. The same
lifetimes are also placed largest first, each at the lowest offset free for its whole life (TFLite's
greedy-by-size), and the smaller arena of the two is kept.
Fed, fetched, constant and variable buffers are never placed in the arena."""

ALIGN = 64  # every buffer starts on a 64-byte boundary (vector loads, DLPack)


def _aligned(nbytes):
    return max(ALIGN, (nbytes + ALIGN - 1) // ALIGN * ALIGN)


def _lifetimes(calls, temps):
    """({buffer: index of its first call}, {buffer: index of its last call}) for the buffers in `temps`."""
    first, last = {}, {}
    for i, (ins, outs) in enumerate(calls):
        for b in list(ins) + list(outs):
            if b in temps:
                first.setdefault(b, i)
                last[b] = i
    return first, last


def _best_fit(calls, temps, in_place_calls):
    """plan_memory() by allocation order: each buffer takes the best-fitting freed block."""
    _, last_use = _lifetimes(calls, temps)
    free = []  # (offset, size) blocks, kept sorted and merged
    offsets, end = {}, 0

    def release(b):
        free.append((offsets[b], _aligned(temps[b])))
        free.sort()
        merged = []
        for off, size in free:
            if merged and merged[-1][0] + merged[-1][1] == off:
                merged[-1] = (merged[-1][0], merged[-1][1] + size)
            else:
                merged.append((off, size))
        free[:] = merged

    for i, (ins, outs) in enumerate(calls):
        dying = [b for b in dict.fromkeys(ins) if b in offsets and last_use.get(b) == i]
        if i in in_place_calls:
            for b in dying:
                release(b)
        for b in outs:
            if b not in temps or b in offsets:
                continue
            need = _aligned(temps[b])
            fits = [blk for blk in free if blk[1] >= need]
            if fits:
                off, size = min(fits, key=lambda blk: blk[1])  # best fit
                free.remove((off, size))
                if size > need:
                    free.append((off + need, size - need))
                    free.sort()
                offsets[b] = off
            else:
                offsets[b], end = end, end + need
        if i not in in_place_calls:
            for b in dying:
                release(b)
        for b in outs:  # written but never read again
            if b in offsets and last_use.get(b) == i and b not in ins:
                release(b)
    return offsets, end


def _by_size(calls, temps):
    """plan_memory() largest buffer first, each at the lowest offset no buffer alive with it holds
    (no writing in place: a block shared at another offset would be overwritten before it is read)."""
    start, end = _lifetimes(calls, temps)
    placed, offsets, arena = [], {}, 0  # placed: (offset, size, start, end)
    for b in sorted(start, key=lambda b: (-_aligned(temps[b]), start[b])):
        need, offset = _aligned(temps[b]), 0
        for off, size, s, e in sorted(p for p in placed if p[2] <= end[b] and start[b] <= p[3]):
            if off - offset >= need:
                break
            offset = max(offset, off + size)
        offsets[b] = offset
        placed.append((offset, need, start[b], end[b]))
        arena = max(arena, offset + need)
    return offsets, arena


def plan_memory(calls, temps, in_place_calls=frozenset()):
    """Offsets for `temps` ({buffer id: bytes}) used by `calls` ([(input ids, output ids)] in order).

    Returns ({buffer id: offset}, arena bytes). Calls in `in_place_calls` may reuse a dying input.
    """
    plans = [_best_fit(calls, temps, in_place_calls), _by_size(calls, temps)]
    return min(plans, key=lambda plan: plan[1])
