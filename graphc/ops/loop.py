"""while_loop: a loop whose trip count is decided by tensor values at run time.

The condition and the body are traced once into one `Subgraph` (a graph of their own whose placeholders
are the loop variables, then the outer tensors they read); the compiler builds each into a sub-executable
and the runtime iterates them (runtime/loops.py): the body runs while the condition's kernel returns true.
The loop variables keep their shapes and dtypes from one iteration to the next (TF1's default
shape invariants). Random draws in the body draw anew on every iteration (their run counter is combined
with an iteration number the loop carries). A loop whose condition the graph already decides is unrolled by its caller instead
(graphc/compat/control_flow.py).
"""
import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..graph import Graph, Tensor
from ..registry import Example, Pattern, TensorType, register_op


class CaptureGraph(Graph):
    """A graph that traces a function: a tensor of an enclosing graph used by a new node becomes a
    placeholder of this one (a constant is copied in instead), recorded in `captures`."""

    def __init__(self, outer):
        super().__init__()
        self.outer = outer
        self.seed = outer.seed
        self.captures = []    # (outer tensor, its placeholder here)
        self._captured = {}   # id(outer tensor) -> placeholder here
        self.iteration = None  # the iteration number, an int64 loop variable (when the loop draws random numbers)
        self.draws_random = False

    def capture(self, t):
        """`t` as a tensor of this graph (itself when it is one already)."""
        if t.graph is self:
            return t
        if id(t) in self._captured:
            return self._captured[id(t)]
        if t.graph is not self.outer and isinstance(self.outer, CaptureGraph):
            t_outer = self.outer.capture(t)  # a nested loop reads it through the enclosing loop
        elif t.graph is self.outer:
            t_outer = t
        else:
            raise ShapeError(f"while_loop: {t.name} belongs to a graph that does not enclose the loop")
        if t_outer.node.opdef.constant:
            inner = self.create_node("constant", (), t_outer.node.attrs, t_outer.node.name).outputs[0]
        else:
            inner = self.create_node("placeholder", (), {"shape": t_outer.shape, "dtype": t_outer.dtype},
                                     "capture").outputs[0]
            self.captures.append((t_outer, inner))
        self._captured[id(t)] = inner
        return inner

    def create_node(self, op, inputs=(), attrs=None, name=None, control_inputs=()):
        """As Graph.create_node, capturing inputs (and control inputs' effects) of enclosing graphs. A random
        op's run counter becomes the enclosing graph's counter + iteration * 2**32, so each run and each
        iteration draws anew (the gradient's recomputed iterations draw the same values again)."""
        if op == "random_counter":
            self.draws_random = True
            if self.iteration is not None:
                counter = self.capture(self.outer.create_node(op, (), {}, name).outputs[0])
                return (counter + self.iteration * (1 << 32)).node
        inputs = [self.capture(t) if isinstance(t, Tensor) else t for t in inputs]
        control_inputs = [c for c in control_inputs if c.graph is self]
        return super().create_node(op, inputs, attrs, name, control_inputs)


class Subgraph:
    """A traced function: its graph, the placeholders it takes and the tensors it returns."""

    def __init__(self, graph, inputs, outputs):
        self.graph, self.inputs, self.outputs = graph, list(inputs), list(outputs)

    def evaluate(self, arrays):
        """The outputs for input `arrays`, by the numpy reference interpreter."""
        from ..reference import evaluate
        return evaluate(self.outputs, dict(zip(self.inputs, arrays)))

    def __repr__(self):  # unique per trace: two loops never merge (cse keys attributes by str)
        return f"<Subgraph {id(self):x}: {len(self.inputs)} inputs, {len(self.outputs)} outputs>"


def _while_infer(node):
    k, body = node.attrs["num_vars"], node.attrs["body"]
    cond = node.attrs["cond"]
    if len(node.inputs) != len(body.inputs) or len(body.outputs) != k:
        raise ShapeError(f"while_loop '{node.name}': {len(node.inputs)} inputs and {k} loop variables do not fit a "
                         f"body taking {len(body.inputs)} and returning {len(body.outputs)}")
    if len(cond.outputs) != 1 or cond.outputs[0].dtype.name != "bool" or cond.outputs[0].shape not in (None, ()):
        raise ShapeError(f"while_loop '{node.name}': the condition must return one scalar bool, "
                         f"got {[(o.dtype.name, o.shape) for o in cond.outputs]}")
    out = []
    for x, ph, y in zip(node.inputs, body.inputs, body.outputs):
        if x.dtype != ph.dtype or y.dtype != x.dtype:
            raise ShapeError(f"while_loop '{node.name}': loop variable {x.name} is {x.dtype.name} but the body "
                             f"returns {y.dtype.name}; a loop variable keeps its dtype")
        out.append(TensorType(x.shape, x.dtype))
    return out + [TensorType((), dtypes.int32)]  # the trip count (what the gradient iterates back over)


