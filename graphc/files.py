"""File helpers shared by the kernel cache (codegen) and artifacts (runtime)."""
import hashlib


def sha256_file(path):
    """The SHA-256 hex digest of the file at `path`, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
