"""The op families; importing this package registers every op."""
from . import creation, elemwise, linalg, nn, reduce, shape  # noqa: F401  (registration)
from ._base import convert_to_tensor
from .creation import constant, fill, ones, ones_like, placeholder, zeros, zeros_like
from .elemwise import (abs, add, cast, ceil, cos, divide, equal, erf, exp, floor, floor_mod, floordiv,
                       greater, greater_equal, less, less_equal, log, logical_and, logical_not, logical_or,
                       logical_xor, maximum, minimum, multiply, negative, not_equal, pow, reciprocal, relu,
                       round, rsqrt, sigmoid, sign, sin, sqrt, square, subtract, tanh, where)
from .linalg import matmul
from .nn import log_softmax, softmax
from .reduce import (argmax, argmin, broadcast_like, reduce_max, reduce_mean, reduce_min, reduce_prod,
                     reduce_sum, sum_to)
from .shape import reshape, reshape_like, transpose
from .shape import (broadcast_to, concat, expand_dims, gather, getitem, identity, one_hot, rank, size, slice,
                    split, squeeze, stack, strided_slice, tile, unstack)
# graphc.ops.shape stays the module (`import graphc.ops.shape` must find it): the op is graphc.shape
