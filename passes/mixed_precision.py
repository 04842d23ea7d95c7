"""Mixed precision: float32 matmuls and convolutions (forward and backward) compute in float16 or
bfloat16; everything else (reductions, softmax, layer norm, the optimizer's updates of the float32
master weights) stays float32. graphc.train.mixed_precision asks for it; the compile driver runs it
after specialization, so the casts it adds are fused and planned like any other op.

float16 kernels compute in float16 as TVM generates them. bfloat16 is a type graphc holds as bits
(graphc/dtypes.py), so a bfloat16 product rounds its operands to bfloat16 and accumulates in float32:
the float32 values a bfloat16 GEMM with float32 accumulation and output (AVX-512 BF16's vdpbf16ps,
AMX, tensor cores) produces, on any CPU. (Rounding the result too made the rounding of one product and
that of the next product's operand fuse into one expression TVM took minutes to simplify.)
"""
from graphc import dtypes

from .rewrite import rebuild

LOW_PRECISION_OPS = ("matmul", "conv", "conv_transpose", "conv_weight_grad")


def _rounded(t, dtype):
    """`t` (float32) rounded to `dtype` and widened back to float32."""
    from graphc.ops import cast
    return cast(cast(t, dtype), dtypes.float32)


def low_precision(dtype):
    """The pass (graph, fetches) -> (graph, fetches) computing LOW_PRECISION_OPS in `dtype`."""
    from graphc.ops import cast
    low = dtypes.as_dtype(dtype)
    if low not in (dtypes.float16, dtypes.bfloat16):
        raise ValueError(f"mixed precision computes in float16 or bfloat16, not {low.name}")

    def rule(node, inputs, g):
        data = {id(t) for t in node.opdef.data_inputs(node)}
        floats = [k for k, t in enumerate(node.inputs) if id(t) in data and t.dtype == dtypes.float32]
        if node.op not in LOW_PRECISION_OPS or not floats or node.outputs[0].dtype != dtypes.float32:
            return None
        inputs = list(inputs)
        for k in floats:
            inputs[k] = cast(inputs[k], low) if low == dtypes.float16 else _rounded(inputs[k], low)
        out = g.create_node(node.op, inputs, node.attrs, node.name).outputs[0]
        return [cast(out, dtypes.float32) if low == dtypes.float16 else out]

    def mixed_precision(graph, fetches):
        return rebuild(graph, fetches, rule)
    return mixed_precision
