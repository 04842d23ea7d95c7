"""tf.summary for graphc: summary ops and a FileWriter writing TensorBoard event files.

A summary op is a graph node (an identity of the summarized tensor, named like TF1 names it, so its tag
carries the name scope); fetching it with Session.run returns a serialized `Summary` protobuf, as in
TF1: the session computes the tensor with its kernels and the summary packs the value (a histogram's
buckets and an image's PNG are made from the fetched array). FileWriter writes events through
TensorBoard's own EventFileWriter, so `tensorboard --logdir` reads them.
"""
import struct
import zlib

import numpy as np

from graphc.graph import get_default_graph
from graphc.ops import convert_to_tensor, identity

SUMMARIES = "summaries"  # tf.GraphKeys.SUMMARIES


def _protos():
    from tensorboard.compat.proto import summary_pb2
    return summary_pb2


class SummaryOp:
    """A summary in the graph: the tensors a session fetches for it, and how their values become
    Summary.Value protos. Session.run returns `serialize(values)` (bytes) where it is fetched."""

    def __init__(self, name, tensors, to_values):
        self.name = name
        self._fetch_tensors = list(tensors)
        self._to_values = to_values  # fetched arrays -> [Summary.Value]

    def _fetch_value(self, arrays):
        """The serialized Summary for the fetched arrays (the session's composite-fetch hook)."""
        return _protos().Summary(value=self._to_values(arrays)).SerializeToString()

    def __repr__(self):
        return f"<graphc summary {self.name!r}>"


def _register(op, collections):
    for key in (collections if collections is not None else [SUMMARIES]):
        get_default_graph().add_to_collection(key, op)
    return op


def _named(tensor, name):
    """An identity node of `tensor` named `name` in the current name scope; its name is the tag."""
    t = identity(convert_to_tensor(tensor), name=name)
    return t, t.node.name


def scalar(name, tensor, collections=None, family=None):
    """A summary of one scalar value (tag: the scoped name)."""
    if family:
        name = f"{family}/{name}"
    t, tag = _named(tensor, name)

    def to_values(arrays):
        a = np.asarray(arrays[0])
        if a.size != 1:
            raise ValueError(f"tf.summary.scalar {tag!r} needs a scalar; the tensor has shape {list(a.shape)}")
        return [_protos().Summary.Value(tag=tag, simple_value=float(a.reshape(())))]
    return _register(SummaryOp(tag, [t], to_values), collections)


def _bucket_limits():
    """TF1's histogram bucket edges: 0, then +-1e-12 growing by 10% up to 1e20, then the largest double."""
    pos = []
    v = 1e-12
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return np.array([-x for x in reversed(pos)] + [0.0] + pos + [np.finfo(np.float64).max])


_LIMITS = None


def histogram_proto(values):
    """A HistogramProto of `values` with TF1's bucket edges (only the non-empty buckets are kept)."""
    global _LIMITS
    if _LIMITS is None:
        _LIMITS = _bucket_limits()
    v = np.asarray(values, np.float64).ravel()
    proto = _protos().HistogramProto()
    if v.size == 0:
        return proto
    counts = np.bincount(np.searchsorted(_LIMITS, v, side="left"), minlength=len(_LIMITS))[:len(_LIMITS)]
    keep = np.nonzero(counts)[0]
    proto.min, proto.max, proto.num = float(v.min()), float(v.max()), float(v.size)
    proto.sum, proto.sum_squares = float(v.sum()), float(np.dot(v, v))
    proto.bucket_limit.extend(_LIMITS[keep].tolist())
    proto.bucket.extend(counts[keep].astype(np.float64).tolist())
    return proto


def histogram(name, values, collections=None, family=None):
    """A summary of the distribution of a tensor's values."""
    if family:
        name = f"{family}/{name}"
    t, tag = _named(values, name)
    return _register(SummaryOp(tag, [t], lambda arrays: [_protos().Summary.Value(
        tag=tag, histo=histogram_proto(arrays[0]))]), collections)


def encode_png(pixels):
    """PNG bytes of a uint8 image of shape (height, width, channels) with 1, 3 or 4 channels."""
    h, w, c = pixels.shape
    color = {1: 0, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))  # filter type 0 on every row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _to_uint8(images):
    """TF1's image-summary scaling: uint8 as is; floats scaled so the largest value is 255 when all are
    non-negative, else so the largest magnitude is 127 around a 128 zero."""
    if images.dtype == np.uint8:
        return images
    x = images.astype(np.float64)
    if x.size and x.min() >= 0:
        peak = x.max()
        scale = 255.0 / peak if peak > 0 else 0.0
        return np.clip(np.round(x * scale), 0, 255).astype(np.uint8)
    peak = np.abs(x).max() if x.size else 0
    scale = 127.0 / peak if peak > 0 else 0.0
    return np.clip(np.round(x * scale + 128), 0, 255).astype(np.uint8)


