"""ONNX -> graphc: load and check a model, then convert node by node (graphc/onnx/convert/), static inputs
constant-folded."""
import os
from collections import namedtuple

import numpy as np

import graphc as gc
import graphc.reference  # noqa: F401  (constant folding)
from graphc.errors import FeedError, GraphcError
from graphc.graph import needed_nodes

from .convert import CONVERTERS, np_dtype
from .errors import OnnxImportError, StaticInputError

MIN_OPSET, MAX_OPSET = 7, 28  # 23..28 (onnx 1.23) changed only the types of the ops graphc maps


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


def _value_info_shape(vi):
    """(shape with None for unknown dims, or None for unknown rank) of a ValueInfoProto."""
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)


# ---- the conversion context -------------------------------------------------------------------
class Context:
    """What converters see: the opset, static (constant-folded) values of tensors, and subgraphs
    (If/Loop/Scan bodies) converted in the scope of the node that holds them."""

    def __init__(self, opset, graph):
        self.opset = opset
        self.graph = graph
        self.env = {}  # ONNX name -> graphc tensor, in the scope being converted
        self._static = {}  # id(tensor) -> (tensor, its read-only value or None when it depends on a feed)

    def _static_value(self, t):
        """`t`'s value (read-only, evaluated once per tensor, from the static values already known), or
        None when it depends on a fed input."""
        hit = self._static.get(id(t))
        if hit is None:
            known = {k: v for k, v in self._static.values() if v is not None}  # not evaluated again
            try:
                value = gc.reference.evaluate(t, known)
                if isinstance(value, np.ndarray):
                    value.setflags(write=False)  # shared by every later query
            except FeedError:
                value = None
            hit = self._static[id(t)] = (t, value)  # (holding t keeps its id from being reused)
        return hit[1]

    def static(self, t, what):
        """The numpy value of tensor `t` if it does not depend on a fed input, else an error naming `what`."""
        value = self._static_value(t)
        if value is None:
            fed = [n.name for n in needed_nodes([t.node], set()) if n.opdef.feed]
            raise StaticInputError(f"{what} must be known at import time (from initializers, Constant or "
                                   f"Shape of static dims), but {t.name} depends on model inputs {fed}",
                                   inputs=fed)
        return value

    def maybe_static(self, t):
        """The numpy value of `t` when it is static, else None."""
        return self._static_value(t)

    def convert_nodes(self, nodes):
        """Convert ONNX `nodes` in order, adding their outputs to the current scope."""
        for node in nodes:
            outs = _convert_node(self, node)
            for name, t in zip(node.output, outs):
                if name:
                    self.env[name] = t

    def subgraph(self, graph, bindings):
        """The output tensors of ONNX GraphProto `graph` (a control-flow body) with its inputs bound to
        `bindings` (tensors, in input order); names of the enclosing scopes stay visible."""
        outer = self.env
        self.env = dict(outer)
        try:
            for init in graph.initializer:
                self.env[init.name] = _initializer(init)
            for vi, t in zip(graph.input, bindings):
                self.env[vi.name] = t
            self.convert_nodes(graph.node)
            missing = [o.name for o in graph.output if o.name not in self.env]
            if missing:
                raise OnnxImportError(f"subgraph {graph.name!r}: outputs {missing} are produced by no node")
            return [self.env[o.name] for o in graph.output]
        finally:
            self.env = outer


def _initializer(init, variables=False):
    """An initializer as a constant, or (`variables`, floating point) a trainable Variable's value."""
    import onnx
    try:
        value = onnx.numpy_helper.to_array(init)
    except MemoryError:
        raise OnnxImportError(f"initializer {init.name!r} of dims {list(init.dims)} is too large to "
                              "allocate") from None
    except (TypeError, ValueError) as e:
        raise OnnxImportError(f"initializer {init.name!r} cannot be read: {e}") from None
    try:
        if variables and value.dtype.kind == "f":  # weights to fine-tune; integer ones stay static
            return gc.Variable(value, name=init.name).value()
        return gc.constant(value, name=init.name)
    except (TypeError, ValueError) as e:
        raise OnnxImportError(f"initializer {init.name!r}: {e}") from None


