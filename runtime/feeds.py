"""Feeds and fetch structures: checking fed values against placeholders, flattening nested fetches and
packing results back into their structure (used by Session and Executable)."""
import numpy as np

from graphc.errors import FeedError
from graphc.nest import flatten as flatten_fetches, pack as pack_results  # noqa: F401  (fetch structures)


# ---- feeds --------------------------------------------------------------------------------------
def _convertible(src, dst):
    """Feed dtype conversions graphc does silently (as TF1 does): no loss of kind."""
    if src == dst:
        return True
    if dst.kind == "f":
        return src.kind in "fiub"
    if dst.kind in "iu":
        return src.kind in "iubf"  # floats are truncated toward zero, as TF1 (numpy) converts them
    return False


def _size(nbytes):
    """A byte count in words a person reads (`3.0 GiB`)."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024


def check_feed(tensor, value):
    """`value` as an array of the tensor's dtype, or a FeedError naming the tensor and what it expected."""
    want = tensor.dtype.np
    if type(value) is np.ndarray and value.dtype == want and tensor.shape is not None:  # the common case
        shape = tensor.shape
        if len(shape) == value.ndim and all(d is None or d == a for d, a in zip(shape, value.shape)):
            return value
    try:
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    except MemoryError:
        raise FeedError(f"cannot feed {type(value).__name__} to {tensor.name}: out of memory "
                        "converting it to an array") from None
    except Exception as e:
        raise FeedError(f"cannot feed {type(value).__name__} to {tensor.name}: {e}") from None
    if arr.dtype == object or not _convertible(arr.dtype, want):
        raise FeedError(f"cannot feed a value of dtype {arr.dtype} to tensor {tensor.name}, "
                        f"which has dtype {tensor.dtype.name}")
    if arr.dtype.kind in "iuf" and want.kind in "iu" and arr.size and arr.dtype != want:
        info = np.iinfo(want)
        if arr.min() < info.min or arr.max() > info.max:
            raise FeedError(f"values fed to {tensor.name} do not fit its dtype {tensor.dtype.name}")
    if arr.dtype != want:
        try:
            arr = arr.astype(want)
        except MemoryError:
            raise FeedError(f"cannot feed to {tensor.name}: converting {arr.shape} {arr.dtype} to "
                            f"{tensor.dtype.name} needs {_size(arr.size * want.itemsize)}, "
                            "more memory than is free") from None
    shape = tensor.shape
    if shape is not None and (len(shape) != arr.ndim or
                              any(d is not None and d != a for d, a in zip(shape, arr.shape))):
        want_shape = [("?" if d is None else d) for d in shape]
        raise FeedError(f"cannot feed a value of shape {list(arr.shape)} to tensor {tensor.name}, "
                        f"which has shape {want_shape}")
    return arr
