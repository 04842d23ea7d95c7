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

KERNEL_OPS = sorted(name for name, op in all_ops().items()
                    if op.pattern != Pattern.SOURCE and not op.stateful and not op.host)  # host ops: CPU only
# one op per family for sm_90 in `make test`; every op for both archs in `make test-slow`
REPRESENTATIVE = ["add", "matmul", "conv", "max_pool", "sum", "softmax", "gather", "top_k"]
ARCHS = ["sm_80", "sm_90"]


def run_probe(code):
    """(stdout stripped, the tail of stderr) of `code` run by a fresh Python: what a new process imports."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    return out.stdout.strip(), out.stderr[-2000:]


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
    assert src.count("__global__") == 2
    gemm = [k for k in src.split("__global__")[1:] if "__shared__" in k]
    assert gemm and ("?" in gemm[0] or "max(" in gemm[0])  # the relu epilogue (a select) stays in the GEMM kernel
    assert re.search(r"__syncthreads\(\)", src)


def kernel_bodies(src):
    """{kernel name: its CUDA body} of every __global__ kernel defined in `src`."""
    parts = re.split(r'extern "C" __global__ void __launch_bounds__\(\d+\) (\w+)\([^)]*\) \{', src)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.parametrize("reduce", [graphc.reduce_sum, graphc.reduce_mean, graphc.reduce_max])
def test_full_reduction_runs_in_two_stages(reduce):
    x = graphc.placeholder("float32", [3000, 4000])   # 12M values, as in the seed snippet
    src = cuda_source(reduce(x), {x: ((3000, 4000), "float32")})
    bodies = kernel_bodies(src)
    assert min(launch_threads(src)) >= 32  # never one thread
    # stage 1: blocks (blockIdx.x) each reduce a coalesced slice of the input into a partial, with warp shuffles
    stage1 = [b for b in bodies.values() if "in0_ptr[" in b]
    assert len(stage1) == 1 and "blockIdx.x" in stage1[0] and "__shfl" in stage1[0]
    # stage 2: one block of threads combines the partials (a second kernel, also with shuffles)
    assert sum("__shfl" in b for b in bodies.values()) == 2


@pytest.mark.parametrize("shape,axis,np_reduce", [((3000, 4000), None, np.sum), ((3, 100003), 1, np.max)])
def test_two_stage_reduction_indexing_on_cpu(shape, axis, np_reduce):
    """The two-stage schedule's loops (strided slices, per-thread sums, partials) left serial and run by
    LLVM: the GPU is not the first to test its indexing (a length that the tiles do not divide)."""
    import tvm
    from tvm import te
    from graphc.codegen.schedule import is_reduction, sblocks
    from graphc.codegen.schedule.cuda import two_stage_reduction
    xt = te.placeholder(shape, "float32", name="x")
    if axis is None:
        i, j = te.reduce_axis((0, shape[0])), te.reduce_axis((0, shape[1]))
        out = te.compute((), lambda: te.sum(xt[i, j], axis=[i, j]), name="s")
        out = te.compute((), lambda: out[()] * 0.5, name="half")   # a 0-d epilogue
    else:
        k = te.reduce_axis((0, shape[1]))
        out = te.compute((shape[0],), lambda i: te.max(xt[i, k], axis=k), name="m")
    sch = tvm.s_tir.Schedule(te.create_prim_func([xt, out]))
    two_stage_reduction(sch, next(b for b in sblocks(sch) if is_reduction(sch, b)), 512, 256, bind=False)
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    got = tvm.runtime.tensor(np.zeros(tuple(int(d) for d in out.shape), "float32"))
    tvm.build(sch.mod, target="llvm")(tvm.runtime.tensor(x), got)
    want = np_reduce(x.astype("float64"), axis=axis) * (0.5 if axis is None else 1)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-3)


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


# ---- GPU memory: one device arena, variables on the device, no host round-trips or syncs -------------

def mlp_train_graph(seed=0):
    """A two-layer MLP, its loss and an SGD step (assign ops) on Variables: (graph, x, y, loss, train_op)."""
    rng = np.random.default_rng(seed)
    g = graphc.Graph()
    with g.as_default():
        x, y = graphc.placeholder("float32", [16, 32], name="x"), graphc.placeholder("float32", [16, 8], name="y")
        w0 = graphc.Variable(rng.standard_normal((32, 64)).astype("float32") * 0.2, name="w0")
        w1 = graphc.Variable(rng.standard_normal((64, 8)).astype("float32") * 0.2, name="w1")
        out = graphc.matmul(graphc.relu(graphc.matmul(x, w0)), w1)
        loss = graphc.reduce_mean(graphc.square(out - y))
        train_op = graphc.train.GradientDescentOptimizer(0.1).minimize(loss)
    return g, x, y, loss, train_op


def test_cuda_plan_has_one_device_arena_and_updates_variables_on_the_device():
    from graphc.runtime.plan import TEMP, VARIABLE
    g, x, y, loss, train_op = mlp_train_graph()
    with g.as_default(), graphc.Session(target="cuda") as sess:
        exe = sess.compiled([train_op, loss], {x: np.zeros((16, 32), "float32"), y: np.zeros((16, 8), "float32")})
    plan = exe.plan
    assert plan.target == "cuda" and plan.arena_bytes > 0
    fetched = set(plan.fetches)
    temps = [b for b in plan.buffers if b.kind == TEMP and b.id not in fetched]
    assert temps and all(b.offset >= 0 and b.offset + b.nbytes <= plan.arena_bytes for b in temps)
    variables = {b.id: b.var_name for b in plan.buffers if b.kind == VARIABLE}
    assert sorted(variables.values()) == ["w0", "w1"] and plan.variable_reads == ["w0", "w1"]
    written = {i for c in plan.calls for i in c.args[c.num_inputs:]}
    assert set(variables) <= written  # the SGD updates are kernels writing the variables' device buffers
    assert not any(c.host_op for c in plan.calls)  # nothing runs on the host between kernels


class _SyncCounter:
    """A device that counts synchronizations."""

    def __init__(self, device):
        self.device, self.syncs = device, 0

    def sync(self):
        self.syncs += 1
        self.device.sync()


def test_device_memory_path_matches_cpu_without_syncs(monkeypatch):
    """The executor's device path (one DeviceArena with views at offsets, variables as device tensors, feeds
    copied in and fetches copied out) run on TVM's CPU device gives the host path's results exactly."""
    from graphc import tvm_runtime
    from graphc.runtime import executor as executor_module
    rng = np.random.default_rng(1)
    feeds = [(rng.standard_normal((16, 32)).astype("float32"), rng.standard_normal((16, 8)).astype("float32"))
             for _ in range(3)]

    def train(device_path):
        g, x, y, loss, train_op = mlp_train_graph()
        if device_path:
            monkeypatch.setattr(executor_module, "host_memory", lambda target: False)
        try:
            with g.as_default(), graphc.Session(target="cpu") as sess:
                sess.run(graphc.global_variables_initializer())
                exe = sess.compiled([train_op, loss], {x: feeds[0][0], y: feeds[0][1]})
                executor = exe.executor
                assert executor.on_cpu is not device_path
                counter = executor.device = _SyncCounter(executor.device)
                losses = [sess.run([train_op, loss], {x: a, y: b})[1] for a, b in feeds]
                assert counter.syncs == 0
                if device_path:
                    arena = executor.arena
                    assert isinstance(arena, tvm_runtime.DeviceArena)
                    base = arena.base.data_ptr()
                    planned = [b for b in exe.plan.buffers if b.offset >= 0]
                    assert planned and all(executor.buffers[b.id].data_ptr() == base + b.offset for b in planned)
                    assert all(not isinstance(sess.variables[n], np.ndarray) for n in ("w0", "w1"))
                return losses, [tvm_runtime.to_numpy(sess.variables[n]) for n in ("w0", "w1")]
        finally:
            monkeypatch.undo()

    host_losses, host_weights = train(False)
    dev_losses, dev_weights = train(True)
    assert host_losses[0] > host_losses[-1]  # it trains
    for a, b in zip(host_losses + host_weights, dev_losses + dev_weights):
        np.testing.assert_array_equal(a, b)


def test_device_arena_views_are_aligned_ranges_of_one_allocation():
    from graphc import tvm_runtime
    arena = tvm_runtime.DeviceArena(4096, tvm_runtime.device("cpu"))
    a = arena.view(0, (4, 8), "float32")
    b = arena.view(128, (16,), "float32")
    tvm_runtime.copy_from(b, np.arange(16, dtype="float32"))
    np.testing.assert_array_equal(tvm_runtime.to_numpy(arena.view(128, (4, 4), "float32")).ravel(), np.arange(16))
    assert b.data_ptr() - a.data_ptr() == 128 and tuple(a.shape) == (4, 8)
    for offset, shape in ((100, (4,)), (4032, (32,)), (-64, (1,))):
        with pytest.raises(ValueError, match="64-byte aligned range"):
            arena.view(offset, shape, "float32")


def test_gpu_verification_rejects_a_kernel_over_the_limits_without_loading_tensor_intrinsics():
    import dataclasses
    x, w = graphc.placeholder("float32", [512, 256]), graphc.placeholder("float32", [256, 384])
    exe = graphc.compile(graphc.matmul(x, w), {x: ((512, 256), "float32"), w: ((256, 384), "float32")},
                         target="cuda")
    target = get_target("cuda")
    threads = max(launch_threads(exe.inspect_source()))
    assert all(fits_gpu(k.func, target) for k in exe.kernels_info)
    small = dataclasses.replace(target, max_threads_per_block=threads // 2)
    assert not any(fits_gpu(k.func, small) for k in exe.kernels_info)
    tiny_smem = dataclasses.replace(target, max_shared_memory_per_block=1024)
    assert not any(fits_gpu(k.func, tiny_smem) for k in exe.kernels_info)
    # meta_schedule's TuneContext would import tvm.s_tir.tensor_intrin (minutes of TVMScript parsing)
    out, err = run_probe("import graphc; from graphc.codegen.schedule.cuda import fits_gpu; "
                         "from graphc.codegen.target import get_target; import sys, tvm; from tvm import te; "
                         "a = te.placeholder((64,)); f = te.create_prim_func([a, te.compute((64,), lambda i: a[i] * 2)]); "
                         "fits_gpu(f, get_target('cuda')); print('tvm.s_tir.tensor_intrin' in sys.modules)")
    assert out == "False", err


def test_a_feed_already_on_the_device_is_bound_without_a_copy():
    from graphc import tvm_runtime
    x, w = graphc.placeholder("float32", [4, 8]), graphc.placeholder("float32", [8, 3])
    exe = graphc.compile(graphc.matmul(x, w), {x: ((4, 8), "float32"), w: ((8, 3), "float32")})
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((4, 8)).astype("float32"), rng.standard_normal((8, 3)).astype("float32")
    on_device = tvm_runtime.tensor(b, tvm_runtime.device("cpu"))
    np.testing.assert_allclose(exe.run([a, on_device])[0], a @ b, rtol=1e-5)
    with pytest.raises(ValueError, match=r"expected float32\[8, 3\]"):
        exe.run([a, tvm_runtime.tensor(a, tvm_runtime.device("cpu"))])


def test_tensor_intrinsics_load_only_for_float16_products():
    """TVM's tensor intrinsics take minutes to register (~250 TVMScript functions): compiling float32
    products or float16 elementwise kernels for CUDA never loads them."""
    out, err = run_probe(
        "import sys, graphc; x = graphc.placeholder('float32', [256, 256]); h = graphc.placeholder('float16', [256]); "
        "src = graphc.compile(graphc.matmul(x, x), {x: ((256, 256), 'float32')}, target='cuda').inspect_source(); "
        "graphc.compile(graphc.exp(h), {h: ((256,), 'float16')}, target='cuda'); "
        "print('__shared__' in src, 'tvm.s_tir.tensor_intrin' in sys.modules)")
    assert out == "True False", err


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
def test_float16_matmul_runs_on_tensor_cores(arch, tmp_path):
    """A float16 matmul (+ relu) for sm_80/sm_90: WMMA fragments (wmma::mma_sync) fed from shared memory,
    within the GPU's limits, and nvcc compiles the source for the arch (when nvcc is installed)."""
    import shutil
    import subprocess
    x, w = graphc.placeholder("float16", [1024, 512]), graphc.placeholder("float16", [512, 768])
    exe = graphc.compile(graphc.relu(graphc.matmul(x, w)), {x: ((1024, 512), "float16"), w: ((512, 768), "float16")},
                         target=get_target("cuda", arch=arch))
    src = exe.inspect_source()
    assert "wmma::mma_sync" in src and "wmma::load_matrix_sync" in src and "extern __shared__" in src
    target = get_target("cuda", arch=arch)
    assert all(fits_gpu(k.func, target, target.max_dynamic_shared_memory_per_block) for k in exe.kernels_info)
    if shutil.which("nvcc"):
        (tmp_path / "k.cu").write_text(src)
        got = subprocess.run(["nvcc", f"-arch={arch}", "-cubin", "-o", str(tmp_path / "k.cubin"), str(tmp_path / "k.cu")],
                             capture_output=True, text=True, timeout=600)
        assert got.returncode == 0, got.stderr[-3000:]


def test_device_memory_path_reads_index_checks(monkeypatch):
    """An index check's result is read back from device memory: a bad index is still an error naming it."""
    from graphc.errors import InvalidArgumentError
    from graphc.runtime import executor as executor_module
    monkeypatch.setattr(executor_module, "host_memory", lambda target: False)
    params, idx = graphc.placeholder("float32", [5, 3]), graphc.placeholder("int32", [4])
    exe = graphc.compile(graphc.gather(params, idx), {params: ((5, 3), "float32"), idx: ((4,), "int32")})
    p = np.arange(15, dtype="float32").reshape(5, 3)
    assert not exe.executor.on_cpu
    np.testing.assert_array_equal(exe.run([p, np.array([4, 0, 2, 2], "int32")])[0], p[[4, 0, 2, 2]])
    with pytest.raises(InvalidArgumentError, match="7"):
        exe.run([p, np.array([0, 7, 1, 1], "int32")])
