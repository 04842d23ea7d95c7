"""Convolution and pooling over N-d spatial dims in NC... layout (NCW, NCHW, NCDHW).

Conventions shared by every op here: `strides`, `dilations` and `kernel_shape` have one entry per
spatial dim; `pads` has two, all the begins then all the ends (ONNX's order). Gradients are graph
ops: conv's input gradient is conv_transpose, its weight gradient conv_weight_grad; pooling's are
max_pool_grad / avg_pool_grad, whose own gradients close the set (max_pool_gather is the adjoint
of max_pool_grad in dy)."""
import itertools

import numpy as np

from ..errors import ShapeError
from ..registry import Example, Pattern, TensorType, register_op
from ._base import convert_to_tensor, make, rand
from .packed import pack_panels, unpack_panels


# ---- shape arithmetic ---------------------------------------------------------------------------
def conv_out_size(n, k, s, d, pb, pe):
    """Output length of a convolution along one dim (None when `n` is unknown)."""
    if n is None:
        return None
    return (n + pb + pe - d * (k - 1) - 1) // s + 1


def pool_out_size(n, k, s, d, pb, pe, ceil_mode):
    """Output length of a pooling window along one dim; with ceil_mode the last window may run past
    the end, but never start inside the end padding (ONNX's and PyTorch's rule)."""
    if n is None:
        return None
    span = n + pb + pe - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + pb:
        out -= 1
    return out


def conv_transpose_out_size(n, k, s, d, pb, pe, op):
    """Output length of a transposed convolution along one dim."""
    if n is None:
        return None
    return (n - 1) * s - pb - pe + d * (k - 1) + 1 + op


def spatial_attrs(attrs, nd, kernel=None):
    """(kernel, strides, dilations, pads) with defaults filled in for `nd` spatial dims."""
    kernel = list(kernel if kernel is not None else attrs["kernel_shape"])
    strides = list(attrs.get("strides") or [1] * nd)
    dilations = list(attrs.get("dilations") or [1] * nd)
    pads = list(attrs.get("pads") or [0] * (2 * nd))
    for what, v, n in (("kernel_shape", kernel, nd), ("strides", strides, nd), ("dilations", dilations, nd),
                       ("pads", pads, 2 * nd)):
        if len(v) != n:
            raise ShapeError(f"{what} {v} needs {n} entries for {nd} spatial dims")
    if min(strides) < 1 or min(dilations) < 1 or min(kernel) < 1 or min(pads) < 0:
        raise ShapeError(f"kernel {kernel}, strides {strides} and dilations {dilations} must be >= 1 and pads "
                         f"{pads} >= 0")
    return kernel, strides, dilations, pads


def _spatial_rank(x, op, least=1):
    if x.shape is None:
        raise ShapeError(f"{op} needs the rank of {x.name} when the graph is built")
    nd = len(x.shape) - 2
    if not 1 <= nd <= 3:
        raise ShapeError(f"{op} takes a rank 3, 4 or 5 input (N, C, spatial...), got {x.name} of shape "
                         f"{list(x.shape)}")
    return nd


def _check_float(*ts):
    for t in ts:
        if not t.dtype.is_floating:
            raise ShapeError(f"input {t.name} has dtype {t.dtype.name}; expected a floating dtype")
    if len({t.dtype for t in ts}) > 1:
        raise ShapeError(f"inputs {[t.name for t in ts]} have different dtypes")


# ---- numpy helpers for the references -----------------------------------------------------------
def _window(xp, kk, d, s, out):
    """The slice of padded `xp` that kernel offset `kk` reads for every output position."""
    idx = tuple(slice(k * dd, k * dd + (o - 1) * ss + 1, ss) for k, dd, ss, o in zip(kk, d, s, out))
    return xp[(slice(None), slice(None)) + idx]


def _pad(x, pads, value=0.0, extra=None):
    nd = x.ndim - 2
    extra = extra or [0] * nd
    width = [(0, 0), (0, 0)] + [(pads[i], pads[nd + i] + extra[i]) for i in range(nd)]
    return np.pad(x, width, constant_values=value)


