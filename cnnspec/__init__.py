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
    **{
        name: "cnnspec.ir"
        for name in (
            "Augment", "Conv", "Dense", "Dropout", "GlobalPool", "Head",
            "InputShape", "NoPool", "Pool", "Span", "Spec", "SpecFile",
        )
    },  # fmt: skip
}

if TYPE_CHECKING:
    import keras

    from cnnspec.checker import CheckedSpec, Layer, check
    from cnnspec.errors import Diagnostic, SpecError
    from cnnspec.formatter import format, format_file, format_spec
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


__all__ = sorted([*_EXPORTS, "__version__", "build"])
