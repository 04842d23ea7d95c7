"""tf.data, TF1 style: a Dataset is a host-side pipeline of numpy elements; an iterator's get_next()
tensors are placeholders that the Session feeds with the next element whenever a run needs them
(one element per run, shared by every get_next tensor of that iterator). `map` runs its graph
function in a graph and Session of its own, so mapped values are computed by kernels too."""
import numpy as np

from graphc import dtypes
from graphc.errors import GraphcError
from graphc.graph import Graph, get_default_graph

ITERATORS = "graphc_dataset_iterators"  # graph collection: the iterators whose tensors a Session feeds


class OutOfRangeError(GraphcError, IndexError):
    """An iterator has no more elements (TF1 scripts catch tf.errors.OutOfRangeError)."""


def _flat(structure):
    if isinstance(structure, dict):
        return [leaf for k in sorted(structure) for leaf in _flat(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [leaf for s in structure for leaf in _flat(s)]
    return [structure]


def _pack(structure, leaves):
    it = iter(leaves)

    def build(s):
        if isinstance(s, dict):
            return {k: build(s[k]) for k in sorted(s)}
        if isinstance(s, (list, tuple)):
            return tuple(build(v) for v in s)
        return next(it)
    return build(structure)


def _value(x):
    """A numpy array from an array-like or a tensor the graph determines (e.g. tf.constant)."""
    if hasattr(x, "node"):
        from graphc.ops._base import constant_value
        v = constant_value(x)
        if v is None:
            raise ValueError(f"Dataset.from_tensor_slices needs values known when the graph is built; {x.name} "
                             "depends on a feed or variable")
        return v
    return np.asarray(x)


class Dataset:
    """A finite or repeated sequence of elements (nested tuples/dicts of numpy arrays)."""

    def __init__(self, make_iter, structure):
        self._make_iter = make_iter      # () -> a fresh Python iterator over elements
        self._structure = structure      # an example element (for dtypes and shapes)

    @staticmethod
    def from_tensor_slices(tensors):
        """Elements are the rows (first-dim slices) of `tensors`."""
        leaves = [_value(t) for t in _flat(tensors)]
        n = len(leaves[0])
        if any(len(v) != n for v in leaves):
            raise ValueError(f"from_tensor_slices: components have different first dims {[len(v) for v in leaves]}")
        structure = _pack(tensors, [v[0] for v in leaves])
        return Dataset(lambda: (_pack(tensors, [v[i] for v in leaves]) for i in range(n)), structure)

    @staticmethod
    def from_tensors(tensors):
        """One element: `tensors` itself."""
        leaves = [_value(t) for t in _flat(tensors)]
        element = _pack(tensors, leaves)
        return Dataset(lambda: iter([element]), element)

    @staticmethod
    def range(*args):
        """Elements start, start+step, ... < stop (int64), as Python's range."""
        values = np.arange(*args, dtype=np.int64)
        return Dataset(lambda: iter(list(values)), values[0] if len(values) else np.int64(0))

    def repeat(self, count=None):
        """The elements `count` times over (forever when None or -1)."""
        def gen():
            k = 0
            while count is None or count < 0 or k < count:
                yield from self._make_iter()
                k += 1
        return Dataset(gen, self._structure)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        """Elements in random order, drawn from a buffer of `buffer_size` (TF's algorithm)."""
        state = {"rng": np.random.default_rng(seed)}

        def gen():
            rng = state["rng"] if reshuffle_each_iteration else np.random.default_rng(seed)
            buf = []
            for e in self._make_iter():
                buf.append(e)
                if len(buf) >= buffer_size:
                    yield buf.pop(int(rng.integers(len(buf))))
            while buf:
                yield buf.pop(int(rng.integers(len(buf))))
        return Dataset(gen, self._structure)

    def batch(self, batch_size, drop_remainder=False):
        """Consecutive elements stacked along a new first dim."""
        def gen():
            buf = []
            for e in self._make_iter():
                buf.append(e)
                if len(buf) == batch_size:
                    yield _stack(buf)
                    buf = []
            if buf and not drop_remainder:
                yield _stack(buf)
        return Dataset(gen, _stack([self._structure]))

    def take(self, count):
        """The first `count` elements."""
        def gen():
            for i, e in enumerate(self._make_iter()):
                if i >= count:
                    return
                yield e
        return Dataset(gen, self._structure)

    def skip(self, count):
        """All but the first `count` elements."""
        def gen():
            for i, e in enumerate(self._make_iter()):
                if i >= count:
                    yield e
        return Dataset(gen, self._structure)

    def prefetch(self, buffer_size):
        return self

    def cache(self, filename=""):
        return self

    def map(self, map_func, num_parallel_calls=None):
        """Elements transformed by `map_func`, a function of graph tensors (run by graphc kernels)."""
        fn = _GraphFunction(map_func, self._structure)
        return Dataset(lambda: (fn(e) for e in self._make_iter()), fn(self._structure))

    def make_one_shot_iterator(self):
        """An iterator over this dataset, ready to use."""
        return Iterator(self, initialized=True)

    def make_initializable_iterator(self, shared_name=None):
        """An iterator that starts (again) each time its `initializer` op runs."""
        return Iterator(self, initialized=False)

    @property
    def output_types(self):
        return _pack(self._structure, [dtypes.as_dtype(np.asarray(v).dtype) for v in _flat(self._structure)])


def _stack(elements):
    leaves = [np.stack([np.asarray(x) for x in column]) for column in zip(*[_flat(e) for e in elements])]
    return _pack(elements[0], leaves)


class _GraphFunction:
    """map_func traced once on placeholders in a graph of its own; called per element in a Session."""

    def __init__(self, func, structure):
        from graphc.runtime.session import Session
        from graphc.ops import placeholder
        self.graph = Graph()
        with self.graph.as_default():
            leaves = [np.asarray(v) for v in _flat(structure)]
            self.inputs = [placeholder(dtypes.as_dtype(v.dtype), [None] * v.ndim) for v in leaves]
            args = _pack(structure, self.inputs)
            out = func(*args) if isinstance(args, tuple) else func(args)
        self.out_structure = out
        self.outputs = _flat(out)
        self.session = Session(graph=self.graph)

    def __call__(self, element):
        values = self.session.run(self.outputs, dict(zip(self.inputs, [np.asarray(v) for v in _flat(element)])))
        return _pack(self.out_structure, values)


class Iterator:
    """get_next() gives placeholders the Session feeds with this iterator's next element."""

    def __init__(self, dataset, initialized):
        from graphc.ops import placeholder
        from graphc.ops.state import group
        self.dataset = dataset
        self._it = dataset._make_iter() if initialized else None
        graph = get_default_graph()
        leaves = [np.asarray(v) for v in _flat(dataset._structure)]
        self._tensors = [placeholder(dtypes.as_dtype(v.dtype), [None] + list(v.shape[1:]) if v.ndim else [],
                                     name="IteratorGetNext") for v in leaves]
        self.initializer = group(name="MakeIterator")
        graph.add_to_collection(ITERATORS, self)

    def get_next(self, name=None):
        """The next element's tensors (a new element on every Session.run that needs them)."""
        return _pack(self.dataset._structure, self._tensors)

    def restart(self):
        self._it = self.dataset._make_iter()

    def next_values(self):
        """The next element as arrays, in get_next's flat order (OutOfRangeError at the end)."""
        if self._it is None:
            raise GraphcError("the iterator is not initialized: run its `initializer` op first")
        try:
            return [np.asarray(v) for v in _flat(next(self._it))]
        except StopIteration:
            raise OutOfRangeError("End of sequence: the dataset iterator has no more elements") from None


def iterator_feeds(graph, fetch_nodes, fed):
    """Restart iterators whose initializer is fetched, and {placeholder: array} for iterators the
    fetches read (not fed by the caller): the Session's part of tf.data."""
    iterators = graph.get_collection(ITERATORS)
    if not iterators:
        return {}
    from graphc.graph import needed_nodes
    fetched = {id(n) for n in fetch_nodes}
    for it in iterators:
        if id(it.initializer) in fetched:
            it.restart()
    needed = {id(n) for n in needed_nodes(fetch_nodes, {id(t) for t in fed})}
    feeds = {}
    for it in iterators:
        if any(id(t.node) in needed for t in it._tensors):
            feeds.update(zip(it._tensors, it.next_values()))
    return feeds
