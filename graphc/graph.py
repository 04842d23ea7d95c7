"""The symbolic graph: Graph holds Nodes; a Node's outputs are Tensors (symbolic handles)."""
import contextlib
import re
import threading

import numpy as np

from . import dtypes
from .errors import GraphError


class TensorShape(tuple):
    """A static shape: a tuple of ints, with None for a dim known only at feed time."""

    def __new__(cls, dims):
        return super().__new__(cls, tuple(None if d is None else int(d) for d in dims))

    @property
    def ndims(self):
        return len(self)

    rank = ndims

    def as_list(self):
        return list(self)

    @property
    def is_fully_defined(self):
        return all(d is not None for d in self)

    def num_elements(self):
        return int(np.prod(self)) if self.is_fully_defined else None

    def __repr__(self):
        return "TensorShape(%s)" % list(self)


class Tensor:
    """One output of a Node: the value a graph computes, known by shape and dtype until run."""

    __array_priority__ = 100  # numpy defers `ndarray * tensor` to Tensor.__rmul__

    def __init__(self, node, index, shape, dtype):
        self.node = node
        self.index = index
        self.shape = None if shape is None else TensorShape(shape)  # None: rank unknown until fed
        self.dtype = dtypes.as_dtype(dtype)

    @property
    def name(self):
        return f"{self.node.name}:{self.index}"

    @property
    def graph(self):
        return self.node.graph

    @property
    def op(self):
        return self.node

    @property
    def ndim(self):
        return None if self.shape is None else len(self.shape)

    def get_shape(self):
        return self.shape

    def consumers(self):
        """Nodes of this graph that read this tensor."""
        return [n for n in self.graph.nodes if any(t is self for t in n.inputs)]

    def eval(self, feed_dict=None, session=None):
        """Run this tensor in `session` (or the default session)."""
        from .session_registry import default_session
        return (session or default_session()).run(self, feed_dict)

    def __repr__(self):
        shape = "<unknown>" if self.shape is None else list(self.shape)
        return f"<graphc.Tensor '{self.name}' shape={shape} dtype={self.dtype.name}>"

    def __bool__(self):
        raise TypeError(f"the truth value of symbolic tensor {self.name} is not known until it runs; "
                        "use graphc.where / comparisons to build a graph instead")

    def __len__(self):
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"len() of tensor {self.name} is not known until it is fed")
        return self.shape[0]

    def __iter__(self):
        raise TypeError(f"tensor {self.name} is not iterable; use graphc.split or indexing")

    # Operator overloads build graph nodes; the ops themselves live in graphc/ops.
    def __add__(self, o): return _api().add(self, o)
    def __radd__(self, o): return _api().add(o, self)
    def __sub__(self, o): return _api().subtract(self, o)
    def __rsub__(self, o): return _api().subtract(o, self)
    def __mul__(self, o): return _api().multiply(self, o)
    def __rmul__(self, o): return _api().multiply(o, self)
    def __truediv__(self, o): return _api().divide(self, o)
    def __rtruediv__(self, o): return _api().divide(o, self)
    def __pow__(self, o): return _api().pow(self, o)
    def __rpow__(self, o): return _api().pow(o, self)
    def __matmul__(self, o): return _api().matmul(self, o)
    def __rmatmul__(self, o): return _api().matmul(o, self)
    def __neg__(self): return _api().negative(self)
    def __abs__(self): return _api().abs(self)
    def __lt__(self, o): return _api().less(self, o)
    def __le__(self, o): return _api().less_equal(self, o)
    def __gt__(self, o): return _api().greater(self, o)
    def __ge__(self, o): return _api().greater_equal(self, o)
    def __getitem__(self, key): return _api().getitem(self, key)
    # == and hash stay identity-based, as in TF1, so tensors can be dict keys (feed_dict).
    __hash__ = object.__hash__


_OPERATOR_API = []  # graphc.ops, which registers itself (set_operator_api): the graph never imports the ops


def set_operator_api(module):
    """Make `module`'s add, multiply, ... the ops that Tensor operators (+, *, [], ...) build."""
    _OPERATOR_API[:] = [module]


def _api():
    return _OPERATOR_API[0]


class Node:
    """An operation in a graph: op name, input tensors, static attributes, output tensors."""

    def __init__(self, graph, op, inputs, attrs, name, device, control_inputs=()):
        self.graph = graph
        self.id = len(graph.nodes)
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = dict(attrs)
        self.name = name
        self.device = device
        self.control_inputs = tuple(control_inputs)
        self.outputs = ()

    @property
    def opdef(self):
        from .registry import get_op
        return get_op(self.op)

    @property
    def type(self):  # TF1 name
        return self.op

    def run(self, feed_dict=None, session=None):
        """Run this op in `session` (or the default session)."""
        from .session_registry import default_session
        (session or default_session()).run(self, feed_dict)

    def __repr__(self):
        return f"<graphc.Node '{self.name}' op={self.op}>"


# Graph collection of callables fn(graph, fetched nodes, fed tensors) -> {tensor: array}: values the
# Session feeds on each run besides the caller's (tf.data iterators' next elements), so the runtime
# never imports the front-end module that provides them.
FEED_PROVIDERS = "graphc_feed_providers"


