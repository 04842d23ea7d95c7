"""graphc's version, in a module of its own so any layer can read it without importing graphc's API."""
__version__ = "0.1.0"
