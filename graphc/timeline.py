"""Step traces: tf.RunOptions / tf.RunMetadata and a Timeline that writes Chrome-trace JSON.

`sess.run(fetches, options=RunOptions(trace_level=RunOptions.FULL_TRACE), run_metadata=meta)` times every
kernel call of the run; `Timeline(meta.step_stats).generate_chrome_trace_format()` is the JSON that
chrome://tracing and Perfetto open (one complete event per kernel call, in microseconds), as
tensorflow.python.client.timeline gives for TF1.
"""
import dataclasses
import json


@dataclasses.dataclass
class RunOptions:
    """tf.RunOptions: `trace_level` FULL_TRACE (or SOFTWARE_TRACE) makes a run time its kernels."""
    NO_TRACE = 0
    SOFTWARE_TRACE = 1
    HARDWARE_TRACE = 2
    FULL_TRACE = 3
    trace_level: int = 0
    timeout_in_ms: int = 0
    output_partition_graphs: bool = False
    report_tensor_allocations_upon_oom: bool = False


@dataclasses.dataclass
class NodeExecStats:
    """One kernel call: its name, start (microseconds since the epoch) and duration."""
    node_name: str
    all_start_micros: int
    op_start_rel_micros: int
    op_end_rel_micros: int
    all_end_rel_micros: int
    timeline_label: str = ""


@dataclasses.dataclass
class DeviceStepStats:
    """The kernel calls of one step on one device."""
    device: str
    node_stats: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class StepStats:
    """Per-device kernel statistics of traced runs."""
    dev_stats: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class RunMetadata:
    """tf.RunMetadata: a traced run fills `step_stats`."""
    step_stats: StepStats = dataclasses.field(default_factory=StepStats)


def wants_trace(options, run_metadata):
    """Whether Session.run should time its kernels (tracing asked for, and somewhere to put it)."""
    return run_metadata is not None and getattr(options, "trace_level", 0) > RunOptions.NO_TRACE


def record(run_metadata, target, calls):
    """Add a traced run's kernel calls [(kernel name, start seconds, end seconds, args)] to run_metadata."""
    device = f"/job:localhost/replica:0/task:0/device:{target.upper()}:0"
    stats = [NodeExecStats(node_name=name, all_start_micros=int(t0 * 1e6), op_start_rel_micros=0,
                           op_end_rel_micros=max(1, int(round((t1 - t0) * 1e6))),
                           all_end_rel_micros=max(1, int(round((t1 - t0) * 1e6))),
                           timeline_label=f"{name} = kernel({', '.join(map(str, args))})")
             for name, t0, t1, args in calls]
    run_metadata.step_stats.dev_stats.append(DeviceStepStats(device, stats))


class Timeline:
    """tensorflow.python.client.timeline.Timeline for graphc's step stats."""

    def __init__(self, step_stats, graph=None):
        self._step_stats = step_stats

    def generate_chrome_trace_format(self, show_dataflow=True, show_memory=False):
        """Chrome-trace JSON (a string): a process per device, a complete ('X') event per kernel call."""
        events = []
        for pid, dev in enumerate(self._step_stats.dev_stats):
            events.append({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": dev.device}})
            events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": "kernels"}})
            for ns in dev.node_stats:
                events.append({"name": ns.node_name, "cat": "Op", "ph": "X", "pid": pid, "tid": 0,
                               "ts": ns.all_start_micros + ns.op_start_rel_micros,
                               "dur": ns.op_end_rel_micros - ns.op_start_rel_micros,
                               "args": {"name": ns.node_name, "op": ns.node_name, "label": ns.timeline_label}})
        return json.dumps({"traceEvents": events, "displayTimeUnit": "ns"}, indent=1)