class Graph:
    """A dataflow graph of Nodes, with unique node names, collections and a graph-level seed."""

    def __init__(self):
        self.nodes = []
        self._by_name = {}
        self._name_counts = {}
        self.collections = {}
        self.seed = None
        self.random_draws = 0  # initial values drawn so far: the op seed when none is given
        self._device_stack = [""]
        self._scope_stack = [""]
        self._control_stack = []
        self.finalized = False  # finalize(): no node may be added

    # ---- construction -------------------------------------------------------------------------
    def create_node(self, op, inputs=(), attrs=None, name=None, control_inputs=()):
        """Add a node running `op` on `inputs` (after `control_inputs`); returns it with its outputs inferred."""
        from .registry import get_op
        if self.finalized:
            raise GraphError(f"cannot add {op} '{name or op}': the graph is finalized (read-only)")
        opdef = get_op(op)
        attrs = dict(attrs or {})
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"{op}: inputs must be graphc Tensors, got {type(t).__name__}")
            if t.graph is not self:
                raise GraphError(f"{op}: input {t.name} belongs to another graph; "
                                 "all tensors of one op must come from the same graph")
        node = Node(self, op, inputs, attrs, self.unique_name(name or op), self._device_stack[-1],
                    [n for deps in self._control_stack for n in deps] + list(control_inputs))
        types = opdef.infer_types(node)
        node.outputs = tuple(Tensor(node, i, t.shape, t.dtype) for i, t in enumerate(types))
        self.nodes.append(node)
        self._by_name[node.name] = node
        return node

    def unique_name(self, base):
        """`base` prefixed by the current name scope, made unique in this graph like TF does."""
        base = re.sub(r"[^A-Za-z0-9_.\-/]", "_", base)
        if self._scope_stack[-1]:
            base = self._scope_stack[-1] + "/" + base
        if base not in self._by_name and base not in self._name_counts:
            self._name_counts[base] = 0
            return base
        i = self._name_counts.get(base, 0)
        while True:
            i += 1
            cand = f"{base}_{i}"
            if cand not in self._by_name:
                self._name_counts[base] = i
                return cand

    # ---- look-up ------------------------------------------------------------------------------
    def get_operation_by_name(self, name):
        """The node called `name`."""
        if name not in self._by_name:
            raise KeyError(f"the graph has no operation named {name!r}")
        return self._by_name[name]

    def get_tensor_by_name(self, name):
        """The tensor called `node:index` (`node` alone means output 0)."""
        node_name, _, idx = name.partition(":")
        node = self.get_operation_by_name(node_name)
        i = int(idx) if idx else 0
        if i >= len(node.outputs):
            raise KeyError(f"operation {node_name!r} has {len(node.outputs)} outputs; no output {i}")
        return node.outputs[i]

    def get_operations(self):
        return list(self.nodes)

    def add_to_collection(self, key, value):
        self.collections.setdefault(key, []).append(value)

    def get_collection(self, key):
        return list(self.collections.get(key, []))

    # ---- context managers ---------------------------------------------------------------------
    @contextlib.contextmanager
    def as_default(self):
        """Make this the graph that new ops go into, for the `with` block."""
        _default_stack.stack.append(self)
        try:
            yield self
        finally:
            _default_stack.stack.pop()

    @contextlib.contextmanager
    def device(self, spec):
        """Place ops created in the block on `spec` ('/cpu:0', '/gpu:0')."""
        from .devices import canonical_device
        self._device_stack.append(canonical_device(spec) if spec else "")
        try:
            yield
        finally:
            self._device_stack.pop()

    @contextlib.contextmanager
    def name_scope(self, name):
        """Prefix the names of nodes created in the block with `name/`."""
        outer = self._scope_stack[-1]
        scope = (outer + "/" if outer else "") + name if name else outer
        self._scope_stack.append(scope)
        try:
            yield scope
        finally:
            self._scope_stack.pop()

    @contextlib.contextmanager
    def control_dependencies(self, nodes):
        """Nodes created in the block run after `nodes` (ops or tensors)."""
        deps = [n.node if isinstance(n, Tensor) else n for n in (nodes or [])]
        self._control_stack.append(deps)
        try:
            yield
        finally:
            self._control_stack.pop()

    def finalize(self):
        """Make the graph read-only (as TF1's): adding a node afterwards is a GraphError."""
        self.finalized = True


def needed_nodes(fetch_nodes, fed):
    """Nodes the fetches depend on (data and control edges), stopping at fed tensors; topological."""
    order, state = [], {}
    stack = [(n, False) for n in reversed(fetch_nodes)]
    while stack:
        node, done = stack.pop()
        if done:
            if state.get(id(node)) != 2:
                state[id(node)] = 2
                order.append(node)
            continue
        if id(node) in state:
            continue
        state[id(node)] = 1
        stack.append((node, True))
        deps = [t.node for t in node.inputs if id(t) not in fed] + list(node.control_inputs)
        for d in reversed(deps):
            if id(d) not in state:
                stack.append((d, False))
    return order


class _DefaultStack(threading.local):
    def __init__(self):
        self.stack = []


_default_stack = _DefaultStack()
_global_default = [Graph()]


def get_default_graph():
    """The graph new ops go into: the innermost `as_default()` graph, else the global one."""
    return _default_stack.stack[-1] if _default_stack.stack else _global_default[0]


def reset_default_graph():
    """Replace the global default graph with a new, empty one."""
    if _default_stack.stack:
        raise GraphError("reset_default_graph() called inside a `with graph.as_default()` block")
    _global_default[0] = Graph()


def device(spec):
    """`with graphc.device('/gpu:0'):` places the ops created in the block."""
    return get_default_graph().device(spec)


def name_scope(name):
    return get_default_graph().name_scope(name)


def control_dependencies(nodes):
    return get_default_graph().control_dependencies(nodes)
