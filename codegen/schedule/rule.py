"""The schedule-rule contract (modelled on tvm.s_tir.dlight's ScheduleRule): a rule looks at one
kernel and returns its schedule, or None when the kernel is not one it handles. A Target lists its
rules in order, the fallback (which always applies) last."""
from graphc.errors import CompileError


class ScheduleRule:
    """A rule: `apply(func, target)` -> tvm.s_tir.Schedule, or None when not applicable."""
    name = "rule"

    def apply(self, func, target):
        """The schedule of PrimFunc `func` for Target `target`, or None if this rule does not apply."""
        raise NotImplementedError

    def __repr__(self):
        return f"<ScheduleRule {self.name}>"


def schedule(func, target):
    """The schedule of `func` by the first of `target.rules` that applies."""
    for rule in target.rules:
        sch = rule.apply(func, target)
        if sch is not None:
            return sch
    raise CompileError(f"no schedule rule of target {target.kind} applies to {func.attrs.get('global_symbol', func)}")

