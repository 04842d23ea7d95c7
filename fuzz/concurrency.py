"""Concurrency stress: one Session run from many threads, the same fetch and different signatures
(batch sizes compiled while other threads run), with a variable counter; every result is compared
with the numpy reference of the same feed, and the counter with the number of increments. Then the same
graph exported and loaded as an artifact, its runner shared by the threads in the same way."""
import os
import tempfile
import threading

import numpy as np


def _in_threads(work, threads):
    """Run work(t) on `threads` threads; the errors they raised, as strings."""
    errors = []

    def guarded(t):
        try:
            work(t)
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            errors.append(f"{type(e).__name__}: {e}")
    ts = [threading.Thread(target=guarded, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def case(runs, threads, seed):
    """`runs` Session.run calls spread over `threads` threads: ('ok', ...) when all match."""
    import graphc as gc
    from graphc import reference
    rng = np.random.default_rng(seed)
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(np.float32, [None, 6])
        w = gc.constant(rng.standard_normal((6, 6)).astype(np.float32))
        y = gc.tanh(gc.matmul(x, w)) + gc.relu(x)
        s = gc.reduce_max(y, axis=1)
        counter = gc.Variable(np.zeros(16, np.float32))
        bump = gc.assign_add(counter, gc.constant(np.ones(16, np.float32)))
        init = gc.global_variables_initializer()
    feeds = [rng.standard_normal((1 + k % 3, 6)).astype(np.float32) for k in range(12)]
    wrong, bumps = [], [0] * threads
    with gc.Session(graph=g) as sess:
        sess.run(init)
        # the numpy reference of every feed; nothing is compiled before the threads start, so
        # signatures are compiled while other threads run
        with np.errstate(all="ignore"):
            want = [reference.evaluate([y, s], {x: f}) for f in feeds]

        def work(t):
            local = np.random.default_rng(seed * 100 + t)
            for r in range(runs // threads):
                if local.random() < 0.05:
                    sess.run(bump)
                    bumps[t] += 1
                    continue
                i = int(local.integers(len(feeds)))
                got = sess.run([y, s], {x: feeds[i]})
                if not all(np.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in zip(got, want[i])):
                    wrong.append((t, r, i))
        errors = _in_threads(work, threads)
        final = sess.run(counter)
        errors += _artifact_runs(gc.compile({"y": y, "s": s}, {x: feeds[0]}), feeds[0::3], want[0::3], runs,
                                 threads, wrong)
    if errors:
        return "unclear", f"{len(errors)} threads raised: {errors[:3]}"
    if wrong:
        return "mismatch", f"{len(wrong)} of {runs} concurrent results differ from sequential runs"
    if not np.array_equal(final, np.full(16, sum(bumps), np.float32)):
        return "mismatch", f"counter {final[0]} after {sum(bumps)} concurrent increments"
    return "ok", f"{runs} runs"


def _artifact_runs(exe, feeds, want, runs, threads, wrong):
    """`runs` runs of `exe` exported and loaded as an artifact, from `threads` threads; results that
    differ from `want` go to `wrong`; returns the threads' errors."""
    from graphc.runtime.artifact import load
    fd, path = tempfile.mkstemp(suffix=".gca")
    os.close(fd)
    try:
        exe.export(path)
        runner = load(path)
    finally:
        os.remove(path)

    def work(t):
        for r in range(runs // threads):
            i = (t + r) % len(feeds)
            got = runner.run([feeds[i]])  # outputs in export order: y, s
            if not all(np.allclose(a, b, rtol=1e-5, atol=1e-5) for a, b in zip(got, want[i])):
                wrong.append(("artifact", t, r, i))
    with runner:
        return _in_threads(work, threads)


def cases(total_runs, threads=8, seed=0, per_case=2000):
    """Stress cases totalling `total_runs` runs."""
    n = max(1, total_runs // per_case)
    return [(f"concurrency seed={seed + k}", __name__, "case", (min(per_case, total_runs), threads, seed + k))
            for k in range(n)]
