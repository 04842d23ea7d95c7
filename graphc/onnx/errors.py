"""Errors of ONNX import."""
from graphc.errors import GraphcError


class OnnxImportError(GraphcError, ValueError):
    """An ONNX model could not be read, checked or mapped onto graphc ops."""


class StaticInputError(OnnxImportError):
    """An input that must be known at import time (shape, axes, pads) depends on a fed model input.

    `inputs` names the model inputs it depends on: binding them (import_model's `bind`) resolves it."""

    def __init__(self, message, inputs=()):
        super().__init__(message)
        self.inputs = tuple(inputs)
