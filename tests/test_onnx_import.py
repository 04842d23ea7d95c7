"""ONNX import: small models against onnxruntime, opset variants, and clear errors for malformed files."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from graphc.onnx import OnnxImportError, import_model

ort = pytest.importorskip("onnxruntime")

from conftest import onnx_matches_onnxruntime  # noqa: E402


def _model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "t", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def _check_vs_ort(model, feeds):
    onnx_matches_onnxruntime(model, feeds)


def test_mlp_with_initializers_and_unknown_batch():
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")
    m = _model([helper.make_node("Gemm", ["x", "w", "b"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
                helper.make_node("Softmax", ["r"], ["y"], axis=1)],
               [_vi("x", ["N", 4])], [_vi("y", ["N", 3])], [w, bias])
    imp = import_model(m)
    assert imp.inputs["x"].shape == (None, 4)
    for n in (2, 5):
        _check_vs_ort(m, {"x": rng.standard_normal((n, 4)).astype(np.float32)})


@pytest.mark.parametrize("opset", [7, 11, 13, 18])
def test_reduce_and_squeeze_axes_as_attr_or_input_by_opset(opset):
    x = np.random.default_rng(1).standard_normal((2, 1, 3)).astype(np.float32)
    inits, sq_in, red_in, sq_attr, red_attr = [], ["x"], ["s"], {}, {}
    if opset >= 13:
        inits.append(numpy_helper.from_array(np.array([1], np.int64), "sq_axes"))
        sq_in.append("sq_axes")
    else:
        sq_attr["axes"] = [1]
    if opset >= 18:
        inits.append(numpy_helper.from_array(np.array([-1], np.int64), "red_axes"))
        red_in.append("red_axes")
    else:
        red_attr["axes"] = [-1]
    m = _model([helper.make_node("Squeeze", sq_in, ["s"], **sq_attr),
                helper.make_node("ReduceMean", red_in, ["y"], keepdims=0, **red_attr)],
               [_vi("x", [2, 1, 3])], [_vi("y", [2])], inits, opset=opset)
    _check_vs_ort(m, {"x": x})


def test_reshape_shape_from_a_shape_chain_is_constant_folded():
    m = _model([helper.make_node("Shape", ["x"], ["s"]),
                helper.make_node("Gather", ["s", "i"], ["d0"], axis=0),
                helper.make_node("Concat", ["d0", "m1"], ["shape"], axis=0),
                helper.make_node("Reshape", ["x", "shape"], ["y"])],
               [_vi("x", [2, 3, 4])], [_vi("y", [2, 12])],
               [numpy_helper.from_array(np.array([-3], np.int64), "i"),
                numpy_helper.from_array(np.array([-1], np.int64), "m1")])
    _check_vs_ort(m, {"x": np.arange(24, dtype=np.float32).reshape(2, 3, 4)})


def test_slice_opset9_attrs_and_opset13_inputs_agree():
    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    m9 = _model([helper.make_node("Slice", ["x"], ["y"], starts=[1, -4], ends=[1000, -1], axes=[0, 2])],
                [_vi("x", [3, 4, 5])], [_vi("y", ["a", "b", "c"])], opset=9)
    _check_vs_ort(m9, {"x": x})
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
             (("st", [3, 0]), ("en", [-1000, 4]), ("ax", [1, 2]), ("sp", [-2, 2]))]
    m13 = _model([helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])],
                 [_vi("x", [3, 4, 5])], [_vi("y", ["a", "b", "c"])], inits)
    _check_vs_ort(m13, {"x": x})


def test_clip_attr_opset6_style_and_input_style():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    m = _model([helper.make_node("Clip", ["x"], ["y"], min=-1.0, max=2.0)], [_vi("x", [3, 4])],
               [_vi("y", [3, 4])], opset=7)
    _check_vs_ort(m, {"x": x})
    inits = [numpy_helper.from_array(np.array(-1.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(2.0, np.float32), "hi")]
    m = _model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], [_vi("x", [3, 4])], [_vi("y", [3, 4])], inits)
    _check_vs_ort(m, {"x": x})


# ---- malformed files ---------------------------------------------------------------------------
def _good_bytes():
    return _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2])], [_vi("y", [2])]).SerializeToString()


def test_truncated_file(tmp_path):
    p = tmp_path / "t.onnx"
    p.write_bytes(_good_bytes()[:-7])
    with pytest.raises(OnnxImportError, match="not a readable ONNX model|invalid"):
        import_model(str(p))


def test_random_bytes(tmp_path):
    p = tmp_path / "r.onnx"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(OnnxImportError):
        import_model(str(p))


def test_missing_file(tmp_path):
    with pytest.raises(OnnxImportError, match="does not exist"):
        import_model(str(tmp_path / "none.onnx"))


def test_cycle():
    m = _model([helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
               [_vi("x", [2])], [_vi("b", [2])])
    with pytest.raises(OnnxImportError, match="invalid|topologically"):
        import_model(m)


def test_undefined_input_or_missing_initializer():
    m = _model([helper.make_node("Add", ["x", "w"], ["y"])], [_vi("x", [2])], [_vi("y", [2])])
    with pytest.raises(OnnxImportError, match="w"):
        import_model(m)


@pytest.mark.parametrize("opset", [5, 40])
def test_unsupported_opset(opset):
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2])], [_vi("y", [2])], opset=opset)
    with pytest.raises(OnnxImportError, match=f"opset {opset}"):
        import_model(m)


def test_unsupported_op_names_node_op_and_opset():
    m = _model([helper.make_node("ImageDecoder", ["x"], ["y"], name="mydecoder")],
               [_vi("x", [16], TensorProto.UINT8)], [_vi("y", [4, 4, 3], TensorProto.UINT8)], opset=20)
    with pytest.raises(OnnxImportError, match=r"mydecoder.*ImageDecoder.*opset 20"):
        import_model(m)


def test_input_of_an_unsupported_dtype_is_named():
    m = _model([helper.make_node("Identity", ["s"], ["y"])],
               [_vi("s", [2], TensorProto.STRING)], [_vi("y", [2], TensorProto.STRING)])
    with pytest.raises(OnnxImportError, match=r"input 's'.*dtype"):
        import_model(m)


def test_fine_tune_imported_weights_then_export_them(tmp_path):
    """variables=True: float initializers train as Variables; export writes the trained values."""
    from graphc.onnx import export
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([-1, 3], np.int64), "shape")  # integer: stays a constant
    m = _model([helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Reshape", ["h", "shape"], ["y"])],
               [_vi("x", ["N", 4])], [_vi("y", ["N", 3])], [w, shape])
    imp = import_model(m, variables=True)
    (var,) = imp.graph.get_collection("trainable_variables")
    x, y = imp.inputs["x"], imp.outputs["y"]
    xs, target = rng.standard_normal((8, 4)).astype(np.float32), rng.standard_normal((8, 3)).astype(np.float32)
    with imp.graph.as_default():
        loss = graphc.reduce_mean(graphc.square(y - target))
        step = graphc.train.GradientDescentOptimizer(0.1).minimize(loss)
        init = graphc.global_variables_initializer()
    w0 = numpy_helper.to_array(w)
    with graphc.Session(graph=imp.graph) as sess:
        sess.run(init)
        for _ in range(3):
            sess.run(step, {x: xs})
        trained = sess.run(var.value())
        out = sess.run(y, {x: xs})
        path = str(tmp_path / "tuned.onnx")
        export(y, path, [x], session=sess)
    w_ref = w0.copy()
    for _ in range(3):  # numpy SGD on mean squared error
        w_ref -= 0.1 * xs.T @ (2 * (xs @ w_ref - target) / target.size)
    np.testing.assert_allclose(trained, w_ref, rtol=1e-4, atol=1e-5)
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": xs})[0]
    np.testing.assert_allclose(got, out, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, xs @ w_ref, rtol=1e-4, atol=1e-5)


def test_exporting_a_variable_needs_its_session_value(tmp_path):
    from graphc.onnx import export
    from graphc.onnx.exporter import OnnxExportError
    g = graphc.Graph()
    with g.as_default():
        x = graphc.placeholder(graphc.float32, [2], name="x")
        v = graphc.Variable(np.ones(2, np.float32), name="v")
        y = x * v
    with pytest.raises(OnnxExportError, match="variable 'v'.*session="):
        export(y, str(tmp_path / "a.onnx"), [x])
    with graphc.Session(graph=g) as sess, pytest.raises(OnnxExportError, match="'v' is uninitialized"):
        export(y, str(tmp_path / "b.onnx"), [x], session=sess)


# ---- control flow, unrolled at import ----------------------------------------------------------
def _body(nodes, inputs, outputs):
    return helper.make_graph(nodes, "body", inputs, outputs)


def test_loop_with_static_trip_count_and_scan_output_matches_onnxruntime():
    body = _body([helper.make_node("Add", ["acc_in", "x"], ["acc_out"]),
                  helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                  helper.make_node("Mul", ["acc_out", "acc_out"], ["sq"])],
                 [_vi("i", [], TensorProto.INT64), _vi("cond_in", [], TensorProto.BOOL), _vi("acc_in", [3])],
                 [_vi("cond_out", [], TensorProto.BOOL), _vi("acc_out", [3]), _vi("sq", [3])])
    trips = numpy_helper.from_array(np.array(4, np.int64), "M")
    m = _model([helper.make_node("Loop", ["M", "", "a0"], ["acc", "squares"], body=body)],
               [_vi("a0", [3]), _vi("x", [3])], [_vi("acc", [3]), _vi("squares", [4, 3])], [trips], opset=13)
    rng = np.random.default_rng(5)
    _check_vs_ort(m, {"a0": rng.standard_normal(3).astype(np.float32), "x": rng.standard_normal(3).astype(np.float32)})


def test_scan_reverse_direction_matches_onnxruntime():
    body = _body([helper.make_node("Add", ["s_in", "row"], ["s_out"]), helper.make_node("Identity", ["s_out"], ["y"])],
                 [_vi("s_in", [2]), _vi("row", [2])], [_vi("s_out", [2]), _vi("y", [2])])
    m = _model([helper.make_node("Scan", ["s0", "xs"], ["s", "ys"], body=body, num_scan_inputs=1,
                                 scan_input_directions=[1])],
               [_vi("s0", [2]), _vi("xs", [5, 2])], [_vi("s", [2]), _vi("ys", [5, 2])], opset=16)
    rng = np.random.default_rng(6)
    _check_vs_ort(m, {"s0": rng.standard_normal(2).astype(np.float32), "xs": rng.standard_normal((5, 2)).astype(np.float32)})


@pytest.mark.parametrize("cond", [True, False])
def test_if_with_a_fed_condition_selects_the_branch_at_run_time(cond):
    then_b = _body([helper.make_node("Add", ["x", "x"], ["t"])], [], [_vi("t", [3])])
    else_b = _body([helper.make_node("Neg", ["x"], ["e"])], [], [_vi("e", [3])])
    m = _model([helper.make_node("If", ["c"], ["y"], then_branch=then_b, else_branch=else_b)],
               [_vi("c", [], TensorProto.BOOL), _vi("x", [3])], [_vi("y", [3])], opset=13)
    _check_vs_ort(m, {"c": np.array(cond), "x": np.arange(3, dtype=np.float32)})


def test_loop_condition_fed_with_scan_outputs_must_be_static():
    from graphc.onnx.importer import StaticInputError
    body = _body([helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["v"], ["y"])],
                 [_vi("i", [], TensorProto.INT64), _vi("cond_in", [], TensorProto.BOOL), _vi("v", [2])],
                 [_vi("cond_out", [], TensorProto.BOOL), _vi("v2", [2]), _vi("y", [2])])
    body.node.append(helper.make_node("Identity", ["v"], ["v2"]))
    trips = numpy_helper.from_array(np.array(3, np.int64), "M")
    m = _model([helper.make_node("Loop", ["M", "c", "v0"], ["v", "ys"], body=body)],
               [_vi("c", [], TensorProto.BOOL), _vi("v0", [2])], [_vi("v", [2]), _vi("ys", [3, 2])], [trips])
    with pytest.raises(StaticInputError, match="condition") as e:
        import_model(m)
    assert e.value.inputs == ("c",)
    imp = import_model(m, bind={"c": np.array(True)})
    with graphc.Session(graph=imp.graph) as sess:
        v, ys = sess.run([imp.outputs["v"], imp.outputs["ys"]], {imp.inputs["v0"]: np.ones(2, np.float32)})
    np.testing.assert_array_equal(ys, np.ones((3, 2), np.float32))


# ---- recurrent layers, unrolled -----------------------------------------------------------------
def _recurrent_model(op, gates, hidden, seq, batch, inp, rng, extra_inputs=(), **attrs):
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32) * 0.5, n) for n, s in
             (("W", (dirs, gates * hidden, inp)), ("R", (dirs, gates * hidden, hidden)),
              ("B", (dirs, 2 * gates * hidden)))]
    inputs = ["X", "W", "R", "B"] + list(extra_inputs)
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    out_vis = [_vi("Y", [seq, dirs, batch, hidden]), _vi("Y_h", [dirs, batch, hidden])] + \
        ([_vi("Y_c", [dirs, batch, hidden])] if op == "LSTM" else [])
    ins = [_vi("X", [seq, batch, inp])] + ([_vi("sequence_lens", [batch], TensorProto.INT32)] if extra_inputs else [])
    return _model([helper.make_node(op, inputs, outs, hidden_size=hidden, **attrs)], ins, out_vis, inits, opset=14)


def test_gru_bidirectional_linear_before_reset_matches_onnxruntime():
    rng = np.random.default_rng(7)
    m = _recurrent_model("GRU", 3, 4, 5, 2, 3, rng, direction="bidirectional", linear_before_reset=1)
    _check_vs_ort(m, {"X": rng.standard_normal((5, 2, 3)).astype(np.float32)})


def test_lstm_with_shorter_sequence_lens_matches_onnxruntime():
    rng = np.random.default_rng(8)
    m = _recurrent_model("LSTM", 4, 3, 4, 3, 2, rng, extra_inputs=["sequence_lens"])
    _check_vs_ort(m, {"X": rng.standard_normal((4, 3, 2)).astype(np.float32),
                      "sequence_lens": np.array([4, 2, 1], np.int32)})


# ---- signal ops ----------------------------------------------------------------------------------
def _check_vs_reference(model, feeds, rtol=1e-4, atol=1e-4):
    """graphc against onnx's own numpy reference evaluator (for ops onnxruntime lacks)."""
    from onnx.reference import ReferenceEvaluator
    imp = import_model(model)
    with graphc.Session(graph=imp.graph) as sess:
        got = sess.run(list(imp.outputs.values()), {imp.inputs[k]: v for k, v in feeds.items()})
    want = ReferenceEvaluator(model).run(None, feeds)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


