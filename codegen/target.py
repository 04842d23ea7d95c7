"""Targets: everything graphc knows about one kind of hardware, in one object.

A `Target` holds the TVM target, the numbers schedules size their tiles by (vector width and
register count on a CPU; SMs, warp size, shared memory on a GPU), whether kernels use host memory
or can be cached on disk, its ordered schedule rules (codegen/schedule/<kind>.py) and its graph
passes. This module and the device layer (runtime/device.py) are the only places that tell "cpu"
from "cuda": adding a target means one constructor here plus its rules.
"""
import contextlib
import contextvars
import dataclasses
import functools
import os
from dataclasses import dataclass, field

import tvm
from tvm.target import codegen as llvm_info

from graphc.registry import Registry
from graphc.host import host_cpu, host_mattr
from graphc.host import num_threads  # noqa: F401  (one source of truth, shared with the runtime)

GEMM_PANEL_VECTORS = 2  # a packed GEMM panel is two vectors of float32 wide (16 columns AVX2, 32 AVX-512)


@dataclass(frozen=True, eq=False)
class Target:
    """One kind of hardware graphc compiles for (see the module docstring)."""
    kind: str                    # "cpu" | "cuda": read only by the device layer
    tvm_target: tvm.target.Target = field(repr=False)
    rules: tuple = field(default=(), repr=False)   # ScheduleRules, tried in order; the fallback last
    passes: tuple = field(default=(), repr=False)  # (name, fn(graph, fetches)) target-specific graph passes
    host_memory: bool = True     # kernels read and write host (numpy) memory
    cacheable: bool = True       # kernel libraries may be cached on disk (codegen/cache.py)
    num_threads: int = 1         # CPU threads kernels run on (the host's, for a GPU target)
    # CPU
    mcpu: str = ""
    vector_bits: int = 128       # 512 AVX-512, 256 AVX2, 128 SSE/NEON
    vector_registers: int = 16   # 32 with AVX-512
    l1_bytes: int | None = None
    l2_bytes: int | None = None
    l3_bytes: int | None = None
    # GPU
    arch: str = ""               # e.g. "sm_90"
    sm_count: int | None = None
    max_shared_memory_per_block: int | None = None
    max_dynamic_shared_memory_per_block: int | None = None   # the opt-in limit of dynamic shared memory
    max_threads_per_block: int | None = None
    warp_size: int | None = None

    def vector_lanes(self, dtype_bits):
        """How many elements of `dtype_bits` one vector register holds."""
        return max(1, self.vector_bits // dtype_bits)

    @property
    def gemm_panel_width(self):
        """Columns of a packed GEMM panel (the register tile's width): whole float32 vectors."""
        return GEMM_PANEL_VECTORS * self.vector_lanes(32)

    @property
    def accumulator_registers(self):
        """Vector registers a micro-kernel may hold accumulators in: all but 4 (for the broadcast A values
        and the B vectors being loaded)."""
        return self.vector_registers - 4

    @property
    def gemm_rows(self):
        """Most rows of a CPU GEMM register block: as many as the accumulator registers hold beside one
        panel's vectors per row (6 on AVX2, 14 on AVX-512); None on a GPU, whose rules tile products their
        own way (tensor cores want M unpadded)."""
        if self.kind != "cpu":
            return None
        return self.accumulator_registers // max(1, self.gemm_panel_width // self.vector_lanes(32))

    def gemm_tile(self, m, n, dtype_bits=32):
        """(rows, columns) of a CPU register tile that divides an M x N float32 product exactly and fills as
        many accumulators as the tall tile (gemm_rows x two vectors): rows from gemm_rows down to half of
        them, each with as many whole vectors as the accumulator registers hold (M = 128, N = 768 on AVX2:
        4 x 3 ymm); None where none does (the tall tile, M padded) or on a GPU."""
        if self.gemm_rows is None or dtype_bits != 32 or not m or m < 0 or not n or n < 0:
            return None
        lanes = self.vector_lanes(32)
        budget = self.gemm_rows * (self.gemm_panel_width // lanes)
        for rows in range(self.gemm_rows, -(-self.gemm_rows // 2) - 1, -1):
            vectors = self.accumulator_registers // rows
            if m % rows == 0 and rows * vectors >= budget and n % (vectors * lanes) == 0:
                return rows, vectors * lanes
        return None

    def has_feature(self, feature):
        """Whether this target's LLVM CPU (the host CPU of a GPU target) has a feature such as 'avx2'."""
        llvm = self.tvm_target.host or self.tvm_target
        try:
            return bool(llvm_info.llvm_cpu_has_features(feature, llvm))
        except Exception:  # older LLVM builds lack the query; assume a baseline x86-64
            return False

    def __str__(self):
        return str(self.tvm_target)




def _llvm(mcpu=None, mattr=None, threads=1):
    """The LLVM target for `mcpu` (this machine's CPU, less the features its OS hides, by default)."""
    host = {"kind": "llvm", "mcpu": mcpu or host_cpu(), "num-cores": threads}
    mattr = host_mattr() if mcpu is None and mattr is None else tuple(mattr or ())
    if mattr:  # e.g. features the CPU has but the OS leaves disabled (SIGILL if used)
        host["mattr"] = list(mattr)
    return tvm.target.Target(host)


def _host_caches():
    """(L1 data, L2, L3) bytes of this machine's CPU from Linux sysfs; None where unknown."""
    sizes = {}
    root = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in sorted(e for e in os.listdir(root) if e.startswith("index")):
            def read(name):
                with open(os.path.join(root, entry, name)) as f:
                    return f.read().strip()
            if read("type") in ("Data", "Unified"):
                size = read("size")
                unit = {"K": 1 << 10, "M": 1 << 20}.get(size[-1], 1)
                sizes[int(read("level"))] = int(size.rstrip("KM")) * unit
    except (OSError, ValueError):
        pass
    return sizes.get(1), sizes.get(2), sizes.get(3)


def _cpu_rules():
    from .schedule.cpu import CPU_RULES
    return CPU_RULES


def _cpu_passes(target):
    from graphc.passes.blocked_layout import blocked_layout
    from graphc.passes.pack_conv_weights import pack_conv_weights
    from graphc.passes.pack_weights import pack_weights
    from graphc.passes.sink_transposes import sink_transposes
    from graphc.passes.winograd import winograd
    width = target.gemm_panel_width
    # matmul weights: panels as wide as the register tile chosen for the product's shape
    matmul_width = lambda m, n, bits: (target.gemm_tile(m, n, bits) or (None, width))[1]  # noqa: E731
    # winograd first: the 3x3 stride-1 convs it takes are no longer plain convs for pack_conv_weights
    return (("sink_transposes", sink_transposes),
            ("winograd", functools.partial(winograd, panel_width=width)),
            ("blocked_layout", functools.partial(blocked_layout, block=target.vector_lanes(32))),
            ("pack_weights", functools.partial(pack_weights, panel_width=matmul_width)),
            ("pack_conv_weights", functools.partial(pack_conv_weights, panel_width=width)))


def cpu_target(mcpu=None, mattr=None):
    """A CPU target: this machine's CPU by default, or LLVM CPU `mcpu` (e.g. 'skylake-avx512', 'haswell')
    with `mattr` (e.g. ('-avx512f',)) to generate code for another machine."""
    return _cpu_target(mcpu, tuple(mattr) if mattr is not None else None, num_threads())


@functools.lru_cache(maxsize=None)
def _cpu_target(mcpu, mattr, threads):
    """cpu_target, cached per thread count too: the target's num_threads is always host.num_threads()."""
    llvm = _llvm(mcpu, mattr, threads)

    def has(feature):
        try:
            return bool(llvm_info.llvm_cpu_has_features(feature, llvm))
        except Exception:  # older LLVM builds lack the query; assume a baseline x86-64
            return False
    avx512 = has("avx512f")
    caches = _host_caches() if mcpu is None else (None, None, None)
    vector_bits = 512 if avx512 else 256 if has("avx2") else 128
    target = Target("cpu", llvm, rules=_cpu_rules(), host_memory=True, cacheable=True,
                    num_threads=threads, mcpu=str(llvm.attrs["mcpu"]), vector_bits=vector_bits,
                    vector_registers=32 if avx512 else 16,
                    l1_bytes=caches[0], l2_bytes=caches[1], l3_bytes=caches[2])
    return dataclasses.replace(target, passes=_cpu_passes(target))  # (passes size panels by the target's numbers)


_SM_COUNTS = {"sm_90": 132, "sm_89": 128, "sm_86": 84, "sm_80": 108, "sm_75": 68, "sm_70": 80}
# a block's dynamic shared memory once the kernel opts in (TVM's CUDA runtime does, by cuFuncSetAttribute)
_SM_DYNAMIC_SHARED_KIB = {"sm_90": 227, "sm_89": 99, "sm_86": 99, "sm_80": 163, "sm_75": 64, "sm_70": 96}


def _cuda_rules():
    from .schedule.cuda import CUDA_RULES
    return CUDA_RULES


def cuda_target(arch=None):
    """An NVIDIA GPU target for `arch` (GRAPHC_CUDA_ARCH, else 'sm_90'); the host code is for this CPU.
    SM count and shared memory come from the GPU when one is present, else from the architecture."""
    return _cuda_target(arch or os.environ.get("GRAPHC_CUDA_ARCH", "sm_90"), num_threads())


@functools.lru_cache(maxsize=None)
def _cuda_target(arch, threads):
    """cuda_target, cached per arch and host thread count."""
    tt = tvm.target.Target({"kind": "cuda", "arch": arch}, host=_llvm(threads=threads))
    sm_count, shared = _SM_COUNTS.get(arch), 48 << 10  # 48 KiB: a block's static shared memory limit
    dynamic_shared = _SM_DYNAMIC_SHARED_KIB.get(arch, 48) << 10
    try:
        dev = tvm.cuda(0)
        if dev.exist:
            sm_count, shared = dev.multi_processor_count, dev.max_shared_memory_per_block
    except Exception:  # a TVM build without the CUDA runtime: keep the architecture's numbers
        pass
    return Target("cuda", tt, rules=_cuda_rules(), passes=(), host_memory=False, cacheable=False,
                  num_threads=threads, mcpu=host_cpu(), arch=arch, sm_count=sm_count,
                  max_shared_memory_per_block=shared, max_dynamic_shared_memory_per_block=dynamic_shared,
                  max_threads_per_block=int(tt.attrs["max_num_threads"]),
                  warp_size=int(tt.attrs["thread_warp_size"]))


TARGET_KINDS = Registry("target kind", "constructors")
TARGET_KINDS.update({"cpu": cpu_target, "cuda": cuda_target})


def get_target(spec="cpu", **options):
    """The Target for `spec`: a Target (returned as is), 'cpu' or 'cuda'; `options` go to its constructor
    (cpu: mcpu=, mattr=; cuda: arch=). Targets are cached: the same spec gives the same object."""
    if isinstance(spec, Target):
        return spec
    try:
        make = TARGET_KINDS[spec]
    except (KeyError, TypeError):
        raise ValueError(f"unknown target {spec!r}; expected one of {sorted(TARGET_KINDS)} or a Target") from None
    if "mattr" in options and options["mattr"] is not None:
        options["mattr"] = tuple(options["mattr"])
    return make(**options)


_current = contextvars.ContextVar("graphc_target", default=None)


@contextlib.contextmanager
def lowering_for(target):
    """Within the block, current_target() is `target` (lowerings size register blocks by it)."""
    token = _current.set(target)
    try:
        yield target
    finally:
        _current.reset(token)


def current_target():
    """The Target being lowered for (lowering_for), else this machine's CPU."""
    return _current.get() or cpu_target()
