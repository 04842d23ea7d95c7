"""Session: runs fetches of a graph with a feed_dict, compiling each signature once (TF1 semantics)."""
import numpy as np

from graphc import dtypes, session_registry
from graphc.devices import target_of
from graphc.errors import FailedPreconditionError, FeedError, FetchError, GraphError
from graphc.graph import Node, Tensor, get_default_graph
from graphc.registry import Pattern


# ---- fetch structures -------------------------------------------------------------------------
def flatten_fetches(fetches):
    """The leaves of a nested list/tuple/dict/namedtuple of fetches, in order."""
    if isinstance(fetches, dict):
        return [leaf for k in fetches for leaf in flatten_fetches(fetches[k])]
    if isinstance(fetches, (list, tuple)):
        return [leaf for f in fetches for leaf in flatten_fetches(f)]
    return [fetches]


def pack_results(fetches, values):
    """`values` (flat, in leaf order) rebuilt into the structure of `fetches`."""
    return _pack(fetches, iter(values))


def _pack(f, it):
    # (a module-level function: a recursive closure would be a reference cycle keeping the fetched
    # arrays alive until the garbage collector runs, so the executor could not reuse their memory)
    if isinstance(f, dict):
        return type(f)((k, _pack(v, it)) for k, v in f.items())
    if isinstance(f, tuple) and hasattr(f, "_fields"):
        return type(f)(*[_pack(v, it) for v in f])
    if isinstance(f, (list, tuple)):
        return type(f)(_pack(v, it) for v in f)
    return next(it)


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


def check_feed(tensor, value):
    """`value` as an array of the tensor's dtype, or a FeedError naming the tensor and what it expected."""
    want = tensor.dtype.np
    if type(value) is np.ndarray and value.dtype == want and tensor.shape is not None:  # the common case
        shape = tensor.shape
        if len(shape) == value.ndim and all(d is None or d == a for d, a in zip(shape, value.shape)):
            return value
    try:
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
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
        arr = arr.astype(want)
    shape = tensor.shape
    if shape is not None and (len(shape) != arr.ndim or
                              any(d is not None and d != a for d, a in zip(shape, arr.shape))):
        want_shape = [("?" if d is None else d) for d in shape]
        raise FeedError(f"cannot feed a value of shape {list(arr.shape)} to tensor {tensor.name}, "
                        f"which has shape {want_shape}")
    return arr


