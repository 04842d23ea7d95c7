"""Tensor element types: one DType object per supported type, interchangeable with its name.

Narrow types TVM cannot compute in (bfloat16, float8, float4, int4, int2) are carried in TVM as their
bit pattern in an unsigned integer of the same width (`DType.storage`); numpy holds them as ml_dtypes
arrays. Only cast computes with them (codegen/lower/elemwise.py decodes and encodes the bits); ops
that merely move elements (reshape, transpose, gather, ...) work on the stored bits unchanged.
"""
import ml_dtypes  # noqa: F401  (registers bfloat16, float8_*, int4, ... as numpy dtypes)
import numpy as np


class DType:
    """An element type; compares equal to its name, its numpy dtype and itself."""

    __slots__ = ("name", "np", "kind", "storage", "bits")

    def __init__(self, name, kind=None, storage=None, bits=None):
        self.name = name
        self.np = np.dtype(name)
        self.kind = kind or self.np.kind    # 'f', 'i', 'u' or 'b', also for the ml_dtypes types
        self.storage = storage or name      # the TVM dtype holding its values (the bits, for narrow types)
        self.bits = bits or 8 * self.np.itemsize  # significant bits (4 for int4, stored in a byte)

    @property
    def is_floating(self):
        return self.kind == "f"

    @property
    def is_integer(self):
        return self.kind in "iu"

    @property
    def is_bool(self):
        return self.kind == "b"

    @property
    def is_storage_only(self):
        """Whether TVM holds this type as bits that only cast can interpret."""
        return self.storage != self.name

    @property
    def as_numpy_dtype(self):
        return self.np.type

    @property
    def base_dtype(self):
        return self

    @property
    def itemsize(self):
        return self.np.itemsize

    def __eq__(self, other):
        try:
            return self.name == as_dtype(other).name
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"graphc.{self.name}"

    def __str__(self):
        return self.name


float16 = DType("float16")
float32 = DType("float32")
float64 = DType("float64")
int8 = DType("int8")
uint8 = DType("uint8")
int16 = DType("int16")
uint16 = DType("uint16")
int32 = DType("int32")
uint32 = DType("uint32")
int64 = DType("int64")
uint64 = DType("uint64")
bool_ = DType("bool")
bfloat16 = DType("bfloat16", "f", "uint16")
float8_e4m3fn = DType("float8_e4m3fn", "f", "uint8")
float8_e4m3fnuz = DType("float8_e4m3fnuz", "f", "uint8")
float8_e5m2 = DType("float8_e5m2", "f", "uint8")
float8_e5m2fnuz = DType("float8_e5m2fnuz", "f", "uint8")
float4_e2m1fn = DType("float4_e2m1fn", "f", "uint8", 4)
int4 = DType("int4", "i", "uint8", 4)
uint4 = DType("uint4", "u", "uint8", 4)
int2 = DType("int2", "i", "uint8", 2)
uint2 = DType("uint2", "u", "uint8", 2)

ALL = {d.name: d for d in (float16, float32, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64,
                           bool_, bfloat16, float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz,
                           float4_e2m1fn, int4, uint4, int2, uint2)}
FLOATING = tuple(d for d in ALL.values() if d.is_floating)
# names TensorFlow reads differently from numpy ("float" is numpy's float64 but TF's float32)
TF_NAMES = {"float": float32, "double": float64, "half": float16, "int": int32, "long": int64,
            "float32_ref": float32, "int32_ref": int32}


def as_dtype(value):
    """The DType for a DType, a name, a numpy dtype or a Python/numpy scalar type."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str) and value in TF_NAMES:
        return TF_NAMES[value]
    if value is bool:
        return bool_
    if value is float:
        return float32
    if value is int:
        return int32
    try:
        name = np.dtype(value).name
    except TypeError as e:
        raise TypeError(f"cannot interpret {value!r} as a graphc dtype; expected one of {sorted(ALL)}") from e
    if name not in ALL:
        raise TypeError(f"dtype {name} is not supported by graphc; expected one of {sorted(ALL)}")
    return ALL[name]


def storage_name(name):
    """The TVM dtype that stores graphc dtype `name` (itself, or the unsigned int holding its bits)."""
    d = ALL.get(str(name))
    return d.storage if d is not None else str(name)


def as_storage(arr):
    """`arr` viewed as its TVM storage dtype (no copy): narrow ml_dtypes types become their bits."""
    d = ALL.get(arr.dtype.name)
    return arr.view(d.storage) if d is not None and d.is_storage_only else arr


def from_storage(arr, name):
    """An array of TVM storage viewed as graphc dtype `name` (no copy)."""
    return arr.view(ALL[name].np) if name in ALL and ALL[name].is_storage_only else arr
