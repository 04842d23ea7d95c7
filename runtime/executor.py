"""Runs a Plan: binds feeds (without copies where alignment allows), calls kernels, returns fetches.

On CPU, numpy and TVM share memory through DLPack: a fetched kernel output is written straight
into a fresh numpy array that the caller then owns, and an aligned feed is read in place. TVM's
own copies (Tensor.numpy, copyfrom) cost ~20 us each even for tiny arrays, so the hot path avoids them.
"""
import math
import sys
import threading

import numpy as np

from graphc.dtypes import as_storage, from_storage, storage_name
from graphc.errors import FailedPreconditionError

from graphc import tvm_runtime as rt
from .device import host_memory, tvm_device
from .plan import CONST, FEED, TEMP, VARIABLE

ALIGN = 64  # TVM's from_dlpack refuses data not aligned to 64 bytes


def _address(arr):
    return arr.__array_interface__["data"][0]  # several times cheaper than arr.ctypes.data


def aligned_empty(shape, dtype):
    """An uninitialized C-contiguous numpy array whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = (-_address(raw)) % ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def shareable(arr):
    """Whether TVM can use this numpy array in place (DLPack refuses read-only arrays)."""
    return arr.flags.c_contiguous and arr.flags.writeable and _address(arr) % ALIGN == 0 and arr.size > 0


def _refcounts(arr):
    """References to a fresh output and to the memory it views (aligned_empty's buffer, which every
    further view of it references directly: numpy collapses chains of views to the owner)."""
    return sys.getrefcount(arr), sys.getrefcount(arr.base)


def _held_elsewhere(slot):
    """Whether anything but the executor still references a recycled output or a view of it."""
    return _refcounts(slot[0]) != slot[2]


class Executor:
    """Holds a plan's kernels and preallocated buffers; `run` executes it once."""

    def __init__(self, plan, module, num_threads=None):
        self.plan = plan
        self.num_threads = num_threads  # None: the process default (runtime/host.py num_threads)
        self.device = tvm_device(plan.target)
        self.on_cpu = host_memory(plan.target)
        host = {}
        if any(c.host_op for c in plan.calls):  # collectives, called between kernels like kernels
            from .collectives import host_functions
            host = host_functions(plan)
        self.funcs = [host[k] if c.host_op else module[c.kernel] for k, c in enumerate(plan.calls)]
        self.calls = [tuple(c.args) for c in plan.calls]
        self.buffers = [None] * len(plan.buffers)
        # One arena holds every planned buffer: host memory shared with TVM on CPU, one device allocation
        # on a GPU; each planned buffer is a view whose data pointer is offset (kernels require DLPack
        # byte_offset 0).
        self.arena = None
        if plan.arena_bytes:
            self.arena = aligned_empty((plan.arena_bytes,), np.uint8) if self.on_cpu else \
                rt.DeviceArena(plan.arena_bytes, self.device)
        fetched = set(plan.fetches)
        # fetched kernel outputs get a fresh numpy array each run (CPU), written in place
        self.fresh = [(b.id, tuple(b.shape), np.dtype(b.dtype)) for b in plan.buffers
                      if b.kind == TEMP and b.id in fetched and self.on_cpu and math.prod(b.shape) > 0]
        fresh_ids = {bid for bid, _, _ in self.fresh}
        self.staging = {}
        for b in plan.buffers:
            if b.kind == TEMP and b.id not in fresh_ids:
                if b.offset >= 0 and self.arena is not None:
                    self.buffers[b.id] = self._arena_view(b)
                else:
                    self.buffers[b.id] = rt.empty(b.shape, storage_name(b.dtype), self.device)
            elif b.kind == CONST:
                self.buffers[b.id] = rt.tensor(as_storage(np.require(plan.constants[b.id], requirements="C")),
                                               self.device)
            elif b.kind == FEED:  # where a feed cannot be shared, it is copied here
                self.staging[b.id] = self._staging_buffer(b)
        self.feed_ids = [b.id for b in plan.feeds]
        # kernels are built without TVM's argument asserts (codegen/build.py): feeds are checked here
        self.feed_types = [(tuple(b.shape), np.dtype(storage_name(b.dtype))) for b in plan.feeds]
        # per feed: the array fed last and its DLPack view; the same array fed again is bound as is
        self.last_feed = [(None, None)] * len(self.feed_ids)
        # per fresh output: [array, its DLPack view, refcounts while only the executor holds it]; an
        # array the caller has dropped (with every view of it) is written again instead of allocating
        # (and page-faulting) anew
        self.recycled = [None] * len(self.fresh)
        self.var_ids = [(b.id, b.var_name) for b in plan.buffers if b.kind == VARIABLE]

    def _arena_view(self, b):
        """A TVM tensor over planned buffer `b`'s bytes in the arena."""
        if self.on_cpu:
            view = self.arena[b.offset:b.offset + b.nbytes].view(storage_name(b.dtype)).reshape(tuple(b.shape))
            return rt.from_dlpack(view)
        return self.arena.view(b.offset, tuple(b.shape), storage_name(b.dtype))

    def _staging_buffer(self, b):
        if self.on_cpu and math.prod(b.shape) > 0:
            host = aligned_empty(tuple(b.shape), b.dtype)
            return host, rt.from_dlpack(as_storage(host))
        return None, rt.empty(b.shape, storage_name(b.dtype), self.device)

    def _bind_feed(self, k, bid, arr):
        last, view = self.last_feed[k]
        if arr is last:
            return view
        if rt.is_tensor(arr):  # already a TVM tensor (e.g. weights kept on the GPU): bound as is
            b = self.plan.buffers[bid]
            if arr.device != self.device or tuple(arr.shape) != tuple(b.shape) or str(arr.dtype) != storage_name(b.dtype):
                raise ValueError(f"feed {b.name!r} is a {str(arr.dtype)}{list(arr.shape)} tensor on {arr.device}; "
                                 f"expected {storage_name(b.dtype)}{list(b.shape)} on {self.device}")
            return arr
        shape, dtype = self.feed_types[k]
        if tuple(arr.shape) != shape:
            raise ValueError(f"feed {k}: an array of shape {tuple(arr.shape)}, expected {shape} (the shape it was "
                             f"compiled for)")
        if self.on_cpu and shareable(arr) and as_storage(arr).dtype == dtype:
            view = rt.from_dlpack(as_storage(arr))
            self.last_feed[k] = (arr, view)
            return view
        host, dev = self.staging[bid]
        if host is not None:
            np.copyto(host, arr)
        elif arr.size:
            rt.copy_from(dev, as_storage(arr))
        return dev

    def run(self, feeds, variables=None, trace=None):
        """Execute with `feeds` (arrays in feed order); returns the fetched arrays. With a `trace`
        list, each kernel call is timed and appended as (kernel, start s, end s, buffer ids)."""
        bufs, outputs = self._bind(feeds, variables)
        rt.use_threads(self.num_threads)
        if trace is not None:
            self._run_traced(bufs, trace)
        else:
            for f, args in zip(self.funcs, self.calls):
                f(*[bufs[i] for i in args])
        if self.plan.index_checks:
            self._raise_bad_index(bufs)
        return [outputs[i] if i in outputs else self._copy_out(bufs[i], i) for i in self.plan.fetches]

    def _raise_bad_index(self, bufs):
        """InvalidArgumentError naming the op and the index when an index_check found one out of range."""
        from graphc.ops.indexing import NO_BAD_INDEX, index_error
        for bid, what, dims in self.plan.index_checks:
            bad = int(rt.to_numpy(bufs[bid]))  # not .numpy(): the tvm package adds it, artifacts run without; works for a device tensor too
            if bad != NO_BAD_INDEX:
                raise index_error(what, bad, dims)

    def _run_traced(self, bufs, trace):
        import time
        epoch = time.time() - time.perf_counter()  # perf_counter readings as wall-clock seconds
        for c, f, args in zip(self.plan.calls, self.funcs, self.calls):
            arg_list = [bufs[i] for i in args]
            t0 = time.perf_counter()
            f(*arg_list)
            if not self.on_cpu:
                self.device.sync()  # kernels launch asynchronously on GPUs
            trace.append((c.kernel, epoch + t0, epoch + time.perf_counter(), args))

    def profile(self, feeds, repeat=10, variables=None):
        """Mean seconds per run spent in each kernel, by kernel name (a kernel called several times in one
        run, e.g. shared by repeated layers, counts all its calls)."""
        import time
        bufs, _ = self._bind(feeds, variables)
        rt.use_threads(self.num_threads)
        totals = [0.0] * len(self.funcs)
        for _ in range(repeat):
            for k, (f, args) in enumerate(zip(self.funcs, self.calls)):
                arg_list = [bufs[i] for i in args]
                t0 = time.perf_counter()
                f(*arg_list)
                totals[k] += time.perf_counter() - t0
        per_kernel = {}
        for c, t in zip(self.plan.calls, totals):
            per_kernel[c.kernel] = per_kernel.get(c.kernel, 0.0) + t / repeat
        return per_kernel

    def _bind(self, feeds, variables):
        """Bind feeds, variables and fresh output arrays; returns (buffers, fresh outputs by id)."""
        bufs = self.buffers
        for k, (bid, arr) in enumerate(zip(self.feed_ids, feeds)):
            bufs[bid] = self._bind_feed(k, bid, arr)
        for bid, name in self.var_ids:
            try:
                bufs[bid] = variables[name]
            except (KeyError, TypeError):
                raise FailedPreconditionError(
                    f"attempting to use uninitialized variable '{name}': run its initializer first "
                    "(e.g. sess.run(graphc.global_variables_initializer()))") from None
        outputs = {}
        for k, (bid, shape, dtype) in enumerate(self.fresh):
            slot = self.recycled[k]
            if slot is None or _held_elsewhere(slot):
                out = aligned_empty(shape, dtype)
                slot = self.recycled[k] = [out, rt.from_dlpack(as_storage(out)), None]
                del out
                slot[2] = _refcounts(slot[0])
            outputs[bid] = slot[0]
            bufs[bid] = slot[1]
        return bufs, outputs

    def _copy_out(self, buf, bid):
        dtype = self.plan.buffers[bid].dtype
        if self.on_cpu and buf.numel() > 0:
            return from_storage(np.from_dlpack(buf).copy(), dtype)
        return from_storage(rt.to_numpy(buf), dtype)


class ExecutorPool:
    """Executors of one plan, one per concurrent run: an Executor's buffers, arena and recycled outputs
    are per-run state, so threads running the same plan each take an idle executor (or build one)."""

    def __init__(self, plan, module, num_threads=None):
        self.plan, self.module, self.num_threads = plan, module, num_threads
        self._idle = []
        self._lock = threading.Lock()

    def acquire(self):
        """An executor no other thread is using (give it back with `release`)."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return Executor(self.plan, self.module, self.num_threads)

    def release(self, executor):
        """Return `executor` to the pool after a run."""
        with self._lock:
            self._idle.append(executor)

    def run(self, feeds, variables=None, trace=None):
        """Execute once on an idle executor; safe to call from any number of threads."""
        executor = self.acquire()
        try:
            return executor.run(feeds, variables, trace)
        finally:
            self.release(executor)
