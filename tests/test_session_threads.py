"""One Session used from many threads gives the results sequential runs give (TF1's Session.run is
thread-safe): the same signature at once, new signatures compiled while others run, variable updates."""
import threading

import numpy as np

import graphc
from graphc import reference


def _graph():
    g = graphc.Graph()
    with g.as_default():
        x = graphc.placeholder(np.float32, [None, 8])
        w = graphc.constant(np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32))
        y = graphc.tanh(graphc.matmul(x, w)) + x * 2.0
        s = graphc.reduce_sum(y, axis=1)
    return g, x, y, s


def _in_threads(work, n_threads):
    errors = []

    def guarded(k):
        try:
            work(k)
        except BaseException as e:  # noqa: BLE001 - reported in the main thread
            errors.append(e)
    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_same_fetch_from_many_threads_matches_sequential_runs():
    g, x, y, s = _graph()
    rng = np.random.default_rng(1)
    feeds = [rng.standard_normal((4, 8)).astype(np.float32) for _ in range(16)]
    with graphc.Session(graph=g) as sess:
        want = [sess.run([y, s], {x: f}) for f in feeds]
        wrong = []

        def work(k):
            for r in range(60):
                i = (k * 7 + r) % len(feeds)
                got = sess.run([y, s], {x: feeds[i]})
                if not all(np.array_equal(a, b) for a, b in zip(got, want[i])):
                    wrong.append((k, r))
        _in_threads(work, 6)
        assert not wrong, f"{len(wrong)} of 360 concurrent results differ from sequential runs"


def test_new_signatures_compiled_while_other_threads_run():
    g, x, y, s = _graph()
    rng = np.random.default_rng(2)
    feeds = {n: rng.standard_normal((n, 8)).astype(np.float32) for n in range(1, 5)}
    with graphc.Session(graph=g) as sess:
        wrong = []

        def work(k):
            for r in range(12):
                n = 1 + (k + r) % 4  # each thread meets new batch sizes (new signatures) as it goes
                f = feeds[n]
                got = sess.run(s if r % 2 else y, {x: f})
                want = reference.evaluate([s if r % 2 else y], {x: f})[0]
                if not np.allclose(got, want, rtol=1e-5, atol=1e-5):
                    wrong.append((k, r))
        _in_threads(work, 4)
        assert not wrong
        assert sess.compile_count == 8  # each signature compiled once, whichever thread met it first


def test_variable_assigns_are_atomic_per_run():
    g = graphc.Graph()
    with g.as_default():
        v = graphc.Variable(np.zeros(1000, np.float32))
        inc = graphc.assign_add(v, graphc.constant(np.ones(1000, np.float32)))
        init = graphc.global_variables_initializer()
    with graphc.Session(graph=g) as sess:
        sess.run(init)
        seen = []

        def work(k):
            for _ in range(50):
                out = sess.run(inc if k % 2 else v)
                seen.append(np.ptp(out))  # a torn read would mix old and new elements
        _in_threads(work, 4)
        assert max(seen) == 0
        np.testing.assert_array_equal(sess.run(v), np.full(1000, 100, np.float32))


# A loaded artifact run from many threads, in a fresh process that loads it with the runtime alone
ARTIFACT_THREADS = r"""
import json, sys, threading
import numpy as np
import graphc.runtime

runner = graphc.runtime.load(sys.argv[1])
rng = np.random.default_rng(0)
feeds = [rng.standard_normal((3, 8)).astype(np.float32) for _ in range(16)]
want = [runner.run({"x": f})["y"] for f in feeds]
wrong, errors = [], []

def work(k):
    try:
        for r in range(200):
            i = (k * 5 + r) % len(feeds)
            if not np.array_equal(runner.run({"x": feeds[i]})["y"], want[i]):
                wrong.append((k, r))
    except BaseException as e:
        errors.append(repr(e))

threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"wrong": len(wrong), "errors": errors, "want": [w.tolist() for w in want[:2]],
                  "modules": sorted(m for m in ("graphc.passes", "graphc.codegen", "tvm") if m in sys.modules)}))
"""


def test_loaded_artifact_from_many_threads_matches_sequential_runs(mlp_gca):
    import json
    import subprocess
    import sys
    path, xv, want = mlp_gca
    proc = subprocess.run([sys.executable, "-c", ARTIFACT_THREADS, str(path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["modules"] == []  # loaded and run without the compiler
    assert report["errors"] == []
    assert report["wrong"] == 0, f"{report['wrong']} of 1600 concurrent results differ from sequential runs"
    # the sequential runs themselves are right (numpy reference of the MLP's first feeds)
    from test_artifact import mlp
    with graphc.Graph().as_default():
        _, _, ref = mlp(np.random.default_rng(0))
    rng = np.random.default_rng(0)
    for got in report["want"]:
        np.testing.assert_allclose(got, ref(rng.standard_normal((3, 8)).astype(np.float32)), rtol=1e-4, atol=1e-4)
