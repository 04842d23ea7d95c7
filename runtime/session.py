"""Session: runs fetches of a graph with a feed_dict, compiling each signature once (TF1 semantics)."""
import threading
from collections import OrderedDict

import numpy as np

from graphc import dtypes, session_registry
from graphc.devices import placement_target
from graphc.errors import (FailedPreconditionError, FeedError, FetchError, GraphError,
                           ResourceExhaustedError)
from graphc.graph import FEED_PROVIDERS, Node, Tensor, get_default_graph
from graphc.timeline import record as record_trace, wants_trace

from .feeds import _size, check_feed, flatten_fetches, pack_results  # noqa: F401  (also graphc.runtime.session's API)
from graphc.host import checked_num_threads


class _VariableLock:
    """Many runs that only read variables at once, or one run that assigns them: each run sees and
    leaves every variable whole (TF1's assigns are atomic per run)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    def hold(self, writes):
        """A context manager holding the lock shared (`writes` false) or exclusive."""
        return _Held(self, writes)

    def _acquire(self, writes):
        with self._cond:
            while self._writing or (writes and self._readers):
                self._cond.wait()
            if writes:
                self._writing = True
            else:
                self._readers += 1

    def _release(self, writes):
        with self._cond:
            if writes:
                self._writing = False
            else:
                self._readers -= 1
            self._cond.notify_all()


class _Held:
    def __init__(self, lock, writes):
        self.lock, self.writes = lock, writes

    def __enter__(self):
        self.lock._acquire(self.writes)

    def __exit__(self, *exc):
        self.lock._release(self.writes)
        return False


class Session:
    """Runs graph fetches on one device; compiled signatures and variable values live here.

    The compiled signatures kept are the `cache_size` (default CACHE_SIZE) most recently used: a
    signature pushed out is compiled again when next run. `num_threads` caps the threads its kernels
    run on (default: TVM_NUM_THREADS, else every core the process may use). `memory_budget` (bytes)
    makes every signature whose planned arena is larger recompute activations to fit it
    (passes/remat.py; `sess.compiled(...).remat` says what)."""

    CACHE_SIZE = 64

    def __init__(self, target=None, graph=None, config=None, opt_level=3, cache_size=None, num_threads=None,
                 memory_budget=None):
        self.graph = graph or get_default_graph()
        self.target = target
        self.opt_level = opt_level
        self.memory_budget = memory_budget
        self.variables = {}       # variable name -> tvm tensor on the session's device
        self.initialized = set()  # variables that hold a value
        self.cache_size = self.CACHE_SIZE if cache_size is None else int(cache_size)
        if self.cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, got {cache_size}")
        self.num_threads = checked_num_threads(num_threads)
        self._cache = OrderedDict()  # signature -> Executable, least recently used first
        self.compile_count = 0    # signatures compiled so far (tests read this)
        self._closed = False
        self._entered = []
        self._compile_lock = threading.Lock()      # one signature compiles at a time
        self._variable_lock = _VariableLock()
        self.random_runs = {}     # random_counter node name -> runs of its op so far (its next counter)
        self._random_lock = threading.Lock()

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
        """Free compiled kernels and variable storage, and hand the freed memory back to the OS."""
        from graphc.host import release_freed_memory
        self._cache.clear()
        self.variables.clear()
        self.initialized.clear()
        self._closed = True
        release_freed_memory()

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
        if type(k) is Tensor and k.node.opdef.feed and k.node.graph is self.graph:  # the common case
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
        if k.node.opdef.stateful and not k.node.opdef.variable:  # a fed variable reads as the fed value (TF1)
            raise FeedError(f"tensor {k.name} cannot be fed: it is the output of the stateful op "
                            f"{k.node.op} '{k.node.name}'; feed a placeholder instead")
        return k

    def _target_for(self, nodes):
        if self.target:
            return self.target
        return placement_target(n.device for n in nodes)

    # ---- running ------------------------------------------------------------------------------
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Evaluate `fetches` (a tensor, op, name, or nested list/tuple/dict of them) with `feed_dict`."""
        if self._closed:
            raise GraphError("attempted to use a closed Session")
        leaves = [self._resolve_fetch(f) for f in flatten_fetches(fetches)]
        providers = self.graph.get_collection(FEED_PROVIDERS)  # e.g. tf.data iterators feed their tensors
        if providers:
            fed = [self._resolve_feed_key(k) for k in (feed_dict or {})]
            extra = {}
            for provide in providers:
                extra.update(provide(self.graph, [f if isinstance(f, Node) else f.node for f in leaves], fed))
            feed_dict = {**(feed_dict or {}), **extra} if extra else feed_dict
        feeds = self._checked_feeds(feed_dict)
        exe, fetch_index = self._compiled_for(leaves, feeds)
        plan = exe.plan
        fed = list(feeds.values()) + self._next_counters(exe)
        trace = [] if wants_trace(options, run_metadata) else None
        try:
            if plan.variable_reads or plan.variable_writes:
                with self._variable_lock.hold(writes=bool(plan.variable_writes)):
                    self._prepare_variables(plan)
                    results = exe.run(fed, self.variables, trace)
                    self.initialized.update(plan.variable_writes)
            else:
                results = exe.run(fed, None, trace) if plan.calls or plan.fetches else []
        except MemoryError as e:
            if isinstance(e, ResourceExhaustedError):
                raise
            need = plan.arena_bytes + sum(b.nbytes for b in plan.buffers if b.offset < 0)
            raise ResourceExhaustedError(f"out of memory running fetches {[t.name for t in leaves]}: the run "
                                         f"needs about {_size(need)} of buffers for these feed shapes") from None
        if trace is not None:
            record_trace(run_metadata, plan.target, trace)
        values = [None if i is None else results[i] for i in fetch_index]
        return pack_results(fetches, values)

    def _next_counters(self, exe):
        """The run counters of the random ops in `exe`, each advanced for the next run (atomically: runs in
        other threads draw other values)."""
        values = []
        with self._random_lock:
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
        from .device import tvm_device
        dev = tvm_device(plan.target)
        for name in plan.variable_reads:  # a value set on the host (Saver.restore) moves to the device once
            value = self.variables[name]
            if value.device != dev:
                from graphc import tvm_runtime
                self.variables[name] = tvm_runtime.tensor(tvm_runtime.to_numpy(value), dev)
        if plan.variable_writes:
            import tvm
            specs = {b.var_name: b for b in plan.buffers if b.var_name}
            for name in plan.variable_writes:
                if name not in self.variables or self.variables[name].device != dev:
                    b = specs[name]
                    self.variables[name] = tvm.runtime.empty(tuple(b.shape), dtypes.storage_name(b.dtype), dev)

    def set_variable(self, name, value):
        """Store `value` (an array) as variable `name`'s value on this session's device (Saver.restore)."""
        import tvm
        with self._variable_lock.hold(writes=True):
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
        if feed_dict is not None and not hasattr(feed_dict, "items"):
            raise FeedError(f"feed_dict must be a dict of {{placeholder or tensor name: value}}, "
                            f"not a {type(feed_dict).__name__}")
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
            with self._compile_lock:  # another thread may have compiled it meanwhile
                exe = self._cache.get(key)
                if exe is None:
                    exe = self._compile(tensors, ops, feeds)
                    self._cache[key] = exe  # only a complete executable enters the cache
                    self.compile_count += 1
                    while len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)
        else:
            try:
                self._cache.move_to_end(key)
            except KeyError:  # evicted by a compile in another thread meanwhile
                pass
        return exe, fetch_index

    def _compile(self, tensors, ops, feeds):
        from graphc.graph import needed_nodes

        from .compiler import compile_fetches
        nodes = needed_nodes([t.node for t in tensors] + ops, {id(t) for t in feeds})
        feed_specs = {t: (a.shape, dtypes.as_dtype(a.dtype)) for t, a in feeds.items()}
        # random ops' run counters are fed by the session, after the caller's feeds
        counters = [n.outputs[0] for n in nodes if n.op == "random_counter"]
        feed_specs.update({t: ((), dtypes.int64) for t in counters})
        exe = compile_fetches(tensors, feed_specs, ops, self._target_for(nodes), self.opt_level,
                              memory_budget=self.memory_budget)
        exe.random_counters = [t.node.name for t in counters]
        exe.num_threads = self.num_threads
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
