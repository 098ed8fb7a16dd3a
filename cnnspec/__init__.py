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
import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "CheckedSpec": "cnnspec.network.checker",
    "Layer": "cnnspec.network.checker",
    "check": "cnnspec.network.checker",
    "Diagnostic": "cnnspec.errors",
    "SpecError": "cnnspec.errors",
    "format": "cnnspec.notation.formatter",
    "format_file": "cnnspec.notation.formatter",
    "format_spec": "cnnspec.notation.formatter",
    "load": "cnnspec.notation.parser",
    "parse": "cnnspec.notation.parser",
    "parse_file": "cnnspec.notation.parser",
    "Augment": "cnnspec.notation.ir",
    "Conv": "cnnspec.notation.ir",
    "Dense": "cnnspec.notation.ir",
    "Dropout": "cnnspec.notation.ir",
    "GlobalPool": "cnnspec.notation.ir",
    "Head": "cnnspec.notation.ir",
    "InputShape": "cnnspec.notation.ir",
    "NoPool": "cnnspec.notation.ir",
    "Pool": "cnnspec.notation.ir",
    "Span": "cnnspec.notation.ir",
    "Spec": "cnnspec.notation.ir",
    "SpecFile": "cnnspec.notation.ir",
}

if TYPE_CHECKING:
    import keras

    from cnnspec.errors import Diagnostic, SpecError
    from cnnspec.network.checker import CheckedSpec, Layer, check
    from cnnspec.notation.formatter import format, format_file, format_spec  # noqa: A004 - cnnspec.format is public API
    from cnnspec.notation.ir import (
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
    from cnnspec.notation.parser import load, parse, parse_file


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

    See :func:`cnnspec.model.builder.build`.
    """
    from cnnspec.model.builder import build as _build

    return _build(spec, input_shape, classes, seed=seed)


def _checked_html(checked: Any) -> str:
    from cnnspec.display.html import checked_html

    return checked_html(checked)


def _spec_html(spec: Any) -> str:
    from cnnspec.display.html import spec_html

    return spec_html(spec)


def load_ipython_extension(ipython: Any) -> None:
    """Show a ``Spec`` or ``CheckedSpec`` as its check table in IPython (``%load_ext cnnspec``),
    and add the magics ``%%cnn`` (check a cell's specs) and ``%cnn SPEC`` (one line).

    Done by itself when ``cnnspec`` is imported inside IPython (Jupyter).  The formatters are
    registered by type *name*: neither the IR nor the checker imports its display (each stage
    imports only the stages before it), and the display module loads when a spec is first shown.
    """
    from cnnspec.display.magic import register

    register(ipython)
    html = ipython.display_formatter.formatters["text/html"]
    html.for_type_by_name("cnnspec.notation.ir", "Spec", _spec_html)
    html.for_type_by_name("cnnspec.network.checker", "CheckedSpec", _checked_html)


def _register_in_running_ipython() -> None:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        load_ipython_extension(shell)


_register_in_running_ipython()

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
    "load_ipython_extension",
    "parse",
    "parse_file",
]
