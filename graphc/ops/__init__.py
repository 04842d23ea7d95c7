"""The op families; importing this package registers every op."""
import sys

from . import control, conv, creation, elemwise, indexing, linalg, nn, random, reduce, shape  # noqa: F401  (registration)
from ._base import convert_to_tensor
from .control import identity, stop_gradient
from .creation import constant, fill, ones, ones_like, placeholder, zeros, zeros_like
from .elemwise import (abs, add, bitcast, cast, ceil, cos, divide, equal, erf, exp, floor, floor_mod, floordiv,
                       greater, greater_equal, less, less_equal, log, logical_and, logical_not, logical_or,
                       logical_xor, maximum, minimum, multiply, negative, not_equal, pow, reciprocal, relu,
                       round, rsqrt, sigmoid, sign, sin, sqrt, square, subtract, tanh, where,
                       tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, bitwise_and, bitwise_or,
                       bitwise_xor, bitwise_not, left_shift, right_shift, is_nan)
from .indexing import gather_elements, gather_nd, scatter_elements, scatter_nd, top_k
from .linalg import det, matmul
from .nn import gelu, layer_norm, log_softmax, softmax
from .reduce import cumprod, cumsum
from .conv import avg_pool, avg_pool2d, conv, conv2d, conv_transpose, max_pool, max_pool2d, max_pool_indices
from .reduce import (argmax, argmin, broadcast_like, reduce_max, reduce_mean, reduce_min, reduce_prod,
                     reduce_sum, sum_to)
from .shape import (broadcast_to, concat, expand_dims, gather, getitem, one_hot, reshape, reshape_like, shape,
                    pad, slice, split, squeeze, stack, strided_slice, tile, transpose, unsorted_segment_sum, unstack)
from .shape import rank, size
from .random import dropout, multinomial, random_normal, random_shuffle, random_uniform, truncated_normal
from . import packed  # noqa: F401  (registers matmul_packed, made by passes/pack_weights.py)
from . import winograd  # noqa: F401  (registers conv2d_winograd, made by passes/winograd.py)
from . import blocked  # noqa: F401  (the channel-blocked layout, made by passes/blocked_layout.py)
from . import collective  # noqa: F401  (host ops of graphc.distributed)
from . import loop  # noqa: F401  (while_loop, a host op run by runtime/loops.py)
from . import sequence  # noqa: F401  (range: graphc.compat.v1.range)

from ..graph import set_operator_api  # noqa: E402

set_operator_api(sys.modules[__name__])  # Tensor operators (+, *, [], ...) build these ops
