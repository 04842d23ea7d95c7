"""Variables, TF1 style: a value that lives in the Session across runs, updated by assign ops."""
import contextlib

import numpy as np

from .graph import Tensor, get_default_graph
from .ops import state
from .ops._base import convert_to_tensor

GLOBAL_VARIABLES = "variables"
TRAINABLE_VARIABLES = "trainable_variables"


class Variable:
    """A named, Session-held tensor: read it like a tensor, change it with assign ops."""

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None, collections=None,
                 validate_shape=True, **unused):
        if callable(initial_value):
            initial_value = initial_value()
        init = convert_to_tensor(initial_value, dtype)
        if init.shape is None or any(d is None for d in init.shape):
            raise ValueError(f"variable {name or 'Variable'}: its initial value {init.name} needs a fully "
                             f"known shape, got {init.shape}")
        self._ref = state.new_variable(init.shape, init.dtype, name or "Variable")
        self.initial_value = init
        self.initializer = state.assign(self._ref, init, name=self.op.name + "/Assign").node
        self.trainable = trainable
        graph = self._ref.graph
        for key in collections or [GLOBAL_VARIABLES]:
            graph.add_to_collection(key, self)
        if trainable and TRAINABLE_VARIABLES not in (collections or []):
            graph.add_to_collection(TRAINABLE_VARIABLES, self)

    # ---- identity ---------------------------------------------------------------------------
    @property
    def op(self):
        return self._ref.node

    @property
    def name(self):
        return self._ref.name

    @property
    def var_name(self):
        """The key of this variable's storage in a Session (and in saved files)."""
        return self.op.attrs["var_name"]

    @property
    def shape(self):
        return self._ref.shape

    @property
    def dtype(self):
        return self._ref.dtype

    @property
    def graph(self):
        return self._ref.graph

    def get_shape(self):
        return self._ref.shape

    def _as_graph_element(self):
        return self._ref

    def value(self):
        """The variable's value as a tensor."""
        return self._ref

    read_value = value

    def initialized_value(self):
        return self.initial_value

    def eval(self, session=None):
        return self._ref.eval(session=session)

    def __repr__(self):
        return f"<graphc.Variable '{self.name}' shape={list(self.shape)} dtype={self.dtype.name}>"

    # ---- updates ------------------------------------------------------------------------------
    def assign(self, value, use_locking=None, name=None, read_value=True):
        return state.assign(self._ref, value, name)

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        return state.assign_add(self._ref, delta, name)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        return state.assign_sub(self._ref, delta, name)

    def load(self, value, session):
        """Set the value from an array, without running a graph."""
        session.set_variable(self.var_name, np.asarray(value, self.dtype.np).reshape(self.shape))

    __hash__ = object.__hash__


def _delegate(name):
    def method(self, *args):
        return getattr(self._ref, name)(*args)
    method.__name__ = name
    return method


for _op in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
            "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__abs__", "__lt__", "__le__",
            "__gt__", "__ge__", "__getitem__"):
    setattr(Variable, _op, _delegate(_op))


def global_variables(graph=None):
    """Every variable of the graph."""
    return (graph or get_default_graph()).get_collection(GLOBAL_VARIABLES)


def trainable_variables(graph=None):
    """The variables an optimizer updates by default."""
    return (graph or get_default_graph()).get_collection(TRAINABLE_VARIABLES)


def variables_initializer(var_list, name="init"):
    """An op that runs the initializers of `var_list`."""
    return state.group([v.initializer for v in var_list], name=name)


def global_variables_initializer():
    """An op that initializes every variable of the default graph."""
    return variables_initializer(global_variables())


def is_variable_tensor(t):
    return isinstance(t, Tensor) and t.node.opdef.variable



# ---- variable scopes and get_variable ---------------------------------------------------------
AUTO_REUSE = "auto_reuse"


class VariableScope:
    """A get_variable namespace: its full name, whether it reuses variables, a default initializer."""

    def __init__(self, name, reuse=None, initializer=None):
        self.name = name
        self.reuse = reuse
        self.initializer = initializer

    def reuse_variables(self):
        """Make get_variable in this scope return existing variables from now on."""
        self.reuse = True


def _scope_stack(graph):
    if not hasattr(graph, "_variable_scopes"):
        graph._variable_scopes = [VariableScope("")]
    return graph._variable_scopes


def get_variable_scope():
    """The innermost variable scope of the default graph."""
    return _scope_stack(get_default_graph())[-1]


@contextlib.contextmanager
def variable_scope(name_or_scope, default_name=None, reuse=None, initializer=None, **unused):
    """Prefix variable (and op) names with a scope; `reuse=True`/AUTO_REUSE makes get_variable share."""
    graph = get_default_graph()
    stack = _scope_stack(graph)
    outer = stack[-1]
    # TF1's scope counts: a default_name takes the first unused `name`, `name_1`, ...; opening a scope
    # resets the counts under it, so a function building layers inside a reopened scope names them alike
    counts = graph.__dict__.setdefault("_variable_scope_counts", {})
    if isinstance(name_or_scope, VariableScope):
        full = name_or_scope.name
    else:
        if not (name_or_scope or default_name):
            raise ValueError("variable_scope needs a name (or default_name)")
        local, k = name_or_scope or default_name, 0
        while not name_or_scope and counts.get(f"{outer.name}/{local}" if outer.name else local, 0):
            k += 1
            local = f"{default_name}_{k}"
        full = f"{outer.name}/{local}" if outer.name else local
    counts[full] = counts.get(full, 0) + 1
    for key in [key for key in counts if key.startswith(full + "/")]:
        counts[key] = 0
    inherited = reuse if reuse is not None else (outer.reuse or getattr(name_or_scope, "reuse", None))
    scope = VariableScope(full, inherited or None,
                          initializer if initializer is not None else outer.initializer)
    stack.append(scope)
    graph._scope_stack.append(full)  # ops made in the block are named under the scope, as in TF1
    try:
        yield scope
    finally:
        graph._scope_stack.pop()
        stack.pop()


def get_variable(name, shape=None, dtype=None, initializer=None, trainable=True, collections=None, **unused):
    """The variable `scope/name`: created on first use, returned again where the scope reuses."""
    from . import dtypes, initializers
    graph = get_default_graph()
    scope = _scope_stack(graph)[-1]
    full = f"{scope.name}/{name}" if scope.name else name
    existing = next((v for v in global_variables(graph) if v.op.name == full), None)
    if existing is not None:
        if not scope.reuse:
            raise ValueError(f"variable {full} already exists; to share it, open its variable_scope "
                             "with reuse=True or reuse=AUTO_REUSE")
        if shape is not None and tuple(int(d) for d in shape) != tuple(existing.shape):
            raise ValueError(f"variable {full} has shape {list(existing.shape)}; get_variable asked "
                             f"for {list(shape)}")
        return existing
    if scope.reuse is True:
        raise ValueError(f"variable {full} does not exist (reuse=True only returns variables "
                         "made by get_variable); create it first or use reuse=AUTO_REUSE")
    init = initializer if initializer is not None else scope.initializer
    if init is None:
        init = initializers.glorot_uniform_initializer()
    dtype = dtypes.as_dtype(dtype or "float32")
    if callable(init):
        if shape is None:
            raise ValueError(f"get_variable {full}: an initializer needs a shape")
        value = init([int(d) for d in shape], dtype)
    else:
        value = init
    graph._scope_stack.append(scope.name)  # the name ignores enclosing name_scopes, as in TF1
    try:
        return Variable(value, trainable=trainable, name=name, dtype=dtype, collections=collections)
    finally:
        graph._scope_stack.pop()
