"""ONNX -> graphc: one converter per ONNX op type (table `CONVERTERS`), static inputs constant-folded."""
import os
from collections import namedtuple

import numpy as np

import graphc as gc
import graphc.reference  # noqa: F401  (constant folding)
from graphc import dtypes
from graphc.errors import FeedError, GraphcError

MIN_OPSET, MAX_OPSET = 7, 28  # 23..28 (onnx 1.23) changed only the types of the ops graphc maps
_BIG = 2 ** 62  # ONNX slice ends use INT64_MAX / INT64_MIN for "to the end"


class OnnxImportError(GraphcError, ValueError):
    """An ONNX model could not be read, checked or mapped onto graphc ops."""


class StaticInputError(OnnxImportError):
    """An input that must be known at import time (shape, axes, pads) depends on a fed model input."""


Imported = namedtuple("Imported", ["graph", "inputs", "outputs"])
Imported.__doc__ = "import_model's result: the graphc graph, input name -> placeholder, output name -> tensor."


# ---- loading and checking ---------------------------------------------------------------------
def load(path_or_model):
    """A ModelProto from a path, bytes or ModelProto; OnnxImportError if it is not a valid ONNX file."""
    import onnx
    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model
    try:
        if isinstance(path_or_model, (bytes, bytearray)):
            model = onnx.load_from_string(bytes(path_or_model))
        else:
            if not os.path.exists(path_or_model):
                raise OnnxImportError(f"ONNX file {path_or_model} does not exist")
            model = onnx.load(path_or_model)
    except OnnxImportError:
        raise
    except Exception as e:  # protobuf raises DecodeError and others on truncated / random bytes
        raise OnnxImportError(f"{path_or_model!r} is not a readable ONNX model (truncated or not protobuf): "
                              f"{type(e).__name__}: {e}") from None
    return model


def opset_of(model):
    """The default-domain opset version the model imports."""
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    raise OnnxImportError("the model imports no default-domain ('ai.onnx') opset")


def checked(model):
    """`model` after onnx.checker and onnx.shape_inference, with its opset in graphc's range."""
    import onnx
    opset = opset_of(model)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise OnnxImportError(f"ONNX opset {opset} is not supported; graphc imports opsets {MIN_OPSET}..{MAX_OPSET}")
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise OnnxImportError(f"the ONNX model is invalid (onnx.checker): {e}") from None
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception as e:
        raise OnnxImportError(f"ONNX shape inference failed: {e}") from None


def np_dtype(elem_type):
    """The numpy dtype of an ONNX TensorProto element type."""
    import onnx
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))


def _value_info_shape(vi):
    """(shape with None for unknown dims, or None for unknown rank) of a ValueInfoProto."""
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)


# ---- the conversion context -------------------------------------------------------------------
class Context:
    """What converters see: the opset, static (constant-folded) values of tensors."""

    def __init__(self, opset, graph):
        self.opset = opset
        self.graph = graph

    def static(self, t, what):
        """The numpy value of tensor `t` if it does not depend on a fed input, else an error naming `what`."""
        try:
            return gc.reference.evaluate(t)
        except FeedError:
            raise StaticInputError(f"{what} must be known at import time (from initializers, Constant or "
                                  f"Shape of static dims), but {t.name} depends on a model input") from None

    def maybe_static(self, t):
        """The numpy value of `t` when it is static, else None."""
        try:
            return gc.reference.evaluate(t)
        except FeedError:
            return None


def _ints(v):
    return [int(x) for x in np.atleast_1d(v)]


def _rank(x, node):
    if x.shape is None:
        raise OnnxImportError(f"node {node.name!r} ({node.op_type}) needs the rank of its input {x.name}")
    return len(x.shape)


def _const(value, like=None):
    arr = np.asarray(value, dtype=None if like is None else like.dtype.np)
    return gc.constant(arr)


# ---- converters: fn(ctx, node, inputs, attrs) -> tensor or list ------------------------------
CONVERTERS = {}


