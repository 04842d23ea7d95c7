"""graphc: build a static graph, differentiate and optimize it, run it on TVM-generated kernels."""
from . import dtypes
from .dtypes import (DType, as_dtype, bfloat16, bool_, float16, float32, float64, int8, int16, int32, int64,
                     uint8, uint16, uint32, uint64)
from .errors import (CompileError, DeviceError, FailedPreconditionError, FeedError, FetchError,
                     GraphcError, GraphError, InvalidArgumentError, ResourceExhaustedError, ShapeError)
from .graph import (Graph, Node, Tensor, TensorShape, control_dependencies, device, get_default_graph,
                    name_scope, reset_default_graph)
from .ops import *  # noqa: F401,F403  (the op API)
from .ops import convert_to_tensor
from .ops.state import assign, assign_add, assign_sub, group
from .registry import all_ops, get_op
from .variables import (Variable, global_variables, global_variables_initializer, trainable_variables,
                        variables_initializer)
from .initializers import set_random_seed
from . import initializers, losses, train  # noqa: F401
from . import loop_gradient  # noqa: F401  (registers while_loop's gradient rule)

from .version import __version__  # noqa: F401


def viz(obj, path):
    """Write an SVG of a graph, tensors' graph or compiled Executable (fused kernels as clusters)."""
    from graphc.drawing import viz as _viz
    return _viz(obj, path)


def gradients(ys, xs, grad_ys=None, stop_gradients=None, name="gradients"):
    """Symbolic d(sum of ys)/dx for each x in xs (None where ys do not depend on x); see graphc/autodiff.py."""
    from graphc.autodiff import gradients as _gradients
    return _gradients(ys, xs, grad_ys, stop_gradients, name)


def __getattr__(name):
    # Session lives in graphc.runtime; import it lazily so `import graphc` stays light.
    if name in ("Session", "InteractiveSession"):
        from graphc.runtime.session import Session
        return Session
    raise AttributeError(f"module 'graphc' has no attribute {name!r}")


def compile(fetches, feeds, target="cpu", opt_level=3, session=None, memory_budget=None):
    """Compile `fetches` for `feeds` into an Executable with run(feeds) and export(path) (runtime/compiler.py)."""
    from graphc.runtime.compiler import compile as _compile
    return _compile(fetches, feeds, target, opt_level, session, memory_budget=memory_budget)