def _convert_node(ctx, node):
    """The graphc tensors of one ONNX node's outputs, or an OnnxImportError naming node, op and opset."""
    opset = ctx.opset
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
        elif name not in ctx.env:
            raise OnnxImportError(f"node {node.name!r} ({node.op_type}): input {name!r} is not defined "
                                  f"(no initializer, graph input or earlier node output)")
        else:
            ins.append(ctx.env[name])
    while ins and ins[-1] is None:
        ins.pop()
    try:
        with ctx.graph.name_scope(node.name or node.op_type):
            out = fn(ctx, node, ins, _attrs(node))
    except StaticInputError as e:
        raise StaticInputError(f"node {node.name!r}: ONNX op {node.op_type} (opset {opset}): {e}", e.inputs) from None
    except OnnxImportError as e:
        raise type(e)(f"node {node.name!r}: ONNX op {node.op_type} (opset {opset}): {e}") from None
    except (GraphcError, TypeError, KeyError, ValueError, NotImplementedError) as e:
        raise OnnxImportError(f"node {node.name!r}: ONNX op {node.op_type} (opset {opset}) could not be "
                              f"mapped: {type(e).__name__}: {e}") from None
    except MemoryError as e:  # a constant of absurd dims (a corrupted model), folded at import
        raise OnnxImportError(f"node {node.name!r}: ONNX op {node.op_type} (opset {opset}) needs more memory "
                              f"than can be allocated ({e})") from None
    return list(out) if isinstance(out, (list, tuple)) else [out]


# ---- import ---------------------------------------------------------------------------------
def _text(value):
    """STRING attributes (and lists of them) as str: onnx gives bytes."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode() for v in value]
    return value


def _attrs(node):
    import onnx
    return {a.name: _text(onnx.helper.get_attribute_value(a)) for a in node.attribute}


def _check_declared_dtype(vi, t):
    """A graph output's declared element type must be the type its node computes (onnxruntime refuses
    a model where they differ)."""
    elem = vi.type.tensor_type.elem_type if vi.type.HasField("tensor_type") else 0
    if not elem:
        return
    try:
        declared = gc.as_dtype(np_dtype(elem))
    except (TypeError, ValueError, KeyError) as e:
        raise OnnxImportError(f"graph output {vi.name!r}: {e}") from None
    if declared != t.dtype:
        raise OnnxImportError(f"graph output {vi.name!r} is declared {declared.name} but its node "
                              f"computes {t.dtype.name}")


def import_model(path_or_model, variables=False, bind=None):
    """Import an ONNX model: an `Imported(graph, inputs, outputs)` with dicts name -> graphc tensor.

    `variables=True` makes floating-point initializers trainable graphc Variables (initialized by
    `global_variables_initializer()`), for fine-tuning; otherwise every initializer is a constant.
    `bind` ({input name: array}) turns those graph inputs into constants, for models whose shape or
    axes inputs are fed (as ONNX node tests do); they are then absent from `inputs`."""
    bind = bind or {}
    model = checked(load(path_or_model))
    opset = opset_of(model)
    g = gc.Graph()
    ctx = Context(opset, g)
    env, inputs = ctx.env, {}
    with g.as_default():
        for init in model.graph.initializer:
            env[init.name] = _initializer(init, variables)
        for vi in model.graph.input:
            if vi.name in env:
                continue
            if vi.name in bind:
                env[vi.name] = gc.constant(np.asarray(bind[vi.name], np_dtype(vi.type.tensor_type.elem_type)),
                                           name=vi.name)
                continue
            try:
                dtype = gc.as_dtype(np_dtype(vi.type.tensor_type.elem_type))
            except (TypeError, ValueError, KeyError) as e:
                raise OnnxImportError(f"input {vi.name!r}: {e}") from None
            t = gc.placeholder(dtype, _value_info_shape(vi), name=vi.name)
            env[vi.name] = inputs[vi.name] = t
        ctx.convert_nodes(model.graph.node)
        outputs = {}
        for vi in model.graph.output:
            if vi.name not in env:
                raise OnnxImportError(f"graph output {vi.name!r} is produced by no node")
            _check_declared_dtype(vi, env[vi.name])
            outputs[vi.name] = env[vi.name]
    return Imported(g, inputs, outputs)
