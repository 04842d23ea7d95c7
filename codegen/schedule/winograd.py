"""CPU schedules of the Winograd conv's transforms (codegen/lower/winograd.py); its GEMM is the matmul
micro-kernel (cpu.py's GEMM block schedule). Each transform is two halves (codegen/lower/winograd.py): the
second is scheduled per tile and vector of channels, the first computed there into a local buffer; both unroll
the loops their expressions select on, so each unrolled copy folds to its own short sum."""

WINOGRAD_TILE = "winograd_tile"  # the GEMM block's annotation: the output tile size m of its conv


def winograd_tile_read(sch, block):
    """The tile size m of the Winograd output transform's half that `block` reads (the second half), else None."""
    for producer in sch.get_producers(block):
        m = sch.get(producer).annotations.get(WINOGRAD_TILE)
        if m is not None:
            return int(m)
    return None


def _parallel(sch, loop, target):
    if target.num_threads > 1 and int(sch.get(loop).extent) >= 2:
        sch.parallel(loop)


def _lanes(sch, loop, target):
    """float32 lanes of the target when they divide `loop`'s extent, else 1."""
    lanes = target.vector_lanes(32)
    return lanes if int(sch.get(loop).extent) % lanes == 0 else 1


def _first_half_at(sch, block, loop, lanes):
    """The transform's first half (block's producer), computed per tile and vector of channels at `loop` into
    a local buffer, unrolled along the tile and vectorized along the channels like its consumer."""
    half = sch.get_producers(block)[0]
    outer = [sch.get(l) for l in sch.get_loops(block)].index(sch.get(loop)) + 1
    sch.compute_at(half, loop)
    sch.set_scope(half, 0, "local")
    a, b, *rest = sch.get_loops(half)[outer:]  # (compute_at drops its unit loops: the tile's, one channel's)
    sch.unroll(a)
    sch.unroll(b)
    if lanes > 1:
        sch.vectorize(rest[-1])


def schedule_winograd_input(sch, block, target):
    """Per tile and vector of input channels, all alpha^2 positions unrolled; parallel over tiles."""
    pos, t, c = sch.get_loops(block)
    lanes = _lanes(sch, c, target)
    if lanes > 1:
        co, ci = sch.split(c, [None, lanes])
        sch.reorder(t, co, pos, ci)
        sch.vectorize(ci)
    else:
        co = c
        sch.reorder(t, c, pos)
    sch.unroll(pos)
    _first_half_at(sch, block, co, lanes)
    _parallel(sch, t, target)


def schedule_winograd_output(sch, block, m, target):
    """The output transform (with the conv's fused epilogue): per tile and vector of output channels (they
    are contiguous in the GEMM's result), the m x m outputs unrolled; parallel over tile rows."""
    b, o, y, x = sch.get_loops(block)
    ty, i = sch.split(y, [None, m])
    tx, j = sch.split(x, [None, m])
    lanes = _lanes(sch, o, target)
    if lanes > 1:
        oo, oi = sch.split(o, [None, lanes])
        sch.reorder(b, ty, tx, oo, i, j, oi)
        sch.vectorize(oi)
    else:
        oo = o
        sch.reorder(b, ty, tx, o, i, j)
    sch.unroll(i)
    sch.unroll(j)
    _first_half_at(sch, block, oo, lanes)
    _parallel(sch, sch.fuse(b, ty), target)
