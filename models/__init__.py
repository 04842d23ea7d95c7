"""Models written with the graphc API, and small datasets that ship inside packages."""
