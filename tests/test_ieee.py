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


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_clip_against_a_constant_keeps_nan_and_is_one_vector_op(op, monkeypatch):
    """max/min with a constant (a ReLU6's clip) is one compare-select, still NaN in -> NaN out, on either side;
    on AVX2 one vmaxps/vminps per vector, no bit tests."""
    from graphc.codegen.target import cpu_target
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    xv = np.array([1.5, np.nan, -np.inf, np.inf, -2.0, 7.0, 0.0, np.nan] * 4, np.float32)
    fn = getattr(graphc, op)
    g = graphc.Graph()
    with g.as_default():
        x = graphc.placeholder(np.float32, [32])
        y = fn(fn(x, 6.0), 0.5) + fn(np.float32(-1.0), x)
    with graphc.Session(graph=g) as sess:
        got = sess.run(y, {x: xv})
    np_fn = getattr(np, op)
    np.testing.assert_array_equal(got, np_fn(np_fn(xv, 6.0), 0.5) + np_fn(np.float32(-1.0), xv))
    exe = graphc.compile(y, {x: ((32,), "float32")}, target=cpu_target(mcpu="haswell"))
    asm = exe.module.mod.inspect_source("asm")
    assert f"v{op[:3]}ps" in asm and "vblendvps" not in asm and "vpcmp" not in asm, asm[:2000]
