"""genlab's version (also in pyproject.toml)."""

__version__ = "0.3.8"
