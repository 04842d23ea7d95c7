"""Recurrent layers: RNN, GRU and LSTM, unrolled over the (static) sequence length into graphc ops.

The input projection X.W^T of every time step is one matmul; each step then adds H.R^T and applies
the gates. Gate order (ONNX): GRU z, r, h; LSTM i, o, f, c. `sequence_lens` shorter than the sequence
freeze the state and zero Y past each batch row's length (forward direction).
"""
import numpy as np

import graphc as gc

from . import CONVERTERS, OnnxImportError, const, converter
from .shape import slice_static

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
_DEFAULT_ACTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


def _activation(ctx, node, name, alpha, beta):
    """The ONNX RNN activation `name` as a function of a tensor."""
    if name == "Affine":
        return lambda x: gc.add(gc.multiply(const(alpha, x), x), const(beta, x))
    if name == "ScaledTanh":
        return lambda x: gc.multiply(const(alpha, x), gc.tanh(gc.multiply(const(beta, x), x)))
    conv = CONVERTERS.get(name)
    if conv is None:
        raise OnnxImportError(f"activation {name} is not one ONNX recurrent layers allow")
    params = {k: v for k, v in (("alpha", alpha), ("beta", beta)) if v is not None}
    return lambda x: conv(ctx, node, [x], params)


def _part(t, k, size, axis=-1):
    """The k-th block of `size` along `axis` (gates are stacked in W, R and B)."""
    return slice_static(t, [k * size], [(k + 1) * size], [axis % len(t.shape)], [1])


def _take(t, i, axis=0):
    return gc.squeeze(slice_static(t, [i], [i + 1], [axis], [1]), axis=[axis])


@converter("RNN", "GRU", "LSTM")
def _recurrent(ctx, node, ins, attrs):
    kind = node.op_type
    ins = ins + [None] * (8 - len(ins))
    x, w, r, b, seq_lens, h0 = ins[:6]
    c0, peep = (ins[6], ins[7]) if kind == "LSTM" else (None, None)
    hidden = attrs["hidden_size"]
    gates = _GATES[kind]
    direction = attrs.get("direction", "forward")
    dirs = ["forward", "reverse"] if direction == "bidirectional" else [direction]
    if attrs.get("layout", 0):
        x = gc.transpose(x, [1, 0, 2])
        h0 = None if h0 is None else gc.transpose(h0, [1, 0, 2])
        c0 = None if c0 is None else gc.transpose(c0, [1, 0, 2])
    steps, batch, _ = x.shape
    if steps is None or batch is None:
        raise OnnxImportError(f"{kind} needs its sequence length and batch size known at import time")
    acts = list(attrs.get("activations", [])) or _DEFAULT_ACTS[kind] * len(dirs)
    alphas, betas = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
    fns = [_activation(ctx, node, a, alphas[i] if i < len(alphas) else None, betas[i] if i < len(betas) else None)
           for i, a in enumerate(acts)]
    clip = attrs.get("clip")
    per_dir = len(fns) // len(dirs)

    mask = None
    if seq_lens is not None:
        lens = ctx.maybe_static(seq_lens)
        if lens is None or (np.asarray(lens) != steps).any():
            if "reverse" in dirs:
                raise OnnxImportError("sequence_lens shorter than the sequence are supported in the forward "
                                      "direction only")
            mask = gc.cast(seq_lens, gc.int64)

    ys, hs, cs = [], [], []
    for d, name in enumerate(dirs):
        f = fns[d * per_dir:(d + 1) * per_dir]

        def act(i, v):
            if clip is not None:
                v = gc.minimum(gc.maximum(v, const(-clip, v)), const(clip, v))
            return f[i](v)
        wd, rd = _take(w, d), _take(r, d)
        xw = gc.reshape(gc.matmul(gc.reshape(x, [steps * batch, -1]), wd, transpose_b=True),
                        [steps, batch, gates * hidden])
        if b is not None:
            bd = _take(b, d)
            xw = gc.add(xw, gc.add(_part(bd, 0, gates * hidden), _part(bd, 1, gates * hidden)))
        zeros = gc.constant(np.zeros((batch, hidden), x.dtype.np))
        h = zeros if h0 is None else _take(h0, d)
        c = zeros if c0 is None else _take(c0, d)
        rb = None if b is None else _part(_take(b, d), 1, gates * hidden)  # GRU's reset bias
        p = None if peep is None else _take(peep, d)
        outs = [None] * steps
        order = range(steps) if name == "forward" else range(steps - 1, -1, -1)
        for t in order:
            xt = _take(xw, t)
            if kind == "RNN":
                h_new = act(0, gc.add(xt, gc.matmul(h, rd, transpose_b=True)))
                c_new = None
            elif kind == "GRU":
                hr = gc.matmul(h, _part(rd, 0, 2 * hidden, 0), transpose_b=True)
                z = act(0, gc.add(_part(xt, 0, hidden), _part(hr, 0, hidden)))
                rt = act(0, gc.add(_part(xt, 1, hidden), _part(hr, 1, hidden)))
                rh = _part(rd, 2, hidden, 0)
                xh = _part(xt, 2, hidden)
                if attrs.get("linear_before_reset", 0):
                    lin = gc.matmul(h, rh, transpose_b=True)  # xt already holds Wbh + Rbh
                    if rb is not None:
                        lin = gc.add(lin, _part(rb, 2, hidden))
                        xh = gc.subtract(xh, _part(rb, 2, hidden))
                    cand = act(1, gc.add(xh, gc.multiply(rt, lin)))
                else:
                    cand = act(1, gc.add(xh, gc.matmul(gc.multiply(rt, h), rh, transpose_b=True)))
                h_new = gc.add(gc.multiply(gc.subtract(const(1, z), z), cand), gc.multiply(z, h))
                c_new = None
            else:
                g = gc.add(xt, gc.matmul(h, rd, transpose_b=True))
                i_in, o_in, f_in, c_in = (_part(g, k, hidden) for k in range(4))
                if p is not None:
                    i_in = gc.add(i_in, gc.multiply(_part(p, 0, hidden), c))
                    f_in = gc.add(f_in, gc.multiply(_part(p, 2, hidden), c))
                it, ft = act(0, i_in), act(0, f_in)
                if attrs.get("input_forget", 0):
                    ft = gc.subtract(const(1, it), it)
                c_new = gc.add(gc.multiply(ft, c), gc.multiply(it, act(1, c_in)))
                if p is not None:
                    o_in = gc.add(o_in, gc.multiply(_part(p, 1, hidden), c_new))
                h_new = gc.multiply(act(0, o_in), act(2, c_new))
            if mask is not None:
                live = gc.reshape(gc.less(const(t, mask), mask), [batch, 1])
                outs[t] = gc.where(live, h_new, zeros)
                h = gc.where(live, h_new, h)
                c = c if c_new is None else gc.where(live, c_new, c)
            else:
                outs[t], h, c = h_new, h_new, (c if c_new is None else c_new)
        ys.append(gc.stack(outs, axis=0))  # [steps, batch, hidden]
        hs.append(h)
        cs.append(c)
    y = gc.stack(ys, axis=1)  # [steps, dirs, batch, hidden]
    y_h, y_c = gc.stack(hs, axis=0), gc.stack(cs, axis=0)
    if attrs.get("layout", 0):
        y = gc.transpose(y, [2, 0, 1, 3])
        y_h, y_c = gc.transpose(y_h, [1, 0, 2]), gc.transpose(y_c, [1, 0, 2])
    return [y, y_h, y_c] if kind == "LSTM" else [y, y_h]
