"""Logistic regression by Newton's method: the Hessian is never formed; each conjugate-gradient iteration
asks graphc for a Hessian-vector product, the gradient of (gradient . v), a second-order derivative.
Data: scikit-learn's breast cancer set; the bar is scikit-learn's own LogisticRegression optimum."""
import numpy as np

import graphc as gc
from .common import Result, quick_result, train_loop

NAME, METRIC, TARGET = "newton", "max_coef_err", "<= 1e-4 in <= 10 Newton steps"
C = 1.0  # scikit-learn's inverse L2 strength; the intercept is not penalized, as in scikit-learn


def data():
    """Standardized breast cancer features (float64) and 0/1 labels."""
    from sklearn.datasets import load_breast_cancer
    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    return x.astype(np.float64), y.astype(np.float64)


def build(n_features):
    """The model: placeholders, weight Variables, loss, gradient and Hessian-vector product tensors."""
    g = gc.Graph()
    with g.as_default():
        x = gc.placeholder(gc.float64, [None, n_features], name="x")
        y = gc.placeholder(gc.float64, [None], name="y")
        w = gc.Variable(np.zeros(n_features), name="w")
        b = gc.Variable(np.zeros(()), name="b")
        logits = gc.reshape(gc.matmul(x, gc.reshape(w, [-1, 1])), [-1]) + b
        # -log likelihood = softplus(z) - y z; float64 keeps exp(z) finite for these |z| (no kinks, so the
        # second derivative is right everywhere, unlike the max(z, 0) + log1p(exp(-|z|)) form at z = 0)
        softplus = gc.log(1.0 + gc.exp(logits))
        loss = gc.reduce_sum(softplus - y * logits) + 0.5 / C * gc.reduce_sum(gc.square(w))
        grad_w, grad_b = gc.gradients(loss, [w.value(), b.value()])
        v_w = gc.placeholder(gc.float64, [n_features], name="v_w")
        v_b = gc.placeholder(gc.float64, [], name="v_b")
        hv_w, hv_b = gc.gradients(gc.reduce_sum(grad_w * v_w) + grad_b * v_b, [w.value(), b.value()])
        step_w = gc.placeholder(gc.float64, [n_features], name="step_w")
        step_b = gc.placeholder(gc.float64, [], name="step_b")
        update = gc.group(gc.assign_add(w, step_w), gc.assign_add(b, step_b))
        prob = gc.sigmoid(logits, name="prob")
    return dict(graph=g, x=x, y=y, w=w, b=b, loss=loss, grad=(grad_w, grad_b), v=(v_w, v_b),
                hv=(hv_w, hv_b), step=(step_w, step_b), update=update, prob=prob)


def conjugate_gradient(hvp, g, iters, tol=1e-12):
    """Solve H d = -g with `iters` CG iterations, H given only through hvp(v)."""
    d = np.zeros_like(g)
    r = -g
    p = r.copy()
    rr = r @ r
    for _ in range(iters):
        hp = hvp(p)
        alpha = rr / (p @ hp)
        d += alpha * p
        r -= alpha * hp
        rr_new = r @ r
        if rr_new < tol:
            break
        p = r + rr_new / rr * p
        rr = rr_new
    return d


def sklearn_coefficients(x, y):
    """scikit-learn's optimum of the same objective (L2, C, unpenalized intercept), solved tightly."""
    from sklearn.linear_model import LogisticRegression
    clf = LogisticRegression(C=C, tol=1e-12, max_iter=100000, solver="newton-cg").fit(x, y)
    return np.concatenate([clf.coef_[0], clf.intercept_])


def train(quick=False, steps=None, progress_bar=True):
    """Newton steps (10, or 3 with quick) with CG on Hessian-vector products; compared to scikit-learn."""
    x, y = data()
    steps = steps or (3 if quick else 10)
    m = build(x.shape[1])
    n = x.shape[1]
    sess = gc.Session(graph=m["graph"])
    sess.run(gc.variables_initializer([m["w"], m["b"]]))
    feed = {m["x"]: x, m["y"]: y}

    def hvp(v):
        hw, hb = sess.run(list(m["hv"]), {**feed, m["v"][0]: v[:n], m["v"][1]: np.float64(v[n])})
        return np.concatenate([hw, [hb]])

    def newton_step(i):
        loss, gw, gb = sess.run([m["loss"], *m["grad"]], feed)
        d = conjugate_gradient(hvp, np.concatenate([gw, [gb]]), iters=n + 1)
        sess.run(m["update"], {m["step"][0]: d[:n], m["step"][1]: np.float64(d[n])})
        return loss  # before the step

    losses = train_loop(newton_step, steps, NAME, progress_bar).losses
    losses.append(float(sess.run(m["loss"], feed)))
    w, b = sess.run([m["w"].value(), m["b"].value()])
    err = float(np.abs(np.concatenate([w, [b]]) - sklearn_coefficients(x, y)).max())
    if quick:
        return quick_result(NAME, losses, sess, [m["prob"]], {m["x"]: x[:16]}, {"max_coef_err": f"{err:.3g}"}, 1)
    return Result(NAME, METRIC, err, TARGET, err <= 1e-4 and steps <= 10, losses, sess, [m["prob"]],
                  {m["x"]: x[:16]}, {"newton_steps": steps})