def converter(*op_types):
    """Register a converter for ONNX op types."""
    def deco(fn):
        for op in op_types:
            CONVERTERS[op] = fn
        return fn
    return deco


def _simple(op_type, fn):
    CONVERTERS[op_type] = lambda ctx, node, ins, attrs: fn(*ins)


for _op, _fn in {"Add": gc.add, "Sub": gc.subtract, "Mul": gc.multiply, "Abs": gc.abs, "Neg": gc.negative,
                 "Exp": gc.exp, "Log": gc.log, "Sqrt": gc.sqrt, "Reciprocal": gc.reciprocal,
                 "Sigmoid": gc.sigmoid, "Tanh": gc.tanh, "Relu": gc.relu, "Erf": gc.erf, "Sin": gc.sin,
                 "Cos": gc.cos, "Floor": gc.floor, "Ceil": gc.ceil, "Round": gc.round, "Sign": gc.sign,
                 "Equal": gc.equal, "Less": gc.less, "Greater": gc.greater, "LessOrEqual": gc.less_equal,
                 "GreaterOrEqual": gc.greater_equal, "And": gc.logical_and, "Or": gc.logical_or,
                 "Xor": gc.logical_xor, "Not": gc.logical_not, "Where": gc.where,
                 "Identity": gc.identity}.items():
    _simple(_op, _fn)


@converter("Div")
def _div(ctx, node, ins, attrs):
    a, b = ins
    if a.dtype.is_integer:  # ONNX integer Div truncates toward zero
        q = gc.divide(gc.cast(a, dtypes.float64), gc.cast(b, dtypes.float64))
        return gc.cast(q, a.dtype)
    return gc.divide(a, b)


@converter("Pow")
def _pow(ctx, node, ins, attrs):
    a, b = ins
    if b.dtype != a.dtype:
        b = gc.cast(b, a.dtype)
    return gc.pow(a, b)


@converter("Mod")
def _mod(ctx, node, ins, attrs):
    a, b = ins
    if attrs.get("fmod", 0):
        return gc.subtract(a, gc.multiply(b, gc.cast(gc.cast(gc.divide(a, b), dtypes.int64), a.dtype))) \
            if a.dtype.is_floating else gc.subtract(a, gc.multiply(b, _div(ctx, node, ins, attrs)))
    return gc.floor_mod(a, b)


def _variadic(fn):
    def conv(ctx, node, ins, attrs):
        out = ins[0]
        for t in ins[1:]:
            out = fn(out, t)
        return out
    return conv


CONVERTERS["Max"] = _variadic(gc.maximum)
CONVERTERS["Min"] = _variadic(gc.minimum)
CONVERTERS["Sum"] = _variadic(gc.add)


@converter("Mean")
def _mean(ctx, node, ins, attrs):
    return gc.divide(_variadic(gc.add)(ctx, node, ins, attrs), _const(len(ins), ins[0]))


@converter("Cast")
def _cast(ctx, node, ins, attrs):
    return gc.cast(ins[0], np_dtype(attrs["to"]))


@converter("CastLike")
def _cast_like(ctx, node, ins, attrs):
    return gc.cast(ins[0], ins[1].dtype)


@converter("Constant")
def _constant(ctx, node, ins, attrs):
    import onnx
    for key in ("value", "sparse_value"):
        if key in attrs:
            if key == "sparse_value":
                raise OnnxImportError("sparse Constant values are not supported")
            return gc.constant(onnx.numpy_helper.to_array(attrs[key]))
    for key, dt in (("value_float", np.float32), ("value_int", np.int64), ("value_floats", np.float32),
                    ("value_ints", np.int64)):
        if key in attrs:
            return gc.constant(np.asarray(attrs[key], dt))
    raise OnnxImportError(f"Constant node {node.name!r} has none of the value attributes graphc supports")


@converter("ConstantOfShape")
def _constant_of_shape(ctx, node, ins, attrs):
    import onnx
    shape = _ints(ctx.static(ins[0], "ConstantOfShape shape")) if ins[0].shape != (0,) else []
    value = onnx.numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
    return gc.constant(np.full(shape, value.reshape(()), value.dtype))


