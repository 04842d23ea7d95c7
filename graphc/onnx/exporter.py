"""graphc -> ONNX: one emitter per graphc op (table `EMITTERS`); constants, and Variables with their
values in a Session, become initializers."""
import numpy as np

from graphc.errors import GraphcError
from graphc.graph import Tensor, needed_nodes
from graphc.ops.shape import transpose_perm
from graphc.registry import Registry

from .names import SAME_OPS

OPSET = 17


class OnnxExportError(GraphcError, ValueError):
    """A graphc graph could not be written as ONNX."""


def _simple(onnx_op):
    return lambda b, node, ins, outs: b.node(onnx_op, ins, outs)


EMITTERS = Registry("graphc op", "ONNX emitters")
EMITTERS.update({s.graphc_op: _simple(s.onnx_op) for s in SAME_OPS if s.since <= OPSET})  # shared with the importer
# ops whose ONNX form the importer converts with more care (integer Div, variadic Max/Min, Pow's dtypes)
EMITTERS.update({op: _simple(o) for op, o in {"divide": "Div", "pow": "Pow", "maximum": "Max",
                                              "minimum": "Min"}.items()})


def _emitter(*ops):
    return EMITTERS.register(*ops)


@_emitter("matmul")
def _matmul(b, node, ins, outs):
    a, m = ins
    for flag, idx in (("transpose_a", 0), ("transpose_b", 1)):
        if node.attrs.get(flag):
            rank = len(node.inputs[idx].shape)
            perm = list(range(rank - 2)) + [rank - 1, rank - 2]
            t = b.fresh()
            b.node("Transpose", [ins[idx]], [t], perm=perm)
            if idx == 0:
                a = t
            else:
                m = t
    b.node("MatMul", [a, m], outs)


@_emitter("softmax", "log_softmax")
def _softmax(b, node, ins, outs):
    b.node("Softmax" if node.op == "softmax" else "LogSoftmax", ins, outs, axis=node.attrs["axis"])


@_emitter("reshape")
def _reshape(b, node, ins, outs):
    b.node("Reshape", [ins[0], b.const(np.asarray(node.attrs["shape"], np.int64))], outs)


@_emitter("transpose")
def _transpose(b, node, ins, outs):
    b.node("Transpose", ins, outs, perm=list(transpose_perm(node)))


@_emitter("cast")
def _cast(b, node, ins, outs):
    import onnx
    b.node("Cast", ins, outs, to=onnx.helper.np_dtype_to_tensor_dtype(np.dtype(node.attrs["dtype"].np)))


@_emitter("concat")
def _concat(b, node, ins, outs):
    b.node("Concat", ins, outs, axis=node.attrs["axis"])


@_emitter("square")
def _square(b, node, ins, outs):
    b.node("Mul", [ins[0], ins[0]], outs)


@_emitter("sum", "mean", "max", "min", "prod")
def _reduce(b, node, ins, outs):
    axes, keep = node.attrs["axes"], int(node.attrs["keepdims"])
    op = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin",
          "prod": "ReduceProd"}[node.op]
    if op == "ReduceSum":  # axes an input from opset 13, an attribute for the others until 18
        extra = [b.const(np.asarray(axes, np.int64))] if axes is not None else []
        b.node(op, ins + extra, outs, keepdims=keep)
    elif axes is None:
        b.node(op, ins, outs, keepdims=keep)
    else:
        b.node(op, ins, outs, keepdims=keep, axes=list(axes))



# ---- what the model zoo's inference graphs need (models/) ------------------------------------------
@_emitter("rsqrt")
def _rsqrt(b, node, ins, outs):
    root = b.fresh()
    b.node("Sqrt", ins, [root])
    b.node("Reciprocal", [root], outs)


@_emitter("not_equal")
def _not_equal(b, node, ins, outs):
    same = b.fresh()
    b.node("Equal", ins, [same])
    b.node("Not", [same], outs)


@_emitter("stop_gradient")
def _stop_gradient(b, node, ins, outs):
    b.node("Identity", ins, outs)


@_emitter("fill")
def _fill(b, node, ins, outs):
    a = node.attrs
    b.node("ConstantOfShape", [b.const(np.asarray(a["shape"], np.int64))], outs,
           value=_scalar_tensor(a["value"], a["dtype"].np))


