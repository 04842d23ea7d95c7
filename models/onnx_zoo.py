"""Reference networks built as ONNX models with seeded random weights (no download): the MLP,
ResNet-18 and a BERT-mini encoder used by benchmarks and tests, identical for every runner."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class _Builder:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, base):
        self.count += 1
        return f"{base}_{self.count}"

    def weight(self, shape, scale=None, base="w"):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        scale = np.sqrt(2.0 / fan_in) if scale is None else scale
        return self.const((self.rng.standard_normal(shape) * scale).astype(np.float32), base)

    def const(self, value, base="c"):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def op(self, op_type, inputs, n_out=1, **attrs):
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    def model(self, inputs, outputs, name):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="graphc.models")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def mlp(sizes=(784, 512, 512, 10), batch=None, seed=0):
    """Dense layers with ReLU between them (MatMul + Add), softmax-free logits out."""
    b = _Builder(seed)
    x = "x"
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        x = b.op("Add", [b.op("MatMul", [x, b.weight((n_in, n_out))]), b.const(np.zeros(n_out, np.float32), "b")])
        if i < len(sizes) - 2:
            x = b.op("Relu", [x])
    b.nodes[-1].output[0] = "logits"
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, sizes[0]])],
                   [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, sizes[-1]])], "mlp")


def _conv_bn(b, x, c_in, c_out, k, stride, relu=True):
    y = b.op("Conv", [x, b.weight((c_out, c_in, k, k))], kernel_shape=[k, k], strides=[stride, stride],
             pads=[k // 2] * 4)
    gamma = b.const(b.rng.uniform(0.5, 1.5, c_out).astype(np.float32), "gamma")
    beta = b.const(b.rng.uniform(-0.1, 0.1, c_out).astype(np.float32), "beta")
    mean = b.const(b.rng.uniform(-0.1, 0.1, c_out).astype(np.float32), "mean")
    var = b.const(b.rng.uniform(0.5, 1.5, c_out).astype(np.float32), "var")
    y = b.op("BatchNormalization", [y, gamma, beta, mean, var], epsilon=1e-5)
    return b.op("Relu", [y]) if relu else y


def resnet18(batch=1, num_classes=1000, image=224, seed=0):
    """ResNet-18 (basic blocks 2-2-2-2) in NCHW with batch norm, as torchvision defines it."""
    b = _Builder(seed)
    x = _conv_bn(b, "x", 3, 64, 7, 2)
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    c_in = 64
    for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            s = stride if block == 0 else 1
            y = _conv_bn(b, x, c_in, c_out, 3, s)
            y = _conv_bn(b, y, c_out, c_out, 3, 1, relu=False)
            shortcut = _conv_bn(b, x, c_in, c_out, 1, s, relu=False) if (s != 1 or c_in != c_out) else x
            x = b.op("Relu", [b.op("Add", [y, shortcut])])
            c_in = c_out
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    b.op("Gemm", [x, b.weight((num_classes, 512), 0.05), b.const(np.zeros(num_classes, np.float32), "fc_b")],
         transB=1)
    b.nodes[-1].output[0] = "logits"
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, image, image])],
                   [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, num_classes])], "resnet18")


def _layer_norm(b, x, d):
    return b.op("LayerNormalization", [x, b.const(np.ones(d, np.float32), "ln_g"),
                                       b.const(np.zeros(d, np.float32), "ln_b")], axis=-1, epsilon=1e-5)


def _dense(b, x, n_in, n_out):
    return b.op("Add", [b.op("MatMul", [x, b.weight((n_in, n_out), 0.02)]),
                        b.const(b.rng.uniform(-0.02, 0.02, n_out).astype(np.float32), "bias")])


def bert_encoder(layers=4, d=256, heads=4, ffn=1024, seq=128, batch=1, seed=0):
    """A BERT-mini encoder stack over input embeddings [batch, seq, d]: self-attention and GELU FFN,
    post-layer-norm residuals (as BERT)."""
    b = _Builder(seed)
    dh = d // heads
    x = "x"
    split_heads = b.const(np.array([batch, seq, heads, dh], np.int64), "shape")
    merge_heads = b.const(np.array([batch, seq, d], np.int64), "shape")
    scale = b.const(np.array(1.0 / np.sqrt(dh), np.float32), "scale")
    for _ in range(layers):
        def heads_of(t, perm):
            return b.op("Transpose", [b.op("Reshape", [t, split_heads])], perm=perm)
        q = heads_of(_dense(b, x, d, d), [0, 2, 1, 3])
        k = heads_of(_dense(b, x, d, d), [0, 2, 3, 1])
        v = heads_of(_dense(b, x, d, d), [0, 2, 1, 3])
        probs = b.op("Softmax", [b.op("Mul", [b.op("MatMul", [q, k]), scale])], axis=-1)
        ctx = b.op("Reshape", [b.op("Transpose", [b.op("MatMul", [probs, v])], perm=[0, 2, 1, 3]), merge_heads])
        x = _layer_norm(b, b.op("Add", [x, _dense(b, ctx, d, d)]), d)
        h = _dense(b, x, d, ffn)
        # GELU, exact: 0.5 * h * (1 + erf(h / sqrt(2)))
        gelu = b.op("Mul", [b.op("Mul", [h, b.const(np.array(0.5, np.float32), "half")]),
                            b.op("Add", [b.op("Erf", [b.op("Div", [h, b.const(np.array(np.sqrt(2.0), np.float32), "rt2")])]),
                                         b.const(np.array(1.0, np.float32), "one")])])
        x = _layer_norm(b, b.op("Add", [x, _dense(b, gelu, ffn, d)]), d)
    b.nodes[-1].output[0] = "hidden"
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, seq, d])],
                   [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [batch, seq, d])], "bert_mini")
