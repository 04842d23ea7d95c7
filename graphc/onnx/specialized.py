"""ONNX models run with every input fed, including inputs that fix shapes or axes.

graphc compiles static shapes, so an input that decides a shape or an axis (Reshape's `shape`, Tile's
`repeats`, ReduceSum's `axes`, ...) must be a value at import: import_model's `bind=`. SpecializedModel
takes those values from each run's feeds instead, as XLA does for compile-time-constant inputs: the first
run finds which inputs the importer needs as values, and each distinct value gets its own imported,
compiled graph, cached (least recently used ones are dropped past `max_signatures`).
"""
from collections import OrderedDict

import numpy as np

from graphc.errors import FeedError

from .importer import StaticInputError, checked, import_model, load

MAX_STATIC_ELEMENTS = 4096  # an input the importer needs as a value is a shape, axes or sizes: small


class SpecializedModel:
    """An ONNX model whose `run(feeds)` takes every graph input, specializing on shape/axes inputs."""

    def __init__(self, path_or_model, max_signatures=32):
        self.model = checked(load(path_or_model))
        initializers = {i.name for i in self.model.graph.initializer}
        self.input_names = [vi.name for vi in self.model.graph.input if vi.name not in initializers]
        self.output_names = [vi.name for vi in self.model.graph.output]
        self.static_inputs = []  # inputs specialized on their values, in discovery order
        self.max_signatures = max_signatures
        self._cache = OrderedDict()  # key of static values -> (Imported, Session)

    def _key(self, feeds):
        key = []
        for name in self.static_inputs:
            a = np.ascontiguousarray(feeds[name])
            key.append((name, a.dtype.str, a.shape, a.tobytes()))
        return tuple(key)

    def _specialization(self, feeds):
        """The (Imported, Session) for these feeds' static values, importing it on first sight."""
        import graphc
        while True:
            key = self._key(feeds)
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            try:
                imp = import_model(self.model, bind={n: feeds[n] for n in self.static_inputs})
            except StaticInputError as e:
                new = [n for n in e.inputs if n not in self.static_inputs]
                if not new or not all(n in feeds for n in new):
                    raise
                for n in new:
                    size = np.size(feeds[n])
                    if size > MAX_STATIC_ELEMENTS:
                        raise FeedError(f"ONNX input {n!r} decides shapes or axes, so graphc compiles one "
                                        f"graph per value of it; it has {size} elements (at most "
                                        f"{MAX_STATIC_ELEMENTS} expected for a shape or axes input)") from None
                self.static_inputs += new
                continue
            hit = self._cache[key] = (imp, graphc.Session(graph=imp.graph))
            while len(self._cache) > self.max_signatures:
                self._cache.popitem(last=False)[1][1].close()
            return hit

    def run(self, feeds, output_names=None):
        """The outputs (a list, in `output_names` or graph order) for `feeds` ({input name: array})."""
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise FeedError(f"ONNX model inputs {missing} were not fed; it takes {self.input_names}")
        imp, sess = self._specialization(feeds)
        names = list(output_names or self.output_names)
        return sess.run([imp.outputs[n] for n in names], {imp.inputs[n]: feeds[n] for n in imp.inputs})

    @property
    def signatures(self):
        """How many specializations are compiled and cached."""
        return len(self._cache)
