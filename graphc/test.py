"""Testing helpers: numeric (central-difference, float64) checks of graphc's symbolic gradients.

Both sides run through a graphc Session, so the check covers the gradient rules, the autodiff
pass and the generated kernels together.
"""
import numpy as np

from .graph import Graph
from .ops import constant, multiply, placeholder, reduce_sum

EPS = 1e-6


class GradientCheckError(AssertionError):
    """The symbolic and numeric gradients disagree."""


def _build(f, inputs, seed):
    """Graph with float64 placeholders for the float inputs, the scalar loss sum(f(...) * w)."""
    rng = np.random.default_rng(seed)
    g = Graph()
    with g.as_default():
        phs = [placeholder(np.asarray(a).dtype, np.shape(a)) for a in inputs]
        outs = f(*phs)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        outs = [o for o in outs if o.dtype.is_floating]
        if not outs:
            raise ValueError("check_gradients: f has no floating-point output to differentiate")
        loss = None
        for o in outs:
            w = constant(rng.uniform(0.5, 1.5, size=tuple(o.shape)).astype(o.dtype.np))
            term = reduce_sum(multiply(o, w))
            loss = term if loss is None else loss + term
    return g, phs, loss


def _compare(name, symbolic, numeric, rtol, atol):
    err = np.abs(symbolic - numeric)
    bound = atol + rtol * np.abs(numeric)
    if np.any(err > bound):
        i = np.unravel_index(np.argmax(err - bound), err.shape) if err.ndim else ()
        raise GradientCheckError(f"{name}: symbolic {symbolic[i] if err.ndim else symbolic} vs numeric "
                                 f"{numeric[i] if err.ndim else numeric} at index {i} "
                                 f"(max abs error {err.max():.3g})")
    return float(err.max()) if err.size else 0.0


def check_gradients(f, inputs, rtol=1e-4, atol=1e-5, seed=0, second_order=False, opt_level=3):
    """Check d loss/d input of loss = sum(f(*inputs) * w) against central differences.

    `inputs` are numpy arrays; float ones (use float64) are differentiated, others held fixed.
    With second_order, also checks Hessian-vector products against differences of gradients.
    Returns the largest absolute error; raises GradientCheckError on a mismatch.
    """
    from graphc import gradients
    from graphc.runtime.session import Session

    inputs = [np.asarray(a) for a in inputs]
    g, phs, loss = _build(f, inputs, seed)
    wrt = [i for i, a in enumerate(inputs) if a.dtype.kind == "f"]
    with g.as_default():
        grads = gradients(loss, [phs[i] for i in wrt])
        grads = [gr if gr is not None else constant(np.zeros(inputs[i].shape, inputs[i].dtype))
                 for gr, i in zip(grads, wrt)]
        hvp = None
        if second_order:
            rng = np.random.default_rng(seed + 1)
            vs = [rng.uniform(-1, 1, inputs[i].shape).astype(inputs[i].dtype) for i in wrt]
            dot = None
            for gr, v in zip(grads, vs):
                term = reduce_sum(multiply(gr, constant(v)))
                dot = term if dot is None else dot + term
            hvp = gradients(dot, [phs[i] for i in wrt])
            hvp = [h if h is not None else constant(np.zeros(inputs[i].shape, inputs[i].dtype))
                   for h, i in zip(hvp, wrt)]
    sess = Session(graph=g, opt_level=opt_level)
    feed = dict(zip(phs, inputs))
    symbolic = sess.run(grads, feed)
    worst = 0.0
    for k, i in enumerate(wrt):
        numeric = np.zeros(inputs[i].shape, np.float64)
        flat = inputs[i].reshape(-1)
        for j in range(flat.size):
            saved = flat[j]
            flat[j] = saved + EPS
            up = sess.run(loss, feed)
            flat[j] = saved - EPS
            down = sess.run(loss, feed)
            flat[j] = saved
            numeric.reshape(-1)[j] = (up - down) / (2 * EPS)
        worst = max(worst, _compare(f"d loss / d input {i}", symbolic[k], numeric, rtol, atol))
    if second_order:
        got = sess.run(hvp, feed)
        shifted = [dict(feed) for _ in range(2)]
        for k, i in enumerate(wrt):
            shifted[0][phs[i]] = inputs[i] + EPS * vs[k]
            shifted[1][phs[i]] = inputs[i] - EPS * vs[k]
        up, down = sess.run(grads, shifted[0]), sess.run(grads, shifted[1])
        for k, i in enumerate(wrt):
            numeric = (up[k] - down[k]) / (2 * EPS)
            worst = max(worst, _compare(f"Hessian-vector product for input {i}", got[k], numeric,
                                        rtol * 10, atol * 10))
    return worst
