"""ONNX import and export (see the issue tracker)."""
