"""The on-disk kernel cache (codegen/cache.py): hits skip the build, entries are written whole, a
corrupted entry is ignored and rebuilt, GRAPHC_CACHE=0 turns it off."""
import glob
import os
import warnings

import numpy as np
import pytest

import graphc as gc
from graphc.codegen.cache import library_file


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("GRAPHC_CACHE", raising=False)
    return tmp_path


def _compile_and_run(x_value):
    """A fresh graph (new tensors, same structure) compiled in a fresh Session: (executable, result)."""
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float32, [None, 8], name="x")
        w = gc.constant(np.linspace(-1, 1, 8 * 5, dtype=np.float32).reshape(8, 5))
        y = gc.reduce_sum(gc.relu(gc.matmul(x, w) + 0.5), axis=1)
    sess = gc.Session(graph=g)
    exe = sess.compiled(y, {x: x_value})
    return exe, sess.run(y, {x: x_value})


def _expected(x_value):
    w = np.linspace(-1, 1, 8 * 5, dtype=np.float32).reshape(8, 5)
    return np.maximum(x_value @ w + 0.5, 0).sum(1)


def _entries(folder):
    return glob.glob(os.path.join(str(folder), "**", "*.so"), recursive=True)


def test_second_compile_loads_the_cached_library(cache_dir, rng, monkeypatch):
    import tvm
    builds = []
    real_compile = tvm.compile
    monkeypatch.setattr(tvm, "compile", lambda *a, **k: builds.append(1) or real_compile(*a, **k))
    x = rng.standard_normal((3, 8)).astype(np.float32)
    first, got1 = _compile_and_run(x)
    assert len(builds) == 1 and len(_entries(cache_dir)) == 1
    assert library_file(first.module) == _entries(cache_dir)[0]  # runs the stored library, not a JIT copy
    second, got2 = _compile_and_run(x)
    assert len(builds) == 1  # the second compile built nothing
    assert library_file(second.module) == _entries(cache_dir)[0]
    np.testing.assert_allclose(got1, _expected(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got2, _expected(x), rtol=1e-5, atol=1e-5)
    assert not glob.glob(os.path.join(str(cache_dir), "**", ".partial-*"), recursive=True)


def test_other_shapes_get_their_own_entry(cache_dir, rng):
    _compile_and_run(rng.standard_normal((3, 8)).astype(np.float32))
    _compile_and_run(rng.standard_normal((4, 8)).astype(np.float32))
    assert len(_entries(cache_dir)) == 2


def test_corrupted_entry_is_ignored_and_rebuilt(cache_dir, rng):
    x = rng.standard_normal((3, 8)).astype(np.float32)
    _compile_and_run(x)
    (entry,) = _entries(cache_dir)
    # A damaged library, as another process might leave it (a new file: this process runs the old one,
    # and truncating a library a process has mapped crashes it, as for any shared library).
    with open(entry, "rb") as f:
        data = f.read()
    with open(entry + ".damaged", "wb") as f:
        f.write(data[:len(data) // 3])
    os.replace(entry + ".damaged", entry)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exe, got = _compile_and_run(x)
    assert any("unreadable kernel cache entry" in str(w.message) for w in caught)
    np.testing.assert_allclose(got, _expected(x), rtol=1e-5, atol=1e-5)
    exe, got = _compile_and_run(x)  # the rebuilt entry is whole again
    assert library_file(exe.module) == entry
    np.testing.assert_allclose(got, _expected(x), rtol=1e-5, atol=1e-5)


def test_cache_off(cache_dir, rng, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    x = rng.standard_normal((3, 8)).astype(np.float32)
    exe, got = _compile_and_run(x)
    np.testing.assert_allclose(got, _expected(x), rtol=1e-5, atol=1e-5)
    assert _entries(cache_dir) == []


def test_artifact_from_a_cached_library(cache_dir, rng, tmp_path_factory):
    x = rng.standard_normal((3, 8)).astype(np.float32)
    _compile_and_run(x)
    exe, _ = _compile_and_run(x)
    assert library_file(exe.module)  # a loaded library cannot export_library: its file is copied
    path = str(tmp_path_factory.mktemp("artifact") / "m.gca")
    exe.export(path)
    (got,) = gc.runtime.load(path).run([x])
    np.testing.assert_allclose(got, _expected(x), rtol=1e-5, atol=1e-5)
