"""The device layer: TVM devices for graphc's target kinds, with a clear error where the hardware is
missing. With codegen/target.py (and graphc/devices.py for device names), the only code that tells
'cpu' from 'cuda'."""
from graphc import tvm_runtime
from graphc.errors import DeviceError

TARGET_KINDS = ("cpu", "cuda")  # the kinds of target a plan or artifact may name


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


def host_memory(target):
    """Whether kernels built for `target` ('cpu' or 'cuda') work in host (numpy) memory."""
    return target == "cpu"


def check_device(target, device=None):
    """Raise a DeviceError unless kernels built for `target` can run here (on `device`, e.g. '/gpu:0')."""
    if device is not None and device.replace("/", "").split(":")[0] not in (target, "gpu" if target == "cuda" else target):
        raise DeviceError(f"the artifact was built for {target!r}; it cannot run on device {device!r}")
    if target == "cuda" and not tvm_runtime.cuda_present():
        raise DeviceError("the artifact was built for 'cuda' but no CUDA GPU is present on this machine; "
                          "compile it with --target cpu to run here")
