"""The op registry: each op is defined once here, with everything the layers above need from it.

An OpDef gives shape/dtype inference, a numpy reference, its gradient rule (built from graph
ops), its fusion pattern and example inputs for the registry-driven tests. Lowerings to TVM
register separately in graphc.codegen.lower, keyed by the same name.
"""
from collections import namedtuple

from .errors import ShapeError

TensorType = namedtuple("TensorType", "shape dtype")
Example = namedtuple("Example", "inputs attrs")
Example.__new__.__defaults__ = ({},)


class Pattern:
    """Fusion patterns, in TVM's order of how freely an op fuses."""
    ELEMWISE = "elemwise"          # out[i] = f(in[i]) for every input
    BROADCAST = "broadcast"        # elementwise with broadcasting inputs
    INJECTIVE = "injective"        # each output element reads a function of its index
    REDUCE = "reduce"              # reduction along some axes
    OUT_ELEMWISE_FUSABLE = "out_elemwise_fusable"  # matmul/conv: an elementwise epilogue may fuse
    OPAQUE = "opaque"              # never fused
    SOURCE = "source"              # no kernel: placeholder, constant, variable


class OpDef:
    """Everything graphc knows of one op, keyed by its name."""

    def __init__(self, name, *, infer, reference, pattern, examples=None, gradient=None,
                 differentiable=True, stateful=False, grad_examples=None, writes_input=None,
                 shape_only_inputs=(), host=False):
        self.name = name
        self.infer = infer
        self.reference = reference
        self.pattern = pattern
        self.examples = examples
        self.grad_examples = grad_examples  # examples for gradient checks, when they differ
        self.gradient = gradient
        self.differentiable = differentiable
        self.stateful = stateful
        self.writes_input = writes_input  # output 0 is written into this input's buffer (assign ops)
        # inputs read only for their (static) shape, e.g. the `like` of zeros_like: no data flows
        # from them into the kernel; "rest" means every input but the first
        self.shape_only_inputs = shape_only_inputs
        # a host op (a collective) has no kernel: the runtime runs it between kernels, on the host;
        # passes never fold or fuse it, and codegen has no lowering for it
        self.host = host

    def data_inputs(self, node):
        """The inputs whose values the op reads (all but its shape-only ones)."""
        so = self.shape_only_inputs
        skip = set(range(1, len(node.inputs))) if so == "rest" else set(so)
        return [t for i, t in enumerate(node.inputs) if i not in skip]

    def infer_types(self, node):
        """The output TensorTypes of `node`, a list even for one output."""
        try:
            out = self.infer(node)
        except ShapeError as e:
            raise ShapeError(f"{node.op} '{node.name}': {e}") from None
        return list(out) if isinstance(out, list) else [out]

    def def_gradient(self, fn):
        """Decorator: `fn(node, dys) -> [grad for each input or None]`."""
        self.gradient = fn
        return fn

    def __repr__(self):
        return f"<OpDef {self.name} ({self.pattern})>"


_OPS = {}


def register_op(name, **kwargs):
    """Define op `name`; see OpDef for the keywords."""
    if name in _OPS:
        raise ValueError(f"op {name!r} is registered twice")
    op = OpDef(name, **kwargs)
    _OPS[name] = op
    return op


def get_op(name):
    """The OpDef called `name`."""
    try:
        return _OPS[name]
    except KeyError:
        raise KeyError(f"no op named {name!r} is registered") from None


def all_ops():
    """Every registered OpDef, by name."""
    return dict(_OPS)
