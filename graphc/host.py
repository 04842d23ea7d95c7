"""This machine's CPU as LLVM should target it: the CPU name LLVM detects, less the features the OS hides.

LLVM names the CPU from cpuid (e.g. 'znver4'), but a hypervisor may leave AVX-512 state disabled, so
code using every feature of that CPU dies with SIGILL. The kernels (codegen) and the artifact check
(runtime) both take the host's features from here, below both.
"""
import functools

# ISA extensions whose LLVM feature names match /proc/cpuinfo flags once '_', '.' and '-' are dropped
_CHECKED_PREFIXES = ("avx", "amx", "gfni", "vaes", "vpclmulqdq", "fma", "f16c", "sha")


_CPUINFO_NAMES = {"sha": "shani"}  # LLVM name -> /proc/cpuinfo name where the two differ


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
