"""The Plan: what the executor runs. Plain data (JSON-able but for constants' arrays)."""
from dataclasses import dataclass, field

FEED, CONST, TEMP, VARIABLE = "feed", "const", "temp", "variable"


@dataclass
class Buffer:
    """One tensor's storage: its shape, dtype, kind and, for planned temps, its arena offset."""
    id: int
    shape: tuple
    dtype: str
    kind: str
    name: str
    feed_index: int = -1     # FEED: position among the feeds
    var_name: str = ""       # VARIABLE: the session variable it is
    offset: int = -1         # TEMP: byte offset in the arena, -1 when allocated on its own

    @property
    def nbytes(self):
        import numpy as np
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class Call:
    """One kernel launch: the kernel's symbol and the buffer ids it takes, in order. A host call
    (a collective, runtime/collectives.py) names its op in `host_op` and has no kernel in the module."""
    kernel: str
    args: list
    num_inputs: int = 0  # args[:num_inputs] are read, the rest written
    host_op: str = ""
    attrs: dict = field(default_factory=dict)  # a host call's op attributes


@dataclass
class Plan:
    """Kernel calls in order over numbered buffers; constants by buffer id."""
    target: str
    buffers: list
    calls: list
    fetches: list
    constants: dict = field(default_factory=dict)
    arena_bytes: int = 0
    variable_reads: list = field(default_factory=list)   # variables whose value a kernel reads
    variable_writes: list = field(default_factory=list)  # variables an assign overwrites whole
    # [buffer id, what, dims]: an index_check's result, read after the run (graphc/ops/indexing.py)
    index_checks: list = field(default_factory=list)

    @property
    def feeds(self):
        return sorted((b for b in self.buffers if b.kind == FEED), key=lambda b: b.feed_index)
