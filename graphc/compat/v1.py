"""TensorFlow 1.x names for graphc: a TF1 script runs after `import graphc.compat.v1 as tf`."""
import types as _types

import graphc as _gc
from graphc import ops as _ops
from graphc.dtypes import (bool_ as bool, float16, float32, float64, int8, int16, int32, int64,  # noqa: F401,A004
                           uint8, as_dtype, DType as DType)
from graphc.errors import FailedPreconditionError  # noqa: F401
from graphc.graph import (Graph, Tensor, TensorShape, control_dependencies, device, get_default_graph,  # noqa: F401
                          name_scope, reset_default_graph)
from graphc.ops import (abs, add, argmax, argmin, cast, ceil, constant, cos, divide, equal, erf, exp, fill,  # noqa: F401
                        floor, floordiv, greater, greater_equal, less, less_equal, log, logical_and,
                        logical_not, logical_or, logical_xor, matmul, maximum, minimum, multiply, negative,
                        not_equal, ones, ones_like, placeholder, pow, reciprocal, reduce_max, reduce_mean,
                        reduce_min, reduce_prod, reduce_sum, reshape, round, rsqrt, sigmoid, sign, sin,
                        sqrt, square, subtract, tanh, transpose, where, zeros, zeros_like)
from graphc.ops import convert_to_tensor, identity, stop_gradient  # noqa: F401
from graphc.ops import (broadcast_to, concat, expand_dims, gather, one_hot, shape, slice, split, squeeze,  # noqa: F401,A004
                        pad, stack, strided_slice, tile, unsorted_segment_sum, unstack)
from graphc.ops import rank, size  # noqa: E402,F401
from graphc.ops.sequence import range  # noqa: E402,F401,A004 (TF's name)


def gradients(ys, xs, grad_ys=None, name="gradients", colocate_gradients_with_ops=False, gate_gradients=False,
              aggregation_method=None, stop_gradients=None):
    """tf.gradients: a list of d(sum of ys)/dx, one per x (a list even for one x, as TF1)."""
    out = _gc.gradients(ys, xs, grad_ys, stop_gradients, name)
    return list(out) if isinstance(out, (list, tuple)) else [out]
from graphc import summary  # noqa: F401,E402 (tf.summary: graphc/summary.py)
from graphc.timeline import RunMetadata, RunOptions  # noqa: F401,E402

from graphc import initializers as _init
from graphc import losses as _losses
from graphc import train  # noqa: F401
from graphc.ops.state import assign, assign_add, assign_sub, group  # noqa: F401
from graphc.variables import (Variable, global_variables, global_variables_initializer,  # noqa: F401
                              trainable_variables, variables_initializer)
from graphc.initializers import (constant_initializer, glorot_normal_initializer,  # noqa: F401
                                 glorot_uniform_initializer, ones_initializer,
                                 random_normal_initializer, random_uniform_initializer,
                                 set_random_seed, truncated_normal_initializer,
                                 zeros_initializer)
from graphc.ops.random import (categorical, multinomial, random_normal, random_shuffle,  # noqa: F401
                               random_uniform, truncated_normal)

initialize_all_variables = global_variables_initializer
no_op = group
losses = _types.SimpleNamespace(mean_squared_error=_losses.mean_squared_error)
from graphc.variables import AUTO_REUSE, get_variable, get_variable_scope, variable_scope  # noqa: E402,F401

truediv = divide
mod = _ops.floor_mod
floormod = _ops.floor_mod
to_float = lambda x, name=None: cast(x, float32, name)  # noqa: E731
to_int32 = lambda x, name=None: cast(x, int32, name)  # noqa: E731
to_int64 = lambda x, name=None: cast(x, int64, name)  # noqa: E731


def Session(target=None, graph=None, config=None, opt_level=3):  # noqa: N802 (TF's name)
    """tf.Session: runs fetches of the default graph (a context manager). TF's `target` names a
    server, which graphc has none of: it is ignored; placement comes from tf.device."""
    from graphc.runtime.session import Session as _Session
    return _Session(graph=graph, config=config, opt_level=opt_level)


InteractiveSession = Session


def get_default_session():
    from graphc.session_registry import default_session
    return default_session()


