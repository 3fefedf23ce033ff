# Extension modules only; all metadata lives in pyproject.toml.
from setuptools import setup

setup()
