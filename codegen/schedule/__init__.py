"""Schedules: turn a kernel's default loop nests into fast ones for a target. Each target's rules are
in codegen/schedule/<kind>.py (the contract: rule.py; what lowerings tell the rules: kinds.py)."""
import tvm
from tvm.s_tir.schedule import ScheduleError

from .kinds import LAYOUT_COPIES, kind_of


def sblocks(sch):
    """All the blocks under the root of the scheduled function, in program order."""
    return list(sch.get_child_blocks(sch.get_sblock("root")))


def is_reduction(sch, block):
    """Whether the block has a reduction iterator."""
    return any(iv.iter_type == tvm.tirx.IterVar.CommReduce for iv in sch.get(block).iter_vars)


def is_layout_copy(sch, block):
    """Blocks that repack data for a kernel's inner loop (e.g. GEMM panels): kept, never inlined."""
    return kind_of(sch, block) in LAYOUT_COPIES


def inline_spatial(sch):
    """Inline every non-output block with no reduction into its consumers (fusion in one kernel)."""
    outputs = {sch.get(b).name_hint for b in sch.get_output_blocks(sch.get_sblock("root"))}
    for block in reversed(sblocks(sch)):
        name = sch.get(block).name_hint
        if name in outputs or is_reduction(sch, block) or is_layout_copy(sch, block):
            continue
        try:
            sch.compute_inline(block)
        except ScheduleError:
            pass  # e.g. a block read by a reduction in a way TIR cannot inline; it stays a loop nest

