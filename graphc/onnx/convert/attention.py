"""Transformer ops composed from graphc ops: Attention (opsets 23..25), RotaryEmbedding, LinearAttention.

The compositions follow the ONNX function bodies (onnx/defs/nn/utils.cc and the reference in
onnx.reference.ops): masks become one additive bias, a fully-masked query row yields zeros."""
import numpy as np

import graphc as gc
from graphc import dtypes

from . import OnnxImportError, const, converter, np_dtype, rank_of


def static_dims(x, node, what):
    """The dims of `x` as ints, or an OnnxImportError naming `what` when one is unknown at import time."""
    rank_of(x, node)
    if None in x.shape:
        raise OnnxImportError(f"{node.op_type} needs the shape of {what} known at import time, got {list(x.shape)}")
    return [int(d) for d in x.shape]


def _heads_first(x, heads, node, what):
    """[batch, seq, heads * size] -> [batch, heads, seq, size]."""
    b, s, hidden = static_dims(x, node, what)
    if not heads or hidden % heads:
        raise OnnxImportError(f"{what} hidden size {hidden} is not a multiple of the head count {heads}")
    return gc.transpose(gc.reshape(x, [b, s, heads, hidden // heads]), [0, 2, 1, 3])


def _neg_inf(like):
    return const(-np.inf, like)


def _offset_mask(q_len, kv_len, like, offset, allowed_fn):
    """Additive 0 / -inf bias of where `allowed_fn(diff)` holds, diff = (i + offset) - j for query i, key j.

    `offset` is an int (same for every batch) or an int64 tensor [batch], giving a [batch, 1, q, kv] bias."""
    i = np.arange(q_len, dtype=np.int64).reshape(q_len, 1)
    j = np.arange(kv_len, dtype=np.int64).reshape(1, kv_len)
    if isinstance(offset, int):
        allowed = allowed_fn((i + offset) - j)
        return const(np.where(allowed, 0, -np.inf), like)
    diff = gc.subtract(gc.add(gc.constant(i), gc.reshape(offset, [-1, 1, 1, 1])), gc.constant(j))
    return gc.where(allowed_fn(diff), const(0, like), _neg_inf(like))


def _window_allowed(left, right):
    """allowed_fn of a sliding window: left >= diff >= -right for the bounds that are >= 0."""
    def fn(diff):
        is_np = isinstance(diff, np.ndarray)
        conds = []
        if left >= 0:
            conds.append(diff <= left if is_np else gc.less_equal(diff, gc.constant(np.int64(left))))
        if right >= 0:
            conds.append(-diff <= right if is_np else gc.greater_equal(diff, gc.constant(np.int64(-right))))
        out = conds[0]
        for c in conds[1:]:
            out = (out & c) if is_np else gc.logical_and(out, c)
        return out
    return fn


def _causal_allowed(diff):
    return diff >= 0 if isinstance(diff, np.ndarray) else gc.greater_equal(diff, gc.constant(np.int64(0)))


def _add_bias(bias, term):
    return term if bias is None else gc.add(bias, term)


def _safe_softmax(x):
    """Softmax over the last axis that gives 0 (not NaN) for a row that is entirely -inf."""
    m = gc.reduce_max(x, axis=-1, keepdims=True)
    m = gc.where(gc.equal(m, _neg_inf(m)), const(0, m), m)
    e = gc.exp(gc.subtract(x, m))
    s = gc.reduce_sum(e, axis=-1, keepdims=True)
    return gc.divide(e, gc.where(gc.equal(s, const(0, s)), const(1, s), s))


@converter("Attention")
def _attention(ctx, node, ins, attrs):
    ins = list(ins) + [None] * (7 - len(ins))
    q, k, v, mask, past_k, past_v, nonpad = ins[:7]
    if (past_k is None) != (past_v is None):
        raise OnnxImportError("past_key and past_value must be given together")
    if nonpad is not None and past_k is not None:
        raise OnnxImportError("nonpad_kv_seqlen cannot be combined with past_key/past_value")
    rank = rank_of(q, node)
    if rank == 3:
        q = _heads_first(q, attrs.get("q_num_heads"), node, "Q")
        k = _heads_first(k, attrs.get("kv_num_heads"), node, "K")
        v = _heads_first(v, attrs.get("kv_num_heads"), node, "V")
    elif rank != 4:
        raise OnnxImportError(f"Attention inputs must be 3-D or 4-D, got Q of rank {rank}")
    batch, q_heads, q_len, head_size = static_dims(q, node, "Q")

    scale = attrs.get("scale")
    scale = 1.0 / np.sqrt(head_size) if scale is None else scale
    root = const(np.sqrt(scale), q)  # as the function body: sqrt(scale) on Q and on K

    if past_k is not None:
        k, v = gc.concat([past_k, k], axis=2), gc.concat([past_v, v], axis=2)
    present_k, present_v = k, v
    kv_heads, kv_len = static_dims(k, node, "K (with past_key)")[1:3]

    bias = None
    if mask is not None:
        mshape = static_dims(mask, node, "attn_mask")
        if mshape[-1] < kv_len:  # a mask shorter than the keys: the rest is masked out
            fill = np.full(mshape[:-1] + [kv_len - mshape[-1]], False if mask.dtype.is_bool else -np.inf,
                           mask.dtype.np)
            mask = gc.concat([mask, gc.constant(fill)], axis=-1)
        bias = gc.where(mask, const(0, q), _neg_inf(q)) if mask.dtype.is_bool else gc.cast(mask, q.dtype)
    if nonpad is not None:
        offset = gc.subtract(gc.cast(nonpad, dtypes.int64), gc.constant(np.int64(q_len)))
    else:
        offset = int(past_k.shape[2]) if past_k is not None else 0
    if attrs.get("is_causal", 0):
        bias = _add_bias(bias, _offset_mask(q_len, kv_len, q, offset, _causal_allowed))
    left, right = attrs.get("left_window_size", -1), attrs.get("right_window_size", -1)
    if left >= 0 or right >= 0:
        bias = _add_bias(bias, _offset_mask(q_len, kv_len, q, offset, _window_allowed(left, right)))
    if nonpad is not None:
        keys = gc.constant(np.arange(kv_len, dtype=np.int64))
        pad = gc.less(keys, gc.reshape(gc.cast(nonpad, dtypes.int64), [-1, 1, 1, 1]))
        bias = _add_bias(bias, gc.where(pad, const(0, q), _neg_inf(q)))

    if kv_heads != q_heads:  # grouped-query attention: each KV head serves q_heads / kv_heads query heads
        if q_heads % kv_heads:
            raise OnnxImportError(f"q heads ({q_heads}) must be a multiple of kv heads ({kv_heads})")
        reps = q_heads // kv_heads

        def repeat(t):
            d = static_dims(t, node, "K/V")
            t = gc.broadcast_to(gc.expand_dims(t, 2), [d[0], d[1], reps, d[2], d[3]])
            return gc.reshape(t, [d[0], q_heads, d[2], d[3]])
        k, v = repeat(k), repeat(v)

    qk = gc.matmul(gc.multiply(q, root), gc.multiply(k, root), transpose_b=True)
    softcap = attrs.get("softcap", 0.0)
    if softcap > 0:  # before the mask, so masked scores stay -inf
        qk = gc.multiply(gc.tanh(gc.divide(qk, const(softcap, qk))), const(softcap, qk))
    mode = attrs.get("qk_matmul_output_mode", 0)
    scores = qk if bias is None else gc.add(qk, bias)
    qk_out = scores if mode == 2 else qk

    prec = attrs.get("softmax_precision")
    if prec is not None:
        scores = gc.cast(scores, np_dtype(prec))
    if bias is None:
        probs = gc.softmax(scores, axis=-1)
    else:
        # a row whose bias is entirely -inf has no key to attend: its probabilities are 0
        probs = _safe_softmax(scores)
        masked_row = gc.equal(gc.reduce_max(bias, axis=-1, keepdims=True), _neg_inf(bias))
        probs = gc.where(masked_row, const(0, probs), probs)
    probs = gc.cast(probs, q.dtype)
    if mode == 3:
        qk_out = probs
    y = gc.matmul(probs, v)
    if rank == 3:
        b, h, s, d = static_dims(y, node, "Y")
        y = gc.reshape(gc.transpose(y, [0, 2, 1, 3]), [b, s, h * d])
    return [y, present_k, present_v, qk_out]


@converter("RotaryEmbedding")
def _rotary(ctx, node, ins, attrs):
    x, cos, sin = ins[:3]
    pos = ins[3] if len(ins) > 3 else None
    rank = rank_of(x, node)
    shape = static_dims(x, node, "input")
    if rank == 4:  # [batch, heads, seq, size] -> [batch, seq, heads, size]
        x = gc.transpose(x, [0, 2, 1, 3])
    elif rank == 3:
        heads = attrs.get("num_heads", 0)
        if not heads or shape[2] % heads:
            raise OnnxImportError(f"3-D input needs num_heads dividing its hidden size {shape[2]}, got {heads}")
        x = gc.reshape(x, [shape[0], shape[1], heads, shape[2] // heads])
    else:
        raise OnnxImportError(f"RotaryEmbedding input must be 3-D or 4-D, got rank {rank}")
    b, s, h, size = static_dims(x, node, "input")
    rot = attrs.get("rotary_embedding_dim", 0) or size
    half = rot // 2
    if pos is not None:
        cos, sin = gc.gather(cos, pos, axis=0), gc.gather(sin, pos, axis=0)
    if cos.shape is None or cos.shape[-1] != half or sin.shape is None or sin.shape[-1] != half:
        raise OnnxImportError(f"cos/sin caches must end in rotary_embedding_dim / 2 = {half}")
    cos, sin = gc.expand_dims(cos, 2), gc.expand_dims(sin, 2)  # [batch, seq, 1, half]
    x_rot = gc.slice(x, [0, 0, 0, 0], [b, s, h, rot])
    if attrs.get("interleaved", 0):
        pairs = gc.reshape(x_rot, [b, s, h, half, 2])
        x1, x2 = [gc.reshape(t, [b, s, h, half]) for t in gc.split(pairs, 2, axis=-1)]
    else:
        x1, x2 = gc.split(x_rot, 2, axis=-1)
    real = gc.subtract(gc.multiply(cos, x1), gc.multiply(sin, x2))
    imag = gc.add(gc.multiply(sin, x1), gc.multiply(cos, x2))
    if attrs.get("interleaved", 0):
        out = gc.reshape(gc.stack([real, imag], axis=-1), [b, s, h, rot])
    else:
        out = gc.concat([real, imag], axis=-1)
    if rot < size:
        out = gc.concat([out, gc.slice(x, [0, 0, 0, rot], [b, s, h, size - rot])], axis=-1)
    return gc.reshape(out, shape) if rank == 3 else gc.transpose(out, [0, 2, 1, 3])



LINEAR_ATTENTION_MAX_STEPS = 256  # the recurrence is unrolled at import, one set of nodes per step


@converter("LinearAttention")
def _linear_attention(ctx, node, ins, attrs):
    """The recurrent state update (linear / gated / delta / gated_delta), unrolled over the static sequence."""
    ins = list(ins) + [None] * (6 - len(ins))
    query, key, value, past, decay, beta = ins[:6]
    rule = attrs.get("update_rule", "gated_delta")
    if rule not in ("linear", "gated", "delta", "gated_delta"):
        raise OnnxImportError(f"update_rule {rule!r} is not one of linear, gated, delta, gated_delta")
    gating, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    if gating != (decay is not None) or delta != (beta is not None):
        raise OnnxImportError(f"update_rule {rule!r} needs decay {'given' if gating else 'omitted'} and beta "
                              f"{'given' if delta else 'omitted'}")
    hq, hkv = attrs.get("q_num_heads"), attrs.get("kv_num_heads")
    if not hq or not hkv or hq % hkv:
        raise OnnxImportError(f"q_num_heads ({hq}) must be a positive multiple of kv_num_heads ({hkv})")
    f32 = dtypes.float32
    q, k, v = [gc.cast(_heads_first(t, h, node, name), f32)
               for t, h, name in ((query, hq, "query"), (key, hkv, "key"), (value, hkv, "value"))]
    b, _, steps, dk = static_dims(q, node, "query")
    dv = static_dims(v, node, "value")[3]
    if steps > LINEAR_ATTENTION_MAX_STEPS:
        raise OnnxImportError(f"sequence length {steps} is over the {LINEAR_ATTENTION_MAX_STEPS} steps "
                              f"graphc unrolls")
    if decay is not None:
        last = static_dims(decay, node, "decay")[-1]
        if last == hkv:
            decay = gc.transpose(gc.reshape(decay, [b, steps, hkv, 1]), [0, 2, 1, 3])
        elif last == hkv * dk:
            decay = _heads_first(decay, hkv, node, "decay")
        else:
            raise OnnxImportError(f"decay's last dim {last} must be kv_num_heads or kv_num_heads * head size")
        decay = gc.exp(gc.cast(decay, f32))  # [b, hkv, T, 1 or dk]
    if beta is not None:
        last = static_dims(beta, node, "beta")[-1]
        beta = gc.cast(gc.transpose(gc.reshape(beta, [b, steps, last, 1]), [0, 2, 1, 3]), f32)
    state = gc.zeros([b, hkv, dk, dv], f32) if past is None else gc.cast(past, f32)
    scale = attrs.get("scale", 0.0) or 1.0 / np.sqrt(dk)
    group = hq // hkv

    def at(t, i):  # step i of [b, h, T, d] as [b, h, 1, d]
        d = static_dims(t, node, "a step input")
        return gc.slice(t, [0, 0, i, 0], [d[0], d[1], 1, d[3]])
    outs = []
    for i in range(steps):
        k_t, v_t = at(k, i), at(v, i)  # [b, hkv, 1, d]
        if decay is not None:  # the state's rows (key dims) decay
            state = gc.multiply(state, gc.transpose(at(decay, i), [0, 1, 3, 2]))
        if delta:  # write only what the state does not already return for this key
            v_t = gc.multiply(at(beta, i), gc.subtract(v_t, gc.matmul(k_t, state)))
        state = gc.add(state, gc.matmul(k_t, v_t, transpose_a=True))
        read = state if group == 1 else gc.reshape(
            gc.broadcast_to(gc.expand_dims(state, 2), [b, hkv, group, dk, dv]), [b, hq, dk, dv])
        outs.append(gc.matmul(at(q, i), read))  # [b, hq, 1, dv]
    y = gc.multiply(gc.concat(outs, axis=2) if len(outs) > 1 else outs[0], const(scale, q))
    y = gc.reshape(gc.transpose(y, [0, 2, 1, 3]), [b, steps, hq * dv])
    return [gc.cast(y, query.dtype), gc.cast(state, query.dtype if past is None else past.dtype)]
