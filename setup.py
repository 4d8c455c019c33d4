"""Build hook for respdb's one C extension; everything else is in pyproject.toml.

respdb._speedups is the command loop of respdb/commands/dispatch.py in C. It is optional: when it
cannot be compiled (no C compiler) the install still succeeds and the pure-Python loop runs.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "respdb._speedups",
            sources=["respdb/_speedups.c", "respdb/_native.c"],
            depends=["respdb/_speedups.h"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wno-missing-field-initializers"],
        )
    ]
)
