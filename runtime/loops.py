"""Host op of a Plan that runs a loop (graphc/ops/loop.py's while_loop): its condition and body were
compiled into sub-executables (runtime/compiler.py), which this iterates on numpy views of the buffers:
the body runs while the condition's kernel returns true, each iteration's outputs feeding the next; the
last output is the trip count."""
import numpy as np


def _while_loop(call, plan, pending):
    cond, body, k = call.attrs["cond"], call.attrs["body"], call.attrs["num_vars"]

    def run(*buffers):
        inputs = [np.from_dlpack(b) for b in buffers[:call.num_inputs]]
        values, captured, trips = inputs[:k], inputs[k:], 0
        while bool(cond.run(values + captured)[0]):
            values = body.run(values + captured)
            trips += 1
        for out, v in zip(buffers[call.num_inputs:], values + [np.array(trips, np.int32)]):
            np.copyto(np.from_dlpack(out), v)
    return run


HOST_OPS = {"while_loop": _while_loop}
