"""The CUDA backend without a GPU: every op compiles for sm_80 and sm_90 within the GPU's limits, and the
generated CUDA C has the structure its schedule promises (shared-memory tiles and register accumulators
for matmul, reductions spread over threads)."""
import re

import numpy as np
import pytest

import graphc
from graphc.codegen.schedule.cuda import fits_gpu
from graphc.codegen.target import get_target
from graphc.registry import Pattern, all_ops, get_op

from test_cli import graphc_cli

KERNEL_OPS = sorted(name for name, op in all_ops().items() if op.pattern != Pattern.SOURCE and not op.stateful)
# one op per family for sm_90 in `make test`; every op for both archs in `make test-slow`
REPRESENTATIVE = ["add", "matmul", "conv", "max_pool", "sum", "softmax", "gather", "top_k"]
ARCHS = ["sm_80", "sm_90"]


def compile_example(name, arch):
    """Compile op `name`'s first registry example for CUDA `arch`; returns the Executable."""
    from graphc.passes.specialize import specialize
    from graphc.runtime.compiler import compile_graph
    ex = get_op(name).examples(np.random.default_rng(0))[0]
    g = graphc.Graph()
    with g.as_default():
        phs = [graphc.placeholder(a.dtype, a.shape) for a in ex.inputs]
        node = g.create_node(name, phs, ex.attrs)
    spec, mapping, _ = specialize(list(node.outputs), {p: (a.shape, graphc.as_dtype(a.dtype))
                                                       for p, a in zip(phs, ex.inputs)})
    return compile_graph(spec, [mapping[id(t)] for t in node.outputs], target=get_target("cuda", arch=arch),
                         opt_level=0)


def check_op(name, arch):
    exe = compile_example(name, arch)
    target = get_target("cuda", arch=arch)
    for k in exe.kernels_info:
        assert fits_gpu(k.func, target), f"{name}: kernel {k.name} breaks the {arch} limits"
    assert "__global__" in exe.inspect_source()


QUICK = [(name, "sm_90") for name in REPRESENTATIVE]


@pytest.mark.parametrize("name,arch", QUICK)
def test_op_family_compiles_within_gpu_limits(name, arch):
    check_op(name, arch)


@pytest.mark.slow
@pytest.mark.parametrize("name,arch", [(n, a) for n in KERNEL_OPS for a in ARCHS if (n, a) not in QUICK])
def test_every_op_compiles_within_gpu_limits(name, arch):
    check_op(name, arch)


def cuda_source(fetch, feeds):
    return graphc.compile(fetch, feeds, target="cuda").inspect_source()


def launch_threads(src):
    """Threads per block of each kernel, from its __launch_bounds__."""
    return [int(n) for n in re.findall(r"__launch_bounds__\((\d+)\)", src)]


def test_matmul_stages_tiles_in_shared_memory_and_accumulates_in_registers():
    x, w = graphc.placeholder("float32", [512, 256]), graphc.placeholder("float32", [256, 384])
    src = cuda_source(graphc.relu(graphc.matmul(x, w)), {x: ((512, 256), "float32"), w: ((256, 384), "float32")})
    assert len(re.findall(r"__shared__ .*float \w+\[\d+\]", src)) >= 2  # a tile of each operand
    assert re.search(r"\bfloat\d? \w*local\w*\[\d+\];", src)  # per-thread accumulators (registers)
    assert src.count("__global__") == 2 and "max(" in src  # the relu epilogue stays in the GEMM kernel
    assert re.search(r"__syncthreads\(\)", src)


def test_full_reduction_spreads_over_threads():
    x = graphc.placeholder("float32", [3000, 4000])
    src = cuda_source(graphc.reduce_sum(x), {x: ((3000, 4000), "float32")})
    assert min(launch_threads(src)) >= 32  # never one thread
    assert "__shfl" in src or "red_buf" in src


def test_row_reductions_use_a_block_per_row():
    x = graphc.placeholder("float32", [8, 4096])
    for fetch in (graphc.nn.softmax(x), graphc.reduce_max(x, axis=1)):
        src = cuda_source(fetch, {x: ((8, 4096), "float32")})
        assert min(launch_threads(src)) >= 32 and ("__shfl" in src or "red_buf" in src), src[-2000:]


def test_conv_kernel_is_threaded_and_fits():
    x, w = graphc.placeholder("float32", [1, 16, 32, 32]), graphc.placeholder("float32", [32, 16, 3, 3])
    exe = graphc.compile(graphc.relu(graphc.conv(x, w, pads=[1, 1, 1, 1])), {x: ((1, 16, 32, 32), "float32"), w: ((32, 16, 3, 3), "float32")}, target="cuda")
    src = exe.inspect_source()
    assert min(launch_threads(src)) >= 32
    assert all(fits_gpu(k.func, get_target("cuda")) for k in exe.kernels_info)


def test_inspect_source_gives_llvm_ir_on_cpu():
    x = graphc.placeholder("float32", [64])
    src = graphc.compile(graphc.exp(x), {x: ((64,), "float32")}, target="cpu").inspect_source()
    assert "define" in src


def test_cli_compile_emits_cuda_source(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    node = helper.make_node("Relu", ["x"], ["y"])
    model = helper.make_model(helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])]), opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "m.onnx")
    graphc_cli("compile", tmp_path / "m.onnx", "-o", tmp_path / "m.gca", "--target", "cuda",
               "--emit-source", tmp_path / "m.cu")
    assert "__global__" in (tmp_path / "m.cu").read_text()
