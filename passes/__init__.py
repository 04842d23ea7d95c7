"""Graph -> Graph passes. `optimize` runs the pipeline for an optimization level."""
from .manager import optimize  # noqa: F401
