"""TE lowering of matmul; its CPU schedule lives in codegen/schedule/cpu.py."""
from tvm import te

from . import lowering


@lowering("matmul")
def lower_matmul(node, a, b):
    ta, tb = node.attrs.get("transpose_a", False), node.attrs.get("transpose_b", False)
    out_shape = tuple(node.outputs[0].shape)
    batch = out_shape[:-2]
    K = int(a.shape[-2] if ta else a.shape[-1])
    k = te.reduce_axis((0, K), name="k")

    def operand(t, idx, rows, cols):
        # broadcast the batch dims of t against the output's
        nb = len(t.shape) - 2
        bidx = [0 if int(t.shape[j]) == 1 and batch[len(batch) - nb + j] != 1 else idx[len(batch) - nb + j]
                for j in range(nb)]
        return t[tuple(bidx) + (rows, cols)]

    def value(*idx):
        i, j = idx[-2], idx[-1]
        av = operand(a, idx, k, i) if ta else operand(a, idx, i, k)
        bv = operand(b, idx, j, k) if tb else operand(b, idx, k, j)
        return te.sum(av * bv, axis=k)
    return te.compute(out_shape, value, name="matmul")
