"""Declares the optional C accelerator only; pyproject.toml holds all the metadata.

``optional=True``: without a working compiler the build of zlprof._speedups is skipped
with a warning and zlprof installs with its pure-Python hot path.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("zlprof._speedups", ["src/zlprof/_speedups.c"], optional=True),
    ],
)
