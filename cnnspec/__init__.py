"""cnnspec: a declarative model-spec compiler and shape checker for small CNNs.

>>> import cnnspec
>>> spec = cnnspec.parse("I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10")
>>> cnnspec.check(spec).total_params
33962
>>> cnnspec.format(spec)
'I: 32x32x3 C: 16n 16n p d¼ 32n 32n p d¼ D: 16R O: 10'

Parsing and checking import neither TensorFlow nor Keras; :func:`build`
imports Keras when it is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    import keras

__version__ = "0.1.0"


def build(spec: Spec, input_shape: Any = None, classes: int | None = None, *, seed: int | None = None) -> "keras.Model":
    """Build the Keras model of a spec (imports Keras on first use).

    See :func:`cnnspec.builder.build`.
    """
    from cnnspec.builder import build as _build

    return _build(spec, input_shape, classes, seed=seed)


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
