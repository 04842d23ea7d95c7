"""verify (passes/verify.py), passes that leave their input alone, and read-only graphs."""
import numpy as np
import pytest

import graphc as gc
from graphc.errors import GraphError
from graphc.passes.manager import graph_text
from graphc.passes.pack_weights import pack_weights
from graphc.passes.specialize import specialize
from graphc.passes.verify import verify


def _specialized_matmul(rng):
    x = gc.placeholder(gc.float32, [None, 6], name="x")
    y = gc.relu(gc.matmul(x, gc.constant(rng.standard_normal((6, 5)).astype("float32"))))
    g, mapping, _ = specialize([y], {x: ((4, 6), gc.float32)}, [])
    return g, [mapping[id(y)]]


def test_verify_accepts_a_specialized_graph_and_names_what_is_wrong(rng):
    g, fetches = _specialized_matmul(rng)
    verify(g, fetches, static=True)
    x = gc.placeholder(gc.float32, [None, 6], name="x_unknown")
    with pytest.raises(GraphError, match=r"x:0 \(placeholder\) has shape .* after specialization"):
        verify(gc.get_default_graph(), [x], static=True)
    g.nodes.reverse()  # inputs now come after their readers
    with pytest.raises(GraphError, match="which is not computed before it after scramble"):
        verify(g, fetches, after="scramble")
    g.nodes.reverse()
    del g.nodes[0]
    with pytest.raises(GraphError, match="not computed before it"):
        verify(g, fetches)


def test_pack_weights_builds_a_new_graph_and_leaves_its_input_alone(rng):
    g, fetches = _specialized_matmul(rng)
    before = graph_text(g)
    packed, packed_fetches = pack_weights(g, fetches, panel_width=16)
    assert graph_text(g) == before and packed is not g
    verify(packed, packed_fetches, static=True)
    ops = [n.op for n in packed.nodes]
    assert "matmul_packed" in ops and "matmul" not in ops
    assert sum(1 for n in packed.nodes if n.op == "constant") == 1  # the unpacked weights are gone


def test_a_finalized_graph_is_read_only():
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, [2], name="x")
        y = x + 1.0
    g.finalize()
    with g.as_default(), pytest.raises(GraphError, match="finalized"):
        gc.relu(x)
    with gc.Session(graph=g) as sess:  # running it needs no new node
        np.testing.assert_allclose(sess.run(y, {x: np.ones(2, "float32")}), [2.0, 2.0])
