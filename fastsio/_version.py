"""The package version (read by setuptools from here)."""

__version__ = "0.1.0"
