"""CPU schedules: vectorized, parallel loop nests; block schedules by annotated kind for the heavy kernels.
Vector widths and thread counts come from the Target, so the same rules serve AVX2 and AVX-512."""
import math

import tvm
from tvm.s_tir.schedule import ScheduleError

from graphc.registry import Registry

from . import inline_spatial, is_reduction, sblocks
from .kinds import (CONV_1X1, CONV_BLOCKED, CONV_BLOCKED_NCHW, CONV_DEPTHWISE, CONV_DIRECT, CONV_GEMM,
                    CONV_PLANES, CONV_WGRAD_GEMM, DEPTHWISE_BLOCKED, EPILOGUE_DONE, GEMM, GEMM_PANELS, KEY, LAYER_NORM,
                    LAYER_NORM_STATS, PADDED_INPUT, POOL_ARGMAX, POOL_GRAD_TILED, ROW_STATS, SOFTMAX, SOFTMAX_STATS,
                    STENCIL_PHASES, STENCIL_PLANES, WINOGRAD_HALF, WINOGRAD_INPUT, kind_of)
from .deinterleave import deinterleave_intrin
from .rule import ScheduleRule
from .winograd import WINOGRAD_TILE, schedule_winograd_input, schedule_winograd_output, winograd_tile_read

PARALLEL_MIN_ELEMENTS = 1 << 14  # below this, waking the thread pool costs more than it saves

ROW_REDUCE_REGISTERS = 4  # independent vector accumulators per row: hides the add latency

# annotated kind (kinds.py) -> fn(sch, block, target): the heavy blocks' schedules
BLOCK_SCHEDULES = Registry("block kind", "CPU block schedules")


def block_schedule(*kinds):
    """Decorator: `fn(sch, block, target)` schedules the blocks annotated with one of `kinds` on CPU."""
    return BLOCK_SCHEDULES.register(*kinds)


def _extent(sch, loop):
    ext = sch.get(loop).extent
    return int(ext) if isinstance(ext, tvm.tirx.IntImm) else None


def _dtype_bits(sch, block):
    writes = sch.get(block).writes
    return tvm.runtime.DataType(writes[0].source.dtype).bits if writes else 32


def schedule_injective(sch, block, target):
    """Fuse all loops, vectorize the innermost lanes, split the rest across threads when large."""
    loops = sch.get_loops(block)
    if not loops:
        return
    row = _extent(sch, loops[-1])
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    total = _extent(sch, fused)
    if total is None:
        return
    lanes = target.vector_lanes(max(8, _dtype_bits(sch, block)))
    # A vector must not straddle rows of the innermost axis at uneven points: its indices then stop
    # being affine (gathers), and an epilogue read that way from a GEMM result computed in the same
    # kernel made LLVM reject TVM's IR ("Instruction does not dominate all uses"; rows of 6 with 4
    # or 8 lanes did, 2, 3, 6 or 12 did not).
    while lanes > 1 and (total % lanes or row and row % lanes and lanes % row):
        lanes //= 2
    if lanes > 1 and total >= lanes:
        outer, inner = sch.split(fused, [None, lanes])
        sch.vectorize(inner)
    else:
        outer = fused
    outer_ext = total // max(lanes, 1)
    if total >= PARALLEL_MIN_ELEMENTS and outer_ext >= 2:
        sch.parallel(outer)


def _vars_in(expr):
    """The Vars an index expression mentions."""
    return list(tvm.tirx.analysis.undefined_vars(expr))


def _contiguous_var(sch, block):
    """The block iterator that walks the last (contiguous) axis of its largest input, or None."""
    reads = [r for r in sch.get(block).reads if len(r.region) > 0]
    if not reads:
        return None
    largest = max(reads, key=lambda r: math.prod(int(d.extent) if isinstance(d.extent, tvm.tirx.IntImm) else 1
                                                    for d in r.region))
    used = _vars_in(largest.region[-1].min)
    for iv in sch.get(block).iter_vars:
        if any(iv.var.same_as(v) for v in used):
            return iv
    return None


def _widest_lanes(sch, block, extent, target, registers=1):
    """The widest run of up to `registers` vectors (of the block's dtype) that divides `extent` in at
    least 2 steps."""
    lanes = target.vector_lanes(_dtype_bits(sch, block)) * registers
    while lanes > 1 and (extent % lanes or extent < 2 * lanes):
        lanes //= 2
    return lanes


def _is_float_block(sch, block):
    writes = sch.get(block).writes
    return bool(writes) and str(writes[0].source.dtype).startswith("float")


def schedule_reduction(sch, block, target):
    """Reductions: parallel over the spatial loops, vectorized along whichever loop reads memory
    contiguously. Along the reduced axis (row sums) the loop is rfactored into vector-wide partial
    results; along a kept axis (column sums) that axis becomes the innermost, vectorized loop."""
    biter = sch.get(block).iter_vars
    loops = sch.get_loops(block)
    n_spatial = sum(1 for iv in biter if iv.iter_type != tvm.tirx.IterVar.CommReduce)
    if len(loops) != len(biter) or any(iv.iter_type == tvm.tirx.IterVar.CommReduce for iv in biter[:n_spatial]):
        return _parallel_spatial(sch, block, target)  # unusual nest (e.g. already transformed): keep it simple
    contiguous = _contiguous_var(sch, block)
    if contiguous is None or len(sch.get(block).writes) != 1:
        return _parallel_spatial(sch, block, target)
    if contiguous.same_as(biter[-1]) and contiguous.iter_type == tvm.tirx.IterVar.CommReduce:
        return _schedule_row_reduction(sch, block, n_spatial, target)
    if n_spatial and contiguous.same_as(biter[n_spatial - 1]):
        return _schedule_column_reduction(sch, block, n_spatial, target)
    return _parallel_spatial(sch, block, target)


def _parallel_spatial(sch, block, target, n_spatial=None):
    """Fuse the first `n_spatial` (default: all spatial) loops and run them in parallel when the work
    is large enough; returns the fused loop, or None when there are none."""
    loops = sch.get_loops(block)
    if n_spatial is None:
        n_spatial = sum(1 for iv in sch.get(block).iter_vars if iv.iter_type != tvm.tirx.IterVar.CommReduce)
    spatial = loops[:n_spatial]
    if not spatial:
        return None
    fused = sch.fuse(*spatial) if len(spatial) > 1 else spatial[0]
    ext = _extent(sch, fused) or 0
    work = ext * math.prod(_extent(sch, l) or 1 for l in loops[n_spatial:])
    if ext >= 2 and work >= PARALLEL_MIN_ELEMENTS and target.num_threads > 1:
        sch.parallel(fused)
    return fused


