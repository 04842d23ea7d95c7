"""Runs a Plan: binds feeds (without copies where alignment allows), calls kernels, returns fetches."""
import numpy as np
import tvm

from graphc.errors import FailedPreconditionError

from .device import tvm_device
from .plan import CONST, FEED, TEMP, VARIABLE

ALIGN = 64  # tvm.runtime.from_dlpack refuses data not aligned to 64 bytes


def _zero_copy_ok(arr):
    return arr.flags.c_contiguous and arr.ctypes.data % ALIGN == 0 and arr.size > 0


def _aligned_bytes(nbytes):
    """A uint8 numpy array of `nbytes` whose data starts on an ALIGN-byte boundary."""
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = (-raw.ctypes.data) % ALIGN
    return raw[start:start + nbytes]


def _arena_view(arena, buf):
    """A TVM tensor over arena[buf.offset:]: its own data pointer, byte_offset 0, as kernels require.

    (tvm's NDArray._create_view keeps the arena's pointer and sets byte_offset, which compiled
    kernels reject: "Invalid byte_offset ... expected 0".)
    """
    view = arena[buf.offset:buf.offset + buf.nbytes].view(buf.dtype).reshape(tuple(buf.shape))
    return tvm.runtime.from_dlpack(view)


class Executor:
    """Holds a plan's kernels and preallocated buffers; `run` executes it once."""

    def __init__(self, plan, module):
        self.plan = plan
        self.device = tvm_device(plan.target)
        self.on_cpu = plan.target == "cpu"
        self.funcs = [module[c.kernel] for c in plan.calls]
        self.calls = [tuple(c.args) for c in plan.calls]
        self.buffers = [None] * len(plan.buffers)
        arena = None
        if plan.arena_bytes and self.on_cpu:
            arena = _aligned_bytes(plan.arena_bytes)
        for b in plan.buffers:
            if b.kind == TEMP:
                if b.offset >= 0 and arena is not None:
                    self.buffers[b.id] = _arena_view(arena, b)
                else:
                    self.buffers[b.id] = tvm.runtime.empty(tuple(b.shape), b.dtype, self.device)
            elif b.kind == CONST:
                self.buffers[b.id] = tvm.runtime.tensor(np.require(plan.constants[b.id], requirements="C"), self.device)
            elif b.kind == FEED:  # staging copy, used when a feed cannot be shared
                self.buffers[b.id] = tvm.runtime.empty(tuple(b.shape), b.dtype, self.device)
        self.arena = arena
        self.feed_ids = [b.id for b in plan.feeds]
        self.var_ids = [(b.id, b.var_name) for b in plan.buffers if b.kind == VARIABLE]
        self._staging = {i: self.buffers[i] for i in self.feed_ids}

    def run(self, feeds, variables=None):
        """Execute with `feeds` (arrays in feed order); returns the fetched arrays."""
        bufs = self.buffers
        for bid, arr in zip(self.feed_ids, feeds):
            if self.on_cpu and _zero_copy_ok(arr):
                bufs[bid] = tvm.runtime.from_dlpack(arr)
            else:
                staging = self._staging[bid]
                if arr.size:
                    staging.copyfrom(np.require(arr, requirements="C"))  # keeps 0-d arrays 0-d
                bufs[bid] = staging
        for bid, name in self.var_ids:
            try:
                bufs[bid] = variables[name]
            except (KeyError, TypeError):
                raise FailedPreconditionError(
                    f"attempting to use uninitialized variable '{name}': run its initializer first "
                    "(e.g. sess.run(graphc.global_variables_initializer()))") from None
        for f, args in zip(self.funcs, self.calls):
            f(*[bufs[i] for i in args])
        return [bufs[i].numpy() for i in self.plan.fetches]
