"""Image-layout ops: Pad, Resize/Upsample, DepthToSpace/SpaceToDepth, CenterCropPad, Col2Im, grids."""
import itertools

import numpy as np

import graphc as gc

from . import OnnxImportError, axis_in_range, const, converter, ints, rank_of
from .shape import slice_static


def pad_crop(x, pads, mode="constant", value=0):
    """x padded by `pads` ((before, after) per axis) in `mode`; negative amounts crop."""
    crop = [(i, -min(b, 0), -min(a, 0)) for i, (b, a) in enumerate(pads) if b < 0 or a < 0]
    if crop:
        x = slice_static(x, [b for _, b, _ in crop], [-a if a else 2 ** 62 for _, _, a in crop],
                         [i for i, _, _ in crop], [1] * len(crop))
    grow = [(max(b, 0), max(a, 0)) for b, a in pads]
    if not any(b or a for b, a in grow):
        return x if crop else gc.identity(x)
    return gc.pad(x, grow, mode=mode, constant_values=value)


@converter("Pad")
def _pad_v1(ctx, node, ins, attrs):
    """Pad-1/2: pads (or paddings) and value are attributes, over every axis."""
    rank = rank_of(ins[0], node)
    flat, value = list(attrs.get("pads", attrs.get("paddings", []))), attrs.get("value", 0.0)
    return _pad_axes(ins[0], flat, value, list(range(rank)), attrs)


@converter("Pad", since=11)
def _pad_v11(ctx, node, ins, attrs):
    """Pad-11+: pads, the constant value (static or fed) and axes (18+) are inputs."""
    x = ins[0]
    rank = rank_of(x, node)
    flat = ints(ctx.static(ins[1], "Pad pads"))
    value = 0
    if len(ins) > 2 and ins[2] is not None:
        static = ctx.maybe_static(ins[2])
        value = ins[2] if static is None else np.asarray(static).reshape(-1)[0].item()
    axes = [axis_in_range(a, rank, "Pad axes entry") for a in ints(ctx.static(ins[3], "Pad axes"))] if len(ins) > 3 and ins[3] is not None \
        else list(range(rank))
    return _pad_axes(x, flat, value, axes, attrs)


def _pad_axes(x, flat, value, axes, attrs):
    """x padded by ONNX's flat pads (all begins, then all ends) over `axes`."""
    rank = len(x.shape)
    mode = attrs.get("mode", "constant")
    if len(flat) != 2 * len(axes):
        raise OnnxImportError(f"Pad has {len(flat)} pads for {len(axes)} axes; expected two per axis")
    pads = [(0, 0)] * rank
    for i, a in enumerate(axes):
        pads[a] = (flat[i], flat[i + len(axes)])
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise OnnxImportError(f"Pad mode {mode!r}; expected constant, reflect, edge or wrap")
    if isinstance(value, gc.Tensor):  # a value fed at run time: pad with 0, then add value where padded
        outside = pad_crop(gc.zeros_like(x), pads, mode, 1)
        return gc.add(pad_crop(x, pads, mode, 0), gc.multiply(outside, gc.reshape(value, [])))
    return pad_crop(x, pads, mode, value)


def _static_dims(x, node, first=1):
    if x.shape is None or None in x.shape[first:]:
        raise OnnxImportError(f"{node.op_type} needs the dims of {x.name} after the batch known at import time")
    return list(x.shape)