def _schedule_row_reduction(sch, block, n_spatial, target):
    """Reduce the contiguous last axis in vector-wide partial sums (rfactor), then the lanes."""
    loops = sch.get_loops(block)
    k = loops[-1]
    k_ext = _extent(sch, k)
    lanes = _widest_lanes(sch, block, k_ext, target, ROW_REDUCE_REGISTERS) if k_ext and _is_float_block(sch, block) else 1
    if lanes == 1 or any(not sch.get_loops(b) for b in sblocks(sch)):
        # (TVM's rfactor fails an internal check when a loopless block, e.g. a 0-d result, sits beside it)
        return _parallel_spatial(sch, block, target)
    _, ki = sch.split(k, [None, lanes])
    rf = sch.rfactor(ki, factor_axis=0)
    outer = _parallel_spatial(sch, rf, target, n_spatial)
    sch.vectorize(sch.get_loops(rf)[-1])
    sch.decompose_reduction(rf, sch.get_loops(rf)[0 if outer is None else 1])
    if outer is not None:
        sch.reverse_compute_at(block, outer)
    sch.set_scope(rf, 0, "local")
    return None


def _schedule_column_reduction(sch, block, n_spatial, target):
    """The reduced axes are strided: loop over them outside a vectorized run of the contiguous kept axis."""
    loops = sch.get_loops(block)
    spatial, reduce = loops[:n_spatial], loops[n_spatial:]
    inner = spatial[-1]
    ext = _extent(sch, inner) or 1
    lanes = target.vector_lanes(_dtype_bits(sch, block))
    chunk = next((c for c in (lanes * 8, lanes * 4, lanes * 2, lanes) if ext % c == 0 and ext >= c), None)
    if chunk is None:
        return _parallel_spatial(sch, block, target)
    io, ii = sch.split(inner, [None, chunk])
    sch.reorder(*reduce, ii)
    outer = sch.fuse(*spatial[:-1], io) if n_spatial > 1 else io
    work = (_extent(sch, outer) or 1) * chunk * math.prod(_extent(sch, l) or 1 for l in reduce)
    if (_extent(sch, outer) or 0) >= 2 and work >= PARALLEL_MIN_ELEMENTS and target.num_threads > 1:
        sch.parallel(outer)
    sch.vectorize(ii)
    sch.decompose_reduction(block, reduce[0])
    return None


