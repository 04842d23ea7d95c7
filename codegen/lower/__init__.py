"""Lowering registry: op name -> function(node, *te_inputs) -> te.Tensor or list of te.Tensor.

`node` is a node of a specialized graph: every input and output shape is concrete. A lowering
returns TE computes (topi compute definitions are welcome); it never schedules.
"""
import importlib

from graphc.registry import Registry

LOWERINGS = Registry("op", "lowerings")
_FAMILIES = ("elemwise", "reduce", "linalg", "nn", "creation", "shape", "control", "state", "indexing", "conv",
             "random", "sequence", "winograd", "blocked")


def lowering(*names):
    """Decorator registering `fn` as the lowering of each op in `names`."""
    return LOWERINGS.register(*names)


def get_lowering(name):
    """The lowering of op `name`, loading every family on first use."""
    load_all()
    try:
        return LOWERINGS[name]
    except KeyError:
        raise KeyError(f"op {name!r} has no TVM lowering (codegen/lower)") from None


_loaded = []


def load_all():
    """Import every lowering family once."""
    if not _loaded:
        for family in _FAMILIES:
            importlib.import_module(f"{__name__}.{family}")
        _loaded.append(True)