def _grouped(a, groups):
    """(N, C, ...) as (N, G, C/G, ...)."""
    return a.reshape(a.shape[:1] + (groups, a.shape[1] // groups) + a.shape[2:])


# ---- conv ---------------------------------------------------------------------------------------
def _weighted_window(node, weight_layout):
    """(x, w, spatial rank, groups, (kernel, strides, dilations, pads)) of a conv-like node, after
    checking dtypes and that the weight's rank matches the input's."""
    x, w = node.inputs[:2]
    _check_float(x, w)
    nd = _spatial_rank(x, node.op)
    if w.shape is None or len(w.shape) != nd + 2:
        raise ShapeError(f"{node.op} weight {w.name} must have rank {nd + 2} ({weight_layout}, kernel...), "
                         f"got {w.shape}")
    g = int(node.attrs.get("groups", 1))
    return x, w, nd, g, spatial_attrs(node.attrs, nd, [1 if v is None else v for v in w.shape[2:]])


def _conv_infer(node):
    x, w, nd, g, (k, s, d, p) = _weighted_window(node, "C_out, C_in/groups")
    cin, cout = x.shape[1], w.shape[0]
    if cin is not None and w.shape[1] is not None and cin != w.shape[1] * g:
        raise ShapeError(f"conv input {x.name} has {cin} channels; weight {w.name} {list(w.shape)} with groups={g} "
                         f"expects {w.shape[1] * g}")
    if cout is not None and cout % g:
        raise ShapeError(f"conv weight {w.name} has {cout} output channels, not divisible by groups={g}")
    out = [None if w.shape[2 + i] is None else conv_out_size(x.shape[2 + i], k[i], s[i], d[i], p[i], p[nd + i])
           for i in range(nd)]
    if any(o is not None and o < 1 for o in out):
        raise ShapeError(f"conv of {x.name} {list(x.shape)} with kernel {k} gives an empty output {out}")
    return TensorType((x.shape[0], cout) + tuple(out), x.dtype)


def _conv_ref(attrs, x, w):
    nd = x.ndim - 2
    g = int(attrs.get("groups", 1))
    k, s, d, p = spatial_attrs(attrs, nd, w.shape[2:])
    out = [conv_out_size(x.shape[2 + i], k[i], s[i], d[i], p[i], p[nd + i]) for i in range(nd)]
    xp = _pad(x, p)
    wg = w.reshape((g, w.shape[0] // g) + w.shape[1:])
    y = np.zeros((x.shape[0], g, w.shape[0] // g) + tuple(out), np.float64)
    for kk in itertools.product(*[range(v) for v in k]):
        xs = _grouped(_window(xp, kk, d, s, out), g)
        y += np.einsum("ngc...,goc->ngo...", xs, wg[(Ellipsis,) + kk])
    return y.reshape((x.shape[0], w.shape[0]) + tuple(out)).astype(x.dtype)


def _conv_examples(rng):
    def ex(xs, ws, **attrs):
        return Example([rand(rng, xs), rand(rng, ws)], attrs)
    return [ex((1, 3, 6, 6), (4, 3, 3, 3)),
            ex((2, 4, 7, 6), (6, 2, 3, 2), strides=[2, 1], pads=[1, 0, 2, 1], groups=2),
            ex((1, 3, 9), (2, 3, 3), dilations=[2], pads=[2, 1], strides=[2]),
            ex((1, 4, 5, 5), (4, 1, 3, 3), pads=[1, 1, 1, 1], groups=4),   # depthwise
            ex((1, 2, 4, 5, 4), (3, 2, 2, 3, 2), pads=[0, 1, 0, 1, 0, 1], strides=[1, 2, 1]),
            ex((2, 3, 7, 7), (2, 3, 3, 3), dilations=[2, 1], strides=[1, 2])]


def _conv_gemm_examples(rng):
    """Large enough for the CPU's GEMM lowering of 2-D convs (codegen/lower/conv.py); the small
    ones above take the direct loop nest."""
    def ex(xs, ws, **attrs):
        return Example([rand(rng, xs), rand(rng, ws)], attrs)
    return _conv_examples(rng) + [
        ex((1, 8, 12, 12), (16, 8, 3, 3), pads=[1, 1, 1, 1]),
        ex((2, 6, 15, 11), (10, 6, 3, 3), strides=[2, 1], dilations=[1, 2], pads=[1, 2, 0, 1]),
        ex((1, 4, 23, 23), (8, 4, 7, 7), strides=[3, 2], pads=[3, 3, 2, 3])]


conv_op = register_op("conv", packed_form="conv_packed", pattern=Pattern.OUT_ELEMWISE_FUSABLE, infer=_conv_infer, reference=_conv_ref,
                      examples=_conv_gemm_examples, grad_examples=_conv_examples)


# ---- conv_packed: conv with its weights packed ahead of time into output-channel panels ----------------
def pack_conv_panels(w, width):
    """numpy: OIHW conv weights as zero-padded panels of `width` output channels, shape
    (ceil(O/width), I, kh, kw, width): the layout the CPU's direct conv streams one vector load at a time."""
    c_out = w.shape[0]  # (the GEMM panels of the (I*kh*kw, O) matrix, its rows split back into (I, kh, kw))
    return pack_panels(w.reshape(c_out, -1).T, width).reshape((-(-c_out // width),) + w.shape[1:] + (width,))


def unpack_conv_panels(packed, c_out):
    """numpy: the (c_out, I, kh, kw) weights that `pack_conv_panels` packed."""
    blocks, c_in, kh, kw, width = packed.shape
    return unpack_panels(packed.reshape(blocks, c_in * kh * kw, width), c_out).T.reshape(c_out, c_in, kh, kw)


def _conv_packed_infer(node):
    x, packed = node.inputs
    _check_float(x, packed)
    c_out = int(node.attrs["c_out"])
    if x.shape is None or len(x.shape) != 4 or packed.shape is None or len(packed.shape) != 5:
        raise ShapeError(f"conv_packed needs an (N, C, H, W) input and (blocks, C, kh, kw, width) panels, got "
                         f"{x.name} {x.shape} and {packed.name} {packed.shape}")
    blocks, c_in, kh, kw, width = packed.shape
    if None not in (x.shape[1], c_in) and x.shape[1] != c_in or \
            None not in (blocks, width) and not (blocks - 1) * width < c_out <= blocks * width:
        raise ShapeError(f"conv_packed: input {x.name} {list(x.shape)} does not match panels {list(packed.shape)} "
                         f"of {c_out} output channels")
    return TensorType((x.shape[0], c_out) + packed_conv_out_size(node, x, kh, kw), x.dtype)


def packed_conv_out_size(node, x, kh, kw):
    """(OH, OW) of a 2-D conv over packed weights of kernel (kh, kw) (None where unknown); a ShapeError where
    it would be empty."""
    k, s, d, p = spatial_attrs(node.attrs, 2, [1 if v is None else v for v in (kh, kw)])
    out = [None if (kh, kw)[i] is None else conv_out_size(x.shape[2 + i], k[i], s[i], d[i], p[i], p[2 + i])
           for i in range(2)]
    if any(o is not None and o < 1 for o in out):
        raise ShapeError(f"{node.op} of {x.name} {list(x.shape)} with kernel {k} gives an empty output {out}")
    return tuple(out)


def _conv_packed_ref(attrs, x, packed):
    return _conv_ref(attrs, x, unpack_conv_panels(packed, attrs["c_out"]))


def _conv_packed_examples(rng):
    """Panels of 16 channels (an AVX2 target's width): C_out a multiple of it and not, strides, pads, batch 2."""
    def ex(xs, ws, **attrs):
        w = rand(rng, ws)
        return Example([rand(rng, xs), pack_conv_panels(w, 16)], dict(attrs, c_out=ws[0]))
    return [ex((1, 8, 12, 12), (16, 8, 3, 3), pads=[1, 1, 1, 1]),
            ex((2, 5, 9, 7), (20, 5, 3, 3), strides=[2, 2], pads=[1, 1, 1, 1]),
            ex((1, 3, 15, 15), (16, 3, 7, 7), strides=[2, 2], pads=[3, 3, 3, 3]),
            ex((1, 4, 7, 9), (6, 4, 2, 3), strides=[1, 2], dilations=[2, 1], pads=[0, 1, 1, 0])]


register_op("conv_packed", pattern=Pattern.OUT_ELEMWISE_FUSABLE, infer=_conv_packed_infer,
            reference=_conv_packed_ref, examples=_conv_packed_examples, differentiable=False)


def _conv_common(node):
    return {k: node.attrs[k] for k in ("strides", "dilations", "pads", "groups") if k in node.attrs}


@conv_op.def_gradient
def _conv_grad(node, dys):
    x, w = node.inputs
    dy = dys[0]
    common = _conv_common(node)
    return [conv_transpose(dy, w, like=x, **common),
            make("conv_weight_grad", [x, dy], dict(common, kernel_shape=list(w.shape[2:])))]


# ---- conv_transpose -----------------------------------------------------------------------------
def _conv_transpose_infer(node):
    x, w, nd, g, (k, s, d, p) = _weighted_window(node, "C_in, C_out/groups")
    if x.shape[1] is not None and w.shape[0] is not None and x.shape[1] != w.shape[0]:
        raise ShapeError(f"conv_transpose input {x.name} has {x.shape[1]} channels; weight {w.name} "
                         f"{list(w.shape)} expects {w.shape[0]}")
    cout = None if w.shape[1] is None else w.shape[1] * g
    if len(node.inputs) > 2:   # the output's spatial shape is that of `like` (a gradient's input)
        like = node.inputs[2]
        if like.shape is None or len(like.shape) != nd + 2:
            raise ShapeError(f"conv_transpose: `like` {like.name} must have rank {nd + 2}")
        return TensorType((x.shape[0], cout) + tuple(like.shape[2:]), x.dtype)
    op = list(node.attrs.get("output_padding") or [0] * nd)
    if len(op) != nd or any(not 0 <= op[i] < max(s[i], d[i]) for i in range(nd)):
        raise ShapeError(f"conv_transpose output_padding {op} must have {nd} entries, each below its stride "
                         f"or dilation")
    out = [None if w.shape[2 + i] is None else
           conv_transpose_out_size(x.shape[2 + i], k[i], s[i], d[i], p[i], p[nd + i], op[i]) for i in range(nd)]
    if any(o is not None and o < 1 for o in out):
        raise ShapeError(f"conv_transpose of {x.name} {list(x.shape)} gives an empty output {out}")
    return TensorType((x.shape[0], cout) + tuple(out), x.dtype)


def _conv_transpose_ref(attrs, x, w, like=None):
    nd = x.ndim - 2
    g = int(attrs.get("groups", 1))
    k, s, d, p = spatial_attrs(attrs, nd, w.shape[2:])
    cog = w.shape[1]
    if like is not None:
        out = list(like.shape[2:])
    else:
        op = list(attrs.get("output_padding") or [0] * nd)
        out = [conv_transpose_out_size(x.shape[2 + i], k[i], s[i], d[i], p[i], p[nd + i], op[i]) for i in range(nd)]
    full = [max(p[i] + out[i], (x.shape[2 + i] - 1) * s[i] + d[i] * (k[i] - 1) + 1) for i in range(nd)]
    y = np.zeros((x.shape[0], g, cog) + tuple(full), np.float64)
    xg = _grouped(x, g)
    wg = w.reshape((g, w.shape[0] // g) + w.shape[1:])
    for kk in itertools.product(*[range(v) for v in k]):
        idx = tuple(slice(kk[i] * d[i], kk[i] * d[i] + (x.shape[2 + i] - 1) * s[i] + 1, s[i]) for i in range(nd))
        y[(slice(None),) * 3 + idx] += np.einsum("ngc...,gco->ngo...", xg, wg[(Ellipsis,) + kk])
    y = y.reshape((x.shape[0], g * cog) + tuple(full))
    crop = tuple(slice(p[i], p[i] + out[i]) for i in range(nd))
    return y[(slice(None), slice(None)) + crop].astype(x.dtype)


def _conv_transpose_examples(rng):
    def ex(xs, ws, **attrs):
        return Example([rand(rng, xs), rand(rng, ws)], attrs)
    return [ex((1, 3, 4, 4), (3, 2, 3, 3)),
            ex((2, 4, 3, 4), (4, 3, 3, 2), strides=[2, 3], pads=[1, 0, 0, 1], output_padding=[1, 2], groups=2),
            ex((1, 2, 5), (2, 3, 3), strides=[2], dilations=[2], pads=[1, 2]),
            ex((1, 2, 3, 2, 3), (2, 1, 2, 2, 2), strides=[2, 1, 2], pads=[0, 0, 1, 1, 0, 0])]


conv_transpose_op = register_op("conv_transpose", pattern=Pattern.OUT_ELEMWISE_FUSABLE, infer=_conv_transpose_infer,
                                reference=_conv_transpose_ref, examples=_conv_transpose_examples,
                                shape_only_inputs=(2,))


@conv_transpose_op.def_gradient
def _conv_transpose_grad(node, dys):
    x, w = node.inputs[:2]
    dy = dys[0]
    common = _conv_common(node)
    # conv_transpose is conv's adjoint in its input: its own adjoint is conv; the weight gradient is
    # conv's, with the roles of input and output gradient swapped
    return [conv(dy, w, **common),
            make("conv_weight_grad", [dy, x], dict(common, kernel_shape=list(w.shape[2:])))] + \
        [None] * (len(node.inputs) - 2)


# ---- conv_weight_grad: d conv(x, w) / d w contracted with dy ----------------------------------
def _conv_weight_grad_infer(node):
    x, dy = node.inputs
    _check_float(x, dy)
    _spatial_rank(x, "conv_weight_grad")  # the rank check
    g = int(node.attrs.get("groups", 1))
    k = list(node.attrs["kernel_shape"])
    cin = x.shape[1]
    return TensorType((dy.shape[1] if dy.shape else None, None if cin is None else cin // g) + tuple(k), x.dtype)


def _conv_weight_grad_ref(attrs, x, dy):
    nd = x.ndim - 2
    g = int(attrs.get("groups", 1))
    k, s, d, p = spatial_attrs(attrs, nd)
    out = dy.shape[2:]
    xp = _pad(x, p)
    dyg = _grouped(dy, g)
    wg = np.zeros((g, dy.shape[1] // g, x.shape[1] // g) + tuple(k), np.float64)
    for kk in itertools.product(*[range(v) for v in k]):
        xs = _grouped(_window(xp, kk, d, s, out), g)
        wg[(Ellipsis,) + kk] = np.einsum("ngcp,ngop->goc", xs.reshape(xs.shape[:3] + (-1,)),
                                         dyg.reshape(dyg.shape[:3] + (-1,)))
    return wg.reshape((dy.shape[1], x.shape[1] // g) + tuple(k)).astype(x.dtype)


def _conv_weight_grad_examples(rng):
    out = []
    for e in _conv_examples(rng)[:4]:
        x, w = e.inputs
        y = _conv_ref(e.attrs, x, w)
        out.append(Example([x, rand(rng, y.shape)], dict(e.attrs, kernel_shape=list(w.shape[2:]))))
    return out


conv_weight_grad_op = register_op("conv_weight_grad", pattern=Pattern.OUT_ELEMWISE_FUSABLE,
                                  infer=_conv_weight_grad_infer, reference=_conv_weight_grad_ref,
                                  examples=_conv_weight_grad_examples)


@conv_weight_grad_op.def_gradient
def _conv_weight_grad_grad(node, dys):
    x, dy = node.inputs
    gw = dys[0]
    common = _conv_common(node)
    # bilinear in (x, dy): each input's gradient is the other linear map applied to gw
    return [conv_transpose(dy, gw, like=x, **common), conv(x, gw, **common)]


# ---- pooling --------------------------------------------------------------------------------------
def _pool_attrs(attrs, nd):
    k, s, d, p = spatial_attrs(attrs, nd)
    return k, s, d, p, bool(attrs.get("ceil_mode", False))


def pool_output_shape(attrs, x_shape):
    """Spatial output shape of a pooling op with `attrs` over an input of `x_shape`."""
    nd = len(x_shape) - 2
    k, s, d, p, ceil = _pool_attrs(attrs, nd)
    return [pool_out_size(x_shape[2 + i], k[i], s[i], d[i], p[i], p[nd + i], ceil) for i in range(nd)]


def _pool_infer(node):
    x = node.inputs[0]
    if node.op == "avg_pool" or x.dtype.is_bool:
        _check_float(x)   # max pooling also takes integers
    _spatial_rank(x, node.op)  # the rank check
    out = pool_output_shape(node.attrs, x.shape)
    if any(o is not None and o < 1 for o in out):
        raise ShapeError(f"{node.op} of {x.name} {list(x.shape)} with kernel {node.attrs['kernel_shape']} gives an "
                         f"empty output {out}")
    return TensorType(tuple(x.shape[:2]) + tuple(out), x.dtype)


def _pool_windows(attrs, x, fill):
    """For each kernel offset, the (N, C, out...) values it reads (padding reads `fill`) and whether
    each is inside the explicit padding (for count_include_pad) and inside the input."""
    nd = x.ndim - 2
    k, s, d, p, ceil = _pool_attrs(attrs, nd)
    out = pool_output_shape(attrs, x.shape)
    extra = [max(0, (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - (x.shape[2 + i] + p[i] + p[nd + i]))
             for i in range(nd)]
    xp = _pad(x, p, fill, extra)
    inside = _pad(np.ones((1, 1) + x.shape[2:]), p, 0.0, extra)
    padded = _pad(np.ones((1, 1) + x.shape[2:]), p, 1.0, extra)
    if any(extra):  # the ceil_mode overhang is no padding: never counted
        for i in range(nd):
            sl = [slice(None)] * (nd + 2)
            sl[2 + i] = slice(x.shape[2 + i] + p[i] + p[nd + i], None)
            padded[tuple(sl)] = 0
    for kk in itertools.product(*[range(v) for v in k]):
        yield kk, _window(xp, kk, d, s, out), _window(inside, kk, d, s, out), _window(padded, kk, d, s, out)


def _max_pool_argmax(attrs, x):
    """(max, flat kernel offset of the first maximum) of every window."""
    best = arg = None
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    for j, (kk, v, _, _) in enumerate(_pool_windows(attrs, x, lowest)):
        if best is None:
            best, arg = v.copy(), np.zeros(v.shape, np.int64)
        else:
            better = (v > best) | (np.isnan(v) & ~np.isnan(best)) if x.dtype.kind == "f" else v > best  # NaN wins
            best = np.where(better, v, best)
            arg = np.where(better, j, arg)
    return best, arg


def _max_pool_ref(attrs, x):
    return _max_pool_argmax(attrs, x)[0].astype(x.dtype)


def _pool_counts(attrs, x_shape):
    """Per output position, how many of its window's elements the average divides by."""
    include = bool(attrs.get("count_include_pad", False))
    total = 0
    for kk, _, inside, padded in _pool_windows(attrs, np.zeros((1, 1) + tuple(x_shape[2:])), 0.0):
        total = total + (padded if include else inside)
    return total


def _avg_pool_ref(attrs, x):
    total = sum(v for _, v, _, _ in _pool_windows(attrs, x.astype(np.float64), 0.0))
    return (total / _pool_counts(attrs, x.shape)).astype(x.dtype)


def _pool_examples(rng, avg):
    def ex(shape, **attrs):
        return Example([rand(rng, shape)], attrs)
    extra = [{"count_include_pad": True}, {}] if avg else [{}, {}]
    ints = [] if avg else [Example([rand(rng, (1, 2, 5, 5), "uint8", 0, 255)], {"kernel_shape": [3, 3],
                                                                              "pads": [1, 1, 1, 1]})]
    return [ex((1, 2, 6, 6), kernel_shape=[2, 2], strides=[2, 2]),
            ex((2, 3, 7, 8), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], **extra[0]),
            ex((1, 2, 9), kernel_shape=[3], strides=[2], ceil_mode=True, pads=[0, 1], **extra[0]),
            ex((1, 2, 7, 7), kernel_shape=[2, 3], strides=[2, 1], dilations=[2, 2], pads=[1, 0, 0, 1]),
            ex((1, 1, 4, 5, 4), kernel_shape=[2, 2, 3], strides=[2, 1, 1], ceil_mode=True, **extra[1])] + ints


max_pool_op = register_op("max_pool", pattern=Pattern.OUT_ELEMWISE_FUSABLE, infer=_pool_infer,
                          reference=_max_pool_ref, examples=lambda rng: _pool_examples(rng, False))
avg_pool_op = register_op("avg_pool", pattern=Pattern.OUT_ELEMWISE_FUSABLE, infer=_pool_infer,
                          reference=_avg_pool_ref, examples=lambda rng: _pool_examples(rng, True))


# max_pool_grad(x, dy): dy of each window routed to the first maximum of x in it
def _max_pool_grad_ref(attrs, x, dy):
    _, arg = _max_pool_argmax(attrs, x)
    nd = x.ndim - 2
    k, s, d, p, _ = _pool_attrs(attrs, nd)
    out = dy.shape[2:]
    extra = [max(0, (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - (x.shape[2 + i] + p[i] + p[nd + i]))
             for i in range(nd)]
    dxp = _pad(np.zeros(x.shape, np.float64), p, 0.0, extra)
    for j, kk in enumerate(itertools.product(*[range(v) for v in k])):
        idx = tuple(slice(kk[i] * d[i], kk[i] * d[i] + (out[i] - 1) * s[i] + 1, s[i]) for i in range(nd))
        dxp[(slice(None), slice(None)) + idx] += np.where(arg == j, dy, 0)
    crop = tuple(slice(p[i], p[i] + x.shape[2 + i]) for i in range(nd))
    return dxp[(slice(None), slice(None)) + crop].astype(x.dtype)


# max_pool_gather(x, g): for each window, g at the first maximum of x (max_pool_grad's adjoint in dy)
def _max_pool_gather_ref(attrs, x, g):
    _, arg = _max_pool_argmax(attrs, x)
    out = 0
    for j, (kk, v, _, _) in enumerate(_pool_windows(attrs, g, 0.0)):
        out = out + np.where(arg == j, v, 0)
    return np.asarray(out).astype(x.dtype)


def _pool_grad_examples(rng, op):
    out = []
    for e in _pool_examples(rng, op == "avg_pool_grad"):
        x = e.inputs[0]
        if x.dtype.kind != "f":
            continue
        y_shape = x.shape[:2] + tuple(pool_output_shape(e.attrs, x.shape))
        if op == "max_pool_grad":
            out.append(Example([x, rand(rng, y_shape)], e.attrs))
        elif op == "max_pool_gather":
            out.append(Example([x, rand(rng, x.shape)], e.attrs))
        else:
            out.append(Example([rand(rng, y_shape), x], e.attrs))
    return out


def _max_pool_grad_infer(node):
    x = node.inputs[0]
    _check_float(*node.inputs)
    _spatial_rank(x, node.op)
    return TensorType(x.shape, x.dtype)


def _max_pool_gather_infer(node):
    _check_float(*node.inputs)
    return _pool_infer(node)


max_pool_grad_op = register_op("max_pool_grad", pattern=Pattern.OPAQUE, infer=_max_pool_grad_infer,
                               reference=_max_pool_grad_ref,
                               examples=lambda rng: _pool_grad_examples(rng, "max_pool_grad"))
max_pool_gather_op = register_op("max_pool_gather", pattern=Pattern.OPAQUE, infer=_max_pool_gather_infer,
                                 reference=_max_pool_gather_ref,
                                 examples=lambda rng: _pool_grad_examples(rng, "max_pool_gather"))


# max_pool_indices(x): where each window's first maximum is, as a flat index into x (ONNX MaxPool's
# Indices: row-major, or with storage_order 1 column-major over the spatial dims)
def _max_pool_indices_ref(attrs, x):
    _, arg = _max_pool_argmax(attrs, x)
    nd = x.ndim - 2
    k, s, d, p, _ = _pool_attrs(attrs, nd)
    out = arg.shape[2:]
    kk = np.unravel_index(arg, k)
    grid = np.meshgrid(*[np.arange(o) for o in out], indexing="ij")
    pos = [grid[i] * s[i] - p[i] + kk[i] * d[i] for i in range(nd)]
    dims = list(x.shape[2:])
    if attrs.get("storage_order", 0):
        flat = np.ravel_multi_index(pos[::-1], dims[::-1])
    else:
        flat = np.ravel_multi_index(pos, dims)
    nc = (np.arange(x.shape[0])[:, None] * x.shape[1] + np.arange(x.shape[1])[None, :]) * int(np.prod(dims))
    return (flat + nc.reshape(nc.shape + (1,) * nd)).astype(np.int64)


def _max_pool_indices_infer(node):
    t = _pool_infer(node)
    from .. import dtypes
    return TensorType(t.shape, dtypes.int64)


max_pool_indices_op = register_op("max_pool_indices", pattern=Pattern.OPAQUE, infer=_max_pool_indices_infer,
                                  reference=_max_pool_indices_ref, differentiable=False,
                                  examples=lambda rng: _pool_examples(rng, False) + [Example(
                                      [rand(rng, (2, 2, 5, 6))], {"kernel_shape": [2, 3], "strides": [1, 2],
                                                                  "pads": [1, 1, 0, 1], "storage_order": 1})])


# avg_pool_grad(dy, like): each window's dy / count spread over its elements; `like` gives x's shape
def _avg_pool_grad_infer(node):
    dy, like = node.inputs
    _check_float(dy)
    _spatial_rank(like, node.op)
    return TensorType(like.shape, dy.dtype)


def _avg_pool_grad_ref(attrs, dy, like):
    nd = like.ndim - 2
    k, s, d, p, _ = _pool_attrs(attrs, nd)
    out = dy.shape[2:]
    counts = _pool_counts(attrs, like.shape)
    extra = [max(0, (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - (like.shape[2 + i] + p[i] + p[nd + i]))
             for i in range(nd)]
    dxp = _pad(np.zeros(like.shape, np.float64), p, 0.0, extra)
    for kk in itertools.product(*[range(v) for v in k]):
        idx = tuple(slice(kk[i] * d[i], kk[i] * d[i] + (out[i] - 1) * s[i] + 1, s[i]) for i in range(nd))
        dxp[(slice(None), slice(None)) + idx] += dy / counts
    crop = tuple(slice(p[i], p[i] + like.shape[2 + i]) for i in range(nd))
    return dxp[(slice(None), slice(None)) + crop].astype(dy.dtype)


avg_pool_grad_op = register_op("avg_pool_grad", pattern=Pattern.OPAQUE, infer=_avg_pool_grad_infer,
                               reference=_avg_pool_grad_ref, shape_only_inputs=(1,),
                               examples=lambda rng: _pool_grad_examples(rng, "avg_pool_grad"))


@max_pool_op.def_gradient
def _max_pool_gradient(node, dys):
    return [make("max_pool_grad", [node.inputs[0], dys[0]], dict(node.attrs))]


@max_pool_grad_op.def_gradient
def _max_pool_grad_gradient(node, dys):
    # piecewise constant in x (the argmax moves only at ties); linear in dy
    return [None, make("max_pool_gather", [node.inputs[0], dys[0]], dict(node.attrs))]


@max_pool_gather_op.def_gradient
def _max_pool_gather_gradient(node, dys):
    return [None, make("max_pool_grad", [node.inputs[0], dys[0]], dict(node.attrs))]


@avg_pool_op.def_gradient
def _avg_pool_gradient(node, dys):
    return [make("avg_pool_grad", [dys[0], node.inputs[0]], dict(node.attrs))]


@avg_pool_grad_op.def_gradient
def _avg_pool_grad_gradient(node, dys):
    return [make("avg_pool", [dys[0]], dict(node.attrs)), None]


# ---- the API ------------------------------------------------------------------------------------------
def _norm_list(v, nd, what, default):
    if v is None:
        return [default] * nd
    v = [int(a) for a in np.atleast_1d(v)]
    if len(v) == 1:
        v = v * nd
    if len(v) != nd:
        raise ShapeError(f"{what} {v} needs {nd} entries")
    return v


def _norm_pads(pads, nd):
    if pads is None:
        return [0] * (2 * nd)
    pads = [int(a) for a in np.atleast_1d(pads)]
    if len(pads) == 1:
        return pads * (2 * nd)
    if len(pads) == nd:
        return pads + pads
    if len(pads) != 2 * nd:
        raise ShapeError(f"pads {pads} needs {nd} (symmetric) or {2 * nd} (begins, then ends) entries")
    return pads


def conv(x, w, strides=None, dilations=None, pads=None, groups=1, name=None):
    """N-d convolution (cross-correlation) of x (N, C, *spatial) with w (C_out, C/groups, *kernel)."""
    x, w = convert_to_tensor(x), convert_to_tensor(w)
    nd = _spatial_rank(x, "conv")
    return make("conv", [x, w], {"strides": _norm_list(strides, nd, "strides", 1),
                                 "dilations": _norm_list(dilations, nd, "dilations", 1),
                                 "pads": _norm_pads(pads, nd), "groups": int(groups)}, name)


def conv_transpose(x, w, strides=None, dilations=None, pads=None, output_padding=None, groups=1, like=None,
                   name=None):
    """Transposed convolution of x (N, C, *spatial) with w (C, C_out/groups, *kernel); with `like`,
    the output takes like's spatial shape (the input gradient of a conv)."""
    x, w = convert_to_tensor(x), convert_to_tensor(w)
    nd = _spatial_rank(x, "conv_transpose")
    attrs = {"strides": _norm_list(strides, nd, "strides", 1), "dilations": _norm_list(dilations, nd, "dilations", 1),
             "pads": _norm_pads(pads, nd), "groups": int(groups)}
    if like is not None:
        return make("conv_transpose", [x, w, like], attrs, name)
    attrs["output_padding"] = _norm_list(output_padding, nd, "output_padding", 0)
    return make("conv_transpose", [x, w], attrs, name)


def _pool(op, x, kernel_shape, strides, pads, dilations, ceil_mode, name, **extra):
    x = convert_to_tensor(x)
    nd = _spatial_rank(x, op)
    attrs = {"kernel_shape": _norm_list(kernel_shape, nd, "kernel_shape", 1),
             "strides": _norm_list(strides, nd, "strides", 1),
             "dilations": _norm_list(dilations, nd, "dilations", 1), "pads": _norm_pads(pads, nd),
             "ceil_mode": bool(ceil_mode), **extra}
    return make(op, [x], attrs, name)


def max_pool(x, kernel_shape, strides=None, pads=None, dilations=None, ceil_mode=False, name=None):
    """Max over windows of x (N, C, *spatial); padding never wins."""
    return _pool("max_pool", x, kernel_shape, strides, pads, dilations, ceil_mode, name)


def avg_pool(x, kernel_shape, strides=None, pads=None, dilations=None, ceil_mode=False, count_include_pad=False,
             name=None):
    """Mean over windows of x (N, C, *spatial), counting the padding when count_include_pad."""
    return _pool("avg_pool", x, kernel_shape, strides, pads, dilations, ceil_mode, name,
                 count_include_pad=bool(count_include_pad))


def max_pool_indices(x, kernel_shape, strides=None, pads=None, dilations=None, ceil_mode=False, storage_order=0,
                     name=None):
    """int64 flat indices into x of each max_pool window's first maximum (ONNX MaxPool's Indices)."""
    return _pool("max_pool_indices", x, kernel_shape, strides, pads, dilations, ceil_mode, name,
                 storage_order=int(storage_order))


# ---- TensorFlow-style wrappers: channels-last by default, 'SAME' / 'VALID' padding ----------------
def _tf_list(v, nd, what, channels_first):
    """TF's 1, nd or nd+2 (N and C included) entries as nd spatial ones."""
    v = [int(a) for a in np.atleast_1d(v if v is not None else 1)]
    if len(v) == 1:
        return v * nd
    if len(v) == nd + 2:
        return v[2:] if channels_first else v[1:-1]
    if len(v) != nd:
        raise ShapeError(f"{what} {v} needs 1, {nd} or {nd + 2} entries")
    return v


def _tf_pads(padding, x_spatial, kernel, strides, dilations, channels_first):
    """Explicit (begins, ends) pads for TF's 'SAME' / 'VALID' / [[before, after], ...] padding."""
    nd = len(kernel)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return [0] * (2 * nd)
        if mode != "SAME":
            raise ShapeError(f"padding {padding!r} must be 'SAME' or 'VALID' (or explicit pairs)")
        if None in x_spatial:
            raise ShapeError(f"padding 'SAME' needs the spatial dims known when the graph is built, got {x_spatial}")
        total = [max(0, (-(-n // s) - 1) * s + (k - 1) * d + 1 - n)
                 for n, k, s, d in zip(x_spatial, kernel, strides, dilations)]
        return [t // 2 for t in total] + [t - t // 2 for t in total]   # TF puts the odd one at the end
    pairs = [list(p) for p in padding]
    if len(pairs) == nd + 2:
        pairs = pairs[2:] if channels_first else pairs[1:-1]
    if len(pairs) != nd or any(len(p) != 2 for p in pairs):
        raise ShapeError(f"explicit padding {padding} needs {nd} or {nd + 2} [before, after] pairs")
    return [int(p[0]) for p in pairs] + [int(p[1]) for p in pairs]


def _to_channels_first(x, nd, channels_first):
    from .shape import transpose
    return x if channels_first else transpose(x, [0, nd + 1] + list(range(1, nd + 1)))


def _to_channels_last(y, nd, channels_first):
    from .shape import transpose
    return y if channels_first else transpose(y, [0] + list(range(2, nd + 2)) + [1])


def _tf_layout(x, data_format):
    x = convert_to_tensor(x)
    nd = _spatial_rank(x, "conv/pool") if x.shape is not None else 2
    channels_first = (data_format or "NHWC").upper().startswith("NC")
    spatial = list(x.shape[2:] if channels_first else x.shape[1:-1])
    return x, nd, channels_first, spatial


def conv2d(input, filters=None, strides=1, padding="VALID", data_format="NHWC", dilations=None, name=None,  # noqa: A002
           filter=None):  # noqa: A002  (TF1 calls it filter)
    """tf.nn.conv2d: x (NHWC or NCHW) with filters [kh, kw, C_in, C_out]; 'SAME' or 'VALID' padding.
    (Also takes 1-D and 3-D inputs with their filters.)"""
    from .shape import transpose
    x, nd, cf, spatial = _tf_layout(input, data_format)
    filters = filters if filters is not None else filter
    filters = convert_to_tensor(filters, None if hasattr(filters, "_as_graph_element") or hasattr(filters, "node")
                                else x.dtype)  # an array takes the input's dtype, as TF converts it
    strides = _tf_list(strides, nd, "strides", cf)
    dilations = _tf_list(dilations, nd, "dilations", cf)
    kernel = list(filters.shape[:nd])
    pads = _tf_pads(padding, spatial, kernel, strides, dilations, cf)
    w = transpose(filters, [nd + 1, nd] + list(range(nd)))   # [k..., in, out] -> [out, in, k...]
    y = conv(_to_channels_first(x, nd, cf), w, strides=strides, dilations=dilations, pads=pads)
    return _to_channels_last(y, nd, cf)


def _tf_pool(op, value, ksize, strides, padding, data_format):
    x, nd, cf, spatial = _tf_layout(value, data_format)
    kernel = _tf_list(ksize, nd, "ksize", cf)
    strides = _tf_list(strides, nd, "strides", cf)
    pads = _tf_pads(padding, spatial, kernel, strides, [1] * nd, cf)
    y = _pool(op, _to_channels_first(x, nd, cf), kernel, strides, pads, None, False, None,
              **({"count_include_pad": False} if op == "avg_pool" else {}))
    return _to_channels_last(y, nd, cf)


def max_pool2d(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """tf.nn.max_pool: max over ksize windows of x (NHWC by default)."""
    return _tf_pool("max_pool", value if value is not None else input, ksize, strides, padding, data_format)


def avg_pool2d(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """tf.nn.avg_pool: mean over ksize windows of x (NHWC by default); 'SAME' padding is not counted."""
    return _tf_pool("avg_pool", value if value is not None else input, ksize, strides, padding, data_format)
