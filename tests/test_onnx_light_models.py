"""The real networks shipped in onnx (onnx/backend/test/data/light): import, compile, and match the
stored reference outputs with the inputs the onnx backend test runner generates for them."""
import glob
import os

import numpy as np
import onnx
import pytest
from onnx.backend.test.runner import Runner

import graphc
from graphc.onnx import import_model
from graphc.onnx.convert import CONVERTERS

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
MODELS = sorted(glob.glob(os.path.join(LIGHT, "light_*.onnx")))


def _params():
    out = []
    for path in MODELS:
        missing = sorted({n.op_type for n in onnx.load(path).graph.node} - set(CONVERTERS))
        marks = [pytest.mark.xfail(reason=f"needs ONNX ops {missing} (branch onnx-ops)", strict=True)] if missing else []
        out.append(pytest.param(path, marks=marks, id=os.path.basename(path)[6:-5]))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", _params())
def test_light_model_matches_reference_outputs(path):
    model = onnx.load(path)
    inits = {i.name for i in model.graph.initializer}
    name = os.path.basename(path)[6:-5]
    # the runner's inputs: arange / n, of the input's shape (unknown dims as 1), seed 0, not random
    feeds = {x.name: Runner.generate_dummy_data(x, seed=0, name=name, random=False)
             for x in model.graph.input if x.name not in inits}
    expected = [onnx.numpy_helper.to_array(onnx.load_tensor(f"{path[:-5]}_output_{i}.pb"))
                for i in range(len(model.graph.output))]
    imp = import_model(model)
    with graphc.Session(graph=imp.graph) as sess:
        got = sess.run(list(imp.outputs.values()), {imp.inputs[k]: v for k, v in feeds.items()})
    for g, want in zip(got, expected):
        np.testing.assert_allclose(g, want, rtol=1e-3, atol=1e-5)  # the runner's model-test tolerance: 1e-3
