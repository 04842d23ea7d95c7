"""TVM devices for graphc targets, with a clear error where the hardware is missing."""
from graphc.errors import DeviceError

from . import tvm_runtime


def tvm_device(target):
    """The tvm Device that runs kernels built for `target` ('cpu' or 'cuda')."""
    if target == "cpu":
        return tvm_runtime.device("cpu")
    if target == "cuda":
        if not tvm_runtime.cuda_present():
            raise DeviceError("no CUDA GPU is present on this machine: the '/gpu:0' kernels were compiled "
                              "(CUDA codegen works without one) but cannot run here; "
                              "place the graph on '/cpu:0' or run it on a machine with an NVIDIA GPU")
        return tvm_runtime.device("cuda")
    raise DeviceError(f"unknown target {target!r}; expected 'cpu' or 'cuda'")