@pytest.mark.parametrize("inverse,onesided,length", [(0, 0, 8), (0, 1, 6), (1, 0, 10), (1, 1, None)])
def test_dft_complex_input_along_axis_1_matches_reference(inverse, onesided, length):
    inits = [numpy_helper.from_array(np.array(1, np.int64), "axis")]
    ins = ["x", "n" if length else "", "axis"]
    if length:
        inits.append(numpy_helper.from_array(np.array(length, np.int64), "n"))
    node = helper.make_node("DFT", ins, ["y"], inverse=inverse, onesided=onesided)
    m = _model([node], [_vi("x", [2, 7, 3, 2])], [_vi("y", ["d0", "d1", "d2", "d3"])], inits, opset=20)
    x = np.random.default_rng(9).standard_normal((2, 7, 3, 2)).astype(np.float32)
    if inverse and onesided:  # irfft: real output from a one-sided spectrum
        x[:, 0, :, 1] = 0
    _check_vs_reference(m, {"x": x})


def test_stft_with_window_matches_reference():
    step = numpy_helper.from_array(np.array(4, np.int64), "step")
    win = numpy_helper.from_array(np.hanning(8).astype(np.float32), "win")
    m = _model([helper.make_node("STFT", ["x", "step", "win"], ["y"])], [_vi("x", [2, 30, 1])], [_vi("y", ["d0", "d1", "d2", "d3"])],
               [step, win], opset=17)
    _check_vs_reference(m, {"x": np.random.default_rng(10).standard_normal((2, 30, 1)).astype(np.float32)})