@converter("Shape")
def _shape(ctx, node, ins, attrs):
    x = ins[0]
    start, end = attrs.get("start", 0), attrs.get("end", None)
    if x.shape is not None and all(d is not None for d in x.shape):
        return gc.constant(np.asarray(x.shape, np.int64)[start:end])
    s = gc.shape(x, out_type=dtypes.int64)
    if start == 0 and end is None:
        return s
    return _slice_static(s, [start], [_BIG if end is None else end], [0], [1])


@converter("Size")
def _size(ctx, node, ins, attrs):
    x = ins[0]
    if x.shape is not None and all(d is not None for d in x.shape):
        return gc.constant(np.asarray(int(np.prod(x.shape)), np.int64))
    return gc.size(x, out_type=dtypes.int64)


@converter("MatMul")
def _matmul(ctx, node, ins, attrs):
    return gc.matmul(*ins)


@converter("Gemm")
def _gemm(ctx, node, ins, attrs):
    a, b = ins[0], ins[1]
    y = gc.matmul(a, b, transpose_a=bool(attrs.get("transA", 0)), transpose_b=bool(attrs.get("transB", 0)))
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    if alpha != 1.0:
        y = gc.multiply(y, _const(alpha, y))
    if len(ins) > 2 and ins[2] is not None:
        c = ins[2] if beta == 1.0 else gc.multiply(ins[2], _const(beta, ins[2]))
        y = gc.add(y, c)
    return y


def _softmax_conv(fn):
    def conv(ctx, node, ins, attrs):
        x = ins[0]
        rank = _rank(x, node)
        if ctx.opset >= 13:
            return fn(x, axis=attrs.get("axis", -1))
        axis = attrs.get("axis", 1) % max(rank, 1)  # before 13: softmax of x flattened to 2-D at axis
        if axis == rank - 1:
            return fn(x, axis=-1)
        flat = gc.reshape(x, [int(np.prod(x.shape[:axis])) if None not in x.shape[:axis] else -1,
                              int(np.prod(x.shape[axis:])) if None not in x.shape[axis:] else -1])
        return gc.reshape_like(fn(flat, axis=-1), x)
    return conv


CONVERTERS["Softmax"] = _softmax_conv(gc.softmax)
CONVERTERS["LogSoftmax"] = _softmax_conv(gc.log_softmax)


# ---- reductions: axes an attribute until opset 13 (ReduceSum) / 18 (the rest) -------------------
def _reduce_axes(ctx, node, ins, attrs, input_from):
    if ctx.opset >= input_from:
        if len(ins) > 1 and ins[1] is not None:
            axes = _ints(ctx.static(ins[1], f"{node.op_type} axes"))
        else:
            axes = []
    else:
        axes = list(attrs.get("axes", []))
    if not axes:
        if attrs.get("noop_with_empty_axes", 0):
            return None, True
        return None, False
    return axes, False


def _reduce(fn, input_from=18, pre=None, post=None):
    def conv(ctx, node, ins, attrs):
        x = ins[0]
        axes, noop = _reduce_axes(ctx, node, ins, attrs, input_from)
        if noop:
            return gc.identity(x) if pre is None else pre(x)
        y = fn(x if pre is None else pre(x), axis=axes, keepdims=bool(attrs.get("keepdims", 1)))
        return y if post is None else post(y)
    return conv


CONVERTERS["ReduceSum"] = _reduce(gc.reduce_sum, input_from=13)
CONVERTERS["ReduceMean"] = _reduce(gc.reduce_mean)
CONVERTERS["ReduceMax"] = _reduce(gc.reduce_max)
CONVERTERS["ReduceMin"] = _reduce(gc.reduce_min)
CONVERTERS["ReduceProd"] = _reduce(gc.reduce_prod)
CONVERTERS["ReduceSumSquare"] = _reduce(gc.reduce_sum, pre=gc.square)
CONVERTERS["ReduceL1"] = _reduce(gc.reduce_sum, pre=gc.abs)
CONVERTERS["ReduceL2"] = _reduce(gc.reduce_sum, pre=gc.square, post=gc.sqrt)
CONVERTERS["ReduceLogSum"] = _reduce(gc.reduce_sum, post=gc.log)


