"""Signal processing: DFT and STFT as matmuls with constant DFT matrices; Hann, Hamming and Blackman windows.

A DFT along one axis is linear in the real and imaginary parts of its input, so its matrices are
computed once at import by applying numpy's FFT to unit vectors; at run time it is matmuls in TVM.
"""
import numpy as np

import graphc as gc

from . import OnnxImportError, converter, ints, np_dtype, rank_of
from .shape import slice_static


def _dft_matrices(length, n, inverse, onesided, complex_in):
    """{(part in, part out): [length, bins] matrix}: out_part = sum over in parts of x_part @ M."""
    eye = np.eye(length)
    if inverse and onesided:
        transform = lambda v: np.fft.irfft(v, n=n, axis=-1) + 0j  # noqa: E731 (one-sided in, real out)
    elif inverse:
        transform = lambda v: np.fft.ifft(v, n=n, axis=-1)  # noqa: E731
    else:
        transform = lambda v: np.fft.fft(v, n=n, axis=-1)[..., :n // 2 + 1 if onesided else n]  # noqa: E731
    mats = {}
    for part_in, basis in (("re", eye), ("im", 1j * eye))[:2 if complex_in else 1]:
        out = transform(basis)
        mats[part_in, "re"], mats[part_in, "im"] = out.real, out.imag
    return mats


def dft_along(x, axis, n, inverse=False, onesided=False, real_out=False):
    """The DFT of `x` ([..., 1 or 2], last dim real/imag) along `axis`, as [..., bins, 2] (or 1 if real_out)."""
    rank = len(x.shape)
    complex_in = x.shape[-1] == 2
    perm = [d for d in range(rank - 1) if d != axis] + [axis]
    inv = list(np.argsort(perm))
    length = x.shape[axis]
    mats = _dft_matrices(length, n, inverse, onesided, complex_in)
    lead = [x.shape[d] for d in perm[:-1]]
    parts = {}
    for k, part in enumerate(["re", "im"][:2 if complex_in else 1]):
        p = gc.squeeze(slice_static(x, [k], [k + 1], [rank - 1], [1]), axis=[rank - 1])
        parts[part] = gc.reshape(gc.transpose(p, perm), [-1, length])
    outs = []
    for part_out in ["re"] if real_out else ["re", "im"]:
        acc = None
        for part_in, flat in parts.items():
            term = gc.matmul(flat, gc.constant(mats[part_in, part_out].astype(x.dtype.np)))
            acc = term if acc is None else gc.add(acc, term)
        bins = mats["re", part_out].shape[1]
        outs.append(gc.transpose(gc.reshape(acc, lead + [bins]), inv))
    return gc.stack(outs, axis=-1)


@converter("DFT", since=17)
def _dft_v17(ctx, node, ins, attrs):
    """DFT-17: the axis is an attribute (default 1)."""
    return _dft(ctx, node, ins, attrs, attrs.get("axis", 1))


@converter("DFT", since=20)
def _dft_v20(ctx, node, ins, attrs):
    """DFT-20: the axis is an optional (static) input (default -2)."""
    axis = ints(ctx.static(ins[2], "DFT axis"))[0] if len(ins) > 2 and ins[2] is not None else -2
    return _dft(ctx, node, ins, attrs, axis)


def _dft(ctx, node, ins, attrs, axis):
    """The DFT of ins[0] along `axis` (the last axis holds real and imaginary parts)."""
    x = ins[0]
    rank = rank_of(x, node)
    axis %= rank
    if axis == rank - 1:
        raise OnnxImportError("the DFT axis cannot be the last (real/imaginary) axis")
    inverse, onesided = bool(attrs.get("inverse", 0)), bool(attrs.get("onesided", 0))
    if None in x.shape:
        raise OnnxImportError("DFT needs its input shape known at import time")
    if len(ins) > 1 and ins[1] is not None:
        n = ints(ctx.static(ins[1], "DFT dft_length"))[0]
    else:
        n = 2 * (x.shape[axis] - 1) if inverse and onesided else x.shape[axis]
    return dft_along(x, axis, n, inverse, onesided, real_out=inverse and onesided)


@converter("STFT")
def _stft(ctx, node, ins, attrs):
    ins = ins + [None] * (4 - len(ins))
    x, step, window, frame_length = ins
    step = ints(ctx.static(step, "STFT frame_step"))[0]
    if frame_length is not None:
        frame = ints(ctx.static(frame_length, "STFT frame_length"))[0]
    else:
        frame = window.shape[0] if window is not None else x.shape[-2]
    if None in x.shape or frame is None:
        raise OnnxImportError("STFT needs its signal and window shapes known at import time")
    frames = 1 + (x.shape[-2] - frame) // step
    rank = len(x.shape)
    parts = [slice_static(x, [f * step], [f * step + frame], [rank - 2], [1]) for f in range(frames)]
    stacked = gc.stack(parts, axis=rank - 2)  # [batch, frames, frame, 1|2]
    if window is not None:
        stacked = gc.multiply(stacked, gc.reshape(window, [frame, 1]))
    return dft_along(stacked, rank - 1, frame, onesided=bool(attrs.get("onesided", 1)))


def _window(coefficients):
    """A window converter: sum of c_k cos(2 pi k n / N) over the coefficients c_k."""
    def conv(ctx, node, ins, attrs):
        size = ints(ctx.static(ins[0], f"{node.op_type} size"))[0]
        dtype = np_dtype(attrs.get("output_datatype", 1))
        denom = size if attrs.get("periodic", 1) else size - 1
        n = gc.constant(np.arange(size, dtype=np.float64) * (2 * np.pi / max(denom, 1)))
        out = None
        for k, c in enumerate(coefficients):
            term = gc.multiply(gc.constant(np.asarray(c, np.float64)), gc.cos(gc.multiply(n, gc.constant(np.asarray(k, np.float64)))))
            out = term if out is None else gc.add(out, term)
        return gc.cast(out, dtype)
    return conv


_ALPHA = 25 / 46
converter("HannWindow")(_window([0.5, -0.5]))
converter("HammingWindow")(_window([_ALPHA, -(1 - _ALPHA)]))
converter("BlackmanWindow")(_window([0.42, -0.5, 0.08]))