@_emitter("conv")
def _conv(b, node, ins, outs):
    a = node.attrs
    b.node("Conv", ins, outs, strides=list(a["strides"]), dilations=list(a["dilations"]), pads=list(a["pads"]),
           group=int(a["groups"]))


@_emitter("max_pool", "avg_pool")
def _pool(b, node, ins, outs):
    a = node.attrs
    extra = {"dilations": list(a["dilations"])} if node.op == "max_pool" else \
        {"count_include_pad": int(a.get("count_include_pad", False))}
    b.node("MaxPool" if node.op == "max_pool" else "AveragePool", ins, outs, kernel_shape=list(a["kernel_shape"]),
           strides=list(a["strides"]), pads=list(a["pads"]), ceil_mode=int(a["ceil_mode"]), **extra)


@_emitter("expand_dims")
def _expand_dims(b, node, ins, outs):
    b.node("Unsqueeze", [ins[0], b.const(np.asarray([node.attrs["axis"]], np.int64))], outs)


@_emitter("split")
def _split(b, node, ins, outs):
    axis = node.attrs["axis"]
    sizes = [t.shape[axis] for t in node.outputs]
    b.node("Split", [ins[0], b.const(np.asarray(sizes, np.int64))], outs, axis=axis)


@_emitter("gather")
def _gather(b, node, ins, outs):
    b.node("Gather", ins, outs, axis=node.attrs["axis"])


@_emitter("gather_grad")
def _gather_grad(b, node, ins, outs):
    """Scatter-add of dy's rows at `indices` into zeros shaped like params (axis 0 only)."""
    if node.attrs["axis"] != 0:
        raise OnnxExportError(f"gather_grad {node.name} along axis {node.attrs['axis']} has no ONNX export (axis 0 only)")
    dy, indices, like = ins
    shape, zeros, idx = b.fresh(), b.fresh(), b.fresh()
    b.node("Shape", [like], [shape])
    b.node("ConstantOfShape", [shape], [zeros], value=_scalar_tensor(0, node.inputs[0].dtype.np))
    b.node("Unsqueeze", [_as_int64(b, indices, node.inputs[1]), b.const(np.asarray([-1], np.int64))], [idx])
    b.node("ScatterND", [zeros, idx, dy], outs, reduction="add")


@_emitter("one_hot")
def _one_hot(b, node, ins, outs):
    a = node.attrs
    values = b.const(np.asarray([a["off_value"], a["on_value"]], a["dtype"].np))
    # int64 indices: ONNX Runtime implements OneHot for few (indices, depth, values) type combinations
    b.node("OneHot", [_as_int64(b, ins[0], node.inputs[0]), b.const(np.asarray(a["depth"], np.int64)), values], outs,
           axis=a["axis"])


@_emitter("cumsum")
def _cumsum(b, node, ins, outs):
    a = node.attrs
    b.node("CumSum", [ins[0], b.const(np.asarray(a["axis"], np.int64))], outs, exclusive=int(a["exclusive"]),
           reverse=int(a["reverse"]))


@_emitter("top_k")
def _top_k(b, node, ins, outs):
    a = node.attrs
    index = b.fresh()
    b.node("TopK", [ins[0], b.const(np.asarray([a["k"]], np.int64))], [outs[0], index], axis=a["axis"],
           largest=int(a["largest"]), sorted=1)
    import onnx
    b.node("Cast", [index], [outs[1]], to=onnx.helper.np_dtype_to_tensor_dtype(np.dtype(a["index_dtype"].np)))


@_emitter("layer_norm")
def _layer_norm(b, node, ins, outs):
    b.node("LayerNormalization", ins, outs, axis=node.attrs["axis"], epsilon=node.attrs["epsilon"])


