"""Control flow: If, Loop and Scan, unrolled at import time into straight-line graphc ops.

graphc graphs are static, so a body runs a number of times known at import: If picks its branch when
the condition is static (else both branches run and `where` selects), Loop unrolls over a static trip
count (a fed condition is supported when the loop has no scan outputs), Scan unrolls over the static
length of its scan axis.
"""
import numpy as np

import graphc as gc

from . import OnnxImportError, axis_in_range, converter, rank_of
from .shape import slice_static

MAX_UNROLL = 4096  # iterations; a longer loop is refused rather than building a huge graph


@converter("If")
def _if(ctx, node, ins, attrs):
    cond = ins[0]
    value = ctx.maybe_static(cond)
    if value is not None:
        branch = attrs["then_branch"] if bool(np.asarray(value).reshape(-1)[0]) else attrs["else_branch"]
        return [gc.identity(t) for t in ctx.subgraph(branch, [])]
    then_outs, else_outs = ctx.subgraph(attrs["then_branch"], []), ctx.subgraph(attrs["else_branch"], [])
    flag = gc.reshape(cond, [])
    out = []
    for a, b in zip(then_outs, else_outs):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise OnnxImportError(f"the branches give {a.dtype.name}{list(a.shape or [])} and "
                                  f"{b.dtype.name}{list(b.shape or [])}; with a condition known only at run "
                                  f"time they must agree")
        out.append(gc.where(flag, a, b))
    return out


def _scalar(value, dtype):
    return gc.constant(np.asarray(value, dtype))


@converter("Loop")
def _loop(ctx, node, ins, attrs):
    body = attrs["body"]
    ins = ins + [None] * (2 - len(ins))
    trip = ins[0]
    carried = list(ins[2:])
    trips = None if trip is None else int(np.asarray(ctx.static(trip, "Loop trip count M")).reshape(-1)[0])
    cond = ins[1] if ins[1] is not None else _scalar(True, np.bool_)
    n_scan = len(body.output) - 1 - len(carried)
    running = None  # a run-time condition: iterations after it turns false keep the carried values
    scans = [[] for _ in range(n_scan)]
    i = 0
    while trips is None or i < trips:
        static_cond = ctx.maybe_static(cond)
        if running is None and static_cond is not None and not bool(np.asarray(static_cond).reshape(-1)[0]):
            break
        if running is None and static_cond is None:
            if trips is None or n_scan:  # the number of iterations fixes output shapes: it must be static
                ctx.static(cond, "the condition of a Loop with scan outputs or no trip count")
            running = gc.reshape(cond, [])
        if i >= MAX_UNROLL:
            raise OnnxImportError(f"the Loop runs over {MAX_UNROLL} iterations; graphc unrolls loops at import")
        outs = ctx.subgraph(body, [_scalar(i, np.int64), cond] + carried)
        new = outs[1:1 + len(carried)]
        if running is not None:
            new = [gc.where(running, n, c) for n, c in zip(new, carried)]
            running = gc.logical_and(running, gc.reshape(outs[0], []))
            cond = running
        else:
            cond = outs[0]
        carried = new
        for k, t in enumerate(outs[1 + len(carried):]):
            scans[k].append(t)
        i += 1
    for k, seq in enumerate(scans):
        if not seq:
            raise OnnxImportError(f"scan output {node.output[1 + len(carried) + k]!r} of a Loop that runs zero "
                                  f"times has no known shape")
    return [gc.identity(t) for t in carried] + [gc.stack(seq, axis=0) for seq in scans]


def _take(x, index, axis):
    """x[..., index, ...] along `axis`, the axis removed."""
    return gc.squeeze(slice_static(x, [index], [index + 1], [axis], [1]), axis=[axis])


@converter("Scan", since=9)
def _scan(ctx, node, ins, attrs):
    """Scan-9+: unrolled at import."""
    return _unrolled_scan(ctx, node, ins, attrs)


@converter("Scan", since=8)
def _scan8(ctx, node, ins, attrs):
    """Scan-8: inputs carry a batch axis 0 (the scan runs per batch element) after optional sequence_lens."""
    lens, rest = ins[0], ins[1:]
    n_states = len(rest) - attrs["num_scan_inputs"]
    batch = rest[0].shape[0] if rest and rest[0].shape else None
    if batch is None:
        raise OnnxImportError("Scan-8 needs its batch size known at import time")
    if lens is not None:
        steps = {x.shape[1] for x in rest[n_states:]}
        if set(np.asarray(ctx.static(lens, "Scan sequence_lens")).reshape(-1)) != steps:
            raise OnnxImportError("Scan-8 sequence_lens shorter than the scan inputs are not supported")
    attrs = dict(attrs, scan_input_directions=attrs.get("directions", [0] * attrs["num_scan_inputs"]))
    per_batch = [_unrolled_scan(ctx, node, [_take(t, b, 0) for t in rest], attrs) for b in range(batch)]
    return [gc.stack(list(outs), axis=0) for outs in zip(*per_batch)]


def _unrolled_scan(ctx, node, ins, attrs):
    body = attrs["body"]
    n_in = attrs["num_scan_inputs"]
    states, xs = list(ins[:len(ins) - n_in]), ins[len(ins) - n_in:]
    in_axes = [axis_in_range(a, rank_of(x, node), "scan_input_axes entry") for a, x in zip(attrs.get("scan_input_axes", [0] * n_in), xs)]
    in_dirs = attrs.get("scan_input_directions", [0] * n_in)
    lengths = {x.shape[a] for x, a in zip(xs, in_axes)}
    if len(lengths) != 1 or None in lengths:
        raise OnnxImportError(f"the scan inputs need one length known at import time, got {sorted(lengths, key=str)}")
    steps = lengths.pop()
    if steps > MAX_UNROLL:
        raise OnnxImportError(f"the Scan runs {steps} steps, over the {MAX_UNROLL} graphc unrolls at import")
    n_out = len(body.output) - len(states)
    outs_per_step = [[] for _ in range(n_out)]
    for t in range(steps):
        elems = [_take(x, steps - 1 - t if d else t, a) for x, a, d in zip(xs, in_axes, in_dirs)]
        outs = ctx.subgraph(body, states + elems)
        states = outs[:len(states)]
        for k, y in enumerate(outs[len(states):]):
            outs_per_step[k].append(y)
    out_axes = attrs.get("scan_output_axes", [0] * n_out)
    out_dirs = attrs.get("scan_output_directions", [0] * n_out)
    scanned = []
    for seq, a, d in zip(outs_per_step, out_axes, out_dirs):
        if not seq:
            raise OnnxImportError("a Scan over zero steps has scan outputs of unknown shape")
        seq = seq[::-1] if d else seq
        scanned.append(gc.stack(seq, axis=a % (len(seq[0].shape) + 1)))
    return [gc.identity(s) for s in states] + scanned
