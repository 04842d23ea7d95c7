"""TfIdfVectorizer over integer tokens: n-gram (with skips) counts as comparisons of shifted slices."""
import numpy as np

import graphc as gc

from . import OnnxImportError, const, converter, rank_of
from .shape import slice_static


def _pool_ngrams(attrs):
    """[(tokens tuple, output column)] from the pool, in pool order."""
    pool = list(attrs.get("pool_int64s", []))
    if not pool:
        raise OnnxImportError("only integer pools (pool_int64s) are supported; graphc has no string dtype")
    starts = list(attrs["ngram_counts"]) + [len(pool)]
    grams = []
    for n, (a, b) in enumerate(zip(starts, starts[1:]), start=1):
        grams += [tuple(pool[i:i + n]) for i in range(a, b, n)]
    return list(zip(grams, attrs["ngram_indexes"]))


@converter("TfIdfVectorizer")
def _tfidf(ctx, node, ins, attrs):
    x = ins[0]
    rank = rank_of(x, node)
    length = x.shape[-1]
    if length is None:
        raise OnnxImportError("TfIdfVectorizer needs the token count known at import time")
    lo, hi, skips = attrs["min_gram_length"], attrs["max_gram_length"], attrs.get("max_skip_count", 0)
    grams = _pool_ngrams(attrs)
    width = max(col for _, col in grams) + 1
    lead = list(x.shape[:-1])
    counts = {}
    for tokens, col in grams:
        n = len(tokens)
        if not lo <= n <= hi:
            continue
        for d in range(1, (1 if n == 1 else skips + 1) + 1):  # unigrams are counted once, not per skip
            span = length - d * (n - 1)
            if span <= 0:
                continue
            hit = None
            for j, tok in enumerate(tokens):
                eq = gc.equal(slice_static(x, [j * d], [j * d + span], [rank - 1], [1]), const(tok, x))
                hit = eq if hit is None else gc.logical_and(hit, eq)
            c = gc.reduce_sum(gc.cast(hit, gc.float32), axis=-1)
            counts[col] = c if col not in counts else gc.add(counts[col], c)
    zero = gc.constant(np.zeros(lead, np.float32)) if None not in lead else None
    columns = []
    for col in range(width):
        if col not in counts and zero is None:
            raise OnnxImportError("TfIdfVectorizer needs the batch size known at import time")
        columns.append(counts.get(col, zero))
    tf = gc.stack(columns, axis=-1)
    mode = attrs.get("mode", "TF")
    weights = np.asarray(attrs.get("weights", np.ones(width)), np.float32)  # per output column, as onnx's reference
    if mode == "TF":
        return tf
    if mode == "IDF":
        return gc.multiply(gc.cast(gc.greater(tf, const(0, tf)), gc.float32), gc.constant(weights))
    if mode == "TFIDF":
        return gc.multiply(tf, gc.constant(weights))
    raise OnnxImportError(f"mode {mode!r} is not one of TF, IDF, TFIDF")
