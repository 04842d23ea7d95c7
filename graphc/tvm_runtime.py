"""TVM's runtime library alone, reached through tvm_ffi: every call graphc's runtime makes into TVM.

`import tvm` maps libtvm_compiler (~260 MB, seconds to load) and, through tvm_ffi, imports torch where it
is installed. Running a plan needs only libtvm_runtime: this module loads it beside tvm_ffi once, sizes
TVM's thread pool, and wraps the few calls the executor and the artifact loader make. A later
`import tvm` (to compile) finds the same libtvm_runtime already loaded and shares it.
"""
import ctypes
import importlib.util
import os
import sys
import threading

import numpy as np

from graphc.host import num_threads as default_num_threads

_lock = threading.Lock()
_ffi = None            # the tvm_ffi module once libtvm_runtime is loaded
_funcs = {}            # TVM runtime global functions by name
_threads_in_use = None  # what runtime.config_threadpool was last told
_cuda_loaded = False


def _tvm_lib_dir():
    """The folder holding TVM's shared libraries, found without importing (and so loading) `tvm`."""
    spec = importlib.util.find_spec("tvm")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("graphc needs TVM's runtime library: install apache-tvm")
    return os.path.join(list(spec.submodule_search_locations)[0], "lib")


def _import_tvm_ffi():
    # tvm_ffi imports torch when it is installed (to dodge a symbol clash seen on Windows only);
    # a deployed model has no use for it, so hide torch for the length of this one import
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None
    try:
        import tvm_ffi
    finally:
        if hide and sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return tvm_ffi


def ffi():
    """tvm_ffi, with libtvm_runtime loaded and TVM's thread pool sized to the process's cores."""
    global _ffi
    if _ffi is not None:
        return _ffi
    with _lock:
        if _ffi is None:
            # TVM sizes its pool once, from TVM_NUM_THREADS, else half the cores (it guesses
            # hyper-threading): graphc's default is every core this process may run on
            os.environ.setdefault("TVM_NUM_THREADS", str(default_num_threads()))
            tvm_ffi = _import_tvm_ffi()
            if "tvm" not in sys.modules:  # else `import tvm` has loaded it already
                ctypes.CDLL(os.path.join(_tvm_lib_dir(), "libtvm_runtime.so"), ctypes.RTLD_GLOBAL)
            _ffi = tvm_ffi
    return _ffi


def func(name):
    """TVM's runtime global function `name` (e.g. 'runtime.NumThreads')."""
    f = _funcs.get(name)
    if f is None:
        f = _funcs[name] = ffi().get_global_func(name)
    return f


def _load_cuda_runtime():
    global _cuda_loaded
    if not _cuda_loaded:
        _cuda_loaded = True
        try:  # registers the CUDA device API; absent or unloadable (no driver): no CUDA device
            ctypes.CDLL(os.path.join(_tvm_lib_dir(), "libtvm_runtime_cuda.so"), ctypes.RTLD_LOCAL)
        except OSError:
            pass


def cuda_present():
    """Whether TVM can reach a CUDA GPU from this process."""
    _load_cuda_runtime()
    try:
        return func("runtime.GetDeviceAttr")(2, 0, 0) != 0  # kDLCUDA, device 0, kExist
    except Exception:  # no CUDA device API registered
        return False


def device(target):
    """The device of graphc target 'cpu' or 'cuda' (index 0)."""
    if target == "cuda":
        _load_cuda_runtime()
    return ffi().device("cuda" if target == "cuda" else "cpu", 0)


def num_threads():
    """Threads TVM's pool runs kernels on now (runtime.NumThreads)."""
    return int(func("runtime.NumThreads")())


def use_threads(n=None):
    """Run the following kernels on `n` threads (None: the default); at most the pool's size."""
    global _threads_in_use
    n = n or default_num_threads()
    if n != _threads_in_use:
        cpus = [str(c) for c in sorted(os.sched_getaffinity(0))] if hasattr(os, "sched_getaffinity") else []
        func("runtime.config_threadpool")(-2, n, cpus)  # -2: the threads share every listed core
        _threads_in_use = n


def load_module(path):
    """The kernel library at `path`, dlclose()d when the returned module and its functions are freed."""
    return ffi().load_module(path, keep_module_alive=False)  # tvm's default keeps every library forever


def from_dlpack(arr):
    """A TVM tensor viewing numpy array `arr` in place (64-byte aligned, as TVM's kernels assume)."""
    return ffi().from_dlpack(arr, require_alignment=64, require_contiguous=True)


def empty(shape, dtype, dev):
    """An uninitialized TVM tensor on `dev`; dtype is a storage name such as 'float32'."""
    tvm_ffi = ffi()
    return func("runtime.TVMTensorAllocWithScope")(tvm_ffi.Shape(tuple(shape)), tvm_ffi.dtype(dtype), dev, None)


def is_tensor(value):
    """Whether `value` is a TVM tensor (rather than, say, a numpy array)."""
    return isinstance(value, ffi().Tensor)


def copy_from(tensor, arr):
    """Copy C-contiguous numpy array `arr` (storage dtype, same size) into `tensor`."""
    arr = np.require(arr, requirements="C")
    func("runtime.TVMTensorCopyFromBytes")(tensor, ctypes.c_void_p(arr.ctypes.data), arr.nbytes)


def tensor(arr, dev):
    """A new TVM tensor on `dev` holding a copy of numpy array `arr` (storage dtype)."""
    t = empty(arr.shape, arr.dtype.name, dev)
    if arr.size:
        copy_from(t, arr)
    return t


def to_numpy(t):
    """A numpy copy of TVM tensor `t` (storage dtype)."""
    out = np.empty(tuple(t.shape), np.dtype(str(t.dtype)))
    if out.size:
        func("runtime.TVMTensorCopyToBytes")(t, ctypes.c_void_p(out.ctypes.data), out.nbytes)
    return out


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


class DeviceArena:
    """One allocation of `nbytes` on device `dev` and tensors viewing it at byte offsets (a plan's arena
    on a GPU: one cudaMalloc, no allocation per buffer). A view's data pointer is moved to its offset
    (DLPack byte_offset 0: TVM's kernels refuse any other), and the view points into memory this object
    owns: keep the arena alive as long as its views."""

    def __init__(self, nbytes, dev):
        self.base = empty((max(int(nbytes), 1),), "uint8", dev)
        self.nbytes = int(nbytes)
        self._keep = []  # the DLPack structs and shapes the views point into

    def view(self, offset, shape, dtype):
        """A tensor of `shape` and storage dtype `dtype` at byte `offset` (a multiple of 64) in the arena."""
        d = ffi().dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * d.itemsize
        if offset % 64 or offset < 0 or offset + nbytes > self.nbytes:
            raise ValueError(f"arena view [{offset}, {offset + nbytes}) is not a 64-byte aligned range "
                             f"inside the {self.nbytes}-byte arena")
        dims = (ctypes.c_int64 * max(len(shape), 1))(*shape)
        dev = self.base.device
        managed = _DLManagedTensor(_DLTensor(self.base.data_ptr() + offset,
                                             _DLDevice(dev.dlpack_device_type(), dev.index), len(shape),
                                             _DLDataType(d.type_code, d.bits, d.lanes), dims, None, 0), None, None)
        self._keep.append((managed, dims))
        # no deleter: the struct is freed with this arena, never by TVM
        return ffi().from_dlpack(_capsule_new(ctypes.addressof(managed), b"dltensor", None),
                                 require_alignment=64, require_contiguous=True)