@_emitter("strided_slice")
def _strided_slice(b, node, ins, outs):
    """Slice with the node's resolved (start, stop, step) per dim, then a reshape to its output shape."""
    from graphc.ops.shape import slice_ranges
    ranges = slice_ranges(tuple(node.inputs[0].shape), node.attrs["slices"])  # (start, step, count) per dim
    starts, steps, counts = (np.asarray([r[k] for r in ranges], np.int64) for k in range(3))
    ends = starts + steps * counts
    ends = np.where(ends < 0, np.iinfo(np.int64).min, ends)  # a backward slice down to index 0
    sliced = b.fresh()
    b.node("Slice", [ins[0], b.const(starts), b.const(ends), b.const(np.arange(len(ranges), dtype=np.int64)),
                     b.const(steps)], [sliced])
    b.node("Reshape", [sliced, b.const(np.asarray(node.outputs[0].shape, np.int64))], outs)


def _scalar_tensor(value, np_dtype):
    import onnx
    return onnx.numpy_helper.from_array(np.asarray([value], np_dtype))


def _as_int64(b, name, t):
    if t.dtype.np == np.int64:
        return name
    import onnx
    out = b.fresh()
    b.node("Cast", [name], [out], to=onnx.TensorProto.INT64)
    return out

class _Builder:
    """Collects ONNX nodes and initializers, naming each graphc tensor once."""

    def __init__(self):
        self.nodes, self.initializers, self.names, self.count = [], [], {}, 0

    def fresh(self):
        self.count += 1
        return f"_t{self.count}"

    def name(self, t):
        if id(t) not in self.names:
            self.names[id(t)] = t.name
        return self.names[id(t)]

    def const(self, arr):
        import onnx
        name = self.fresh()
        self.initializers.append(onnx.numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(self, op, ins, outs, **attrs):
        import onnx
        self.nodes.append(onnx.helper.make_node(op, ins, outs, **attrs))


def _value_info(name, t):
    import onnx
    shape = None if t.shape is None else [d if d is not None else f"{name}_d{i}" for i, d in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(t.dtype.np), shape)


def _variable_value(node, session):
    """The value variable `node` holds in `session`, or an error saying why there is none."""
    name = node.attrs["var_name"]
    if session is None:
        raise OnnxExportError(f"the fetches read variable '{name}': pass session= (a Session holding its value)")
    if name not in session.initialized:
        raise OnnxExportError(f"variable '{name}' is uninitialized in the session; run its initializer first")
    return session.variables[name].numpy()


def export(fetches, path, feeds, session=None):
    """Write the graph computing `fetches` (tensor or list) from `feeds` (placeholders) as ONNX at `path`;
    variables are written with their values in `session`."""
    import onnx
    fetch_list = [fetches] if isinstance(fetches, Tensor) else list(fetches)
    feed_list = list(feeds)
    b = _Builder()
    fed = {id(t) for t in feed_list}
    for t in feed_list:  # inputs are named by their placeholder ("x", not "x:0"), as they are fed
        b.names[id(t)] = t.node.name if len(t.node.outputs) == 1 else t.name
    for node in needed_nodes([t.node for t in fetch_list], fed):
        if all(id(t) in fed for t in node.outputs):
            continue
        if node.opdef.constant:
            b.initializers.append(onnx.numpy_helper.from_array(np.asarray(node.attrs["value"]), b.name(node.outputs[0])))
            continue
        if node.opdef.variable:
            b.initializers.append(onnx.numpy_helper.from_array(_variable_value(node, session), b.name(node.outputs[0])))
            continue
        if node.opdef.feed:
            raise OnnxExportError(f"placeholder {node.name} is needed by the fetches but is not in feeds")
        emit = EMITTERS.get(node.op)
        if emit is None:
            raise OnnxExportError(f"graphc op {node.op} (node {node.name}) has no ONNX export; supported: "
                                  f"{sorted(EMITTERS)}")
        emit(b, node, [b.name(t) for t in node.inputs], [b.name(t) for t in node.outputs])
    outputs = []
    for t in fetch_list:
        name = b.name(t)
        if name in [vi.name for vi in outputs] or id(t) in fed:  # an output must be produced by a node
            alias = b.fresh()
            b.node("Identity", [name], [alias])
            name = alias
        outputs.append(_value_info(name, t))
    graph = onnx.helper.make_graph(b.nodes, "graphc", [_value_info(b.name(t), t) for t in feed_list], outputs,
                                   initializer=b.initializers)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="graphc")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return model
