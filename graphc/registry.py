"""The op registry: each op is defined once here, with everything the layers above need from it.

An OpDef gives shape/dtype inference, a numpy reference `(attrs, *arrays)`, its gradient rule (built from graph
ops), its fusion pattern and example inputs for the registry-driven tests. Lowerings to TVM
register separately in graphc.codegen.lower, keyed by the same name.
"""
from collections import namedtuple

from .errors import ShapeError

TensorType = namedtuple("TensorType", "shape dtype")
Example = namedtuple("Example", "inputs attrs")
Example.__new__.__defaults__ = ({},)


class Registry(dict):
    """A table of named entries of one kind (ops, lowerings, schedule rules, ONNX converters, exporter
    emitters) that refuses a second entry for a name, however it is registered."""

    def __init__(self, key_kind, entries):
        super().__init__()
        self.key_kind, self.entries = key_kind, entries  # e.g. "ONNX op", "converters"

    def __setitem__(self, name, value):
        if name in self:
            raise ValueError(f"{self.key_kind} {name} has two {self.entries}")
        super().__setitem__(name, value)

    def update(self, *args, **kwargs):
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def setdefault(self, name, value=None):
        raise TypeError("Registry entries are set once, with registry[name] = value")

    def register(self, *names):
        """Decorator registering `fn` under each of `names`."""
        def deco(fn):
            for name in names:
                self[name] = fn
            return fn
        return deco


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
                 overwrites_input=False, shape_only_inputs=(), moves_bits=False, noop_when_same_type=False,
                 packed_form=None, feed=False, constant=False, variable=False, index_bounds=None, host=False,
                 copied_inputs=()):
        self.name = name
        self.infer = infer
        self.reference = reference  # (attrs, *input arrays) -> array or list of arrays; never the node
        self.pattern = pattern
        self.examples = examples
        self.grad_examples = grad_examples  # examples for gradient checks, when they differ
        self.gradient = gradient
        self.differentiable = differentiable
        self.stateful = stateful
        self.writes_input = writes_input  # output 0 is written into this input's buffer (assign ops)
        self.overwrites_input = overwrites_input  # ... replacing all of it without reading it (assign)
        # only moves or selects elements, so it works on the bits of a storage-only dtype (bfloat16, ...)
        self.moves_bits = moves_bits
        # does nothing when its output has its first input's shape and dtype (a bool, or fn(attrs))
        self.noop_when_same_type = noop_when_same_type
        self.packed_form = packed_form  # the op it becomes with its input 1 constant and packed (pack_weights)
        # inputs its lowering copies (packs) before the inner loop: a producer that only rearranges elements
        # (reshape, transpose, slice) fuses into that copy instead of writing a tensor of its own
        self.copied_inputs = copied_inputs
        self.feed = feed          # the graph's inputs (placeholder)
        self.constant = constant  # a value fixed at graph build time (attrs["value"])
        self.variable = variable  # a value held by the Session (attrs["var_name"])
        # inputs read only for their (static) shape, e.g. the `like` of zeros_like: no data flows
        # from them into the kernel; "rest" means every input but the first
        self.shape_only_inputs = shape_only_inputs
        # fn(node) -> (input position, dims): that input holds indices into dims (one dim for every
        # element, or one per position along its last axis); an index outside [-dim, dim) is an error
        # (InvalidArgumentError) that passes/index_checks.py makes the kernels check at run time
        self.index_bounds = index_bounds
        # a host op (a collective) has no kernel: the runtime runs it between kernels, on the host;
        # passes never fold or fuse it, and codegen has no lowering for it
        self.host = host

    def data_inputs(self, node):
        """The inputs whose values the op reads (all but its shape-only ones)."""
        so = self.shape_only_inputs
        skip = set(range(1, len(node.inputs))) if so == "rest" else set(so)
        return [t for i, t in enumerate(node.inputs) if i not in skip]

    def is_noop(self, node):
        """Whether `node` returns its first input unchanged (a shape op to the same shape, ...)."""
        fact = self.noop_when_same_type
        if not fact or (callable(fact) and not fact(node.attrs)):
            return False
        x, out = node.inputs[0], node.outputs[0]
        return tuple(x.shape) == tuple(out.shape) and x.dtype == out.dtype

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


_OPS = Registry("op", "definitions")


def register_op(name, **kwargs):
    """Define op `name`; see OpDef for the keywords."""
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
