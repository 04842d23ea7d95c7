"""Element types: narrow types carried as bits through the runtime, and the errors for what graphc refuses."""
import numpy as np
import pytest

import graphc as gc

NARROW = ["bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float4_e2m1fn",
          "int4", "uint4", "int2", "uint2"]


@pytest.mark.parametrize("name", NARROW)
def test_narrow_types_feed_move_and_fetch_unchanged(name, rng):
    """Fed as ml_dtypes arrays, moved by kernels (transpose, reshape, concat) and fetched with their dtype."""
    x = rng.uniform(-3, 3, size=(3, 4)).astype(gc.as_dtype(name).np)
    p = gc.placeholder(name, [None, 4])
    t = gc.concat([gc.reshape(gc.transpose(p), [4, 3]), gc.identity(gc.transpose(p))], 0)
    with gc.Session() as sess:
        got = sess.run(t, {p: x})
    want = np.concatenate([x.T, x.T], 0)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(np.uint8 if got.itemsize == 1 else np.uint16),
                                  want.view(np.uint8 if want.itemsize == 1 else np.uint16))


@pytest.mark.parametrize("name", ["uint16", "uint32", "uint64"])
def test_unsigned_arithmetic(name, rng):
    a, b = (rng.integers(0, 1000, size=(5,)).astype(name) for _ in range(2))
    pa, pb = gc.placeholder(name, [5]), gc.placeholder(name, [5])
    with gc.Session() as sess:
        got = sess.run([pa + pb, gc.maximum(pa, pb), gc.cast(pa, "float32")], {pa: a, pb: b})
    np.testing.assert_array_equal(got[0], a + b)
    np.testing.assert_array_equal(got[1], np.maximum(a, b))
    np.testing.assert_array_equal(got[2], a.astype(np.float32))


def test_arithmetic_on_a_bits_only_type_is_refused_by_name():
    p = gc.placeholder("bfloat16", [3])
    with gc.Session() as sess, pytest.raises(gc.CompileError, match="bfloat16.*cast it to float32"):
        sess.run(p + p, {p: np.ones(3, gc.bfloat16.np)})


def test_unknown_dtype_names_it_and_the_supported_list():
    with pytest.raises(TypeError, match=r"dtype complex64 is not supported by graphc; expected one of \[.*'uint4'"):
        gc.as_dtype(np.complex64)


def test_bitcast_needs_equal_widths():
    with pytest.raises(TypeError, match="float32 to int16: the widths differ"):
        gc.bitcast(gc.placeholder("float32", [2]), "int16")
    with pytest.raises(TypeError, match="widths differ"):
        gc.bitcast(gc.placeholder("uint8", [2]), "int4")
