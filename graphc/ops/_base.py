"""Helpers shared by the op families: building nodes, converting values, shape arithmetic."""
import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..graph import Tensor, get_default_graph
from ..registry import TensorType


def graph_of(values):
    """The graph of the first Tensor among `values`, else the default graph (always, while it traces a
    loop body: a CaptureGraph takes in the outer tensors its nodes read)."""
    default = get_default_graph()
    if hasattr(default, "capture"):
        return default
    for v in values:
        if isinstance(v, Tensor):
            return v.graph
    return default


def convert_to_tensor(value, dtype=None, name=None, graph=None):
    """`value` as a Tensor: a Tensor passes through (its dtype checked), anything else is a constant."""
    if not isinstance(value, Tensor) and hasattr(value, "_as_graph_element"):  # e.g. a Variable
        value = value._as_graph_element()
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype != dtypes.as_dtype(dtype):
            raise TypeError(f"tensor {value.name} has dtype {value.dtype.name}; expected {dtypes.as_dtype(dtype).name}")
        return value
    from ..graph import Node
    if isinstance(value, Node):
        raise TypeError(f"expected a tensor, got operation {value.name}; use one of its .outputs")
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        from .shape import stack
        return stack(list(value))
    arr = np.asarray(value)
    if dtype is not None:
        arr = arr.astype(dtypes.as_dtype(dtype).np)
    elif arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        arr = arr.astype(np.float32)   # Python floats are float32 constants, as in TF
    elif arr.dtype == np.int64 and not isinstance(value, (np.ndarray, np.generic)):
        arr = arr.astype(np.int32)     # Python ints are int32 constants, as in TF
    from .creation import constant
    return constant(arr, name=name, graph=graph)


CONSTANT_VALUE_MAX = 1 << 16  # elements: constant_value evaluates small shape arithmetic, not data


def constant_value(t, _memo=None):
    """The value of tensor `t` if the graph already determines it (constants, and shape/size/rank of
    tensors whose shape is known, and arithmetic on them), else None; as TF1's tensor_util.constant_value."""
    if not isinstance(t, Tensor):
        return None
    memo = {} if _memo is None else _memo
    if id(t) in memo:
        return memo[id(t)]
    n, op = t.node, t.node.opdef
    memo[id(t)] = None
    if n.op != "constant" and (op.stateful or op.pattern == "source"):
        return None
    if any(o.shape is None or any(d is None for d in o.shape) or int(np.prod(o.shape)) > CONSTANT_VALUE_MAX
           for o in n.outputs):
        return None
    data = {id(x) for x in op.data_inputs(n)}
    args = []
    for x in n.inputs:
        if id(x) in data:
            v = constant_value(x, memo)
        elif x.shape is not None and all(d is not None for d in x.shape):
            v = np.zeros(x.shape, x.dtype.np)  # read only for its shape, which is known
        else:
            v = None
        if v is None:
            return None
        args.append(v)
    out = op.reference(n.attrs, *args)
    for o, v in zip(n.outputs, out if isinstance(out, (list, tuple)) else [out]):
        memo[id(o)] = np.asarray(v)
    return memo[id(t)]


def make(op, inputs, attrs=None, name=None):
    """Create an `op` node on `inputs` (Tensors) in their graph; its outputs (one, or a tuple)."""
    graph = graph_of(inputs)
    node = graph.create_node(op, inputs, attrs, name)
    return node.outputs[0] if len(node.outputs) == 1 else node.outputs


def binary_operands(x, y, op):
    """`x` and `y` as Tensors of one dtype: a non-tensor takes the other's dtype."""
    x, y = (v._as_graph_element() if hasattr(v, "_as_graph_element") and not isinstance(v, Tensor) else v
            for v in (x, y))
    if isinstance(x, Tensor) and not isinstance(y, Tensor):
        y = convert_to_tensor(y, x.dtype, graph=x.graph)
    elif isinstance(y, Tensor) and not isinstance(x, Tensor):
        x = convert_to_tensor(x, y.dtype, graph=y.graph)
    else:
        x, y = convert_to_tensor(x), convert_to_tensor(y)
    if x.dtype != y.dtype:
        raise TypeError(f"{op}: operands have different dtypes, {x.name} is {x.dtype.name} and "
                        f"{y.name} is {y.dtype.name}; cast one of them (graphc.cast)")
    return x, y


def broadcast_shape(*shapes):
    """numpy broadcasting of static shapes, with None for dims known only at run time."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(f"shapes {[list(s) for s in shapes]} do not broadcast: dims {sorted(known)} differ")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def rank_of(t, op):
    """The rank of tensor `t`, or an error saying `op` needs it known when the graph is built."""
    if t.shape is None:
        raise ShapeError(f"{op} needs the rank of {t.name} when the graph is built; give its placeholder a shape")
    return len(t.shape)


def normalize_axis(axis, rank, what="axis"):
    """`axis` in [0, rank), accepting negative axes."""
    axis = int(axis)
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"{what} {axis} is out of range for a tensor of rank {rank}")
    return axis % rank if rank else 0


def normalize_axes(axes, rank):
    """A sorted tuple of distinct axes; None means all of them."""
    if axes is None:
        return tuple(range(rank))
    if isinstance(axes, (int, np.integer)):
        axes = [axes]
    out = sorted({normalize_axis(a, rank) for a in axes})
    return tuple(out)


def same_type(node, index=0):
    """Inference for ops whose output has the type of input `index`."""
    t = node.inputs[index]
    return TensorType(t.shape, t.dtype)


def static_value(value, what):
    """A Python list of ints from a list/tuple/array, or an error naming `what`."""
    if isinstance(value, Tensor):
        raise TypeError(f"{what} must be known when the graph is built (a list of ints), got tensor {value.name}")
    return [int(v) for v in np.atleast_1d(np.asarray(value))]


# ---- example inputs for the registry-driven tests ------------------------------------------
def rand(rng, shape, dtype="float32", low=-2.0, high=2.0, away_from=None):
    """Uniform random values; `away_from` keeps them at least 0.1 from a kink such as 0."""
    dt = np.dtype(dtypes.as_dtype(dtype).name)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        return rng.integers(int(low), int(high) + 1, size=shape).astype(dt)
    x = rng.uniform(low, high, size=shape)
    if away_from is not None:
        side = np.where(x >= away_from, 1.0, -1.0)
        x = np.where(np.abs(x - away_from) < 0.1, away_from + 0.15 * side, x)
    return x.astype(dt)
