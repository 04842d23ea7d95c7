"""The executor reuses a fetched output's memory only once the caller has dropped it and every view of
it, and binds a feed array fed again without copying: results stay right either way."""
import numpy as np

import graphc as gc
from graphc.runtime.executor import aligned_empty


def _graph():
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, [4, 6], name="x")
        y = x * 2.0 + 1.0
    return g, x, y


def test_held_outputs_and_their_views_are_never_overwritten():
    g, x, y = _graph()
    sess = gc.Session(graph=g)
    feed = aligned_empty((4, 6), np.float32)  # aligned: bound in place, not copied
    feed[...] = 1.0
    kept = sess.run(y, {x: feed})
    feed[...] = 2.0                            # the same array, changed in place, fed again
    second = sess.run(y, {x: feed})
    assert second is not kept
    np.testing.assert_array_equal(kept, np.full((4, 6), 3.0, np.float32))
    np.testing.assert_array_equal(second, np.full((4, 6), 5.0, np.float32))
    views = [second[1:], second.reshape(-1)[5:].view(np.int32), second.T]
    expected = [v.copy() for v in views]
    del second                                 # only views of it remain
    feed[...] = 0.0
    third = sess.run(y, {x: feed})
    np.testing.assert_array_equal(third, np.ones((4, 6), np.float32))
    for v, want in zip(views, expected):
        np.testing.assert_array_equal(v, want)


def test_dropped_outputs_are_reused():
    g, x, y = _graph()
    sess = gc.Session(graph=g)
    feed = aligned_empty((4, 6), np.float32)
    feed[...] = 1.0
    first = sess.run([y, {"again": y}], {x: feed})
    address = first[0].__array_interface__["data"][0]
    del first
    feed[...] = 3.0
    again = sess.run([y, {"again": y}], {x: feed})
    assert again[0].__array_interface__["data"][0] == address
    np.testing.assert_array_equal(again[0], np.full((4, 6), 7.0, np.float32))
    assert again[1]["again"] is again[0]
