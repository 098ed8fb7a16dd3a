"""CheckedSpec -> a picture of the network: SVG text, or a PNG through matplotlib.

The articles the notation comes from explain a network with one kind of
picture: feature maps as blocks that shrink and deepen from left to right,
then the dense layers as bars, shapes written beside them.  This module draws
that picture from the checker's result alone: no TensorFlow, no Graphviz.

One geometry model (:mod:`~cnnspec.display.geometry`), two layouts
(:mod:`~cnnspec.display.blocks`, :mod:`~cnnspec.display.layer_table`), two
painters (:mod:`~cnnspec.display.svg`, :mod:`~cnnspec.display.png`).
:func:`layout` turns a :class:`~cnnspec.network.checker.CheckedSpec` into a
:class:`Picture` — polygons, lines and text in pixel coordinates, grouped per
layer — and :func:`to_svg` / :func:`to_png` only paint it.  So the SVG and the PNG
always show the same thing, and the SVG stays plain, deterministic text that
golden files can hold.

Every checker layer gets exactly one ``<g class="layer">`` group carrying
``data-name``, ``data-kind`` and ``data-shape`` (the checker's shape text,
``100x100x32``) and a ``<title>`` tooltip.  Batch normalization, the
rescaling and the augmentation layers are drawn as small marks on the layer
they belong to, not as blocks of their own; their groups sit right after
their owner's and name it in ``data-on``.

>>> from cnnspec import check, parse
>>> svg = draw_svg(check(parse("I: 28x28x1 C: 32 64 D: 10")))
>>> svg.count('class="layer"')
7
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from cnnspec.display.blocks import layout_blocks
from cnnspec.display.geometry import (
    COLORS,
    Group,
    Line,
    Picture,
    Poly,
    Text,
    oblique,
    side,
    spec_text,
    text_width,
    thickness,
    vector,
)
from cnnspec.display.layer_table import layout_table
from cnnspec.display.png import to_png
from cnnspec.display.svg import to_svg
from cnnspec.network.checker import CheckedSpec
from cnnspec.network.shapes import human, shape_text

Style = Literal["blocks", "table"]
STYLES: tuple[str, ...] = ("blocks", "table")


def layout(checked: CheckedSpec, style: Style = "blocks") -> Picture:
    """The geometry of the picture; both back ends paint exactly this."""
    if style == "blocks":
        return layout_blocks(checked)
    if style == "table":
        return layout_table(checked)
    raise ValueError(f"unknown style {style!r}: expected one of {', '.join(STYLES)}")


def draw_svg(checked: CheckedSpec, style: Style = "blocks") -> str:
    """The picture of a valid checked spec as SVG text.

    Raises ValueError for an invalid spec (the checker's errors say why).
    """
    return to_svg(layout(checked, style))


def draw_png(checked: CheckedSpec, path: Path | str, style: Style = "blocks", scale: float = 2.0) -> Path:
    """Write the picture as a PNG (atomically) and return the path.

    Imports matplotlib (Agg, no display) on first use; ``scale`` 2 gives a
    sharp image at twice the SVG's pixel size.
    """
    from cnnspec.atomic import write_with

    picture = layout(checked, style)
    write_with(Path(path), lambda tmp: to_png(picture, tmp, scale))
    return Path(path)


__all__ = [
    "COLORS",
    "STYLES",
    "Group",
    "Line",
    "Picture",
    "Poly",
    "Style",
    "Text",
    "draw_png",
    "draw_svg",
    "human",
    "layout",
    "layout_blocks",
    "layout_table",
    "oblique",
    "shape_text",
    "side",
    "spec_text",
    "text_width",
    "thickness",
    "to_png",
    "to_svg",
    "vector",
]