# ---- tf.nn ------------------------------------------------------------------------------------
nn = _types.SimpleNamespace(
    relu=_ops.relu, sigmoid=_ops.sigmoid, tanh=_ops.tanh, softmax=_ops.softmax, log_softmax=_ops.log_softmax,
    gelu=_ops.gelu,
    softmax_cross_entropy_with_logits=_losses.softmax_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits_v2=_losses.softmax_cross_entropy_with_logits_v2,
    sparse_softmax_cross_entropy_with_logits=_losses.sparse_softmax_cross_entropy_with_logits,
    sigmoid_cross_entropy_with_logits=_losses.sigmoid_cross_entropy_with_logits,
    l2_loss=_losses.l2_loss,
    conv2d=_ops.conv2d, convolution=_ops.conv2d, max_pool=_ops.max_pool2d, avg_pool=_ops.avg_pool2d,
    max_pool2d=_ops.max_pool2d, avg_pool2d=_ops.avg_pool2d, dropout=_ops.dropout,
)

random = _types.SimpleNamespace(normal=random_normal, uniform=random_uniform, truncated_normal=truncated_normal,
                                shuffle=random_shuffle, categorical=categorical, multinomial=multinomial,
                                set_random_seed=set_random_seed)

# ---- tf.math ----------------------------------------------------------------------------------
math = _types.SimpleNamespace(
    abs=abs, add=add, cos=cos, divide=divide, equal=equal, erf=erf, exp=exp, floor=floor, ceil=ceil,
    greater=greater, less=less, log=log, maximum=maximum, minimum=minimum, multiply=multiply,
    negative=negative, pow=pow, reciprocal=reciprocal, reduce_sum=reduce_sum, reduce_mean=reduce_mean,
    reduce_max=reduce_max, reduce_min=reduce_min, reduce_prod=reduce_prod, rsqrt=rsqrt, sigmoid=sigmoid,
    sign=sign, sin=sin, sqrt=sqrt, square=square, subtract=subtract, tanh=tanh, argmax=argmax,
    argmin=argmin, round=round, logical_and=logical_and, logical_or=logical_or, logical_not=logical_not,
)

__version__ = "1.15.0-graphc" + _gc.__version__


# ---- TF1 surface built on the above (graphc/compat/{nn,rnn,layers,app}.py) ----------------------
from graphc.compat import app as _app, layers as _layers_mod, nn as _nn, rnn as _rnn  # noqa: E402
from graphc.compat.app import (ConfigProto, GPUOptions, GraphOptions, OptimizerOptions,  # noqa: E402,F401
                               flags)

app = _types.SimpleNamespace(run=_app.run, flags=flags)
arg_max, arg_min = argmax, argmin
log1p = lambda x, name=None: log(add(x, 1.0), name=name)  # noqa: E731
squared_difference = lambda x, y, name=None: square(subtract(x, y), name=name)  # noqa: E731


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """t clipped to [min, max]."""
    t = convert_to_tensor(t)
    return minimum(maximum(t, clip_value_min), clip_value_max, name=name)


def global_norm(t_list, name=None):
    """sqrt(sum of the squares of every tensor in t_list) (None entries skipped)."""
    return sqrt(add_n([reduce_sum(square(convert_to_tensor(t))) for t in t_list if t is not None]), name=name)


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """t scaled so its l2 norm (over axes) is at most clip_norm."""
    t = convert_to_tensor(t)
    norm = sqrt(reduce_sum(square(t), axes, keepdims=True))
    return multiply(t, clip_norm / maximum(norm, clip_norm), name=name)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """(t_list scaled by clip_norm / max(global_norm, clip_norm), the global norm)."""
    norm = use_norm if use_norm is not None else global_norm(t_list)
    scale = clip_norm / maximum(norm, clip_norm)
    return [None if t is None else multiply(convert_to_tensor(t), cast(scale, convert_to_tensor(t).dtype))
            for t in t_list], norm


def add_n(inputs, name=None):
    """The sum of a list of tensors."""
    out = inputs[0]
    for t in inputs[1:]:
        out = add(out, t)
    return identity(out, name=name) if name else out


def count_nonzero(input_tensor, axis=None, keepdims=False, dtype=int64, name=None):
    """The number of nonzero entries (over axis)."""
    return reduce_sum(cast(not_equal(input_tensor, 0), dtype), axis, keepdims=keepdims, name=name)


