"""Device names: '/cpu:0' and '/gpu:0' (TF spellings accepted) mapped to graphc targets."""
import re

from .errors import DeviceError

_PATTERN = re.compile(r"^(?:/job:[^/]+)?(?:/replica:\d+)?(?:/task:\d+)?/?(?:device:)?(cpu|gpu|cuda)(?::(\d+))?$",
                      re.IGNORECASE)


def canonical_device(spec):
    """'/cpu:0' or '/gpu:N' for any accepted spelling; a clear error otherwise."""
    m = _PATTERN.match(spec.strip())
    if not m:
        raise DeviceError(f"unknown device {spec!r}; expected '/cpu:0' or '/gpu:0'")
    kind = "cpu" if m.group(1).lower() == "cpu" else "gpu"
    return f"/{kind}:{int(m.group(2) or 0)}"


def target_of(device):
    """The codegen target ('cpu' or 'cuda') of a canonical device name ('' means cpu)."""
    return "cuda" if device.startswith("/gpu") else "cpu"


def placement_target(devices):
    """The codegen target of nodes placed on `devices` (canonical names): 'cuda' if any is a GPU."""
    return "cuda" if any(target_of(d) == "cuda" for d in devices) else "cpu"
