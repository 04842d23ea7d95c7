"""Persistent on-disk cache of compiled kernel libraries, so a model compiled once compiles again in a
new process without scheduling or LLVM.

An entry is one shared library (TVM export_library) holding every kernel of a compiled graph, named by
a SHA-256 over: each kernel's symbol and its unscheduled TIR (TVMScript text, which is structural: it
names buffers and loop variables, never addresses), the target string (CPU, features, thread count),
the TVM and graphc versions, and the source of the lowering and schedule code (so editing a schedule
invalidates what it produced). Entries live in ~/.cache/graphc (GRAPHC_CACHE_DIR overrides;
GRAPHC_CACHE=0 disables). A writer writes a temporary file and renames it into place, so a reader
never sees a half-written entry; beside it, written last, the library's SHA-256, checked before every
load (dlopen of a damaged library can crash the process rather than fail); an entry that does not
match or fails to load is deleted and rebuilt.
"""
import functools
import hashlib
import os
import tempfile
import warnings

from graphc.files import sha256_file
from graphc import tvm_runtime
from graphc.version import __version__

SUFFIX = ".so"
DIGEST_SUFFIX = ".sha256"


def cache_dir():
    """The cache folder, or None when caching is off (GRAPHC_CACHE=0)."""
    if os.environ.get("GRAPHC_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    return os.environ.get("GRAPHC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "graphc")


@functools.lru_cache(maxsize=None)
def _code_fingerprint():
    """SHA-256 of the codegen sources (lowerings, schedules, build): kernels they made are stale once
    they change."""
    root = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                h.update(os.path.relpath(path, root).encode())
                with open(path, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def _write_atomically(path, data):
    fd, partial = tempfile.mkstemp(prefix=".partial-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def module_key(named_funcs, target, checked=False):
    """The cache key of a library of kernels: [(symbol, unscheduled PrimFunc)] for `target` (a tvm Target),
    `checked`: built with TVM's argument checks (codegen/build.py build_module)."""
    import tvm

    h = hashlib.sha256()
    for part in (str(target), tvm.__version__, __version__, _code_fingerprint(), "checked" * checked):
        h.update(part.encode())
        h.update(b"\0")
    for name, func in named_funcs:
        h.update(name.encode())
        h.update(b"\0")
        h.update(func.script().encode())
        h.update(b"\0")
    return h.hexdigest()


def entry_path(key):
    folder = cache_dir()
    return None if folder is None else os.path.join(folder, key[:2], key + SUFFIX)


def load(key, symbols):
    """The cached module for `key` if there is a loadable one holding every symbol in `symbols`, else
    None (a corrupted or incomplete entry is removed, to be rebuilt)."""
    path = entry_path(key)
    if path is None or not os.path.exists(path + DIGEST_SUFFIX):
        return None
    try:
        with open(path + DIGEST_SUFFIX) as f:
            want = f.read().strip()
        if sha256_file(path) != want:
            raise ValueError("its contents do not match their SHA-256 (damaged or half-written)")
        module = tvm_runtime.load_module(path)  # unloaded with its last user (tvm's would stay forever)
        for s in symbols:
            module[s]
    except Exception as e:  # truncated, corrupted, or built by something else: rebuild it
        warnings.warn(f"graphc: ignoring unreadable kernel cache entry {path}: {str(e).splitlines()[0][:200]}")
        for p in (path + DIGEST_SUFFIX, path):
            try:
                os.remove(p)
            except OSError:
                pass
        return None
    module.graphc_library = path  # the file itself: a loaded library cannot export_library again
    return module


def library_file(module):
    """The file a cache-loaded module came from, or None for a module built in this process."""
    return getattr(module, "graphc_library", None)


def store(key, module):
    """Write `module` (a freshly built tvm module) as the entry for `key`: to a temporary file in the
    same folder, then renamed into place. Returns the entry's path, or None when caching is off or the
    folder is not writable (caching is best effort: compiling never fails for it)."""
    path = entry_path(key)
    if path is None:
        return None
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, partial = tempfile.mkstemp(prefix=".partial-", suffix=SUFFIX, dir=folder)
        os.close(fd)
        try:
            module.export_library(partial)
            digest = sha256_file(partial)
            os.replace(partial, path)
            _write_atomically(path + DIGEST_SUFFIX, digest.encode())
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    except Exception as e:
        warnings.warn(f"graphc: could not write kernel cache entry {path}: {e}")
        return None
    return path