def image(name, tensor, max_outputs=3, collections=None, family=None):
    """A summary of up to `max_outputs` images from a [batch, height, width, channels] tensor."""
    if family:
        name = f"{family}/{name}"
    t, tag = _named(tensor, name)

    def to_values(arrays):
        imgs = np.asarray(arrays[0])
        if imgs.ndim != 4 or imgs.shape[-1] not in (1, 3, 4):
            raise ValueError(f"tf.summary.image {tag!r} needs [batch, height, width, 1|3|4]; "
                             f"the tensor has shape {list(imgs.shape)}")
        imgs = _to_uint8(imgs[:max_outputs])
        pb = _protos()
        return [pb.Summary.Value(
            tag=f"{tag}/image" if max_outputs == 1 else f"{tag}/image/{i}",
            image=pb.Summary.Image(height=img.shape[0], width=img.shape[1], colorspace=img.shape[2],
                                   encoded_image_string=encode_png(img)))
            for i, img in enumerate(imgs)]
    return _register(SummaryOp(tag, [t], to_values), collections)


def merge(inputs, collections=None, name=None):
    """One summary holding the values of all `inputs` (summary ops)."""
    inputs = list(inputs)
    for s in inputs:
        if not isinstance(s, SummaryOp):
            raise TypeError(f"tf.summary.merge takes summary ops; got {s!r}")
    spans = []
    tensors = []
    for s in inputs:
        spans.append((s, len(tensors), len(tensors) + len(s._fetch_tensors)))
        tensors += s._fetch_tensors

    def to_values(arrays):
        return [v for s, a, b in spans for v in s._to_values(arrays[a:b])]
    merged = SummaryOp(name or "Merge/MergeSummary", tensors, to_values)
    for key in collections or []:
        get_default_graph().add_to_collection(key, merged)
    return merged


def merge_all(key=SUMMARIES, scope=None, name=None):
    """All summaries of the default graph's collection `key` merged into one, or None if there are none."""
    ops = [s for s in get_default_graph().get_collection(key)
           if scope is None or s.name.startswith(scope)]
    return merge(ops, name=name) if ops else None


def to_graph_def(graph):
    """A TensorFlow GraphDef protobuf of a graphc Graph (node names, ops, inputs, devices), for TensorBoard."""
    from tensorboard.compat.proto import graph_pb2, node_def_pb2
    gd = graph_pb2.GraphDef()
    for n in graph.nodes:
        inputs = [t.node.name if t.index == 0 else f"{t.node.name}:{t.index}" for t in n.inputs]
        inputs += [f"^{c.name}" for c in n.control_inputs]
        gd.node.append(node_def_pb2.NodeDef(name=n.name, op=n.op, input=inputs, device=n.device or ""))
    return gd


class FileWriter:
    """tf.summary.FileWriter: writes summaries and the graph to an event file in `logdir` (records in
    TensorBoard's own format, through its RecordWriter; events are flushed every `flush_secs`)."""

    def __init__(self, logdir, graph=None, max_queue=10, flush_secs=120, filename_suffix=None, session=None):
        import os
        import socket
        import time

        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter
        self._logdir = str(logdir)
        os.makedirs(self._logdir, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{id(self)}"
        self._path = os.path.join(self._logdir, name + (filename_suffix or ""))
        self._records = RecordWriter(open(self._path, "wb"))
        self._flush_secs = flush_secs
        self._last_flush = time.monotonic()
        self.add_event(event_pb2.Event(file_version="brain.Event:2"))
        self.flush()
        if graph is not None:
            self.add_graph(graph)

    def get_logdir(self):
        """The folder the event file is in."""
        return self._logdir

    def add_event(self, event):
        """Write one Event protobuf."""
        import time
        if not event.wall_time:
            event.wall_time = time.time()
        self._records.write(event.SerializeToString())
        if time.monotonic() - self._last_flush >= self._flush_secs:
            self.flush()

    def add_summary(self, summary, global_step=None):
        """Write a Summary (the bytes a fetched summary op gives, or a Summary protobuf) at `global_step`."""
        from tensorboard.compat.proto import event_pb2
        pb = _protos()
        if isinstance(summary, (bytes, bytearray)):
            summary = pb.Summary.FromString(bytes(summary))
        if not isinstance(summary, pb.Summary):
            raise TypeError(f"add_summary takes a fetched summary (bytes) or a Summary protobuf; "
                            f"got {type(summary).__name__} (fetch the summary op with sess.run first)")
        event = event_pb2.Event(summary=summary)
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def add_graph(self, graph, global_step=None, graph_def=None):
        """Write the graph (a graphc Graph, or a GraphDef protobuf) for TensorBoard's graph view."""
        from tensorboard.compat.proto import event_pb2
        if graph_def is None:
            graph_def = graph if hasattr(graph, "SerializeToString") else to_graph_def(graph)
        event = event_pb2.Event(graph_def=graph_def.SerializeToString())
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def flush(self):
        """Write pending events to disk."""
        import time
        if not self._records.closed:
            self._records.flush()
        self._last_flush = time.monotonic()

    def close(self):
        """Flush and close the event file."""
        if not self._records.closed:
            self._records.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

