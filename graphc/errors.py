"""Errors graphc raises for bad input: each names what was wrong and what was expected."""


class GraphcError(Exception):
    """Base of graphc's own errors."""


class GraphError(GraphcError, ValueError):
    """A graph was built or used wrongly (mixed graphs, bad names)."""


class ShapeError(GraphcError, ValueError):
    """Shapes or dtypes do not fit an op."""


class FeedError(GraphcError, ValueError):
    """A feed is missing, or has the wrong shape or dtype, or cannot be fed."""


class FetchError(GraphcError, ValueError):
    """A fetch is unknown or cannot be fetched."""


class CompileError(GraphcError, RuntimeError):
    """Lowering or building kernels failed."""


class DeviceError(GraphcError, RuntimeError):
    """A device is unknown or not present on this machine."""


class FailedPreconditionError(GraphcError, RuntimeError):
    """A value was read before it was set (an uninitialized variable)."""


class InvalidArgumentError(GraphcError, ValueError):
    """A value computed or fed at run time is invalid for an op (an index out of range); TF1's name."""


class ResourceExhaustedError(GraphcError, MemoryError):
    """A run needs more memory than can be allocated; says how much."""
