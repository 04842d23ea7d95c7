"""This machine's CPU as LLVM should target it: the CPU name LLVM detects, less the features the OS hides.

LLVM names the CPU from cpuid (e.g. 'znver4'), but a hypervisor may leave AVX-512 state disabled, so
code using every feature of that CPU dies with SIGILL. The kernels (codegen) and the artifact check
(runtime) both take the host's features from here, below both.
"""
import functools
import os

# ISA extensions whose LLVM feature names match /proc/cpuinfo flags once '_', '.' and '-' are dropped
_CHECKED_PREFIXES = ("avx", "amx", "gfni", "vaes", "vpclmulqdq", "fma", "f16c", "sha")


# LLVM name -> /proc/cpuinfo name where the two differ
_CPUINFO_NAMES = {"sha": "shani", "bmi": "bmi1", "sse3": "pni", "pclmul": "pclmulqdq", "lzcnt": "abm"}
# the instruction-set features an artifact's kernels may need, checked at load against /proc/cpuinfo
_ISA_PREFIXES = _CHECKED_PREFIXES + ("sse", "ssse3", "bmi", "popcnt", "movbe", "adx", "aes", "pclmul", "lzcnt")


def num_threads():
    """Threads kernels run on by default: TVM_NUM_THREADS if set, else every core this process may use."""
    env = os.environ.get("TVM_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _norm(name):
    return name.replace("_", "").replace(".", "").replace("-", "").lower()


@functools.lru_cache(maxsize=None)
def _os_cpu_flags():
    """The CPU flags the OS reports (Linux /proc/cpuinfo), or None where it cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(_norm(x) for x in line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def llvm_features(mcpu, mattr=()):
    """LLVM's enabled feature names for CPU `mcpu` with `mattr` applied."""
    import tvm
    from tvm.target import codegen
    target = {"kind": "llvm", "mcpu": mcpu}
    if mattr:
        target["mattr"] = list(mattr)
    return sorted(codegen.llvm_get_cpu_features(tvm.target.Target(target)))


@functools.lru_cache(maxsize=None)
def host_cpu():
    """LLVM's name for this machine's CPU (e.g. 'znver4')."""
    from tvm.target import codegen
    return codegen.llvm_get_system_cpu()


@functools.lru_cache(maxsize=None)
def host_mattr():
    """'-feature' for each ISA extension of host_cpu() that the OS does not enable (empty if all are)."""
    flags = _os_cpu_flags()
    if flags is None:
        return ()
    hidden = [f for f in llvm_features(host_cpu())
              if f.startswith(_CHECKED_PREFIXES) and _norm(_CPUINFO_NAMES.get(f, f)) not in flags]
    return tuple("-" + f for f in hidden)


@functools.lru_cache(maxsize=None)
def host_features():
    """The LLVM features kernels built for this machine may use."""
    return tuple(llvm_features(host_cpu(), host_mattr()))


def checked_num_threads(n):
    """`n` if it is a valid thread count or None (the default), else a ValueError saying what is expected."""
    if n is not None and (type(n) is not int or n < 1):
        raise ValueError(f"num_threads must be a positive int (or None for every core), got {n!r}")
    return n


def missing_features(features):
    """Those of LLVM CPU `features` (an artifact's) this machine lacks, from /proc/cpuinfo where it can be
    read (no LLVM, so loading an artifact needs no compiler), else from LLVM's view of this CPU."""
    flags = _os_cpu_flags()
    if flags is None:
        return sorted(set(features) - set(host_features()))
    return sorted(f for f in features
                  if f.startswith(_ISA_PREFIXES) and _norm(_CPUINFO_NAMES.get(f, f)) not in flags)


def cpu_name():
    """This machine's CPU model name as the OS reports it ('unknown' where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def release_freed_memory():
    """Hand memory the C allocator keeps after frees back to the OS (glibc's malloc_trim; a no-op elsewhere).

    Compiling frees hundreds of MB (LLVM modules, TVM IR) in small blocks that glibc keeps for reuse:
    without this, a process's RSS stays at its compile-time peak long after the kernels are built."""
    global _malloc_trim
    if _malloc_trim is None:
        import ctypes
        try:
            _malloc_trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):  # not glibc
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None
