"""Targets (codegen/target.py) and the schedule-rule contract (codegen/schedule/rule.py)."""
import dataclasses

import numpy as np
import pytest
import tvm

import graphc as gc
from graphc.codegen.build import lower_group, schedule_kernel
from graphc.codegen.schedule import kinds, sblocks
from graphc.codegen.schedule.rule import ScheduleRule, schedule
from graphc.codegen.target import Target, get_target
from graphc.errors import CompileError


def _matmul_kernel(target, m=64):
    x = gc.placeholder(gc.float32, [m, 64], name="x")
    w = gc.placeholder(gc.float32, [64, 48], name="w")
    y = gc.matmul(x, w)
    return lower_group("k0", [y.node], {id(y)}, target), (x, w, y)


def test_get_target_is_cached_and_refuses_unknown_kinds():
    cpu = get_target("cpu")
    assert get_target("cpu") is cpu and get_target(cpu) is cpu
    assert cpu.host_memory and cpu.cacheable and cpu.rules and cpu.vector_bits in (128, 256, 512)
    assert [name for name, _ in cpu.passes] == ["sink_transposes", "winograd", "blocked_layout", "pack_weights",
                                                 "pack_conv_weights"]
    with pytest.raises(ValueError, match="unknown target 'tpu'"):
        get_target("tpu")


def test_target_threads_follow_the_host_thread_count(monkeypatch):
    from graphc.host import num_threads
    for n in ("1", "3"):
        monkeypatch.setenv("TVM_NUM_THREADS", n)
        target = get_target("cpu")
        assert target.num_threads == num_threads() == int(n)
        assert int(target.tvm_target.attrs["num-cores"]) == int(n)


def test_cross_compiled_cpu_targets_take_their_isa():
    avx512 = get_target("cpu", mcpu="skylake-avx512")
    avx2 = get_target("cpu", mcpu="haswell")
    assert (avx512.vector_bits, avx512.vector_registers) == (512, 32)
    assert (avx2.vector_bits, avx2.vector_registers) == (256, 16)
    assert get_target("cpu", mcpu="skylake-avx512", mattr=["-avx512f"]).vector_bits == 256


def test_avx512_code_is_generated_on_any_machine():
    target = get_target("cpu", mcpu="skylake-avx512")
    kernel, _ = _matmul_kernel(target)
    schedule_kernel(kernel, target)
    lib = tvm.compile(tvm.IRModule({"k0": kernel.func}), target=target.tvm_target)
    assert "zmm" in lib.mod.inspect_source("asm")


def test_cuda_target_describes_the_gpu():
    cuda = get_target("cuda")
    assert not cuda.host_memory and not cuda.cacheable and cuda.passes == ()
    assert cuda.arch.startswith("sm_") and cuda.warp_size == 32 and cuda.max_threads_per_block >= 256
    assert cuda.sm_count and cuda.max_shared_memory_per_block >= 48 << 10


def test_lowerings_annotate_what_they_produce():
    kernel, _ = _matmul_kernel("cpu", m=67)  # (a prime M: A padded to whole register tiles, a PACK block)
    sch = tvm.s_tir.Schedule(kernel.func)
    assert {kinds.kind_of(sch, b) for b in sblocks(sch)} >= {kinds.GEMM, kinds.PACK}


def test_rules_are_tried_in_order_and_none_means_not_applicable():
    seen = []

    class Declines(ScheduleRule):
        name = "declines"

        def apply(self, func, target):
            seen.append(self.name)

    class Takes(ScheduleRule):
        name = "takes"

        def apply(self, func, target):
            seen.append(self.name)
            return tvm.s_tir.Schedule(func)
    kernel, _ = _matmul_kernel("cpu")
    target = dataclasses.replace(get_target("cpu"), rules=(Declines(), Takes()))
    assert schedule(kernel.func, target) is not None and seen == ["declines", "takes"]
    with pytest.raises(CompileError, match="no schedule rule"):
        schedule(kernel.func, dataclasses.replace(target, rules=(Declines(),)))


def test_a_session_compiles_for_a_target_object(rng):
    target = get_target("cpu", mcpu="haswell")  # AVX2: runs on any x86-64 machine graphc supports
    assert isinstance(target, Target)
    x = gc.placeholder(gc.float32, [32, 24], name="x")
    w = rng.standard_normal((24, 40)).astype("float32")
    y = gc.relu(gc.matmul(x, gc.constant(w)))
    xv = rng.standard_normal((32, 24)).astype("float32")
    exe = gc.compile(y, {x: xv}, target=target)
    np.testing.assert_allclose(exe.run([xv])[0], np.maximum(xv @ w, 0), rtol=1e-4, atol=1e-4)
