"""The ONNX metadata contract: the ``cnnspec.*`` keys that :mod:`cnnspec.deploy.export` writes
into ``metadata_props`` and that prediction reads back, and :class:`ModelInfo`, what
prediction needs to know of a model.

Its own module so that export and predict both import it and neither imports the other.
Only ``onnx`` is imported, inside :func:`read_metadata`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cnnspec.deploy.loading import ExportError

if TYPE_CHECKING:
    from cnnspec.deploy.loading import Source

#: Keys of the ONNX ``metadata_props`` that :mod:`cnnspec.deploy.export` writes.
META_PREFIX = "cnnspec."
META_SPEC = "cnnspec.spec"
META_CLASS_NAMES = "cnnspec.class_names"
META_INPUT_SHAPE = "cnnspec.input_shape"
META_LAYOUT = "cnnspec.input_layout"
META_RANGE = "cnnspec.input_range"
META_HEAD = "cnnspec.head_activation"
META_VERSION = "cnnspec.version"


@dataclass(frozen=True)
class ModelInfo:
    """What prediction needs to know about a model, from ONNX metadata or a run directory."""

    input_shape: tuple[int, int, int]
    class_names: list[str]
    head_activation: str  # Keras name: softmax, sigmoid, linear, relu, ...
    spec: str | None = None
    source: str = ""


def metadata(source: Source) -> dict[str, str]:
    """The ``metadata_props`` an export writes for ``source``: everything prediction needs."""
    from cnnspec import __version__

    h, w, c = source.input_shape
    return {
        META_SPEC: source.canonical,
        META_CLASS_NAMES: json.dumps(source.class_names, ensure_ascii=False),
        META_INPUT_SHAPE: json.dumps([h, w, c]),
        META_LAYOUT: "NHWC",
        META_RANGE: "0-255",  # raw pixels: the model rescales by 1/255 itself
        META_HEAD: source.head_activation,
        META_VERSION: __version__,
    }


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ``.onnx`` file, read with ``onnx`` only (no weights are run)."""
    import onnx

    p = Path(path)
    if not p.is_file():
        raise ExportError(f"no such file: {p}")
    try:
        proto = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # DecodeError and friends
        raise ExportError(f"cannot read {p}: not an ONNX file ({type(exc).__name__})") from None
    return {prop.key: prop.value for prop in proto.metadata_props}


def read_spec(path: str | Path) -> str:
    """The complete spec that an exported ``.onnx`` file carries (``cnnspec check model.onnx``)."""
    meta = read_metadata(path)
    if META_SPEC not in meta:
        raise ExportError(f"{path} has no cnnspec metadata: it was not exported by cnnspec")
    return meta[META_SPEC]


__all__ = [
    "META_CLASS_NAMES",
    "META_HEAD",
    "META_INPUT_SHAPE",
    "META_LAYOUT",
    "META_PREFIX",
    "META_RANGE",
    "META_SPEC",
    "META_VERSION",
    "ModelInfo",
    "metadata",
    "read_metadata",
    "read_spec",
]
