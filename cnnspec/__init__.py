"""cnnspec: a declarative model-spec compiler and shape checker for small CNNs.

>>> import cnnspec
>>> spec = cnnspec.parse("I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10")
>>> cnnspec.check(spec).total_params
49994
>>> cnnspec.format(spec)
'I: 32x32x3 C: 16n 16n p d¼ 32n 32n p d¼ D: 16R O: 10'

Parsing and checking import neither TensorFlow nor Keras; :func:`build`
imports Keras when it is called.  The names below are loaded on first use,
so ``import cnnspec`` itself costs next to nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "CheckedSpec": "cnnspec.checker",
    "Layer": "cnnspec.checker",
    "check": "cnnspec.checker",
    "Diagnostic": "cnnspec.errors",
    "SpecError": "cnnspec.errors",
    "format": "cnnspec.formatter",
    "format_file": "cnnspec.formatter",
    "format_spec": "cnnspec.formatter",
    "load": "cnnspec.parser",
    "parse": "cnnspec.parser",
    "parse_file": "cnnspec.parser",
    "Augment": "cnnspec.ir",
    "Conv": "cnnspec.ir",
    "Dense": "cnnspec.ir",
    "Dropout": "cnnspec.ir",
    "GlobalPool": "cnnspec.ir",
    "Head": "cnnspec.ir",
    "InputShape": "cnnspec.ir",
    "NoPool": "cnnspec.ir",
    "Pool": "cnnspec.ir",
    "Span": "cnnspec.ir",
    "Spec": "cnnspec.ir",
    "SpecFile": "cnnspec.ir",
}

if TYPE_CHECKING:
    import keras

    from cnnspec.checker import CheckedSpec, Layer, check
    from cnnspec.errors import Diagnostic, SpecError
    from cnnspec.formatter import format, format_file, format_spec  # noqa: A004 - cnnspec.format is public API
    from cnnspec.ir import (
        Augment,
        Conv,
        Dense,
        Dropout,
        GlobalPool,
        Head,
        InputShape,
        NoPool,
        Pool,
        Span,
        Spec,
        SpecFile,
    )
    from cnnspec.parser import load, parse, parse_file


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cnnspec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


def build(spec: Spec, input_shape: Any = None, classes: int | None = None, *, seed: int | None = None) -> keras.Model:
    """Build the Keras model of a spec (imports Keras on first use).

    See :func:`cnnspec.builder.build`.
    """
    from cnnspec.builder import build as _build

    return _build(spec, input_shape, classes, seed=seed)


# Literal, so that linters and type checkers see the re-exports; the same
# names as _EXPORTS plus the two defined here.
__all__ = [
    "Augment",
    "CheckedSpec",
    "Conv",
    "Dense",
    "Diagnostic",
    "Dropout",
    "GlobalPool",
    "Head",
    "InputShape",
    "Layer",
    "NoPool",
    "Pool",
    "Span",
    "Spec",
    "SpecError",
    "SpecFile",
    "__version__",
    "build",
    "check",
    "format",
    "format_file",
    "format_spec",
    "load",
    "parse",
    "parse_file",
]
