"""TE lowerings of graphc/ops/state.py: assignments compute the variable's new value; the plan
makes their output the variable's own buffer, so the update happens in place."""
from tvm import te

from . import lowering


@lowering("assign")
def lower_assign(node, var, value):
    return te.compute(var.shape, lambda *i: value(*i), name="assign")


@lowering("assign_add")
def lower_assign_add(node, var, value):
    return te.compute(var.shape, lambda *i: var(*i) + value(*i), name="assign_add")


@lowering("assign_sub")
def lower_assign_sub(node, var, value):
    return te.compute(var.shape, lambda *i: var(*i) - value(*i), name="assign_sub")