@converter("DepthToSpace")
def _depth_to_space(ctx, node, ins, attrs):
    x, b = ins[0], attrs["blocksize"]
    n, c, h, w = _static_dims(x, node)
    if attrs.get("mode", "DCR") == "DCR":  # depth is (row offset, column offset, channel)
        y = gc.transpose(gc.reshape(x, [-1, b, b, c // (b * b), h, w]), [0, 3, 4, 1, 5, 2])
    else:  # CRD: depth is (channel, row offset, column offset)
        y = gc.transpose(gc.reshape(x, [-1, c // (b * b), b, b, h, w]), [0, 1, 4, 2, 5, 3])
    return gc.reshape(y, [-1, c // (b * b), h * b, w * b])


@converter("SpaceToDepth")
def _space_to_depth(ctx, node, ins, attrs):
    x, b = ins[0], attrs["blocksize"]
    n, c, h, w = _static_dims(x, node)
    y = gc.reshape(x, [-1, c, h // b, b, w // b, b])
    perm = [0, 3, 5, 1, 2, 4] if attrs.get("mode", "DCR") == "DCR" else [0, 1, 3, 5, 2, 4]
    return gc.reshape(gc.transpose(y, perm), [-1, c * b * b, h // b, w // b])


@converter("CenterCropPad")
def _center_crop_pad(ctx, node, ins, attrs):
    x = ins[0]
    rank = rank_of(x, node)
    target = ints(ctx.static(ins[1], "CenterCropPad shape"))
    axes = [axis_in_range(a, rank, "axes entry") for a in attrs.get("axes", range(rank))]
    pads = [(0, 0)] * rank
    for a, size in zip(axes, target):
        dim = x.shape[a]
        if dim is None:
            raise OnnxImportError(f"CenterCropPad needs dim {a} of {x.name} known at import time")
        d = abs(size - dim)
        sign = 1 if size > dim else -1  # pad or crop, the smaller half first
        pads[a] = (sign * (d // 2), sign * (d - d // 2))
    return pad_crop(x, pads)


# ---- Resize / Upsample: separable, one static (out x in) weight matrix per resized axis ----------
def _source_coords(mode, out_size, in_size, scale, roi):
    """The input coordinate each output index samples, and where tf_crop_and_resize extrapolates."""
    y = np.arange(out_size, dtype=np.float64)
    out_width = scale * in_size
    if mode == "align_corners":
        x = np.zeros(out_size) if out_width == 1 else y * (in_size - 1) / (out_width - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "tf_crop_and_resize":
        lo, hi = roi
        x = np.full(out_size, (hi - lo) * (in_size - 1) / 2) if out_width == 1 else \
            y * (hi - lo) * (in_size - 1) / (out_width - 1)
        x = x + lo * (in_size - 1)
        return x, (x < 0) | (x > in_size - 1)
    elif mode == "pytorch_half_pixel":
        x = np.full(out_size, -0.5) if out_width == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif mode == "half_pixel_symmetric":
        x = in_size / 2 * (1 - out_size / out_width) + (y + 0.5) / scale - 0.5
    else:
        raise OnnxImportError(f"Resize coordinate_transformation_mode {mode!r} is not supported")
    return x, None


def _kernel(mode, ratio, scale, attrs):
    """Interpolation weights for the taps around a source coordinate with fractional part `ratio` in (0, 1]."""
    a = attrs.get("cubic_coeff_a", -0.75)
    if attrs.get("antialias", 0) and mode != "nearest":  # a widened kernel when downsampling
        s = min(scale, 1.0)
        if mode == "linear":
            start = int(np.floor(-1 / s) + 1)
            w = np.clip(1 - np.abs((np.arange(start, 2 - start) - ratio) * s), 0, 1)
        else:
            start = int(np.floor(-2 / s) + 1)
            t = np.abs(s * (np.arange(start, 2 - start) - ratio))
            w = np.where(t <= 1, (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1,
                         np.where(t < 2, a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a, 0.0))
        return w / w.sum()
    if mode == "nearest":
        nm = attrs.get("nearest_mode", "round_prefer_floor")
        if ratio == 1:
            return np.array([0.0, 1.0])
        up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5,
              "floor": False, "ceil": True}[nm]
        return np.array([0.0, 1.0]) if up else np.array([1.0, 0.0])
    if mode == "linear":
        return np.array([1 - ratio, ratio])
    r = ratio
    return np.array([((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                     ((a + 2) * r - (a + 3)) * r * r + 1,
                     ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
                     ((a * (2 - r) - 5 * a) * (2 - r) + 8 * a) * (2 - r) - 4 * a])


def resize_weights(in_size, out_size, scale, mode, attrs, roi=(0.0, 1.0)):
    """(W, extrapolated): output = W @ input along one axis, as the ONNX Resize reference computes it;
    `extrapolated` marks the outputs that take extrapolation_value (or is None)."""
    x, extrapolated = _source_coords(attrs.get("coordinate_transformation_mode", "half_pixel"),
                                     out_size, in_size, scale, roi)
    floor = np.floor(x)
    ratios = np.where(x == floor, 1.0, x - floor)
    w = np.zeros((out_size, in_size))
    for o in range(out_size):
        coeffs = _kernel(mode, ratios[o], scale, attrs)
        n = len(coeffs)
        # the n taps nearest x (ties to the smaller index), as the reference's edge-padded window
        pad = -(-n // 2)
        xp = x[o] + pad
        p = int(np.floor(xp))
        frac = xp - p
        if n % 2 == 0:
            start = p + (-(n // 2) if frac == 0 else -(n // 2) + 1)
        else:
            start = p - (n - 1) // 2 + (0 if frac <= 0.5 else 1)
        taps = start + np.arange(n) - pad
        if attrs.get("exclude_outside", 0):
            coeffs = np.where((taps < 0) | (taps >= in_size), 0.0, coeffs)
            coeffs = coeffs / (coeffs.sum() or 1.0)
        np.add.at(w[o], np.clip(taps, 0, in_size - 1), coeffs)
    if extrapolated is not None:
        w[extrapolated] = 0.0
        if not extrapolated.any():
            extrapolated = None
    return w, extrapolated


def _resize_axis(x, axis, w, extrapolated, extrapolation_value, nearest):
    """x resampled along `axis` by the weights `w` (out x in)."""
    rank = len(x.shape)
    if nearest and extrapolated is None:  # one-hot rows: a gather
        return gc.gather(x, gc.constant(np.argmax(w, axis=1).astype(np.int32)), axis=axis)
    wt = gc.constant(w.astype(x.dtype.np))
    if axis == rank - 1:
        y = gc.matmul(x, wt, transpose_b=True)
    elif axis == rank - 2:
        y = gc.matmul(wt, x)
    else:
        perm = [i for i in range(rank) if i != axis] + [axis]
        back = np.argsort(perm).tolist()
        y = gc.transpose(gc.matmul(gc.transpose(x, perm), wt, transpose_b=True), back)
    if extrapolated is not None:
        shape = [1] * rank
        shape[axis] = len(extrapolated)
        y = gc.add(y, gc.constant((extrapolated * extrapolation_value).reshape(shape).astype(x.dtype.np)))
    return y


def resize(x, scales, sizes, mode, attrs, roi=None, extrapolation_value=0.0):
    """x resized per axis (scales and sizes are full-rank lists, sizes may be None), as ONNX Resize."""
    rank = len(x.shape)
    if sizes is None:
        sizes = [int(np.floor(s * d)) for s, d in zip(scales, x.shape)]
    out = x
    for axis in range(rank):
        in_size, out_size, scale = x.shape[axis], sizes[axis], scales[axis]
        lo_hi = (0.0, 1.0) if roi is None else (roi[axis], roi[axis + rank])
        if out_size == in_size and np.isclose(scale, 1.0) and np.allclose(lo_hi, (0.0, 1.0)):
            continue
        w, extrapolated = resize_weights(in_size, out_size, scale, mode, attrs, lo_hi)
        out = _resize_axis(out, axis, w, extrapolated, extrapolation_value, mode == "nearest")
    return out if out is not x else gc.identity(x)


@converter("Resize", since=10)
def _resize_v10(ctx, node, ins, attrs):
    """Resize-10: X, scales; asymmetric coordinates, nearest rounds down."""
    x = ins[0]
    _static_dims(x, node, first=0)
    attrs = dict(attrs, coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    scales = [float(s) for s in np.asarray(ctx.static(ins[1], "Resize scales"))]
    return resize(x, scales, None, attrs.get("mode", "nearest"), attrs)


@converter("Resize", since=11)
def _resize_v11(ctx, node, ins, attrs):
    """Resize-11+: X, roi, scales or sizes, with axes (18+) and the aspect-ratio policy."""
    x = ins[0]
    shape = _static_dims(x, node, first=0)
    rank = len(shape)
    mode = attrs.get("mode", "nearest")

    def opt(i, what):
        if len(ins) <= i or ins[i] is None:
            return None
        v = np.asarray(ctx.static(ins[i], f"Resize {what}"))
        return v if v.size else None
    roi, scales_in, sizes_in = opt(1, "roi"), opt(2, "scales"), opt(3, "sizes")
    axes = [axis_in_range(a, rank, "axes entry") for a in attrs.get("axes", range(rank))]
    scales, sizes = [1.0] * rank, None
    if sizes_in is not None:
        sizes = list(shape)
        for a, s in zip(axes, ints(sizes_in)):
            sizes[a] = s
        scales = [o / i for o, i in zip(sizes, shape)]
        policy = attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            pick = min if policy == "not_larger" else max
            s = pick(scales[a] for a in axes)
            scales = [s if i in axes else 1.0 for i in range(rank)]
            sizes = [int(s * shape[i] + 0.5) if i in axes else shape[i] for i in range(rank)]
    elif scales_in is not None:
        for a, s in zip(axes, scales_in.astype(np.float64)):
            scales[a] = float(s)
    else:
        raise OnnxImportError("Resize needs scales or sizes")
    full_roi = None
    if roi is not None and attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        full_roi = [0.0] * rank + [1.0] * rank
        for i, a in enumerate(axes):
            full_roi[a], full_roi[a + rank] = float(roi[i]), float(roi[i + len(axes)])
    return resize(x, scales, sizes, mode, attrs, full_roi, attrs.get("extrapolation_value", 0.0))


@converter("Upsample")
def _upsample_v7(ctx, node, ins, attrs):
    """Upsample-7: scales is an attribute."""
    return _upsample(ins[0], node, attrs["scales"], attrs)


@converter("Upsample", since=9)
def _upsample_v9(ctx, node, ins, attrs):
    """Upsample-9: scales is an input."""
    return _upsample(ins[0], node, np.asarray(ctx.static(ins[1], "Upsample scales")), attrs)


def _upsample(x, node, scales, attrs):
    """Upsample as a Resize with asymmetric coordinates (nearest rounds down); 'bilinear' is linear."""
    attrs = dict(attrs, coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    _static_dims(x, node, first=0)
    mode = attrs.get("mode", "nearest")
    return resize(x, [float(s) for s in scales], None, "linear" if mode == "bilinear" else mode, attrs)


# ---- GridSample: the taps of each output point gathered from x flattened to (N * pixels, C) -------
def _grid_reflect(v, lo, hi):
    """v reflected at the borders lo and hi until it lies between them: a triangle wave of period
    2 (hi - lo) that is the identity on [lo, hi] (v appears once: the kernel stays small)."""
    rng = hi - lo
    u = gc.floor_mod(gc.subtract(v, const(lo, v)), const(2 * rng, v))
    return gc.subtract(const(lo + rng, v), gc.abs(gc.subtract(u, const(rng, v))))


def _round_half_even(v):
    c = lambda a: const(a, v)  # noqa: E731
    r = gc.floor(gc.add(v, c(0.5)))
    tie_odd = gc.logical_and(gc.equal(gc.subtract(r, v), c(0.5)), gc.equal(gc.floor_mod(r, c(2)), c(1)))
    return gc.where(tie_odd, gc.subtract(r, c(1)), r)


def _cubic_weights(t, a=-0.75):
    """Keys' cubic weights of the taps at -1, 0, 1, 2 for fractional position t."""
    c = lambda v: const(v, t)  # noqa: E731
    def near(d):  # |d| <= 1
        return gc.add(gc.multiply(gc.multiply(gc.subtract(gc.multiply(c(a + 2), d), c(a + 3)), d), d), c(1))

    def far(d):  # 1 < |d| < 2
        return gc.subtract(gc.multiply(gc.add(gc.multiply(gc.subtract(gc.multiply(c(a), d), c(5 * a)), d), c(8 * a)), d),
                           c(4 * a))
    one_minus = gc.subtract(c(1), t)
    return [far(gc.add(t, c(1))), near(t), near(one_minus), far(gc.add(one_minus, c(1)))]


@converter("GridSample")
def _grid_sample(ctx, node, ins, attrs):
    x, grid = ins
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(attrs.get("mode", "linear"), attrs.get("mode", "linear"))
    padding, align = attrs.get("padding_mode", "zeros"), bool(attrs.get("align_corners", 0))
    xs = _static_dims(x, node, first=0)
    gs = _static_dims(grid, node, first=0)
    n, ch, dims = xs[0], xs[1], xs[2:]
    k, out = len(dims), gs[1:-1]
    if gs[-1] != k or gs[0] != n:
        raise OnnxImportError(f"GridSample grid of shape {gs} for input {xs}; expected ({n}, ..., {k})")
    c = lambda v: const(v, grid)  # noqa: E731
    coords = []
    for i, d in enumerate(dims):  # the grid lists coordinates innermost dim first
        g = gc.squeeze(gc.slice(grid, [0] * (len(gs) - 1) + [k - 1 - i], [-1] * (len(gs) - 1) + [1]), axis=-1)
        v = gc.multiply(gc.add(g, c(1)), c((d - 1) / 2)) if align else \
            gc.divide(gc.subtract(gc.multiply(gc.add(g, c(1)), c(d)), c(1)), c(2))
        if mode == "nearest":
            v = _round_half_even(v)
        lo, hi = (0.0, d - 1.0) if align else (-0.5, d - 0.5)
        if padding == "border":
            v = gc.minimum(gc.maximum(v, c(0)), c(d - 1))  # (inside [lo, hi] the taps are clamped below)
        elif padding == "reflection":
            v = _grid_reflect(v, lo, hi)
        coords.append((v, lo, hi))

    def tap(i, pos):
        """(index, in-range mask or None) of integer-valued position `pos` on dim i, per the padding mode."""
        d = dims[i]
        idx = gc.cast(pos, gc.int32)  # truncation, as the reference's int()
        if padding == "reflection" and mode == "cubic":
            # taps lie within 2 of the reflected coordinate: one reflection (for linear taps, within 1,
            # the reflection equals the clamp below)
            zero, last = const(0, idx), const(d - 1, idx)
            below = gc.negative(idx) if align else gc.subtract(gc.negative(idx), const(1, idx))
            above = gc.subtract(const(2 * (d - 1) if align else 2 * d - 1, idx), idx)
            idx = gc.where(gc.less(idx, zero), below, gc.where(gc.greater(idx, last), above, idx))
        inside = None
        if padding == "zeros":
            inside = gc.cast(gc.logical_and(gc.greater_equal(idx, const(0, idx)), gc.less(idx, const(d, idx))), grid.dtype)
        return gc.minimum(gc.maximum(idx, const(0, idx)), const(d - 1, idx)), inside

    per_dim = []  # for each dim: a list of (index, weight or None, mask or None) taps
    for i, (v, _, _) in enumerate(coords):
        if mode == "nearest":
            idx, inside = tap(i, v)
            per_dim.append([(idx, None, inside)])
            continue
        base = gc.floor(v)
        t = gc.subtract(v, base)
        if mode == "linear":
            offsets, weights = [0, 1], [gc.subtract(c(1), t), t]
        else:
            offsets, weights = [-1, 0, 1, 2], _cubic_weights(t)
        taps = [tap(i, gc.add(base, c(o))) for o in offsets]
        per_dim.append([(idx, w, inside) for (idx, inside), w in zip(taps, weights)])
    # x as rows of channels: row (b, p_1, ..., p_k) at b * prod(dims) + sum p_i * stride_i
    flat = gc.reshape(gc.transpose(x, [0] + list(range(2, 2 + k)) + [1]), [-1, ch])
    strides = [int(np.prod(dims[i + 1:], dtype=np.int64)) for i in range(k)]
    batch = gc.constant((np.arange(n) * int(np.prod(dims, dtype=np.int64))).astype(np.int32).reshape([n] + [1] * len(out)))
    total = None
    for combo in itertools.product(*per_dim):
        idx = batch
        weight = None
        for i, (t_idx, w, mask) in enumerate(combo):
            idx = gc.add(idx, gc.multiply(t_idx, const(strides[i], t_idx)))
            for f in (w, mask):
                if f is not None:
                    weight = f if weight is None else gc.multiply(weight, f)
        rows = gc.gather(flat, idx, axis=0)  # (N, *out, C)
        term = rows if weight is None else gc.multiply(rows, gc.expand_dims(gc.cast(weight, x.dtype) if weight.dtype != x.dtype else weight, -1))
        total = term if total is None else gc.add(total, term)
    return gc.transpose(total, [0, len(out) + 1] + list(range(1, len(out) + 1)))


@converter("AffineGrid")
def _affine_grid(ctx, node, ins, attrs):
    theta = ins[0]
    size = ints(ctx.static(ins[1], "AffineGrid size"))
    dims = size[2:]
    align = bool(attrs.get("align_corners", 0))

    def axis_coords(n):
        i = np.arange(n, dtype=np.float64)
        return -1 + 2 * i / (n - 1) if align else -1 + (2 * i + 1) / n
    mesh = np.meshgrid(*[axis_coords(n) for n in dims], indexing="ij")
    # homogeneous base points, components innermost dim first: (x, y[, z], 1)
    base = np.stack(list(mesh[::-1]) + [np.ones(dims)], axis=-1).reshape(-1, len(dims) + 1)
    grid = gc.matmul(gc.constant(base.astype(theta.dtype.np)), theta, transpose_b=True)  # (N, points, k)
    return gc.reshape(grid, [-1] + dims + [len(dims)])


@converter("Col2Im")
def _col2im(ctx, node, ins, attrs):
    x = ins[0]
    image = ints(ctx.static(ins[1], "Col2Im image_shape"))
    block = ints(ctx.static(ins[2], "Col2Im block_shape"))
    k = len(image)
    dil = list(attrs.get("dilations", [1] * k))
    strides = list(attrs.get("strides", [1] * k))
    pads = list(attrs.get("pads", [0] * 2 * k))
    counts = [(image[i] + pads[i] + pads[i + k] - dil[i] * (block[i] - 1) - 1) // strides[i] + 1 for i in range(k)]
    kk, length, pixels = int(np.prod(block)), int(np.prod(counts)), int(np.prod(image))
    xs = _static_dims(x, node)
    if xs[1] % kk or xs[2] != length:
        raise OnnxImportError(f"Col2Im input {xs}: expected (N, C * {kk}, {length}) for block {block} on image {image}")
    # the static scatter: column (kernel offset, block position) adds into one image pixel (or none)
    scatter = np.zeros((kk * length, pixels), dtype=x.dtype.np)
    for r, (off, pos) in enumerate(np.ndindex(kk, length)):
        ko, bp = np.unravel_index(off, block), np.unravel_index(pos, counts)
        pix = [bp[i] * strides[i] - pads[i] + ko[i] * dil[i] for i in range(k)]
        if all(0 <= pix[i] < image[i] for i in range(k)):
            scatter[r, np.ravel_multi_index(pix, image)] = 1
    c = xs[1] // kk
    y = gc.matmul(gc.reshape(x, [-1, c, kk * length]), gc.constant(scatter))
    return gc.reshape(y, [-1, c] + image)