class GraphKeys:
    """Standard collection names."""
    GLOBAL_VARIABLES = "variables"
    VARIABLES = "variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    LOCAL_VARIABLES = "local_variables"
    UPDATE_OPS = _layers_mod.UPDATE_OPS
    LOSSES = "losses"
    REGULARIZATION_LOSSES = "regularization_losses"
    SUMMARIES = "summaries"
    GLOBAL_STEP = train.GLOBAL_STEP
    INIT_OP = "init_op"
    TRAIN_OP = "train_op"


def _collection_name(item):
    return getattr(item, "name", "") or ""


def get_collection(key, scope=None):
    """The items of collection `key` of the default graph (whose names start with `scope` if given)."""
    items = get_default_graph().get_collection(key)
    if scope:
        items = [i for i in items if _collection_name(i).startswith(scope)]
    return items


def add_to_collection(name, value):
    """Append `value` to the default graph's collection `name`."""
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value):
    for n in names:
        add_to_collection(n, value)


def get_collection_ref(key):
    """The collection list itself (changes show in the graph)."""
    return get_default_graph().collections.setdefault(key, [])


def local_variables():
    return get_collection(GraphKeys.LOCAL_VARIABLES)


def local_variables_initializer():
    return variables_initializer(local_variables(), name="init_local")


def model_variables():
    return global_variables()


def InteractiveSession(target=None, graph=None, config=None):  # noqa: F811,N802 (TF's name)
    """A Session that makes itself the default one (Tensor.eval, Operation.run) until closed."""
    from graphc import session_registry
    sess = Session(target, graph, config)
    session_registry.push(sess)
    close = sess.close

    def close_and_pop():
        session_registry.pop(sess)
        close()
    sess.close = close_and_pop
    return sess


rnn_cell = _types.SimpleNamespace(
    RNNCell=_rnn.RNNCell, BasicRNNCell=_rnn.BasicRNNCell, BasicLSTMCell=_rnn.BasicLSTMCell, LSTMCell=_rnn.LSTMCell,
    GRUCell=_rnn.GRUCell, MultiRNNCell=_rnn.MultiRNNCell, DropoutWrapper=_rnn.DropoutWrapper,
    LSTMStateTuple=_rnn.LSTMStateTuple)

nn = _types.SimpleNamespace(**{**vars(nn), **{k: getattr(_nn, k) for k in (
    "bias_add", "xw_plus_b", "relu6", "leaky_relu", "elu", "selu", "softplus", "softsign", "l2_normalize", "moments",
    "batch_normalization", "local_response_normalization", "lrn", "sparse_softmax_cross_entropy_with_logits",
    "weighted_cross_entropy_with_logits", "in_top_k", "embedding_lookup", "conv2d_transpose", "nce_loss",
    "sampled_softmax_loss")}}, rnn_cell=rnn_cell, static_rnn=_rnn.static_rnn, dynamic_rnn=_rnn.dynamic_rnn,
    bidirectional_dynamic_rnn=_rnn.bidirectional_dynamic_rnn,
    static_bidirectional_rnn=_rnn.static_bidirectional_rnn)

layers = _types.SimpleNamespace(**{k: getattr(_layers_mod, k) for k in (
    "dense", "conv2d", "conv2d_transpose", "max_pooling2d", "average_pooling2d", "dropout", "batch_normalization",
    "flatten")})

contrib = _types.SimpleNamespace(
    rnn=_types.SimpleNamespace(**vars(rnn_cell), static_rnn=_rnn.static_rnn,
                               static_bidirectional_rnn=_rnn.static_bidirectional_rnn),
    layers=_types.SimpleNamespace(xavier_initializer=lambda uniform=True, seed=None, dtype=float32: (
        glorot_uniform_initializer(seed, dtype) if uniform else glorot_normal_initializer(seed, dtype)),
        flatten=_layers_mod.flatten))

initializers = _types.SimpleNamespace(
    zeros=zeros_initializer, ones=ones_initializer, constant=constant_initializer,
    random_normal=random_normal_initializer, random_uniform=random_uniform_initializer,
    truncated_normal=truncated_normal_initializer, glorot_uniform=glorot_uniform_initializer,
    glorot_normal=glorot_normal_initializer)

from graphc.compat.control_flow import case, cond, map_fn, while_loop  # noqa: E402,F401

from graphc.compat import data as _data  # noqa: E402

data = _types.SimpleNamespace(Dataset=_data.Dataset, Iterator=_data.Iterator)
errors = _types.SimpleNamespace(OutOfRangeError=_data.OutOfRangeError, FailedPreconditionError=FailedPreconditionError)
