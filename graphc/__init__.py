"""graphc: build a static graph, differentiate and optimize it, run it on TVM-generated kernels."""
from . import dtypes
from .dtypes import (DType, as_dtype, bool_, float16, float32, float64, int8, int16, int32, int64,
                     uint8)
from .errors import (CompileError, DeviceError, FailedPreconditionError, FeedError, FetchError,
                     GraphcError, GraphError, ShapeError)
from .graph import (Graph, Node, Tensor, TensorShape, control_dependencies, device, get_default_graph,
                    name_scope, reset_default_graph)
from .ops import *  # noqa: F401,F403  (the op API)
from .ops import convert_to_tensor
from .registry import all_ops, get_op

__version__ = "0.1.0"


def __getattr__(name):
    # Session lives in graphc.runtime; import it lazily so `import graphc` stays light.
    if name in ("Session", "InteractiveSession"):
        from graphc.runtime.session import Session
        return Session
    raise AttributeError(f"module 'graphc' has no attribute {name!r}")
from .viz import viz  # noqa: E402,F401  (graph pictures with fused kernels)
