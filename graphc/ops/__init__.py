"""The op families; importing this package registers every op."""
from . import control, conv, creation, elemwise, linalg, nn, reduce, shape  # noqa: F401  (registration)
from ._base import convert_to_tensor
from .control import identity, stop_gradient
from .creation import constant, fill, ones, ones_like, placeholder, zeros, zeros_like
from .elemwise import (abs, add, cast, ceil, cos, divide, equal, erf, exp, floor, floor_mod, floordiv,
                       greater, greater_equal, less, less_equal, log, logical_and, logical_not, logical_or,
                       logical_xor, maximum, minimum, multiply, negative, not_equal, pow, reciprocal, relu,
                       round, rsqrt, sigmoid, sign, sin, sqrt, square, subtract, tanh, where)
from .conv import avg_pool, avg_pool2d, conv, conv2d, conv_transpose, max_pool, max_pool2d, max_pool_indices
from .linalg import matmul
from .nn import log_softmax, softmax
from .reduce import (argmax, argmin, broadcast_like, reduce_max, reduce_mean, reduce_min, reduce_prod,
                     reduce_sum, sum_to)
from .shape import (broadcast_to, concat, expand_dims, gather, getitem, one_hot, reshape, reshape_like, shape,
                    slice, split, squeeze, stack, strided_slice, tile, transpose, unstack)
from .shape import rank, size
from . import packed  # noqa: F401  (registers matmul_packed, made by passes/pack_weights.py)