class Session:
    """Runs graph fetches on one device; compiled signatures and variable values live here."""

    def __init__(self, target=None, graph=None, config=None, opt_level=3):
        self.graph = graph or get_default_graph()
        self.target = target
        self.opt_level = opt_level
        self.variables = {}       # variable name -> tvm tensor on the session's device
        self.initialized = set()  # variables that hold a value
        self._cache = {}
        self.compile_count = 0    # signatures compiled so far (tests read this)
        self._closed = False
        self._entered = []
        self.random_runs = {}     # random_counter node name -> runs of its op so far (its next counter)

    # ---- context management ---------------------------------------------------------------
    def __enter__(self):
        ctx = self.graph.as_default()
        ctx.__enter__()
        self._entered.append(ctx)
        session_registry.push(self)
        return self

    def __exit__(self, *exc):
        session_registry.pop(self)
        self._entered.pop().__exit__(*exc)
        self.close()
        return False

    def as_default(self):
        return _DefaultSession(self)

    def close(self):
        """Free compiled kernels and variable storage."""
        self._cache.clear()
        self.variables.clear()
        self.initialized.clear()
        self._closed = True

    # ---- resolution ---------------------------------------------------------------------------
    def _resolve_fetch(self, f):
        if type(f) is Tensor and f.node.graph is self.graph:  # the common case, checked cheaply
            return f
        if isinstance(f, str):
            try:
                f = self.graph.get_tensor_by_name(f) if ":" in f else self.graph.get_operation_by_name(f)
            except KeyError as e:
                raise FetchError(f"cannot fetch {f!r}: {e.args[0]}") from None
        if isinstance(f, (Tensor, Node)):
            if f.graph is not self.graph:
                raise GraphError(f"fetch {f.name} belongs to another graph than this session's; "
                                 "create the session with graph=... or build the op in its graph")
            return f
        if hasattr(f, "_as_graph_element"):
            return self._resolve_fetch(f._as_graph_element())
        raise FetchError(f"cannot fetch {f!r} (type {type(f).__name__}); expected a Tensor, an operation "
                         "or a tensor name such as 'x:0'")

    def _resolve_feed_key(self, k):
        if type(k) is Tensor and k.node.op == "placeholder" and k.node.graph is self.graph:  # the common case
            return k
        if isinstance(k, str):
            try:
                k = self.graph.get_tensor_by_name(k)
            except KeyError as e:
                raise FeedError(f"cannot feed {k!r}: {e.args[0]}") from None
        if hasattr(k, "_as_graph_element") and not isinstance(k, Tensor):
            k = k._as_graph_element()
        if not isinstance(k, Tensor):
            raise FeedError(f"feed_dict key {k!r} is not a tensor; expected a placeholder or a tensor name")
        if k.graph is not self.graph:
            raise GraphError(f"feed {k.name} belongs to another graph than this session's")
        if k.node.opdef.stateful and k.node.op != "variable":  # a fed variable reads as the fed value (TF1)
            raise FeedError(f"tensor {k.name} cannot be fed: it is the output of the stateful op "
                            f"{k.node.op} '{k.node.name}'; feed a placeholder instead")
        return k

    def _target_for(self, nodes):
        if self.target:
            return self.target
        return "cuda" if any(target_of(n.device) == "cuda" for n in nodes) else "cpu"

    # ---- running ------------------------------------------------------------------------------
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Evaluate `fetches` (a tensor, op, name, or nested list/tuple/dict of them) with `feed_dict`."""
        if self._closed:
            raise GraphError("attempted to use a closed Session")
        leaves = [self._resolve_fetch(f) for f in flatten_fetches(fetches)]
        if self.graph.collections.get("graphc_dataset_iterators"):  # tf.data iterators feed their tensors
            from graphc.compat.data import iterator_feeds
            fed = [self._resolve_feed_key(k) for k in (feed_dict or {})]
            extra = iterator_feeds(self.graph, [f if isinstance(f, Node) else f.node for f in leaves], fed)
            feed_dict = {**(feed_dict or {}), **extra} if extra else feed_dict
        feeds = self._checked_feeds(feed_dict)
        exe, fetch_index = self._compiled_for(leaves, feeds)
        self._prepare_variables(exe.plan)
        fed = list(feeds.values()) + self._next_counters(exe)
        results = exe.run(fed, self.variables) if exe.plan.calls or exe.plan.fetches else []
        self.initialized.update(exe.plan.variable_writes)
        values = [None if i is None else results[i] for i in fetch_index]
        return pack_results(fetches, values)

    def _next_counters(self, exe):
        """The run counters of the random ops in `exe`, each advanced for the next run."""
        values = []
        for name in exe.random_counters:
            n = self.random_runs.get(name, 0)
            self.random_runs[name] = n + 1
            values.append(np.array(n, np.int64))
        return values

    def _prepare_variables(self, plan):
        """Check that read variables hold values; create storage for variables written first here."""
        for name in plan.variable_reads:
            if name not in self.initialized:
                raise FailedPreconditionError(
                    f"attempting to use uninitialized variable '{name}': run its initializer first "
                    "(e.g. sess.run(graphc.global_variables_initializer()))")
        if plan.variable_writes:
            import tvm

            from .device import tvm_device
            specs = {b.var_name: b for b in plan.buffers if b.var_name}
            for name in plan.variable_writes:
                if name not in self.variables:
                    b = specs[name]
                    self.variables[name] = tvm.runtime.empty(tuple(b.shape), dtypes.storage_name(b.dtype),
                                                             tvm_device(plan.target))

    def set_variable(self, name, value):
        """Store `value` (an array) as variable `name`'s value on this session's device (Saver.restore)."""
        import tvm
        self.variables[name] = tvm.runtime.tensor(dtypes.as_storage(np.require(value, requirements="C")))
        self.initialized.add(name)

    def compiled(self, fetches, feed_dict=None):
        """The Executable that runs `fetches` for this feed signature (compiling it if needed)."""
        leaves = [self._resolve_fetch(f) for f in flatten_fetches(fetches)]
        return self._compiled_for(leaves, self._checked_feeds(feed_dict))[0]

    def _checked_feeds(self, feed_dict):
        """Fed tensor -> checked array, in graph order: the cache key and the executable's feed
        order must not depend on the order the caller wrote the feed_dict in."""
        feeds = {}
        for k, v in (feed_dict or {}).items():
            t = self._resolve_feed_key(k)
            feeds[t] = check_feed(t, v)
        if len(feeds) < 2:
            return feeds
        return dict(sorted(feeds.items(), key=lambda kv: (kv[0].node.id, kv[0].index)))

    def _compiled_for(self, leaves, feeds):
        tensors = []
        fetch_index = []
        ops = []
        for leaf in leaves:
            if isinstance(leaf, Node):
                ops.append(leaf)
                fetch_index.append(None)
            else:
                if leaf not in tensors:
                    tensors.append(leaf)
                fetch_index.append(tensors.index(leaf))
        key = (tuple(id(t) for t in tensors), tuple(id(n) for n in ops),
               tuple((id(t), a.shape, a.dtype.str) for t, a in feeds.items()))
        exe = self._cache.get(key)
        if exe is None:
            exe = self._compile(tensors, ops, feeds)
            self._cache[key] = exe  # only a complete executable enters the cache
            self.compile_count += 1
        return exe, fetch_index

    def _compile(self, tensors, ops, feeds):
        from graphc.graph import needed_nodes
        from graphc.passes.specialize import specialize

        from .compiler import compile_graph
        fed_ids = {id(t) for t in feeds}
        nodes = needed_nodes([t.node for t in tensors] + ops, fed_ids)
        target = self._target_for(nodes)
        feed_specs = {t: (a.shape, dtypes.as_dtype(a.dtype)) for t, a in feeds.items()}
        # random ops' run counters are fed by the session, after the caller's feeds
        counters = [n.outputs[0] for n in nodes if n.op == "random_counter"]
        feed_specs.update({t: ((), dtypes.int64) for t in counters})
        g, mapping, _ = specialize(tensors, feed_specs, ops)
        spec_fetches = [mapping[id(t)] for t in tensors]
        exe = compile_graph(g, spec_fetches, target, self.opt_level)
        exe.feed_tensors = list(feeds)  # the feed order, for Executable.profile(feed_dict)
        exe.random_counters = [t.node.name for t in counters]
        return exe


class _DefaultSession:
    def __init__(self, sess):
        self.sess = sess

    def __enter__(self):
        session_registry.push(self.sess)
        return self.sess

    def __exit__(self, *exc):
        session_registry.pop(self.sess)
        return False


InteractiveSession = Session
