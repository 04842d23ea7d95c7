"""ONNX import and export: `import_model(path) -> Imported(graph, inputs, outputs)`, `export(fetches, path, feeds)`."""
from .importer import Imported, OnnxImportError, import_model  # noqa: F401
from .specialized import SpecializedModel  # noqa: F401


def export(fetches, path, feeds, session=None):
    """Write the graph computing `fetches` from `feeds` as an ONNX model at `path` (see exporter.py)."""
    from .exporter import export as _export
    return _export(fetches, path, feeds, session=session)
