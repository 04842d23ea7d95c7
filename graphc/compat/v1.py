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
from graphc import gradients  # noqa: F401

from graphc import initializers as _init
from graphc import losses as _losses
from graphc import train  # noqa: F401
from graphc.train import clip_by_global_norm  # noqa: F401
from graphc.ops.state import assign, assign_add, assign_sub, group  # noqa: F401
from graphc.variables import (Variable, global_variables, global_variables_initializer,  # noqa: F401
                              trainable_variables, variables_initializer)
from graphc.initializers import (constant_initializer, glorot_normal_initializer,  # noqa: F401
                                 glorot_uniform_initializer, ones_initializer, random_normal,
                                 random_normal_initializer, random_uniform, random_uniform_initializer,
                                 set_random_seed, truncated_normal, truncated_normal_initializer,
                                 zeros_initializer)

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
    max_pool2d=_ops.max_pool2d, avg_pool2d=_ops.avg_pool2d,
)

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