def _log_sum_exp(x, axis, keepdims):
    if x.shape is not None and 0 in [x.shape[a] for a in (axis if axis is not None else range(len(x.shape)))]:
        return gc.log(gc.reduce_sum(gc.exp(x), axis=axis, keepdims=keepdims))  # empty: log(0) = -inf
    m = gc.reduce_max(x, axis=axis, keepdims=True)  # subtract the max so exp cannot overflow
    y = gc.add(gc.log(gc.reduce_sum(gc.exp(gc.subtract(x, m)), axis=axis, keepdims=True)), m)
    return y if keepdims else gc.squeeze(y, axis=axis if axis is not None else list(range(len(x.shape))))


CONVERTERS["ReduceLogSumExp"] = _reduce(_log_sum_exp)


def _arg(fn):
    def conv(ctx, node, ins, attrs):
        x, axis, keep = ins[0], attrs.get("axis", 0), bool(attrs.get("keepdims", 1))
        if not attrs.get("select_last_index", 0):
            return fn(x, axis=axis, keepdims=keep, output_type=dtypes.int64)
        axis %= _rank(x, node)
        dim = x.shape[axis]
        if dim is None:
            raise OnnxImportError("select_last_index=1 needs the reduced dim known at import time")
        # the last extremum is the first one in the reversed tensor
        rev = _slice_static(x, [-1], [-_BIG], [axis], [-1])
        return gc.subtract(_const(dim - 1, gc.constant(np.int64(0))),
                           fn(rev, axis=axis, keepdims=keep, output_type=dtypes.int64))
    return conv


CONVERTERS["ArgMax"] = _arg(gc.argmax)
CONVERTERS["ArgMin"] = _arg(gc.argmin)


# ---- activations composed from elementwise ops ------------------------------------------------
def _act(fn):
    def conv(ctx, node, ins, attrs):
        x = ins[0]
        return fn(x, lambda v: _const(v, x), attrs)
    return conv


CONVERTERS["LeakyRelu"] = _act(lambda x, c, a: gc.where(gc.less(x, c(0)), gc.multiply(x, c(a.get("alpha", 0.01))), x))
CONVERTERS["Elu"] = _act(lambda x, c, a: gc.where(gc.less(x, c(0)),
                                                  gc.multiply(c(a.get("alpha", 1.0)), gc.subtract(gc.exp(x), c(1))), x))
CONVERTERS["Selu"] = _act(lambda x, c, a: gc.multiply(c(a.get("gamma", 1.0507009873554805)), gc.where(
    gc.less_equal(x, c(0)), gc.multiply(c(a.get("alpha", 1.6732632423543772)), gc.subtract(gc.exp(x), c(1))), x)))
CONVERTERS["Celu"] = _act(lambda x, c, a: gc.add(gc.maximum(x, c(0)), gc.minimum(c(0), gc.multiply(
    c(a.get("alpha", 1.0)), gc.subtract(gc.exp(gc.divide(x, c(a.get("alpha", 1.0)))), c(1))))))
CONVERTERS["HardSigmoid"] = _act(lambda x, c, a: gc.maximum(c(0), gc.minimum(c(1), gc.add(
    gc.multiply(c(a.get("alpha", 0.2)), x), c(a.get("beta", 0.5))))))
CONVERTERS["HardSwish"] = _act(lambda x, c, a: gc.multiply(x, gc.maximum(c(0), gc.minimum(c(1), gc.add(
    gc.multiply(c(1 / 6), x), c(0.5))))))
