"""The ONNX ops that are one graphc op each, same inputs and attributes-free: one table for the importer
(graphc/onnx/convert/math.py) and the exporter (graphc/onnx/exporter.py)."""
from collections import namedtuple

SameOp = namedtuple("SameOp", "onnx_op graphc_op since")  # since: the first ONNX opset that has onnx_op

SAME_OPS = [SameOp(*row) for row in [
    ("Add", "add", 1), ("Sub", "subtract", 1), ("Mul", "multiply", 1), ("Abs", "abs", 1), ("Neg", "negative", 1),
    ("Exp", "exp", 1), ("Log", "log", 1), ("Sqrt", "sqrt", 1), ("Reciprocal", "reciprocal", 1),
    ("Sigmoid", "sigmoid", 1), ("Tanh", "tanh", 1), ("Relu", "relu", 1), ("Erf", "erf", 9), ("Sin", "sin", 7),
    ("Cos", "cos", 7), ("Floor", "floor", 1), ("Ceil", "ceil", 1), ("Round", "round", 11), ("Sign", "sign", 9),
    ("Equal", "equal", 1), ("Less", "less", 1), ("Greater", "greater", 1), ("LessOrEqual", "less_equal", 12),
    ("GreaterOrEqual", "greater_equal", 12), ("And", "logical_and", 1), ("Or", "logical_or", 1),
    ("Xor", "logical_xor", 1), ("Not", "logical_not", 1), ("Where", "where", 9), ("Identity", "identity", 1),
    ("Tan", "tan", 7), ("Asin", "asin", 7), ("Acos", "acos", 7), ("Atan", "atan", 7),
    ("BitwiseAnd", "bitwise_and", 18), ("BitwiseOr", "bitwise_or", 18), ("BitwiseXor", "bitwise_xor", 18),
    ("BitwiseNot", "bitwise_not", 18), ("IsNaN", "is_nan", 9), ("Sinh", "sinh", 9), ("Cosh", "cosh", 9),
    ("Asinh", "asinh", 9), ("Acosh", "acosh", 9), ("Atanh", "atanh", 9),
]]
