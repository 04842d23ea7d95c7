"""Random graphs (elementwise, broadcast, reductions, matmul, shape ops, gathers, with NaN/inf in some
feeds) compiled at an opt level and compared with the numpy reference interpreter."""
import numpy as np

from .harness import classify_error, same

UNARY = ["tanh", "sigmoid", "relu", "abs", "negative", "exp", "square", "sin", "sign"]
BINARY = ["add", "subtract", "multiply", "maximum", "minimum", "divide"]
REDUCE = ["reduce_sum", "reduce_max", "reduce_min", "reduce_mean"]


def _build(rng, gc):
    """Placeholders, their feeds and the fetched tensors of one random graph."""
    feeds, pool = {}, []
    for _ in range(int(rng.integers(1, 4))):
        shape = (int(rng.integers(1, 5)), int(rng.integers(1, 6)))
        x = gc.placeholder(np.float32, shape)
        v = rng.standard_normal(shape).astype(np.float32)
        if rng.random() < 0.2:  # IEEE specials: NaN must stay NaN, infinities as numpy has them
            v.reshape(-1)[rng.integers(0, v.size)] = rng.choice([np.nan, np.inf, -np.inf])
        feeds[x] = v
        pool.append(x)
    for _ in range(int(rng.integers(2, 10))):
        a = pool[int(rng.integers(len(pool)))]
        kind = rng.random()
        if kind < 0.25:
            out = getattr(gc, rng.choice(UNARY))(a)
        elif kind < 0.5:
            same_shape = [t for t in pool if tuple(t.shape) == tuple(a.shape)]
            b = same_shape[int(rng.integers(len(same_shape)))]
            if rng.random() < 0.3:  # broadcast a row constant
                b = gc.constant(rng.standard_normal((1, a.shape[1])).astype(np.float32))
            op = rng.choice(BINARY)
            if op == "divide":
                b = gc.add(gc.square(b), gc.constant(np.float32(1.0)))
            out = getattr(gc, op)(a, b)
        elif kind < 0.62:
            out = getattr(gc, rng.choice(REDUCE))(a, axis=int(rng.integers(0, 2)), keepdims=True)
        elif kind < 0.7:
            out = gc.transpose(a)
        elif kind < 0.78:
            out = gc.matmul(a, gc.transpose(a)) if rng.random() < 0.5 else gc.matmul(gc.transpose(a), a)
        elif kind < 0.85:
            out = gc.concat([a, a], axis=int(rng.integers(0, 2)))
        elif kind < 0.92:
            n = int(a.shape[0])
            idx = rng.integers(-n, n, size=int(rng.integers(1, 4)))
            out = gc.gather(a, gc.constant(idx.astype(rng.choice(["int32", "int64"]))), axis=0)
        elif kind < 0.96:
            out = gc.nn.softmax(a) if hasattr(gc, "nn") and hasattr(gc.nn, "softmax") else gc.softmax(a)
        else:
            out = gc.where(gc.greater(a, gc.zeros_like(a)), a, gc.negative(a))
        pool.append(out)
    fetches = pool[-1:] if rng.random() < 0.5 else pool[-2:]
    return feeds, fetches


def case(seed, opt_level):
    """One random graph at one opt level: ('ok', ...) when every fetch matches the reference."""
    import graphc as gc
    from graphc import reference
    rng = np.random.default_rng(seed)
    g = gc.Graph()
    with g.as_default():
        feeds, fetches = _build(rng, gc)
    with np.errstate(all="ignore"):
        want = reference.evaluate(fetches, feeds)
    try:
        with gc.Session(graph=g, opt_level=opt_level) as sess:
            got = sess.run(fetches, feeds)
    except Exception as e:  # noqa: BLE001 - a valid graph must run: even a clear error is a failure here
        outcome, detail = classify_error(e)
        return ("unclear" if outcome == "rejected" else outcome), detail
    for k, (gv, wv) in enumerate(zip(got, want)):
        if not same(gv, wv):
            return "mismatch", f"fetch {k} ({fetches[k].name}): got {gv!r}, want {wv!r}"
    return "ok", ""


def cases(n, seed=0):
    """`n` random graphs, the opt level cycling through 0..3."""
    return [(f"graph seed={seed + k} opt={k % 4}", __name__, "case", (seed + k, k % 4)) for k in range(n)]
