"""Tensor element types: one DType object per supported type, interchangeable with its name."""
import numpy as np


class DType:
    """An element type; compares equal to its name, its numpy dtype and itself."""

    __slots__ = ("name", "np")

    def __init__(self, name):
        self.name = name
        self.np = np.dtype(name)

    @property
    def is_floating(self):
        return self.np.kind == "f"

    @property
    def is_integer(self):
        return self.np.kind in "iu"

    @property
    def is_bool(self):
        return self.np.kind == "b"

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
int32 = DType("int32")
int64 = DType("int64")
bool_ = DType("bool")

ALL = {d.name: d for d in (float16, float32, float64, int8, uint8, int16, int32, int64, bool_)}
FLOATING = tuple(d for d in ALL.values() if d.is_floating)


def as_dtype(value):
    """The DType for a DType, a name, a numpy dtype or a Python/numpy scalar type."""
    if isinstance(value, DType):
        return value
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
