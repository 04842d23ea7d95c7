"""IEEE cases the registry test (one op, distinct inputs) does not reach: an op given one tensor twice."""
import numpy as np
import pytest

import graphc


@pytest.mark.parametrize("opt_level", [0, 3])
def test_x_minus_x_is_nan_for_nan_and_inf(opt_level):
    """Fuzz-found: TVM folds x - x to 0, where IEEE (numpy) gives NaN for NaN and infinite x."""
    xv = np.array([1.5, np.nan, np.inf, -np.inf], np.float32)
    g = graphc.Graph()
    with g.as_default():
        x = graphc.placeholder(np.float32, [4])
        y = graphc.subtract(x, x)
    with graphc.Session(graph=g, opt_level=opt_level) as sess:
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(sess.run(y, {x: xv}), xv - xv)
