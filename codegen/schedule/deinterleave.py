"""A tensor intrinsic that splits 2 * lanes contiguous values into the vectors of the even and the odd ones
(the columns of each phase of a stride-2 window): one vector load and two vector shuffles, where TVM's
vectorizer would load each strided lane by itself. The stencil planes of stride-2 convs and pools use it."""
from tvm.s_tir import TensorIntrin
from tvm.script import tirx as T

_REGISTERED = set()


PHASES = 2  # the stride it splits


def deinterleave_intrin(lanes, dtype):
    """The name of the intrinsic B[p, 0, i] = A[i * 2 + p] (p < 2, i < lanes), registered once."""
    name = f"graphc_deinterleave_{lanes}_{dtype}"
    if name in _REGISTERED:
        return name
    phases, width = PHASES, PHASES * lanes
    even, odd = list(range(0, width, 2)), list(range(1, width, 2))

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle) -> None:
        A = T.match_buffer(a, (width,), dtype, offset_factor=1)
        s0, s1 = T.int32(), T.int32()
        B = T.match_buffer(b, (phases, 1, lanes), dtype, offset_factor=1, strides=[s0, s1, 1])
        with T.sblock("root"):
            T.reads(A[0:width])
            T.writes(B[0:phases, 0:1, 0:lanes])
            for p, i in T.grid(phases, lanes):
                with T.sblock("split"):
                    vp, vi = T.axis.remap("SS", [p, i])
                    B[vp, 0, vi] = A[vi * phases + vp]

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle) -> None:
        A = T.match_buffer(a, (width,), dtype, offset_factor=1)
        s0, s1 = T.int32(), T.int32()
        B = T.match_buffer(b, (phases, 1, lanes), dtype, offset_factor=1, strides=[s0, s1, 1])
        with T.sblock("root"):
            T.reads(A[0:width])
            T.writes(B[0:phases, 0:1, 0:lanes])
            run = A.vload([0], f"{dtype}x{width}")
            B[0, 0, T.ramp(0, 1, lanes)] = T.Shuffle([run], even)
            B[1, 0, T.ramp(0, 1, lanes)] = T.Shuffle([run], odd)
    TensorIntrin.register(name, desc, impl, override=True)
    _REGISTERED.add(name)
    return name