CONVERTERS["Softsign"] = _act(lambda x, c, a: gc.divide(x, gc.add(c(1), gc.abs(x))))
CONVERTERS["Softplus"] = _act(lambda x, c, a: gc.log(gc.add(gc.exp(x), c(1))))
CONVERTERS["ThresholdedRelu"] = _act(lambda x, c, a: gc.where(gc.greater(x, c(a.get("alpha", 1.0))), x, c(0)))
CONVERTERS["Mish"] = _act(lambda x, c, a: gc.multiply(x, gc.tanh(gc.log(gc.add(gc.exp(x), c(1))))))


@converter("PRelu")
def _prelu(ctx, node, ins, attrs):
    x, slope = ins
    return gc.where(gc.less(x, _const(0, x)), gc.multiply(x, slope), x)


@converter("Clip")
def _clip(ctx, node, ins, attrs):
    x = ins[0]
    if ctx.opset < 11:
        lo, hi = attrs.get("min"), attrs.get("max")
        lo, hi = (None if lo is None else _const(lo, x)), (None if hi is None else _const(hi, x))
    else:
        lo = ins[1] if len(ins) > 1 else None
        hi = ins[2] if len(ins) > 2 else None
    if lo is not None:
        x = gc.maximum(x, lo)
    if hi is not None:
        x = gc.minimum(x, hi)
    return x


@converter("Dropout")
def _dropout(ctx, node, ins, attrs):
    y = gc.identity(ins[0])
    if len(node.output) > 1 and node.output[1]:
        return [y, gc.constant(np.ones(ins[0].shape, bool))]
    return y


@converter("BatchNormalization")
def _batch_norm(ctx, node, ins, attrs):
    if attrs.get("training_mode", 0):
        raise OnnxImportError("BatchNormalization with training_mode=1 is not supported")
    x, scale, bias, mean, var = ins[:5]
    rank = _rank(x, node)
    shape = [-1] + [1] * (rank - 2)

    def per_channel(t):
        return gc.reshape(t, shape)
    inv = gc.multiply(per_channel(scale), gc.rsqrt(gc.add(per_channel(var), _const(attrs.get("epsilon", 1e-5), x))))
    return gc.add(gc.multiply(gc.subtract(x, per_channel(mean)), inv), per_channel(bias))


# ---- shape ops ------------------------------------------------------------------------------
@converter("Reshape")
def _reshape(ctx, node, ins, attrs):
    x = ins[0]
    shape = list(attrs["shape"]) if ctx.opset < 5 else _ints(ctx.static(ins[1], "Reshape shape"))
    if not attrs.get("allowzero", 0):  # 0 copies the input's dim
        shape = [x.shape[i] if d == 0 and x.shape is not None and x.shape[i] is not None else d
                 for i, d in enumerate(shape)]
        if 0 in shape:
            raise OnnxImportError("Reshape shape copies a dim (0) that is unknown at import time")
    return gc.reshape(x, shape)


@converter("Flatten")
def _flatten(ctx, node, ins, attrs):
    x = ins[0]
    rank = _rank(x, node)
    axis = attrs.get("axis", 1) % (rank + 1) if attrs.get("axis", 1) < 0 else attrs.get("axis", 1)
    lead, rest = x.shape[:axis], x.shape[axis:]
    size = lambda dims: int(np.prod(dims)) if None not in dims else -1  # noqa: E731
    if size(lead) == -1 and size(rest) == -1:
        raise OnnxImportError("Flatten needs the dims on one side of its axis known at import time")
    return gc.reshape(x, [size(lead), size(rest)])


@converter("Transpose")
def _transpose(ctx, node, ins, attrs):
    return gc.transpose(ins[0], attrs.get("perm"))


def _axes_input_or_attr(ctx, node, ins, attrs, input_from):
    if ctx.opset >= input_from:
        return _ints(ctx.static(ins[1], f"{node.op_type} axes")) if len(ins) > 1 and ins[1] is not None else None
    return attrs.get("axes")


@converter("Unsqueeze")
def _unsqueeze(ctx, node, ins, attrs):
    x = ins[0]
    axes = _axes_input_or_attr(ctx, node, ins, attrs, 13)
    out_rank = _rank(x, node) + len(axes)
    for a in sorted(a % out_rank for a in axes):
        x = gc.expand_dims(x, a)
    return x