def _rows_in_l2(target, k_bytes):
    """Rows of A (each `k_bytes` long) that fit half the target's L2, at most GEMM_MC: a row group is read
    again for every B panel, so it must stay in L2 (the other half holds the panel and C's tiles)."""
    l2 = target.l2_bytes or DEFAULT_L2_BYTES
    return max(1, min(GEMM_MC, l2 // 2 // max(1, k_bytes)))


def _register_tiles(sch, i, j, mr, nr, max_rows):
    """Rows split into MR-row register tiles, grouped up to `max_rows` rows (a divisor: no tail), columns
    into NR: the loops (row groups, tiles in a group, tile rows, column tiles, tile columns)."""
    blocks = _extent(sch, i) // mr
    io, ii = sch.split(i, [None, mr])
    jo, ji = sch.split(j, [None, nr])
    rows_per_chunk = max(d for d in range(1, max(1, min(max_rows // mr, blocks)) + 1) if blocks % d == 0)
    ioo, ioi = sch.split(io, [None, rows_per_chunk])
    return ioo, ioi, ii, jo, ji


@block_schedule(GEMM)
def schedule_gemm(sch, block, target):
    """Packed GEMM: an MR x NR register tile accumulated over all of K in registers (cache_write
    to local), NR vectorized (over unrolled whole vectors when more than 2), MR unrolled; blocks of
    GEMM_MC rows x one B panel in the parallel loop."""
    mr = int(sch.get(block).annotations["gemm_mr"])
    nr = int(sch.get(block).annotations["gemm_nr"])
    loops = sch.get_loops(block)
    *batch, i, j, k = loops
    m_pad, n_pad, k_ext = _extent(sch, i), _extent(sch, j), _extent(sch, k)
    k_bytes = k_ext * _dtype_bits(sch, block) // 8
    ioo, ioi, ii, jo, ji = _register_tiles(sch, i, j, mr, nr, _rows_in_l2(target, k_bytes))
    lanes = target.vector_lanes(_dtype_bits(sch, block))
    # a tile of more than 2 vectors (3 x 8 lanes for 4 rows on AVX2) unrolled over whole vectors: LLVM
    # splits a v24 register tile badly (element inserts through the stack)
    jv, ji = _whole_vectors(sch, ji, lanes) if nr > 2 * lanes else (None, ji)
    sch.reorder(ioo, jo, ioi, k, ii, *([jv] if jv is not None else []), ji)
    if jv is not None:
        _tile_in_registers(sch, block, ioi, ii, jv, ji, lanes, k)
        acc, = sch.get_consumers(block)
    else:
        acc = sch.cache_write(block, 0, "local")
        sch.reverse_compute_at(acc, ioi)
        sch.unroll(ii)
        if nr > 1:  # (with nr == 1 the copy-out has no loop of its own: its last loop is ioi)
            sch.vectorize(sch.get_loops(acc)[-1])
            sch.vectorize(ji)
    # (a Winograd GEMM's consumer, the output transform, reads all positions)
    if nr > 1 and WINOGRAD_TILE not in sch.get(block).annotations:
        _epilogue_per_tile(sch, acc, ioi, nr)
    work = math.prod(_extent(sch, l) for l in batch) * m_pad * n_pad * k_ext
    outer = sch.fuse(*batch, ioo, jo)
    if target.num_threads > 1 and work >= GEMM_PARALLEL_MIN_MACS:
        sch.parallel(outer)
    sch.decompose_reduction(block, k)


def _epilogue_per_tile(sch, acc, tile_loop, nr):
    """The GEMM's one elementwise consumer (bias, activation, crop of padded rows) computed per register
    tile right after the tile is stored, while it is in L1, instead of in a pass of its own over the
    whole product. The consumer is marked `kinds.KEY: EPILOGUE_DONE` so the generic rules leave it. Returns
    the consumer so placed, or None."""
    consumers = sch.get_consumers(acc)
    if len(consumers) != 1 or is_reduction(sch, consumers[0]) or kind_of(sch, consumers[0]) is not None:
        return None
    epilogue = consumers[0]
    try:
        sch.reverse_compute_at(epilogue, tile_loop)
    except ScheduleError:  # a consumer that reads the tile's rows irregularly: left as a pass of its own
        return None
    last = sch.get_loops(epilogue)[-1]
    if _extent(sch, last) == nr:
        sch.vectorize(last)
    sch.annotate(epilogue, KEY, EPILOGUE_DONE)
    return epilogue


@block_schedule(GEMM_PANELS)
def schedule_gemm_panels(sch, block, target):
    """B copied into panels [..., N/NR, K, NR]: each panel row a whole-vector copy of a row of B; B given
    transposed ([N, K]) is read along its rows (K innermost) instead, so no load is a gather. In parallel
    over panels when large."""
    *batch, jo, k, ji = sch.get_loops(block)
    nr, k_ext = _extent(sch, ji) or 1, _extent(sch, k) or 1
    lanes = target.vector_lanes(_dtype_bits(sch, block))
    if int(sch.get(block).annotations.get("transposed", 0)):
        if k_ext % lanes == 0:
            ko, ki = sch.split(k, [None, lanes])
            sch.reorder(ko, ji, ki)
            sch.unroll(ji)
            sch.vectorize(ki)
    else:
        if nr % lanes == 0:
            if nr > lanes:
                sch.unroll(sch.split(ji, [None, lanes])[0])
            sch.vectorize(sch.get_loops(block)[-1])
    outer = sch.fuse(*batch, jo) if batch else jo
    if target.num_threads > 1 and (_extent(sch, outer) or 0) >= 2 and \
            (_extent(sch, outer) or 0) * k_ext * nr >= PARALLEL_MIN_ELEMENTS:
        sch.parallel(outer)


def _whole_vectors(sch, loop, lanes):
    """A register tile's vectorized loop split into whole vectors where it spans several (unrolled later:
    LLVM splits odd-width vectors badly): (the vectors' loop or None, the lanes' loop)."""
    width = _extent(sch, loop) or 0
    if width > lanes and width % lanes == 0:
        return tuple(sch.split(loop, [None, lanes]))
    return None, loop


def _tile_in_registers(sch, block, at, rows, vectors, lanes_loop, lanes, kernel_column):
    """A conv's register tile: the block accumulates in a local copy written back at loop `at` (whole
    vectors), its rows and vectors unrolled, its lanes vectorized, and the kernel-column loop unrolled
    when short."""
    acc = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(acc, at)
    acc_last = sch.get_loops(acc)[-1]
    if vectors is not None:
        sch.unroll(sch.split(acc_last, [None, lanes])[0])
        acc_last = sch.get_loops(acc)[-1]
        sch.unroll(vectors)
    sch.vectorize(acc_last)
    sch.vectorize(lanes_loop)
    sch.unroll(rows)
    if (_extent(sch, kernel_column) or 0) <= 7:
        sch.unroll(kernel_column)


@block_schedule(CONV_GEMM)
def schedule_conv_gemm(sch, block, target):
    """The implicit-im2col conv GEMM (codegen/lower/conv.py): the matmul register tile, with the
    reduction over (input channel, kernel row, kernel column) loops whose innermost is unrolled."""
    mr = int(sch.get(block).annotations["gemm_mr"])
    nr = int(sch.get(block).annotations["gemm_nr"])
    b, i, j, *ks = sch.get_loops(block)
    m_pad, n_pad = _extent(sch, i), _extent(sch, j)
    k_bytes = math.prod(_extent(sch, l) for l in ks) * _dtype_bits(sch, block) // 8
    ioo, ioi, ii, jo, ji = _register_tiles(sch, i, j, mr, nr, _rows_in_l2(target, k_bytes))
    lanes = target.vector_lanes(_dtype_bits(sch, block))
    jv, ji = _whole_vectors(sch, ji, lanes)
    sch.reorder(b, ioo, jo, ioi, *ks, ii, *([jv] if jv is not None else []), ji)
    _tile_in_registers(sch, block, ioi, ii, jv, ji, lanes, ks[-1])
    work = _extent(sch, b) * m_pad * n_pad * math.prod(_extent(sch, l) for l in ks)
    outer = sch.fuse(b, ioo, jo)
    if target.num_threads > 1 and work >= GEMM_PARALLEL_MIN_MACS:
        sch.parallel(outer)
    sch.decompose_reduction(block, ks[0])


@block_schedule(CONV_DIRECT)
def schedule_conv_direct(sch, block, target):
    """The direct conv over output-channel panels (codegen/lower/conv.py): per (image, panel) in parallel,
    per tile of `conv_pixels` output pixels, pixels x NR/lanes vector accumulators in registers over
    (channel, kernel row, kernel column), each step one broadcast input value per pixel times the
    panel's NR/lanes weight vectors. (The blocked result's consumer, which unblocks it into NCHW, is a
    pass of its own, schedule_conv_epilogue: TVM's reverse_compute_at cannot place a read of flat pixels
    y * OW + x per panel, and placed it wrongly for OW = 7.)"""
    px = int(sch.get(block).annotations["conv_pixels"])
    b, ob, q, oi, rc, rr, rt = sch.get_loops(block)
    nr = _extent(sch, oi)
    lanes = target.vector_lanes(_dtype_bits(sch, block))
    qo, qi = sch.split(q, [None, px])
    ov, oi = _whole_vectors(sch, oi, lanes)
    # each panel's weights (streamed from L2) serve all tiles of pixels in turn (measured faster than
    # running every panel per tile, even where all the weights fit the L2: ResNet-18's 64x56x56 layer)
    sch.reorder(b, ob, qo, rc, rr, rt, qi, *([ov] if ov is not None else []), oi)
    _tile_in_registers(sch, block, qo, qi, ov, oi, lanes, rt)
    outer = sch.fuse(b, ob)
    if target.num_threads > 1 and (_extent(sch, outer) or 0) >= 2:
        sch.parallel(outer)
    sch.decompose_reduction(block, rc)


@block_schedule(CONV_BLOCKED)
def schedule_conv_blocked(sch, block, target):
    """A group-1 conv in the blocked layout (codegen/lower/blocked.py): a register tile of rows x columns output
    pixels x R output blocks (attr conv_tile) accumulated over (input block, kernel row, kernel column, lane),
    each step a broadcast input value per pixel times R weight vectors, its epilogue (bias, clip, residual) per
    tile from the registers. Loop order by cache reuse: where all the weights fit half the L2, each row of tiles
    serves every output block while its input is in L1; else (big weights, small images) each group of R output
    blocks' weights serve all pixels while the whole input stays in L2. In parallel over the outer loops."""
    n, ob, y, x, o, rc, rr, rt, rl = sch.get_loops(block)
    bits = _dtype_bits(sch, block)
    lanes = target.vector_lanes(bits)
    width = _extent(sch, o)
    ty, tx, r = (int(v) for v in sch.get(block).annotations["conv_tile"])
    weight_bytes = math.prod(_extent(sch, l) for l in (ob, o, rc, rr, rt, rl)) * bits // 8
    pixels_outer = weight_bytes <= (target.l2_bytes or DEFAULT_L2_BYTES) // 2
    obo, obi = sch.split(ob, [None, r])
    yo, yi = sch.split(y, [None, ty])
    xo, xi = sch.split(x, [None, tx])
    ov, oi = _whole_vectors(sch, o, lanes)
    outer = (n, yo, obo) if pixels_outer else (n, obo, yo)
    # the input blocks in chunks whose R output blocks' weights fit half the L1, each chunk's serving a whole row
    # of tiles (cycling through a panel just over the L1 misses on every load: 3x3 convs of 64 channels)
    panel_bytes = r * width * math.prod(_extent(sch, l) for l in (rr, rt, rl)) * bits // 8
    blocks_in = _extent(sch, rc)
    chunk = max(d for d in range(1, blocks_in + 1)
                if blocks_in % d == 0 and (d == 1 or d * panel_bytes <= half_l1_bytes(target)))
    chunks = []
    if chunk < blocks_in:
        rco, rc = sch.split(rc, [None, chunk])
        chunks = [rco]
    sch.reorder(*outer, *chunks, xo, rc, rr, rt, rl, yi, xi, obi, *([ov] if ov is not None else []), oi)
    # the accumulators' home: the tile (in registers throughout), or with chunks the row of tiles (reloaded per chunk)
    home = outer[-1] if chunks else xo
    acc = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(acc, home)
    _unroll_tile(sch, acc, home, lanes)
    for loop in (yi, xi, obi, rl) + ((ov,) if ov is not None else ()):
        sch.unroll(loop)
    if (_extent(sch, rt) or 0) <= 7:
        sch.unroll(rt)
    sch.vectorize(oi)
    epilogue = _epilogue_per_tile(sch, acc, home, width)
    if epilogue is not None:
        _unroll_tile(sch, epilogue, home, lanes)
        try:  # the epilogue reads the accumulators: the product is never stored
            sch.compute_inline(acc)
        except ScheduleError:
            pass
    pads = [p for p in sch.get_producers(block) if kind_of(sch, p) == PADDED_INPUT]
    if pads and pixels_outer:  # the padded input rows a row of tiles reads, made right before it (L2, not memory)
        _padded_input_at(sch, pads[0], yo, target)
        outer = outer[:2]
    elif pads:
        schedule_injective(sch, pads[0], target)
    fused = sch.fuse(*outer)
    if target.num_threads > 1 and (_extent(sch, fused) or 0) >= 2:
        sch.parallel(fused)
    sch.decompose_reduction(block, chunks[0] if chunks else rc)


@block_schedule(PADDED_INPUT)
def schedule_padded_input(sch, block, target):
    """A conv's zero-padded input (codegen/lower/blocked.py _padded_input): left to a blocked conv's rule that reads
    it (blocks run in order, so this comes first), which places it where the conv reads it or makes it a pass of
    its own; else a pass of its own."""
    if not any(kind_of(sch, c) in (CONV_BLOCKED, CONV_BLOCKED_NCHW) for c in sch.get_consumers(block)):
        schedule_injective(sch, block, target)


TILE_UNROLL_MAX = 64  # statements of a block placed per tile unrolled at most (a row of tiles' epilogue: a loop)


def _unroll_tile(sch, block, tile_loop, lanes):
    """A block placed per register tile at `tile_loop` (the accumulators' store, the epilogue): its innermost loop (a
    block's B lanes) vectorized in whole vectors, its loops inside the tile unrolled where they are few."""
    loops = sch.get_loops(block)
    *tile, last = loops[next(i for i, l in enumerate(loops) if sch.get(l).same_as(sch.get(tile_loop))) + 1:]
    if sch.get(last).kind != tvm.tirx.ForKind.VECTORIZED:
        vectors, last = _whole_vectors(sch, last, lanes)
        tile += [vectors] if vectors is not None else []
        sch.vectorize(last)
    if math.prod(_extent(sch, l) or TILE_UNROLL_MAX for l in tile) <= TILE_UNROLL_MAX:
        for loop in tile:
            sch.unroll(loop)


@block_schedule(CONV_BLOCKED_NCHW)
def schedule_conv_blocked_nchw(sch, block, target):
    """A stem conv from a plain NCHW input into the blocked layout (codegen/lower/blocked.py): per output row,
    per tile of P output pixels, P x R accumulator vectors (R blocks of output channels) in registers over the
    (channel, kernel row, kernel column) taps, each tap one broadcast input value per pixel read straight from
    the image times R weight vectors; the elementwise epilogue (bias, clip) per tile from the registers, its
    stores whole contiguous vectors of the blocked output. In parallel over (image, output row)."""
    n, ob, y, x, o, rc, rr, rt = sch.get_loops(block)
    lanes = target.vector_lanes(_dtype_bits(sch, block))
    pixels, blocks = _stem_tile(target, _extent(sch, x), _extent(sch, ob), _extent(sch, o) // lanes or 1)
    obo, obi = sch.split(ob, [None, blocks])
    xo, xi = sch.split(x, [None, pixels])
    ov, oi = _whole_vectors(sch, o, lanes)
    # the channel blocks inside the tiles: an output row's input rows and all the weights stay in L1
    sch.reorder(n, y, xo, obo, rc, rr, rt, xi, obi, *([ov] if ov is not None else []), oi)
    # (the kernel columns not unrolled by TVM: LLVM does, and at stride 2 it keeps the broadcasts shared by
    # neighbouring taps alive, spilling; kernel rows are unrolled instead)
    _tile_in_registers(sch, block, obo, xi, ov, oi, lanes, rr)
    sch.unroll(obi)
    acc, = sch.get_consumers(block)
    if _epilogue_per_tile(sch, acc, obo, _extent(sch, oi)) is not None:
        try:  # the epilogue reads the registers: the product is never stored
            sch.compute_inline(acc)
        except ScheduleError:
            pass
    rows = [p for p in sch.get_producers(block) if kind_of(sch, p) == PADDED_INPUT]
    if len(rows) == 1:
        _padded_input_at(sch, rows[0], y, target)
    outer = sch.fuse(n, y)
    if target.num_threads > 1 and (_extent(sch, outer) or 0) >= 2:
        sch.parallel(outer)
    sch.decompose_reduction(block, rc)


def _padded_input_at(sch, block, loop, target):
    """A conv's padded input (PADDED_INPUT) placed at the conv's `loop`, just the part that loop's iteration reads,
    filled and copied by _copy_inside with its rows' partial vectors element by element."""
    sch.compute_at(block, loop)
    loops = sch.get_loops(block)
    below = loops[next(i for i, l in enumerate(loops) if sch.get(l).same_as(sch.get(loop))) + 1]
    _copy_inside(sch, block, below, target, partial_vectors=True)


def _whole_vector_run(sch, loop, lanes):
    """`loop` run as a vector loop over its whole vectors, the last partial vector's elements one by one
    after (loop_partition), not with a predicate per lane (which the vectorizer turns into scalar code)."""
    extent = _extent(sch, loop) or 0
    if extent < lanes:
        return
    whole = extent - extent % lanes
    if whole < extent:
        loop = _partition(sch, loop, [whole, extent - whole])[0]
    sch.vectorize(sch.split(loop, [None, lanes])[1])


def _stem_tile(target, width, blocks, block_vectors):
    """(P output pixels, R channel blocks) of the stem conv's register tile: R blocks of up to two vectors in
    all, and P as large as the vector registers allow beside the R weight vectors of a tap and the input
    broadcasts LLVM keeps for the next kernel column (about one per two pixels at stride 2: it shares them
    between neighbouring taps; MobileNetV2's stem measured fastest at 4 x 2 on AVX2, slower at 6 x 2 and 3 x 4),
    down to half of that for a P that divides the row `width`: a partial last tile puts a test per pixel in every
    tile and its accumulators in memory (ResNet-18's 7x7 stem, 112 columns, in 6 x 2 tiles: 10 ms, 4 x 2: 3.4 ms)."""
    blocks = max(d for d in range(1, blocks + 1) if blocks % d == 0 and (d * block_vectors <= 2 or d == 1))
    vectors = blocks * block_vectors
    return _row_tile(width, int((target.vector_registers - vectors - 1) / (vectors + 0.5))), blocks


def _row_tile(width, most):
    """Output pixels of a register tile along a row of `width`: the largest divisor of the row up to `most`, so no
    tile is partial, or `most` (a partial last tile) where no divisor comes to half of it."""
    most = max(1, min(most, width))
    best = max(d for d in range(1, most + 1) if width % d == 0)
    return best if 2 * best >= most else most


def half_l1_bytes(target):
    """Bytes a kernel may keep in L1 for reuse: half the target's L1 (the rest for what streams past)."""
    return (target.l1_bytes or DEFAULT_L1_BYTES) // 2


def _pixels_per_chunk(target, pixels, nr, k_bytes):
    """Pixels of a 1x1 conv's chunk: whole `nr`-pixel panels dividing `pixels`, as many as keep the chunk's
    input (`k_bytes` a pixel) within half the L1, so every register tile of output channels rereads it
    from L1 and writes runs of chunk pixels per channel instead of one panel."""
    panels = pixels // nr
    most = max(1, half_l1_bytes(target) // max(1, k_bytes * nr))
    return nr * max(d for d in range(1, min(most, panels) + 1) if panels % d == 0)


def _schedule_conv_1x1_chunks(sch, block, target):
    """A 1x1 conv's GEMM (C_out x pixels, K = C_in) over chunks of pixels (_pixels_per_chunk): per chunk,
    every MR x NR register tile of output channels and pixels, accumulated over K in registers, its
    epilogue per tile; the chunks in parallel."""
    mr = int(sch.get(block).annotations["gemm_mr"])
    nr = int(sch.get(block).annotations["gemm_nr"])
    b, i, j, k = sch.get_loops(block)
    work = math.prod(_extent(sch, l) for l in (b, i, j, k))
    chunk = _pixels_per_chunk(target, _extent(sch, j), nr, _extent(sch, k) * _dtype_bits(sch, block) // 8)
    epilogue = sch.get_consumers(block)
    pixels = _extent(sch, sch.get_loops(epilogue[0])[-1]) if len(epilogue) == 1 else _extent(sch, j)
    io, ii = sch.split(i, [None, mr])
    jc, jp, ji = sch.split(j, [None, chunk // nr, nr])
    sch.reorder(b, jc, io, jp, k, ii, ji)
    acc = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(acc, jp)
    sch.vectorize(sch.get_loops(acc)[-1])
    sch.vectorize(ji)
    _epilogue_per_tile(sch, acc, jp, nr)
    consumers = sch.get_consumers(acc)
    if pixels % nr and len(consumers) == 1 and kind_of(sch, consumers[0]) == EPILOGUE_DONE:
        # the last tile's epilogue stores only the pixels there are: split into vectors that divide the
        # pixels, so its predicate holds per whole vector (the vectorizer scalarizes a per-lane one)
        lanes = math.gcd(pixels, target.vector_lanes(_dtype_bits(sch, block)))
        vectors, lanes_loop = sch.split(sch.get_loops(consumers[0])[-1], [None, lanes])
        sch.unroll(vectors)
        sch.vectorize(lanes_loop)
    sch.unroll(ii)
    outer = sch.fuse(b, jc)
    if target.num_threads > 1 and work >= GEMM_PARALLEL_MIN_MACS:
        sch.parallel(outer)
    sch.decompose_reduction(block, k)


@block_schedule(CONV_1X1)
def schedule_conv_1x1(sch, block, target):
    """A 1x1 conv's GEMM over (C_out, H*W) (codegen/lower/conv.py): register tiles over chunks of pixels
    (_schedule_conv_1x1_chunks), with the output
    rows and columns of its one elementwise consumer (crop, bias, activation, residual) fused first into
    the GEMM's pixel axis, so that consumer runs per register tile while the tile is in L1."""
    consumers = sch.get_consumers(block)
    if len(consumers) == 1 and not is_reduction(sch, consumers[0]) and kind_of(sch, consumers[0]) is None \
            and len(sch.get_loops(consumers[0])) == 4:
        width = _extent(sch, sch.get_loops(consumers[0])[-1])
        try:  # (the block's own iteration space: reverse_compute_at rebuilds loops from it)
            sch.transform_block_layout(consumers[0], lambda b, o, y, x: (b, o, y * width + x))
        except ScheduleError:
            pass
    _schedule_conv_1x1_chunks(sch, block, target)
    copy_out, = sch.get_consumers(block)  # the register tile's store into the product
    epilogue = sch.get_consumers(copy_out)
    if len(epilogue) == 1 and kind_of(sch, epilogue[0]) == EPILOGUE_DONE:
        try:  # the epilogue reads the registers: the product is never stored
            sch.compute_inline(copy_out)
        except ScheduleError:
            pass


@block_schedule(CONV_DEPTHWISE)
def schedule_conv_depthwise(sch, block, target):
    """The depthwise stencil (codegen/lower/conv.py): per (image, channel) and tile of NR wide columns,
    NR/lanes vector accumulators in registers over the unrolled kh x kw taps, each tap a broadcast
    weight times contiguous (unaligned) vector loads of the phase plane, which is copied per channel."""
    nr = int(sch.get(block).annotations["gemm_nr"])
    b, c, j, rr, rt = sch.get_loops(block)
    lanes = target.vector_lanes(_dtype_bits(sch, block))
    jo, jv, ji = sch.split(j, [None, nr // lanes, lanes])
    sch.reorder(b, c, jo, rr, rt, jv, ji)
    acc = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(acc, jo)
    acc_v, acc_i = sch.split(sch.get_loops(acc)[-1], [None, lanes])
    sch.unroll(acc_v)
    sch.vectorize(acc_i)
    for loop in (rr, rt, jv):
        sch.unroll(loop)
    sch.vectorize(ji)
    outer = sch.fuse(b, c)
    planes = [p for p in sch.get_producers(block) if kind_of(sch, p) in (STENCIL_PLANES, STENCIL_PHASES)]
    if len(planes) == 1:  # the channel's padded plane copied right before its use: it stays in L1/L2
        sch.compute_at(planes[0], outer)
        _make_planes(sch, planes[0], outer, target)
    outer = _epilogue_per_channel(sch, acc, outer, lanes)
    work = (_extent(sch, outer) or 0) * (_extent(sch, jo) or 0) * nr
    if target.num_threads > 1 and (_extent(sch, outer) or 0) >= 2 and work >= PARALLEL_MIN_ELEMENTS:
        sch.parallel(outer)
    sch.decompose_reduction(block, rr)


@block_schedule(DEPTHWISE_BLOCKED)
def schedule_depthwise_blocked(sch, block, target):
    """The depthwise conv of a blocked input (codegen/lower/blocked.py): per (image, channel block, output row)
    and tile of P output pixels along the row, P accumulators of one B-lane vector each in registers over the
    unrolled kh x kw taps, each tap one vector load of the pixel's B channels (any stride: just an address
    step) times the tap's weight vector; the elementwise epilogue (bias, clip, residual) per tile from the
    registers. The rows and the tiles are loop-partitioned at the image's border, so inside it the input is
    read in place with no bounds test and no padded copy. In parallel over (image, block), and bands of rows
    where those are fewer than the threads."""
    n, cb, y, x, lane, rr, rt = sch.get_loops(block)
    # (one accumulator vector per pixel)
    pixels = _row_tile(_extent(sch, x), target.accumulator_registers)
    xo, xi = sch.split(x, [None, pixels])
    sch.reorder(n, cb, y, xo, rr, rt, xi, lane)
    acc = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(acc, xo)
    sch.vectorize(sch.get_loops(acc)[-1])
    for loop in (rr, rt, xi):
        sch.unroll(loop)
    sch.vectorize(lane)
    epilogue = _epilogue_per_tile(sch, acc, xo, _extent(sch, lane))
    if epilogue is not None:
        try:  # the epilogue reads the registers: the product is never stored
            sch.compute_inline(acc)
        except ScheduleError:
            pass
    for copy in [epilogue] if epilogue is not None else sch.get_consumers(block):
        # the tile's pixels unrolled, so the accumulators stay in registers (a loop over them indexes memory)
        *_, tile_pixels, _ = sch.get_loops(copy)
        if pixels > 1 and _extent(sch, tile_pixels) == pixels:
            sch.unroll(tile_pixels)
    work = math.prod(_extent(sch, loop) or 1 for loop in (n, cb, y, xo, lane)) * pixels
    planes, rows = (_extent(sch, n) or 1) * (_extent(sch, cb) or 1), _extent(sch, y) or 1
    # fewer (image, block) planes than threads: the rows split into bands too, in parallel (the fewest that do)
    bands = min([d for d in range(1, rows + 1) if rows % d == 0 and planes * d >= target.num_threads] + [rows]) \
        if work >= PARALLEL_MIN_ELEMENTS else 1
    band, y = sch.split(y, [bands, None]) if bands > 1 else (None, y)
    for loop in (y, xo):  # border rows / tiles apart from the inside ones (s_tir LoopPartition, by `likely`)
        sch.annotate(loop, "pragma_loop_partition_hint", 1)
    outer = sch.fuse(n, cb, *([band] if band is not None else []))
    if target.num_threads > 1 and (_extent(sch, outer) or 0) >= 2 and work >= PARALLEL_MIN_ELEMENTS:
        sch.parallel(outer)
    sch.decompose_reduction(block, rr)


def _epilogue_per_channel(sch, acc, outer, lanes):
    """The depthwise stencil's one elementwise consumer (crop of the wide rows, bias, activation) computed per
    (image, channel) right after that channel's product, while it is in L1, instead of in a pass of its own:
    its (image, channel) loops merged with the stencil's `outer` (reverse_compute_at cannot solve its reads
    y * Wq + x). Rows narrower than a vector are left to a pass of their own (per channel, MobileNetV2's 7x7
    layers measured 20% slower). Returns the merged loop, or `outer` where the consumer is not merged."""
    consumers = sch.get_consumers(acc)
    if len(consumers) != 1 or is_reduction(sch, consumers[0]) or kind_of(sch, consumers[0]) is not None:
        return outer
    epilogue = consumers[0]
    loops = sch.get_loops(epilogue)
    if len(loops) != 4 or (_extent(sch, loops[-1]) or 0) < lanes or \
            _extent(sch, loops[0]) * _extent(sch, loops[1]) != _extent(sch, outer):
        return outer
    sch.fuse(*loops[:2])
    last = sch.get_loops(epilogue)[-1]
    if _extent(sch, last) % lanes == 0:
        sch.vectorize(sch.split(last, [None, lanes])[1])
    sch.annotate(epilogue, KEY, EPILOGUE_DONE)
    return sch.merge(outer, sch.get_loops(epilogue)[0])


@block_schedule(CONV_WGRAD_GEMM)
def schedule_conv_weight_grad_gemm(sch, block, target):
    """The conv weight-gradient GEMM (codegen/lower/conv.py): one parallel work item per (group of input
    channels, NR output channels) keeps its channels' kh x kw x NR results in a local block (L2); per image,
    for each of its input channels and kernel rows, the kw x NR register tile accumulates over the output
    pixels. The image is the outer reduction loop so that its dy pixels (NR channels each, L1-resident) serve
    every input channel of the group before the next image's are read: dy streams from memory once per
    group, not once per input channel. The input channels are split into as few groups as give every
    thread a work item."""
    nr = int(sch.get(block).annotations["gemm_nr"])
    c, r, t, j, rn, ry, rx = sch.get_loops(block)
    jo, ji = sch.split(j, [None, nr])
    lanes = target.vector_lanes(_dtype_bits(sch, block))
    jv, ji = _whole_vectors(sch, ji, lanes)
    panels, c_in = _extent(sch, jo), _extent(sch, c)
    groups = min(d for d in range(1, c_in + 1) if c_in % d == 0 and (d * panels >= target.num_threads or d == c_in))
    co, ci = sch.split(c, [groups, None])
    sch.reorder(co, jo, rn, ci, r, ry, rx, t, *([jv] if jv is not None else []), ji)
    acc = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(acc, jo)
    last = sch.get_loops(acc)[-1]
    sch.vectorize(sch.split(last, [None, lanes])[1] if nr % lanes == 0 and nr > lanes else last)
    if jv is not None:
        sch.unroll(jv)
    sch.vectorize(ji)
    sch.unroll(t)
    outer = sch.fuse(co, jo)
    if target.num_threads > 1 and (_extent(sch, outer) or 0) >= 2:
        sch.parallel(outer)
    sch.decompose_reduction(block, rn)


@block_schedule(CONV_PLANES)
def schedule_conv_planes(sch, block, target):
    """The conv GEMM's padded input planes: loop over (row, column) of each plane, so the source
    index is affine (no per-element division), in parallel over channels."""
    width = int(sch.get(block).annotations["plane_width"])
    *outer, i = sch.get_loops(block)
    sch.split(i, [None, width])
    fused = sch.fuse(*outer)
    if target.num_threads > 1 and (_extent(sch, fused) or 0) >= 2:
        sch.parallel(fused)


@block_schedule(STENCIL_PLANES, STENCIL_PHASES)
def schedule_stencil_planes(sch, block, target):
    """A stencil's planes, 2-D padded or split into column phases, in parallel over (image, channel)
    (_make_planes); planes read by a depthwise stencil are placed per channel by its schedule, and the
    padded input of a column-phase split by the split, instead."""
    if any(kind_of(sch, c) in (CONV_DEPTHWISE, STENCIL_PHASES) for c in sch.get_consumers(block)):
        return
    b, c, *_ = sch.get_loops(block)
    fused = sch.fuse(b, c)
    if target.num_threads > 1 and (_extent(sch, fused) or 0) >= 2:
        sch.parallel(fused)
    _make_planes(sch, block, fused, target)


def _make_planes(sch, planes, loop, target):
    """Stencil planes made per iteration of their (image, channel) `loop`: split into column phases from a
    padded input (STENCIL_PHASES, _padded_then_split), or padded planes filled apart and copied (_copy_inside)."""
    if kind_of(sch, planes) == STENCIL_PHASES:
        _padded_then_split(sch, planes, loop, target)
    else:
        _copy_inside(sch, planes, sch.get_loops(planes)[1], target)


def _padded_then_split(sch, block, loop, target):
    """Column-phase planes made per iteration of `loop`: the padded input made (_copy_with_border), then split."""
    padded, = sch.get_producers(block)
    sch.compute_at(padded, loop)
    _copy_with_border(sch, padded)
    _split_phases(sch, block)


def _copy_with_border(sch, block):
    """A padded input plane (its innermost two loops rows x columns) made in one pass per region instead of
    a fill of the whole plane then a copy (decompose_padding): its row loop split (loop_partition) into the
    top pad rows, the input's rows and the bottom ones, and the input's rows' column loop likewise, each
    loop vectorized whole: the bounds tests fold away per region, so the inside is a plain vector copy and
    only the border is zeroed (MobileNetV2's 96x112 stride-2 layer: the fill was a fifth of its stores)."""
    p0, p1 = (int(v) for v in sch.get(block).annotations["pad_before"])
    h, wd = (int(v) for v in sch.get(block).reads[0].source.shape[-2:])
    row, col = sch.get_loops(block)[-2:]
    total_rows, total_cols = _extent(sch, row), _extent(sch, col)
    inside_rows = max(0, min(h, total_rows - p0))
    inside_cols = max(0, min(wd, total_cols - p1))
    row_parts = [(n, inside) for n, inside in ((p0, False), (inside_rows, True),
                                               (total_rows - p0 - inside_rows, False)) if n > 0]
    col_parts = [n for n in (p1, inside_cols, total_cols - p1 - inside_cols) if n > 0]
    rows = _partition(sch, row, [n for n, _ in row_parts])
    for part, (_, inside) in zip(rows, row_parts):
        cols = part if len(rows) > 1 else col  # (each part's innermost loop: its columns)
        for piece in _partition(sch, cols, col_parts) if inside and inside_cols > 0 else [cols]:
            sch.vectorize(piece)


def _partition(sch, loop, extents):
    """`loop` split into consecutive loops of these extents (loop_partition); returns their innermost loops."""
    if len(extents) < 2:
        return [loop]
    return [sch.get_loops(sch.get_child_blocks(part)[0])[-1]
            for part in sch.loop_partition(loop, extents[:-1] + [None])]


def _split_phases(sch, block):
    """Stencil planes [..., row phase, column phase, rows, Wq] split from the padded input: per row, `phase_lanes`
    columns of both phases from one contiguous run, by vector shuffles (codegen/schedule/deinterleave.py)."""
    lanes = int(sch.get(block).annotations["phase_lanes"])
    planes = sch.get(block).writes[0].source
    rows = int(planes.shape[-2])
    loops = sch.get_loops(block)  # (placed by compute_at, the nest lost its loops of extent 1: a row phase, rows)
    pc, r, col = (loops[-3], loops[-2], loops[-1]) if rows > 1 else (loops[-2], None, loops[-1])
    co, ci = sch.split(col, [None, lanes])
    sch.reorder(*([r] if r is not None else []), co, pc, ci)
    sch.tensorize(pc, deinterleave_intrin(lanes, str(planes.dtype)))


def _copy_inside(sch, block, loop, target, partial_vectors=False):
    """Padded planes: the padding filled apart inside `loop` (decompose_padding), then the inside copied
    along whole vectors of its rows, with no per-element bounds test. Rows that are no whole number of
    vectors stay scalar, or with `partial_vectors` run their whole vectors and then the rest one by one
    (_whole_vector_run)."""
    try:
        fill = sch.decompose_padding(block, loop)
    except ScheduleError:  # (not the padding pattern TVM knows: left a loop nest with bounds tests)
        return
    lanes = target.vector_lanes(_dtype_bits(sch, block))
    for b in (fill, block):
        last = sch.get_loops(b)[-1]
        if partial_vectors:
            _whole_vector_run(sch, last, lanes)
        elif (_extent(sch, last) or 0) % lanes == 0 and (_extent(sch, last) or 0) >= lanes:
            sch.vectorize(sch.split(last, [None, lanes])[1])


def _reads_kind(sch, block, kind):
    """Whether a block that `block` reads is annotated `kind`."""
    return any(kind_of(sch, p) == kind for p in sch.get_producers(block))


def schedule_conv_epilogue(sch, block, target, flat_pixels=False):
    """The block that crops the conv GEMM's wide rows into the output, or unblocks the direct conv's
    channel panels (with any fused epilogue): the row loop (for the direct conv's flat pixels, the
    image's rows and columns as one loop, vectorized by the widest vector that divides it) innermost and
    vectorized when whole vectors fit it, the rest fused and parallel. (The default fuses every loop, which turns the read into a per-lane
    gather with a division per lane.) `flat_pixels`: the block reads the direct conv's result."""
    *outer, last = sch.get_loops(block)
    if flat_pixels and len(outer) == 3:
        *outer, row = outer
        last = sch.fuse(row, last)
    ext = _extent(sch, last) or 0
    lanes = target.vector_lanes(_dtype_bits(sch, block))
    while flat_pixels and lanes > 1 and ext % lanes:
        lanes //= 2
    if lanes > 1 and ext % lanes == 0 and ext >= lanes:
        sch.vectorize(sch.split(last, [None, lanes])[1])
    if outer:
        fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
        if target.num_threads > 1 and (_extent(sch, fused) or 0) >= 2 and (_extent(sch, fused) or 0) * ext >= \
                PARALLEL_MIN_ELEMENTS:
            sch.parallel(fused)


block_schedule(WINOGRAD_INPUT)(schedule_winograd_input)


@block_schedule(WINOGRAD_HALF)
def _scheduled_with_its_consumer(sch, block, target):
    """A Winograd transform's first half, placed per tile by its consumer's schedule (codegen/schedule/winograd.py)."""


@block_schedule(EPILOGUE_DONE)
def _scheduled_with_gemm(sch, block, target):
    """A GEMM epilogue already placed per register tile by the GEMM schedule (blocks run in order: the
    GEMM came first): leave it."""


@block_schedule(POOL_ARGMAX)
def _scheduled_with_the_pool_gradient(sch, block, target):
    """A tiled max pool gradient's window argmax, placed per row of windows by schedule_pool_grad_tiled
    (blocks run in order, so it comes first: leave it)."""


@block_schedule(POOL_GRAD_TILED)
def schedule_pool_grad_tiled(sch, block, target):
    """A 2-D max pool's gradient over windows that tile the input (codegen/lower/conv.py): each image row and
    column split into (window, offset in it), so a pixel's window and offset are loop variables instead of
    per-element divisions (which, vectorized, made every read of dy and the argmax a gather); the argmax of
    one row of windows computed right before that row's pixels, in parallel over (image, channel)."""
    sh, sw = (int(v) for v in sch.get(block).annotations["pool_strides"])
    b, c, i, j = sch.get_loops(block)
    qi, ri = sch.split(i, [None, sh])
    qj, rj = sch.split(j, [None, sw])
    for loop in (ri, rj):
        sch.unroll(loop)
    argmax = [p for p in sch.get_producers(block) if kind_of(sch, p) == POOL_ARGMAX]
    if len(argmax) == 1:
        sch.compute_at(argmax[0], qi)
    outer = sch.fuse(b, c)
    if target.num_threads > 1 and (_extent(sch, outer) or 0) >= 2 and \
            (_extent(sch, outer) or 0) * _extent(sch, qi) * sh * _extent(sch, qj) * sw >= PARALLEL_MIN_ELEMENTS:
        sch.parallel(outer)


@block_schedule(LAYER_NORM_STATS, SOFTMAX_STATS)
def _scheduled_with_their_rows(sch, block, target):
    """Row statistics (layer norm's sums, softmax's max and sum) are placed per row by their output's
    rule (blocks run in order, so these come first: leave them)."""


@block_schedule(LAYER_NORM, SOFTMAX)
def schedule_row_normalization(sch, block, target):
    """Layer norm, softmax: one parallel loop over rows; in each row the two statistics (vector-wide
    partial results: sum and centered sum of squares, or max and sum of exp) and the vectorized output,
    so a row stays in cache and one barrier remains."""
    rows = int(sch.get(block).annotations["rows"])
    loops = sch.get_loops(block)
    stats_kind = ROW_STATS[kind_of(sch, block)]
    stats = [b for b in sblocks(sch) if kind_of(sch, b) == stats_kind]
    if rows == 0 or len(stats) != 2:
        for b in stats:
            schedule_reduction(sch, b, target)
        return schedule_injective(sch, block, target)
    row = sch.fuse(*loops[:rows]) if rows > 1 else loops[0]
    inner = sch.fuse(*loops[rows:]) if len(loops) - rows > 1 else loops[rows]
    ext = _extent(sch, inner) or 1
    lanes = _widest_lanes(sch, block, ext, target)
    if lanes > 1:
        sch.vectorize(sch.split(inner, [None, lanes])[1])
    placed, partials = [], []  # placed: in reverse program order (each block's consumers placed before it)
    for b in stats:
        n_spatial = sum(1 for iv in sch.get(b).iter_vars if iv.iter_type != tvm.tirx.IterVar.CommReduce)
        red = sch.get_loops(b)[n_spatial:]
        width = _widest_lanes(sch, b, _extent(sch, red[0]) or 1, target, ROW_REDUCE_REGISTERS) \
            if len(red) == 1 and _is_float_block(sch, b) else 1
        rf = None
        if width > 1:  # vector-wide partial sums, then their total
            rf = sch.rfactor(sch.split(red[0], [None, width])[1], factor_axis=0)
            partials.append(rf)
        placed = [b] + ([rf] if rf is not None else []) + placed
    for b in placed:
        sch.compute_at(b, row)
    work = (_extent(sch, row) or 1) * ext
    if (_extent(sch, row) or 0) >= 2 and work >= PARALLEL_MIN_ELEMENTS and target.num_threads > 1:
        sch.parallel(row)  # (before decompose_reduction, which TVM's parallel check rejects)
    for b in placed:
        if any(b.same_as(rf) for rf in partials):
            lanes_loop, *_, k_outer = sch.get_loops(b)[1:]
            sch.reorder(k_outer, lanes_loop)
            sch.vectorize(lanes_loop)
            sch.decompose_reduction(b, k_outer)
            sch.set_scope(b, 0, "local")


GEMM_PARALLEL_MIN_MACS = 1 << 18  # smaller products finish before the thread pool wakes
GEMM_MC = 64  # rows of A per parallel work item at most: MC x K floats stay in L2 while B panels stream
DEFAULT_L1_BYTES = 32 << 10  # a target whose L1 is unknown
DEFAULT_L2_BYTES = 256 << 10  # a target whose L2 is unknown (cross targets): the smallest common L2


def _init_empty_reduction(sch, block):
    """A reduction over an empty axis still writes its initial value (0 for a sum): hoist the init
    out of the reduction loop, which never runs."""
    if not is_reduction(sch, block):
        return
    n_spatial = sum(1 for iv in sch.get(block).iter_vars if iv.iter_type != tvm.tirx.IterVar.CommReduce)
    loops = sch.get_loops(block)
    if len(loops) > n_spatial and all(_extent(sch, l) != 0 for l in loops[:n_spatial]):
        sch.decompose_reduction(block, loops[n_spatial])


def schedule_block(sch, block, kind, after_conv, target, winograd_tile=None):
    """Schedule one block: by the schedule for its annotated `kind`, else as a reduction, a Winograd conv's
    output transform (`winograd_tile`: the tile of the Winograd GEMM it reads), a conv's epilogue
    (`after_conv`: the kind of the conv it reads) or an injective loop nest."""
    if any(_extent(sch, loop) == 0 for loop in sch.get_loops(block)):
        _init_empty_reduction(sch, block)
        return  # nothing to speed up, and splitting a loop of extent 0 divides by zero
    if kind in BLOCK_SCHEDULES:
        BLOCK_SCHEDULES[kind](sch, block, target)
    elif is_reduction(sch, block):
        schedule_reduction(sch, block, target)
    elif winograd_tile:
        schedule_winograd_output(sch, block, winograd_tile, target)
    elif after_conv:
        schedule_conv_epilogue(sch, block, target, flat_pixels=after_conv == CONV_DIRECT)
    else:
        schedule_injective(sch, block, target)


class BlockwiseRule(ScheduleRule):
    """Any kernel (the CPU fallback): spatial blocks inlined into their consumers, then every remaining
    block scheduled by schedule_block, in program order."""
    name = "cpu_blockwise"

    def apply(self, func, target):
        sch = tvm.s_tir.Schedule(func)
        inline_spatial(sch)
        # each block's kind (and its producers') read before any block is transformed
        plan = [(block, kind_of(sch, block), next((k for k in (CONV_GEMM, CONV_DEPTHWISE, CONV_DIRECT)
                                                    if _reads_kind(sch, block, k)), None),
                 winograd_tile_read(sch, block)) for block in sblocks(sch)]
        for block, kind, after_conv, winograd_tile in plan:
            # (a kind set since, by an earlier block's schedule, counts: e.g. a GEMM's placed epilogue)
            schedule_block(sch, block, kind or kind_of(sch, block), after_conv, target, winograd_tile)
        return sch


CPU_RULES = (BlockwiseRule(),)  # a Target's rules, in order; the fallback last
