"""Stateful ops: a variable (a buffer the Session owns) and the assignments that update it in place,
plus `group`, an op with no value that runs its control inputs."""
from .. import dtypes
from ..errors import ShapeError
from ..graph import Tensor, get_default_graph
from ..registry import Pattern, TensorType, register_op
from ._base import convert_to_tensor, same_type


def _no_value(attrs, *args):
    raise ShapeError("variables and assignments have no reference value: they read or write Session state")


variable_op = register_op(
    "variable", moves_bits=True, variable=True, pattern=Pattern.SOURCE, stateful=True, differentiable=False, reference=_no_value,
    infer=lambda n: TensorType(n.attrs["shape"], n.attrs["dtype"]))


def _assign_infer(node):
    var, value = node.inputs
    if var.node.op != "variable":
        raise ShapeError(f"{node.op} target {var.name} is not a variable")
    if value.dtype != var.dtype:
        raise ShapeError(f"{node.op}: value {value.name} has dtype {value.dtype.name}; variable "
                         f"{var.node.name} has {var.dtype.name}")
    if value.shape is not None and any(a is not None and a != b for a, b in zip(value.shape, var.shape)) \
            or value.shape is not None and len(value.shape) != len(var.shape):
        raise ShapeError(f"{node.op}: value {value.name} of shape {list(value.shape)} does not fit variable "
                         f"{var.node.name} of shape {list(var.shape)}")
    return same_type(node)


for _name in ("assign", "assign_add", "assign_sub"):
    register_op(_name, pattern=Pattern.OPAQUE, stateful=True, differentiable=False, writes_input=0,
                overwrites_input=_name == "assign", infer=_assign_infer, reference=_no_value)

group_op = register_op("group", pattern=Pattern.SOURCE, differentiable=False, reference=lambda attrs: [],
                       infer=lambda n: [])


def new_variable(shape, dtype, name):
    """A variable node's value tensor in the default graph; its storage is named after the node."""
    g = get_default_graph()
    node = g.create_node("variable", (), {"shape": tuple(int(d) for d in shape),
                                          "dtype": dtypes.as_dtype(dtype)}, name or "Variable")
    node.attrs["var_name"] = node.name
    return node.outputs[0]


def _assign(op, ref, value, name):
    ref = convert_to_tensor(ref)
    value = convert_to_tensor(value, ref.dtype)
    return ref.graph.create_node(op, [ref, value], None, name or op).outputs[0]


def assign(ref, value, name=None, validate_shape=None, use_locking=None):
    """Write `value` into variable `ref`; the result is the variable's new value."""
    return _assign("assign", ref, value, name)


def assign_add(ref, value, name=None, use_locking=None):
    """Add `value` to variable `ref` in place; the result is its new value."""
    return _assign("assign_add", ref, value, name)


def assign_sub(ref, value, name=None, use_locking=None):
    """Subtract `value` from variable `ref` in place; the result is its new value."""
    return _assign("assign_sub", ref, value, name)


def _as_node(x):
    if hasattr(x, "_as_graph_element"):
        x = x._as_graph_element()
    return x.node if isinstance(x, Tensor) else x


def group(*inputs, name=None):
    """An op that runs all of `inputs` (ops or tensors) and has no value."""
    flat = [x for i in inputs for x in (i if isinstance(i, (list, tuple)) else [i])]
    deps = [_as_node(x) for x in flat]
    g = deps[0].graph if deps else get_default_graph()
    return g.create_node("group", (), None, name or "group", control_inputs=deps)



