"""Nested structures of tensors or values (lists, tuples, namedtuples, dicts in insertion order, composite
fetches such as summary ops): their leaves in order, and leaves packed back into a structure. Session
fetches and tf.cond/while_loop/map_fn loop values use the same rules."""


def flatten(structure):
    """The leaves of a nested list/tuple/dict/namedtuple, in order."""
    if hasattr(structure, "_fetch_tensors"):  # a composite fetch (a summary op): its tensors
        return list(structure._fetch_tensors)
    if isinstance(structure, dict):
        return [leaf for k in structure for leaf in flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [leaf for s in structure for leaf in flatten(s)]
    return [structure]


def pack(structure, leaves):
    """`leaves` (flat, in flatten's order) rebuilt into the shape of `structure`."""
    return _pack(structure, iter(leaves))


def _pack(f, it):
    # (a module-level function: a recursive closure would be a reference cycle keeping fetched
    # arrays alive until the garbage collector runs, so the executor could not reuse their memory)
    if hasattr(f, "_fetch_tensors"):
        return f._fetch_value([next(it) for _ in f._fetch_tensors])
    if isinstance(f, dict):
        return type(f)((k, _pack(v, it)) for k, v in f.items())
    if isinstance(f, tuple) and hasattr(f, "_fields"):
        return type(f)(*[_pack(v, it) for v in f])
    if isinstance(f, (list, tuple)):
        return type(f)(_pack(v, it) for v in f)
    return next(it)
