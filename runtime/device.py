"""TVM devices for graphc targets, with a clear error where the hardware is missing."""
import tvm

from graphc.errors import DeviceError


def tvm_device(target):
    """The tvm Device that runs kernels built for `target` ('cpu' or 'cuda')."""
    if target == "cpu":
        return tvm.cpu(0)
    if target == "cuda":
        dev = tvm.cuda(0)
        if not dev.exist:
            raise DeviceError("no CUDA GPU is present on this machine: the '/gpu:0' kernels were compiled "
                              "(CUDA codegen works without one) but cannot run here; "
                              "place the graph on '/cpu:0' or run it on a machine with an NVIDIA GPU")
        return dev
    raise DeviceError(f"unknown target {target!r}; expected 'cpu' or 'cuda'")