@converter("Squeeze")
def _squeeze(ctx, node, ins, attrs):
    axes = _axes_input_or_attr(ctx, node, ins, attrs, 13)
    return gc.squeeze(ins[0], axis=axes)


@converter("Concat")
def _concat(ctx, node, ins, attrs):
    return gc.concat(ins, attrs["axis"])


@converter("Split")
def _split(ctx, node, ins, attrs):
    x, axis = ins[0], attrs.get("axis", 0)
    if ctx.opset >= 13:
        sizes = _ints(ctx.static(ins[1], "Split split")) if len(ins) > 1 and ins[1] is not None else None
    else:
        sizes = attrs.get("split")
    n = len(node.output)
    if sizes is None:
        dim = x.shape[axis] if x.shape is not None else None
        if "num_outputs" in attrs and dim is not None and dim % n:
            chunk = -(-dim // n)  # opset 18: the last part is smaller
            sizes = [chunk] * (n - 1) + [dim - chunk * (n - 1)]
        else:
            return gc.split(x, n, axis=axis)
    return gc.split(x, list(sizes), axis=axis)


def _slice_static(x, starts, ends, axes, steps):
    rank = len(x.shape)
    begin, end, stride = [0] * rank, [0] * rank, [1] * rank
    begin_mask = end_mask = (1 << rank) - 1
    for s, e, a, st in zip(starts, ends, axes, steps):
        a %= rank
        dim = x.shape[a]
        begin_mask &= ~(1 << a)
        end_mask &= ~(1 << a)
        stride[a] = st
        if dim is not None:
            b, en, _ = slice(s, e, st).indices(dim)
            begin[a] = b
            if en < 0:  # a negative step running past index 0
                end_mask |= 1 << a
            else:
                end[a] = en
        else:
            if abs(s) >= _BIG // 2:
                begin_mask |= 1 << a
            else:
                begin[a] = s
            if abs(e) >= _BIG // 2:
                end_mask |= 1 << a
            else:
                end[a] = e
    return gc.strided_slice(x, begin, end, stride, begin_mask=begin_mask, end_mask=end_mask)


@converter("Slice")
def _slice(ctx, node, ins, attrs):
    x = ins[0]
    rank = _rank(x, node)
    if ctx.opset < 10:
        starts, ends = attrs["starts"], attrs["ends"]
        axes, steps = attrs.get("axes", list(range(len(starts)))), [1] * len(starts)
    else:
        starts = _ints(ctx.static(ins[1], "Slice starts"))
        ends = _ints(ctx.static(ins[2], "Slice ends"))
        axes = _ints(ctx.static(ins[3], "Slice axes")) if len(ins) > 3 and ins[3] is not None \
            else list(range(len(starts)))
        steps = _ints(ctx.static(ins[4], "Slice steps")) if len(ins) > 4 and ins[4] is not None \
            else [1] * len(starts)
    return _slice_static(x, starts, ends, [a % rank for a in axes], steps)


@converter("Gather")
def _gather(ctx, node, ins, attrs):
    x, idx = ins
    axis = attrs.get("axis", 0)
    rank = _rank(x, node)
    axis %= rank
    value = ctx.maybe_static(idx)
    dim = x.shape[axis]
    if value is not None and dim is not None:  # ONNX allows negative indices
        idx = gc.constant(np.where(value < 0, value + dim, value).astype(value.dtype))
    elif dim is not None:
        idx = gc.where(gc.less(idx, _const(0, idx)), gc.add(idx, _const(dim, idx)), idx)
    return gc.gather(x, idx, axis=axis)


@converter("Expand")
def _expand(ctx, node, ins, attrs):
    x = ins[0]
    shape = _ints(ctx.static(ins[1], "Expand shape"))
    rank = max(len(shape), _rank(x, node))
    shape = [1] * (rank - len(shape)) + shape
    xs = [1] * (rank - len(x.shape)) + list(x.shape)
    if None in xs:
        raise OnnxImportError("Expand needs its input's dims known at import time")
    target = [max(a, b) if 1 in (a, b) else a for a, b in zip(xs, shape)]
    return gc.broadcast_to(x, target)


@converter("Tile")
def _tile(ctx, node, ins, attrs):
    return gc.tile(ins[0], _ints(ctx.static(ins[1], "Tile repeats")))


@converter("OneHot")
def _one_hot(ctx, node, ins, attrs):
    idx, depth, values = ins
    d = int(np.asarray(ctx.static(depth, "OneHot depth")).reshape(-1)[0])
    off, on = ctx.static(values, "OneHot values")
    ival = ctx.maybe_static(idx)
    idx = gc.constant(np.where(ival < 0, ival + d, ival)) if ival is not None else idx
    return gc.one_hot(idx, d, on_value=on.item(), off_value=off.item(), axis=attrs.get("axis", -1),
                      dtype=values.dtype)


# ---- import ---------------------------------------------------------------------------------
def _attrs(node):
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def import_model(path_or_model, variables=False, bind=None):
    """Import an ONNX model: an `Imported(graph, inputs, outputs)` with dicts name -> graphc tensor.

    `bind` ({input name: array}) turns those graph inputs into constants, for models whose shape or
    axes inputs are fed (as ONNX node tests do); they are then absent from `inputs`."""
    bind = bind or {}
    import onnx
    if variables:
        raise NotImplementedError("import_model(variables=True) needs graphc Variables (branch `training`), "
                                  "which are not merged yet; initializers are imported as constants")
    model = checked(load(path_or_model))
    opset = opset_of(model)
    g = gc.Graph()
    ctx = Context(opset, g)
    env, inputs = {}, {}
    with g.as_default():
        for init in model.graph.initializer:
            env[init.name] = gc.constant(onnx.numpy_helper.to_array(init), name=init.name)
        for vi in model.graph.input:
            if vi.name in env:
                continue
            if vi.name in bind:
                env[vi.name] = gc.constant(np.asarray(bind[vi.name], np_dtype(vi.type.tensor_type.elem_type)),
                                           name=vi.name)
                continue
            t = gc.placeholder(np_dtype(vi.type.tensor_type.elem_type), _value_info_shape(vi), name=vi.name)
            env[vi.name] = inputs[vi.name] = t
        for node in model.graph.node:
            if node.domain not in ("", "ai.onnx"):
                raise OnnxImportError(f"node {node.name!r}: op {node.domain}.{node.op_type} (opset {opset}) "
                                      f"is from a domain graphc does not support")
            fn = CONVERTERS.get(node.op_type)
            if fn is None:
                raise OnnxImportError(f"node {node.name!r}: ONNX op {node.op_type} (opset {opset}) is not "
                                      f"supported by graphc")
            ins = []
            for name in node.input:
                if name == "":
                    ins.append(None)
                elif name not in env:
                    raise OnnxImportError(f"node {node.name!r} ({node.op_type}): input {name!r} is not defined "
                                          f"(no initializer, graph input or earlier node output)")
                else:
                    ins.append(env[name])
            while ins and ins[-1] is None:
                ins.pop()
            try:
                with g.name_scope(node.name or node.op_type):
                    out = fn(ctx, node, ins, _attrs(node))
            except OnnxImportError as e:
                raise type(e)(f"node {node.name!r}: ONNX op {node.op_type} (opset {opset}): {e}") from None
            except (GraphcError, TypeError, KeyError, ValueError, NotImplementedError) as e:
                raise OnnxImportError(f"node {node.name!r}: ONNX op {node.op_type} (opset {opset}) could not be "
                                      f"mapped: {type(e).__name__}: {e}") from None
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            for name, t in zip(node.output, outs):
                if name:
                    env[name] = t
        outputs = {}
        for vi in model.graph.output:
            if vi.name not in env:
                raise OnnxImportError(f"graph output {vi.name!r} is produced by no node")
            outputs[vi.name] = env[vi.name]
    return Imported(g, inputs, outputs)
