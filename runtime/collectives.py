"""Host ops of a Plan: collectives (graphc/ops/collective.py) run between kernels, through MPI
(graphc.distributed), on numpy views of their buffers. Each is a callable with a kernel's signature
(its input buffers, then its output buffers), so the executor calls it like any kernel.

Before the first collective of a plan runs, the ranks compare the list of collectives their plans will
run (op, dtype, shapes): ranks that built different graphs get a clear error instead of a hang or a
silent mix of unrelated tensors.
"""
import numpy as np

from graphc import mpi as dist


def _describe(call, plan, names=True):
    """A host call's collective and operands, e.g. 'allreduce average float32[64,10] (gradients/w)'."""
    tensors = [plan.buffers[i] for i in call.args[:call.num_inputs]]
    operands = ", ".join(f"{b.dtype}[{','.join(map(str, b.shape))}]" + (f" ({b.name})" if names else "")
                         for b in tensors)
    return " ".join(x for x in (call.host_op, call.attrs.get("op", ""), operands) if x)


def _allreduce(call, plan, pending):
    def run(x, out):
        o = np.from_dlpack(out)
        np.copyto(o, np.from_dlpack(x))
        dist.wait(dist.start_allreduce(o), _describe(call, plan))
        if call.attrs["op"] == dist.Average and dist.size() > 1:
            np.divide(o, o.dtype.type(dist.size()), out=o)
    return run


def _allgather(call, plan, pending):
    def run(x, out):
        np.copyto(np.from_dlpack(out), dist.allgather_array(np.from_dlpack(x)))
    return run


def _broadcast(call, plan, pending):
    def run(x, out):
        np.copyto(np.from_dlpack(out), dist.broadcast_array(np.from_dlpack(x), call.attrs["root"]))
    return run


def _allreduce_start(call, plan, pending):
    def run(*buffers):
        *xs, flat = buffers
        f, at = np.from_dlpack(flat), 0
        for x in xs:
            x = np.from_dlpack(x).reshape(-1)
            f[at:at + x.size] = x
            at += x.size
        pending[call.attrs["bucket"]] = dist.start_allreduce(f)  # f lives in the arena until the wait
    return run


def _allreduce_wait(call, plan, pending):
    divisor = dist.size() if call.attrs["op"] == dist.Average else 1

    def run(flat, *outs):
        dist.wait(pending.pop(call.attrs["bucket"], None), _describe(call, plan))  # None: none in flight
        f, at = np.from_dlpack(flat), 0
        for out in outs:
            o = np.from_dlpack(out)
            part = f[at:at + o.size].reshape(o.shape)
            if divisor > 1:
                np.divide(part, o.dtype.type(divisor), out=o)
            else:
                np.copyto(o, part)
            at += o.size
    return run


HOST_OPS = {"allreduce": _allreduce, "allgather": _allgather, "broadcast": _broadcast,
            "allreduce_start": _allreduce_start, "allreduce_wait": _allreduce_wait}


def host_functions(plan):
    """{call index: callable} for the plan's host calls (collectives, and loops: runtime/loops.py); the first
    collective also checks the ranks agree."""
    from . import loops
    pending = {}  # bucket -> MPI request in flight, between an allreduce_start and its wait
    funcs = {k: HOST_OPS[c.host_op](c, plan, pending) for k, c in enumerate(plan.calls) if c.host_op in HOST_OPS}
    loop_funcs = {k: loops.HOST_OPS[c.host_op](c, plan, pending) for k, c in enumerate(plan.calls)
                  if c.host_op in loops.HOST_OPS}
    if funcs:
        first = min(funcs)
        signature = [_describe(plan.calls[k], plan, names=False) for k in sorted(funcs)]
        run_first, checked = funcs[first], []

        def checked_first(*buffers):
            if not checked:
                dist.check_same_collectives(signature)
                checked.append(True)
            run_first(*buffers)
        funcs[first] = checked_first
    return {**funcs, **loop_funcs}
