"""TVM targets for graphc's 'cpu' and 'cuda', detected from this machine's CPU."""
import functools
import os

import tvm
from tvm.target import codegen as llvm_info

from graphc.runtime.host import host_cpu, host_mattr
from graphc.runtime.host import num_threads  # noqa: F401  (one source of truth, shared with the runtime)


@functools.lru_cache(maxsize=None)
def make_target(kind):
    """The tvm Target for 'cpu' or 'cuda' (CUDA kernels get an LLVM host for this CPU)."""
    host = {"kind": "llvm", "mcpu": host_cpu(), "num-cores": num_threads()}
    if host_mattr():  # features the CPU has but the OS leaves disabled (SIGILL if used)
        host["mattr"] = list(host_mattr())
    if kind == "cpu":
        return tvm.target.Target(host)
    if kind == "cuda":
        arch = os.environ.get("GRAPHC_CUDA_ARCH", "sm_90")
        return tvm.target.Target({"kind": "cuda", "arch": arch}, host=host)
    raise ValueError(f"unknown target {kind!r}; expected 'cpu' or 'cuda'")


def vector_lanes(dtype_bits):
    """How many elements of `dtype_bits` one vector register of this CPU holds."""
    width = 512 if host_supports("avx512f") else 256 if host_supports("avx2") else 128
    return max(1, width // dtype_bits)


@functools.lru_cache(maxsize=None)
def host_supports(feature):
    """Whether this machine's CPU has an LLVM feature such as 'avx2' or 'avx512f'."""
    try:
        return bool(llvm_info.llvm_cpu_has_features(feature, make_target("cpu")))
    except Exception:  # older LLVM builds lack the query; assume a baseline x86-64
        return False