def _while_reference(attrs, *arrays):
    k, cond, body = attrs["num_vars"], attrs["cond"], attrs["body"]
    values, captured, trips = list(arrays[:k]), list(arrays[k:]), 0
    while bool(cond.evaluate(values + captured)[0]):
        values = [np.asarray(v, x.dtype) for v, x in zip(body.evaluate(values + captured), arrays)]
        trips += 1
    return values + [np.array(trips, np.int32)]


def trace_loop(cond_fn, body_fn, loop_vars, counted=False):
    """(cond Subgraph, body Subgraph, outer tensors captured) for functions of the flat `loop_vars`
    (Tensors): both are traced into one CaptureGraph, taking the loop variables and then the captures.
    `counted`: the last loop variable is the iteration number (random draws read it)."""
    outer = loop_vars[0].graph
    g = CaptureGraph(outer)
    with g.as_default():
        phs = [g.create_node("placeholder", (), {"shape": v.shape, "dtype": v.dtype}, "loop_var").outputs[0]
               for v in loop_vars]
        g.iteration = phs[-1] if counted else None
        pred = cond_fn(phs)
        outs = body_fn(phs)
        pred, outs = g.capture(pred), [g.capture(o) for o in outs]  # a body may return an outer tensor
    for v, o in zip(loop_vars, outs):
        if o.shape is not None and v.shape is not None and (
                len(o.shape) != len(v.shape) or any(a is not None and b is not None and a != b
                                                    for a, b in zip(o.shape, v.shape))):
            raise ShapeError(f"while_loop: loop variable {v.name} has shape {v.shape} but the body returns shape "
                             f"{o.shape}; a loop variable keeps its shape from one iteration to the next")
    inputs = phs + [inner for _, inner in g.captures]
    return Subgraph(g, inputs, [pred]), Subgraph(g, inputs, outs), [t for t, _ in g.captures]


def while_loop(cond_fn, body_fn, loop_vars, name=None):
    """The loop variables (a list of Tensors) after applying `body_fn` while `cond_fn` holds, run as a
    loop at run time; both functions take and return lists of Tensors."""
    loop_vars = list(loop_vars)
    cond, body, captured = trace_loop(cond_fn, body_fn, loop_vars)
    counted, start = body.graph.draws_random, []
    if counted:  # traced again with the iteration number as a last loop variable, for the random draws
        from .creation import constant
        with loop_vars[0].graph.as_default():
            start = [constant(np.array(0, np.int64))]
        cond, body, captured = trace_loop(lambda v: cond_fn(v[:-1]), lambda v: list(body_fn(v[:-1])) + [v[-1] + 1],
                                          loop_vars + start, counted=True)
    node = loop_vars[0].graph.create_node("while_loop", loop_vars + start + captured,
                                          {"cond": cond, "body": body, "num_vars": len(loop_vars) + counted},
                                          name or "while")
    return list(node.outputs[:len(loop_vars)])


def inline(sub, tensors):
    """`sub`'s outputs computed from `tensors` (one for each of its inputs) by copies of its nodes in the
    default graph."""
    from ..graph import get_default_graph, needed_nodes
    g = get_default_graph()
    values = {id(ph): t for ph, t in zip(sub.inputs, tensors)}
    for n in needed_nodes([o.node for o in sub.outputs], set(values)):
        if not all(id(o) in values for o in n.outputs):
            new = g.create_node(n.op, [values[id(t)] for t in n.inputs], n.attrs, n.name.rsplit("/", 1)[-1])
            values.update(zip(map(id, n.outputs), new.outputs))
    return [values[id(o)] for o in sub.outputs]


def _examples(rng, dtype="float32"):
    """A vector through x * w + sin(x) until its sum passes a fed bound, with a counter; a loop that runs
    no iteration."""
    from .creation import placeholder
    from .elemwise import sin
    from .reduce import reduce_sum
    g = Graph()
    with g.as_default():
        x, i, w, bound = (placeholder(dtype, [3]), placeholder("int32", []), placeholder(dtype, [3]),
                          placeholder(dtype, []))
        cond, body, captured = trace_loop(lambda v: reduce_sum(v[0]) < bound,
                                          lambda v: [v[0] * w + sin(v[0]), v[1] + 1], [x, i])
    attrs = {"cond": cond, "body": body, "num_vars": 2}
    x0 = (np.abs(rng.standard_normal(3)) + 0.5).astype(dtype)
    values = {w: (np.abs(rng.standard_normal(3)) * 0.5 + 1.0).astype(dtype)}
    return [Example([x0, np.array(i0, np.int32)] + [values.get(t, np.array(b, dtype)) for t in captured], attrs)
            for i0, b in ((0, 30.0), (5, -1.0))]


while_loop_op = register_op(
    "while_loop", pattern=Pattern.OPAQUE, host=True, infer=_while_infer, reference=_while_reference,
    examples=_examples, grad_examples=lambda rng: _examples(rng, "float64"))
# its gradient rule differentiates the body with graphc.autodiff, which imports the ops: graphc/loop_gradient.py
