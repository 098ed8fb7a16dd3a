"""The geometry of a network picture: polygons, lines and text in pixel coordinates.

Both layouts (:mod:`~cnnspec.display.blocks`, :mod:`~cnnspec.display.layer_table`)
build a :class:`Picture` from these parts, and both painters
(:mod:`~cnnspec.display.svg`, :mod:`~cnnspec.display.png`) paint exactly that,
so the SVG and the PNG always show the same thing.  Here too: the scales (sizes
grow with the logarithm), the colours, the caption and each layer's tooltip and
``data-*`` attributes, which both layouts share.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal, TypedDict, Union

from cnnspec.network.checker import CheckedSpec, Layer
from cnnspec.network.shapes import human, shape_text

# The parser's own rule for a `name =` line, so the two never disagree.

SANS = "DejaVu Sans, Verdana, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"

# Colours: one hue per kind of layer, as the articles' figures use.
INK = "#222222"
DIM = "#666666"


class _Palette(TypedDict):
    """Block kinds are drawn as cuboids (front, top, side); the rest are flat."""

    input: tuple[str, str, str]
    conv: tuple[str, str, str]
    sep: tuple[str, str, str]
    dw: tuple[str, str, str]
    pool: str
    dropout: str
    flatten: str
    dense: str
    head: str
    bn: str
    l2: str
    aug: str
    act: str
    skip: str
    stripe: str


COLORS: _Palette = {
    "input": ("#e0e0e0", "#f0f0f0", "#c4c4c4"),  # front, top, side
    "conv": ("#8cc0e3", "#b9daf0", "#5f9fcb"),
    # Separable and depthwise convolutions: kinds of convolution, so hues near the conv's blue.
    "sep": ("#7fcdbb", "#b5e3d8", "#4fa792"),
    "dw": ("#b4a7e0", "#d6cef0", "#8a79c7"),
    "pool": "#f4a259",
    "dropout": "#7b68b3",
    "flatten": "#bdbdbd",
    "dense": "#8fcf8a",
    "head": "#f08a7e",
    "bn": "#ffd84d",
    "l2": "#d7b5e0",
    "aug": "#e6e6e6",
    "act": "#d9ecd0",
    "skip": "#c0392b",
    "stripe": "#f6f8fb",
}


# --------------------------------------------------------------------------
# The geometry model


@dataclass(frozen=True)
class Poly:
    points: tuple[tuple[float, float], ...]
    fill: str = "none"
    stroke: str = INK
    width: float = 1.0
    dash: bool = False


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str = INK
    width: float = 1.0
    dash: bool = False


Anchor = Literal["start", "middle", "end"]


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # the baseline
    text: str
    size: float = 11.0
    anchor: Anchor = "middle"
    fill: str = INK
    bold: bool = False
    italic: bool = False
    mono: bool = False


Item = Union[Poly, Line, Text]


@dataclass
class Group:
    """One drawn thing: a layer (``cls="layer"``), the input, the caption..."""

    cls: str
    items: list[Item] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    title: str | None = None


@dataclass
class Picture:
    width: float
    height: float
    groups: list[Group]
    title: str


# --------------------------------------------------------------------------
# Scales: a 200x200 input and a 1x1 map must both stay readable, so sizes
# grow with the logarithm, never linearly.


def side(n: int) -> float:
    """Height in pixels of a map side of ``n``: 1 -> 27, 28 -> 108, 200 -> 167."""
    return 6.0 + 21.0 * math.log2(n + 1)


def thickness(channels: int) -> float:
    """Thickness in pixels of a block of ``channels`` maps: 3 -> 10, 32 -> 24, 64 -> 32, 512 -> 83.

    A square root, not a logarithm: doubling the filters, as every group of
    the articles' networks does, must visibly deepen the block.
    """
    # The cap is reached at 918 channels; clamping first keeps sqrt away from
    # integers beyond a float's range (a count that passes the parser may be one).
    return min(110.0, 4.0 + 3.5 * math.sqrt(min(channels, 10**6)))


def oblique(n: int) -> float:
    """How far the receding (width) edge of a block runs to the right."""
    return 0.2 * side(n)


VECTOR_CAP = 200.0


def vector(n: int) -> float:
    """Height of a flat vector of ``n`` values (capped: a flatten can hold 160,000)."""
    return min(VECTOR_CAP, 10.0 + 14.0 * math.log2(n + 1))


def text_width(text: str, size: float, mono: bool = False) -> float:
    """A close estimate of the rendered width (DejaVu metrics), for layout only."""
    return len(text) * size * (0.61 if mono else 0.62)


#: Lines of spec text the caption shows at most (the first 3, a count, the last ones).
CAPTION_MAX_LINES = 6


def spec_text(checked: CheckedSpec) -> str:
    """The spec as its author wrote it, on one line, without its ``name =``."""
    spec = checked.spec
    text = spec.own_text  # a named spec: its own lines of the file
    text = re.sub(r"#[^\n]*", "", text)
    text = " ".join(text.split())
    if spec.name is not None:
        own_name = re.match(rf"{re.escape(spec.name)}\s*=\s*", text)
        text = text[own_name.end() :] if own_name else ""
    if not text or "{" in text:
        # No text of its own (built in Python), or one variant of a template
        # (`C: {16,32}`): the canonical form says exactly what was drawn.
        from cnnspec.notation.formatter import format_spec

        text = format_spec(checked.spec)
    return text


def wrap(text: str, width: float, size: float, mono: bool = True) -> list[str]:
    per_line = max(20, int(width / (size * (0.61 if mono else 0.62))))
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > per_line:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def rect(x: float, y: float, w: float, h: float, fill: str, stroke: str = INK, width: float = 0.8) -> Poly:
    return Poly(((x, y), (x + w, y), (x + w, y + h), (x, y + h)), fill, stroke, width)


def layer_title(layer: Layer) -> str:
    parts = [f"{layer.name} ({layer.kind})", shape_text(layer.output_shape), f"{layer.params:,} params"]
    if layer.text:
        parts.insert(1, f"'{layer.text}'")
    if layer.implied:
        parts.append("implied")
    if layer.detail and not layer.implied:
        parts.append(layer.detail)
    return ": ".join(parts[:1]) + " " + ", ".join(parts[1:])


def layer_attrs(layer: Layer, on: str | None = None) -> dict[str, str]:
    attrs = {"data-name": layer.name, "data-kind": layer.kind, "data-shape": shape_text(layer.output_shape)}
    attrs["data-params"] = str(layer.params)
    if layer.implied:
        attrs["data-implied"] = "true"
    if on is not None:
        attrs["data-on"] = on
    return attrs


def caption_group(checked: CheckedSpec, x: float, y: float, width: float) -> tuple[Group, float]:
    g = Group("caption")
    name = checked.spec.name
    lines = wrap(("spec: " if name is None else f"{name} = ") + spec_text(checked), width, 11)
    if len(lines) > CAPTION_MAX_LINES:
        # A spec of thousands of items would fill the page with its text (and take seconds to
        # paint): its start and its end, and how much is left out, as the layers are elided.
        hidden = len(lines) - CAPTION_MAX_LINES + 1
        lines = [*lines[:3], f"… {hidden:,} more lines of the spec …", *lines[-(CAPTION_MAX_LINES - 4) :]]
    for i, line in enumerate(lines):
        g.items.append(Text(x, y, line, 11, "start", mono=True, bold=i == 0 and name is not None))
        y += 15
    y += 2
    totals = (
        f"params {checked.total_params:,} (trainable {checked.trainable_params:,}, "
        f"non-trainable {checked.non_trainable_params:,})  ·  MACs {checked.macs:,} ({human(checked.macs)})"
    )
    g.items.append(Text(x, y, totals, 10.5, "start", DIM))
    y += 14
    if checked.head_from_data:
        g.items.append(
            Text(x, y, "no O: and no --classes: the head will come from the data", 10.5, "start", DIM, italic=True)
        )
        y += 14
    return g, y


def caption_width(checked: CheckedSpec) -> float:
    totals = f"params {checked.total_params:,} (trainable {checked.trainable_params:,}, non-trainable 0)  ·  MACs 0 (0)"
    return text_width(totals, 10.5) + len(str(checked.macs)) * 7


def require_drawable(checked: CheckedSpec) -> None:
    if not checked.ok or checked.input_shape is None:
        raise ValueError("an invalid spec draws nothing: check it first (cnnspec check) and fix its errors")
