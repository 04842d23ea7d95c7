"""Integer division and modulo by zero and INT_MIN // -1 give numpy's results on every integer dtype,
never a SIGFPE (which would kill the process): each case runs in the test process itself."""
import warnings

import numpy as np
import pytest

import graphc

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def _operands(dtype):
    info = np.iinfo(dtype)
    a = np.array([7, 0, info.max, info.min, 5, info.min, 3, info.max], dtype)
    b = np.array([0, 0, 0, 0, 2, 1, 1, 2], dtype)
    if info.min < 0:
        b[5] = -1            # INT_MIN // -1 overflows: numpy wraps to INT_MIN
        b[6] = -1
    return a, b


@pytest.mark.parametrize("op", ["divide", "floor_mod", "floordiv"])
@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("opt_level", [0, 3])
def test_integer_division_by_zero_and_overflow_matches_numpy(dtype, op, opt_level):
    a, b = _operands(dtype)
    g = graphc.Graph()
    with g.as_default():
        x, y = graphc.placeholder(dtype, [None]), graphc.placeholder(dtype, [None])
        out = {"divide": graphc.divide, "floor_mod": graphc.floor_mod, "floordiv": graphc.floordiv}[op](x, y)
        scalar = graphc.placeholder(dtype, [])
        by_scalar = {"divide": graphc.divide, "floor_mod": graphc.floor_mod, "floordiv": graphc.floordiv}[op](x, scalar)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fn = np.mod if op == "floor_mod" else np.floor_divide
        want, want_scalar = fn(a, b), fn(a, np.zeros((), dtype))
    with graphc.Session(graph=g, opt_level=opt_level) as sess:
        got, got_scalar = sess.run([out, by_scalar], {x: a, y: b, scalar: np.zeros((), dtype)})
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_scalar, want_scalar)
