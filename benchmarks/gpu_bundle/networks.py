"""The bundle's networks as ONNX models (models/onnx_zoo.py's builders and a MobileNet-style depthwise network),
their weights as graph inputs, and a PyTorch runner of the same ONNX graph. Imported by build.py here and by
check.py on the GPU machine (numpy and onnx only; torch for the runner): both sides build a model from the
same seed, so the weights are made on the GPU machine instead of carried."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

from models import onnx_zoo

BATCHES = (1, 64)


def _conv_bn_relu(b, x, c_in, c_out, k, stride, groups=1):
    """Conv (no bias) + batch norm + ReLU, as MobileNet's layers."""
    y = b.op("Conv", [x, b.weight((c_out, c_in // groups, k, k))], kernel_shape=[k, k], strides=[stride, stride],
             pads=[k // 2] * 4, group=groups)
    stats = [b.const(b.rng.uniform(lo, hi, c_out).astype(np.float32), n)
             for n, lo, hi in (("gamma", 0.5, 1.5), ("beta", -0.1, 0.1), ("mean", -0.1, 0.1), ("var", 0.5, 1.5))]
    return b.op("Relu", [b.op("BatchNormalization", [y] + stats, epsilon=1e-5)])


def mobilenet(batch=1, num_classes=1000, image=224, seed=0):
    """MobileNet-v1-style: a 3x3 stem, then depthwise 3x3 + pointwise 1x1 blocks, global pooling, a classifier."""
    b = onnx_zoo._Builder(seed)
    x = _conv_bn_relu(b, "x", 3, 32, 3, 2)
    c_in = 32
    for c_out, stride in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                          (1024, 2), (1024, 1)):
        x = _conv_bn_relu(b, x, c_in, c_in, 3, stride, groups=c_in)   # depthwise
        x = _conv_bn_relu(b, x, c_in, c_out, 1, 1)                     # pointwise
        c_in = c_out
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    b.op("Gemm", [x, b.weight((num_classes, c_in), 0.05), b.const(np.zeros(num_classes, np.float32), "fc_b")],
         transB=1)
    b.nodes[-1].output[0] = "logits"
    return b.model([helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, image, image])],
                   [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, num_classes])], "mobilenet")


MODELS = {"resnet18": onnx_zoo.resnet18, "bert_mini": onnx_zoo.bert_encoder, "mobilenet": mobilenet}
INPUT_SCALE = {"resnet18": 1.0, "bert_mini": 1.0, "mobilenet": 1.0}


def is_weight(init):
    """Whether an initializer is a weight fed at run time (float, at least one dimension); shapes and
    scalars stay constants in the artifact."""
    return init.data_type == TensorProto.FLOAT and len(init.dims) >= 1


def with_weights_as_inputs(model):
    """`model` with its weights moved from initializers to graph inputs (in place); returns it."""
    g = model.graph
    weights = [init for init in g.initializer if is_weight(init)]
    kept = [init for init in g.initializer if not is_weight(init)]
    g.input.extend(helper.make_tensor_value_info(w.name, w.data_type, list(w.dims)) for w in weights)
    del g.initializer[:]
    g.initializer.extend(kept)
    return model


def weights(name):
    """{weight name: array} of model `name`, the same for every batch size (drawn from its seed)."""
    return {init.name: numpy_helper.to_array(init) for init in MODELS[name](batch=1).graph.initializer
            if is_weight(init)}


def torch_runner(model, weights, device="cuda"):
    """A function x -> output that runs ONNX `model`'s nodes with PyTorch ops, `weights` ({name: array})
    and the model's other initializers on `device`: the same network and weights as the graphc case."""
    import torch
    import torch.nn.functional as F

    consts = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()).to(device) for i in model.graph.initializer}
    consts.update({k: torch.from_numpy(v).to(device) for k, v in weights.items()})
    nodes = [(n.op_type, list(n.input), n.output[0], {a.name: helper.get_attribute_value(a) for a in n.attribute})
             for n in model.graph.node]
    out_name = model.graph.output[0].name

    def conv(x, w, a):
        pads = a.get("pads", [0, 0, 0, 0])
        return F.conv2d(x, w, None, a.get("strides", 1), (pads[0], pads[1]), 1, a.get("group", 1))

    ops = {
        "Conv": lambda i, a: conv(i[0], i[1], a),
        "BatchNormalization": lambda i, a: F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0, a["epsilon"]),
        "Relu": lambda i, a: torch.relu(i[0]),
        "Add": lambda i, a: i[0] + i[1], "Mul": lambda i, a: i[0] * i[1], "Div": lambda i, a: i[0] / i[1],
        "Erf": lambda i, a: torch.erf(i[0]), "MatMul": lambda i, a: torch.matmul(i[0], i[1]),
        "Softmax": lambda i, a: torch.softmax(i[0], a.get("axis", -1)),
        "Transpose": lambda i, a: i[0].permute(*a["perm"]),
        "LayerNormalization": lambda i, a: F.layer_norm(i[0], i[1].shape, i[1], i[2], a["epsilon"]),
        "MaxPool": lambda i, a: F.max_pool2d(i[0], a["kernel_shape"], a["strides"], a["pads"][:2]),
        "GlobalAveragePool": lambda i, a: i[0].mean((2, 3), keepdim=True),
        "Flatten": lambda i, a: i[0].flatten(a.get("axis", 1)),
        "Gemm": lambda i, a: F.linear(i[0], i[1] if a.get("transB") else i[1].t(), i[2]),
    }
    # shape inputs are read once, here, not on every call (they would sync the GPU)
    shapes = {n: [int(d) for d in t.tolist()] for n, t in consts.items() if t.dtype == torch.int64}

    def run(x):
        env = dict(consts)
        env[model.graph.input[0].name] = x
        for op, ins, out, attrs in nodes:
            if op == "Reshape":
                env[out] = env[ins[0]].reshape(shapes[ins[1]])
            else:
                env[out] = ops[op]([env[i] for i in ins], attrs)
        return env[out_name]
    return run