@pytest.mark.parametrize("k,past,act", [(4, True, "silu"), (3, False, "none"), (1, False, "none")])
def test_causal_conv_with_state_matches_reference(k, past, act):
    rng = np.random.default_rng(11)
    ins = ["x", "w", "b", "past" if past else ""]
    vis = [_vi("x", [2, 3, 6]), _vi("w", [3, 1, k]), _vi("b", [3])] + ([_vi("past", [2, 3, k - 1])] if past else [])
    m = _model([helper.make_node("CausalConvWithState", ins, ["y", "state"], activation=act)], vis,
               [_vi("y", [2, 3, 6]), _vi("state", [2, 3, k - 1])], opset=27)
    feeds = {"x": rng.standard_normal((2, 3, 6)).astype(np.float32), "w": rng.standard_normal((3, 1, k)).astype(np.float32),
             "b": rng.standard_normal(3).astype(np.float32)}
    if past:
        feeds["past"] = rng.standard_normal((2, 3, k - 1)).astype(np.float32)
    _check_vs_reference(m, feeds)


@pytest.mark.parametrize("mode", ["TF", "IDF", "TFIDF"])
def test_tfidf_vectorizer_with_skips_and_weights_matches_reference(mode):
    node = helper.make_node("TfIdfVectorizer", ["x"], ["y"], mode=mode, min_gram_length=1, max_gram_length=3,
                            max_skip_count=2, ngram_counts=[0, 3, 7], ngram_indexes=[5, 1, 0, 2, 3, 4, 6, 7],
                            pool_int64s=[2, 3, 5, 2, 3, 5, 4, 3, 5, 7, 2, 5, 2, 4, 4, 3], weights=[.5, 2, 1, 3, .25, 1, 4, 1.5])
    m = _model([node], [_vi("x", [3, 9], TensorProto.INT64)], [_vi("y", [3, 8])], opset=9)
    x = np.random.default_rng(12).integers(2, 8, (3, 9)).astype(np.int64)
    _check_vs_reference(m, {"x": x})


def test_a_second_converter_for_an_op_type_is_refused():
    from graphc.onnx.convert import CONVERTERS, converter
    with pytest.raises(ValueError, match="ONNX op Max has two converters"):
        CONVERTERS["Max"] = CONVERTERS["Max"]
    with pytest.raises(ValueError, match="ONNX op Relu has two converters"):
        converter("Relu")(lambda ctx, node, ins, attrs: ins[0])
