"""CheckedSpec -> a picture of the network: SVG text, or a PNG through matplotlib.

The articles the notation comes from explain a network with one kind of
picture: feature maps as blocks that shrink and deepen from left to right,
then the dense layers as bars, shapes written beside them.  This module draws
that picture from the checker's result alone: no TensorFlow, no Graphviz.

One geometry model, two back ends.  :func:`layout` turns a
:class:`~cnnspec.network.checker.CheckedSpec` into a :class:`Picture` — polygons,
lines and text in pixel coordinates, grouped per layer — and
:func:`to_svg` / :func:`to_png` only paint it.  So the SVG and the PNG
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

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypedDict, Union
from xml.sax.saxutils import escape, quoteattr

from cnnspec.network.checker import CheckedSpec, Layer
from cnnspec.network.shapes import human, shape_text

# The parser's own rule for a `name =` line, so the two never disagree.
from cnnspec.notation.ir import Augment
from cnnspec.notation.vocabulary import GLOBAL_POOL_CLASSES, POOL_CLASSES
from cnnspec.notation.vocabulary import NAMED_LINE as NAME_LINE

Style = Literal["blocks", "table"]
STYLES: tuple[str, ...] = ("blocks", "table")

SANS = "DejaVu Sans, Verdana, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"

# Colours: one hue per kind of layer, as the articles' figures use.
INK = "#222222"
DIM = "#666666"


class _Palette(TypedDict):
    """Block kinds are drawn as cuboids (front, top, side); the rest are flat."""

    input: tuple[str, str, str]
    conv: tuple[str, str, str]
    pool: str
    dropout: str
    flatten: str
    dense: str
    head: str
    bn: str
    l2: str
    aug: str
    stripe: str


COLORS: _Palette = {
    "input": ("#e0e0e0", "#f0f0f0", "#c4c4c4"),  # front, top, side
    "conv": ("#8cc0e3", "#b9daf0", "#5f9fcb"),
    "pool": "#f4a259",
    "dropout": "#7b68b3",
    "flatten": "#bdbdbd",
    "dense": "#8fcf8a",
    "head": "#f08a7e",
    "bn": "#ffd84d",
    "l2": "#d7b5e0",
    "aug": "#e6e6e6",
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
    return min(110.0, 4.0 + 3.5 * math.sqrt(channels))


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


def spec_text(checked: CheckedSpec) -> str:
    """The spec as its author wrote it, on one line, without its ``name =``."""
    spec = checked.spec
    text = spec.source
    if spec.name is not None:
        # A named spec's source is its whole file: keep its own lines only,
        # from its ``name =`` line to the next spec's.
        lines = text.splitlines()[spec.first_line - 1 :]
        own = lines[:1]
        for line in lines[1:]:
            if NAME_LINE.match(line):
                break
            own.append(line)
        text = "\n".join(own)
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


def _wrap(text: str, width: float, size: float, mono: bool = True) -> list[str]:
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


# --------------------------------------------------------------------------
# Blocks: the articles' picture


MARK_KINDS = ("BatchNormalization", "Rescaling")
POOL_KINDS = tuple(POOL_CLASSES.values())
GLOBAL_KINDS = tuple(GLOBAL_POOL_CLASSES.values())


# A mark under a block: text, colour, and the layer it stands for (None: a property of the block itself, L2).
Badge = tuple[str, str, "Layer | None"]


@dataclass
class _Column:
    """One column of the blocks picture: a block or marker, and its marks."""

    layer: Layer | None  # None: the input
    before: tuple[int, ...]  # the shape entering it
    marks: list[Layer] = field(default_factory=list)
    # filled by the layout
    top: str = ""
    top_italic: bool = False
    labels: tuple[str, ...] = ()
    badges: list[Badge] = field(default_factory=list)
    badge_rows: list[list[Badge]] = field(default_factory=list)  # the badges, wrapped
    width: float = 0.0
    visual: float = 0.0  # the block's own width, without labels and badges
    up: float = 0.0  # extent above the middle line
    down: float = 0.0  # extent below it


def _columns(checked: CheckedSpec) -> list[_Column]:
    shape = checked.input_shape or ()
    cols = [_Column(layer=None, before=shape)]
    for layer in checked.layers:
        if layer.kind in MARK_KINDS or isinstance(layer.item, Augment):
            cols[-1].marks.append(layer)
        else:
            cols.append(_Column(layer=layer, before=shape))
        shape = layer.output_shape
    return cols


def _height(shape: tuple[int, ...]) -> float:
    return side(shape[0]) if len(shape) == 3 else vector(shape[0]) if shape else 0.0


def _conv_detail(layer: Layer) -> str:
    """``3x3 relu``, with the stride and padding only where they are not the defaults."""
    assert layer.kernel is not None
    words = [f"{layer.kernel[0]}x{layer.kernel[1]}"]
    if layer.stride != 1:
        words.append(f"s{layer.stride}")
    if layer.padding != "same":
        words.append(f"{layer.padding}")
    return " ".join([*words, f"{layer.activation}"])


def _measure(col: _Column) -> None:
    layer = col.layer
    mono_top = True
    if layer is None:
        shape = col.before
        col.top = "input"
        col.labels = (shape_text(shape), "raw 0-255")
        vw = thickness(shape[2]) + oblique(shape[1])
        col.up, col.down = side(shape[0]) / 2 + 0.6 * oblique(shape[1]), side(shape[0]) / 2
        mono_top = False
        for m in col.marks:
            col.badges.append(("/255" if m.kind == "Rescaling" else m.text, COLORS["aug"], m))
    else:
        out = layer.output_shape
        kind = layer.kind
        col.top = layer.text
        if kind == "Conv2D":
            vw = thickness(out[2]) + oblique(out[1])
            col.up, col.down = side(out[0]) / 2 + 0.6 * oblique(out[1]), side(out[0]) / 2
            col.labels = (shape_text(out), _conv_detail(layer))
        elif kind in POOL_KINDS:
            vw = 12.0
            h = max(side(col.before[0]), side(out[0]))
            col.up = col.down = h / 2
            op = "max" if kind == "MaxPooling2D" else "avg"
            col.labels = (shape_text(out), f"{op} {layer.pool_size}x{layer.pool_size}")
            if layer.implied:
                col.top, col.top_italic = "(p)", True
                col.labels = (*col.labels, "implied")
        elif kind in GLOBAL_KINDS:
            vw = 12.0
            col.up = col.down = max(side(col.before[0]), vector(out[0])) / 2
            col.labels = (shape_text(out), layer.detail)
        elif kind == "Dropout":
            vw = 4.0
            col.up = col.down = _height(out) / 2
            col.labels = ()
        else:  # Flatten, Dense, the head
            vw = 8.0 if kind == "Flatten" else 14.0
            col.up = col.down = vector(out[0]) / 2
            if kind == "Flatten":
                col.top, mono_top = "flatten", False
                col.labels = (shape_text(out),)
            else:
                col.labels = (shape_text(out), f"{layer.activation}")
                if layer.name == "head" and not layer.text:
                    col.top = str(out[0])
        if layer.l2:
            col.badges.append(("L2", COLORS["l2"], None))
        for m in col.marks:
            col.badges.append(("BN", COLORS["bn"], m))
    # Marks wrap into rows no wider than the block (four augmentations must
    # not stretch the input's column).
    col.badge_rows = _pack(col.badges, max(vw, 58.0))
    badge_w = max((_row_width(r) for r in col.badge_rows), default=0.0)
    widths = [vw, badge_w, text_width(col.top, 11, mono_top)]
    widths += [text_width(t, 10) for t in col.labels]
    col.width = max(widths) + 12.0
    col.visual = vw


def _badge_width(text: str) -> float:
    return text_width(text, 8.5) + 6.0


def _row_width(row: list[Badge]) -> float:
    return sum(_badge_width(t) for t, _, _ in row) + 2 * max(0, len(row) - 1)


def _pack(badges: list[Badge], limit: float) -> list[list[Badge]]:
    rows: list[list[Badge]] = []
    for badge in badges:
        if rows and _row_width([*rows[-1], badge]) <= limit:
            rows[-1].append(badge)
        else:
            rows.append([badge])
    return rows


def _cuboid(
    x: float, mid: float, shape: tuple[int, ...], colors: tuple[str, str, str], dash: bool = False
) -> list[Item]:
    h, t, o = side(shape[0]), thickness(shape[2]), oblique(shape[1])
    oy = 0.6 * o
    top, bottom = mid - h / 2, mid + h / 2
    front, lid, flank = colors
    return [
        Poly(((x, top), (x + o, top - oy), (x + t + o, top - oy), (x + t, top)), lid, width=0.8, dash=dash),
        Poly(
            ((x + t, top), (x + t + o, top - oy), (x + t + o, bottom - oy), (x + t, bottom)),
            flank,
            width=0.8,
            dash=dash,
        ),
        Poly(((x, top), (x + t, top), (x + t, bottom), (x, bottom)), front, width=0.8, dash=dash),
    ]


def _rect(x: float, y: float, w: float, h: float, fill: str, stroke: str = INK, width: float = 0.8) -> Poly:
    return Poly(((x, y), (x + w, y), (x + w, y + h), (x, y + h)), fill, stroke, width)


def _shape_items(col: _Column, x: float, mid: float) -> list[Item]:
    """The block or marker of one column, its left edge at ``x``."""
    layer = col.layer
    if layer is None:
        return _cuboid(x, mid, col.before, COLORS["input"])
    out, kind = layer.output_shape, layer.kind
    if kind == "Conv2D":
        return _cuboid(x, mid, out, COLORS["conv"])
    if kind in POOL_KINDS or kind in GLOBAL_KINDS:
        hin = side(col.before[0])
        hout = side(out[0]) if kind in POOL_KINDS else vector(out[0])
        pts = ((x, mid - hin / 2), (x + 12, mid - hout / 2), (x + 12, mid + hout / 2), (x, mid + hin / 2))
        if layer.implied:
            return [Poly(pts, "#fff4ea", COLORS["pool"], 1.3, dash=True)]
        return [Poly(pts, COLORS["pool"], INK, 0.8)]
    if kind == "Dropout":
        h = _height(out)
        return [Line(x + 2, mid - h / 2, x + 2, mid + h / 2, COLORS["dropout"], 2.0, dash=True)]
    h = vector(out[0])
    w = 8.0 if kind == "Flatten" else 14.0
    fill = COLORS["flatten"] if kind == "Flatten" else COLORS["head"] if layer.name == "head" else COLORS["dense"]
    items: list[Item] = [_rect(x, mid - h / 2, w, h, fill)]
    if h >= VECTOR_CAP:  # a capped bar: show the break
        for dy in (10.0, 15.0):
            y = mid - h / 2 + dy
            items.append(Line(x - 2, y + 3, x + w + 2, y - 3, "#ffffff", 2.5))
    return items


def _title(layer: Layer) -> str:
    parts = [f"{layer.name} ({layer.kind})", shape_text(layer.output_shape), f"{layer.params:,} params"]
    if layer.text:
        parts.insert(1, f"'{layer.text}'")
    if layer.implied:
        parts.append("implied")
    if layer.detail and not layer.implied:
        parts.append(layer.detail)
    return ": ".join(parts[:1]) + " " + ", ".join(parts[1:])


def _layer_attrs(layer: Layer, on: str | None = None) -> dict[str, str]:
    attrs = {"data-name": layer.name, "data-kind": layer.kind, "data-shape": shape_text(layer.output_shape)}
    attrs["data-params"] = str(layer.params)
    if layer.implied:
        attrs["data-implied"] = "true"
    if on is not None:
        attrs["data-on"] = on
    return attrs


def _caption(checked: CheckedSpec, x: float, y: float, width: float) -> tuple[Group, float]:
    g = Group("caption")
    name = checked.spec.name
    lines = _wrap(("spec: " if name is None else f"{name} = ") + spec_text(checked), width, 11)
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


def _caption_width(checked: CheckedSpec) -> float:
    totals = f"params {checked.total_params:,} (trainable {checked.trainable_params:,}, non-trainable 0)  ·  MACs 0 (0)"
    return text_width(totals, 10.5) + len(str(checked.macs)) * 7


def layout_blocks(checked: CheckedSpec) -> Picture:
    """The articles' picture: blocks that shrink and deepen, then bars."""
    _require_drawable(checked)
    cols = _columns(checked)
    for col in cols:
        _measure(col)
    margin = 16.0
    top_row = margin + 12.0  # baseline of the item texts
    up = max(c.up for c in cols)
    down = max(c.down for c in cols)
    mid = top_row + 10.0 + up
    badge_row = max(len(c.badge_rows) for c in cols) * 14.0 + 2.0
    label_row = mid + down + badge_row + 16.0
    n_labels = max(len(c.labels) for c in cols)
    x = margin
    groups: list[Group] = []
    for col in cols:
        vw = col.visual
        centre = x + col.width / 2
        left = centre - vw / 2
        items: list[Item] = _shape_items(col, left, mid)
        if col.top:
            mono = col.layer is not None and col.layer.kind != "Flatten"
            items.append(
                Text(
                    centre, top_row, col.top, 11, fill=DIM if col.top_italic else INK, italic=col.top_italic, mono=mono
                )
            )
        for i, label in enumerate(col.labels):
            items.append(
                Text(
                    centre,
                    label_row + 13 * i,
                    label,
                    10 if i == 0 else 9,
                    fill=INK if i == 0 else DIM,
                    italic=label == "implied",
                )
            )
        bottom = mid + col.down
        badge_items: list[tuple[Layer | None, list[Item]]] = []
        for r, badge_row_items in enumerate(col.badge_rows):
            bx = centre - _row_width(badge_row_items) / 2
            by = bottom + 3 + 14 * r
            for text, color, owner in badge_row_items:
                bw = _badge_width(text)
                badge: list[Item] = [_rect(bx, by, bw, 12, color, DIM, 0.6), Text(bx + bw / 2, by + 9, text, 8.5)]
                bx += bw + 2
                badge_items.append((owner, badge))
        own = [b for owner, b in badge_items if owner is None]
        for b in own:
            items.extend(b)
        if col.layer is None:
            groups.append(
                Group("input", items, {"data-shape": shape_text(col.before)}, f"input: {shape_text(col.before)}")
            )
            on = None
        else:
            groups.append(Group("layer", items, _layer_attrs(col.layer), _title(col.layer)))
            on = col.layer.name
        for owner, b in badge_items:
            if owner is not None:
                groups.append(Group("layer", list(b), _layer_attrs(owner, on or "input"), _title(owner)))
        x += col.width
    width = max(x + margin, _caption_width(checked) + 2 * margin, 360.0)
    caption, y = _caption(checked, margin, label_row + 13 * (n_labels - 1) + 26, width - 2 * margin)
    groups.append(caption)
    legend, y = _legend(checked, margin, y + 6, width - margin)
    groups.append(legend)
    return Picture(round(width), round(y + margin - 8), groups, checked.spec.name or "network")


def _legend(checked: CheckedSpec, x: float, y: float, right: float) -> tuple[Group, float]:
    """A key to the colours, naming only what this picture shows."""
    g = Group("legend")
    kinds = {layer.kind for layer in checked.layers}
    shown = {
        "conv": "Conv2D" in kinds,
        "pool": any(la.kind in POOL_KINDS + GLOBAL_KINDS and not la.implied for la in checked.layers),
        "implied pool": any(la.implied for la in checked.layers),
        "dropout": "Dropout" in kinds,
        "dense": any(la.kind == "Dense" and la.name != "head" for la in checked.layers),
        "head": any(la.name == "head" for la in checked.layers),
        "BN batch norm": "BatchNormalization" in kinds,
        "L2 regularizer": any(la.l2 for la in checked.layers),
    }
    entries: list[tuple[str, Item]] = [
        ("conv", _rect(0, 0, 10, 10, COLORS["conv"][0])),
        ("pool", _rect(0, 0, 10, 10, COLORS["pool"])),
        ("implied pool", Poly(((0, 0), (10, 0), (10, 10), (0, 10)), "#fff4ea", COLORS["pool"], 1.3, dash=True)),
        ("dropout", Line(5, -1, 5, 11, COLORS["dropout"], 2.0, dash=True)),
        ("dense", _rect(0, 0, 10, 10, COLORS["dense"])),
        ("head", _rect(0, 0, 10, 10, COLORS["head"])),
        ("BN batch norm", _rect(0, 0, 10, 10, COLORS["bn"], DIM, 0.6)),
        ("L2 regularizer", _rect(0, 0, 10, 10, COLORS["l2"], DIM, 0.6)),
    ]
    left = x
    for label, item in [e for e in entries if shown[e[0]]]:
        if x + 14 + text_width(label, 9) > right:
            x, y = left, y + 14
        g.items.append(_moved(item, x, y - 9))
        g.items.append(Text(x + 14, y, label, 9, "start", DIM))
        x += 14 + text_width(label, 9) + 12
    return g, y + 4


def _moved(item: Item, dx: float, dy: float) -> Item:
    if isinstance(item, Poly):
        return Poly(tuple((px + dx, py + dy) for px, py in item.points), item.fill, item.stroke, item.width, item.dash)
    if isinstance(item, Line):
        return Line(item.x1 + dx, item.y1 + dy, item.x2 + dx, item.y2 + dy, item.stroke, item.width, item.dash)
    return item


# --------------------------------------------------------------------------
# Table: the compact variant for long networks


def layout_table(checked: CheckedSpec) -> Picture:
    """One row per layer, with a small bar for its share of the parameters."""
    _require_drawable(checked)
    margin, row, size = 16.0, 18.0, 10.5
    total = checked.total_params or 1
    rows: list[tuple[Layer | None, list[str]]] = []
    if checked.input_shape:
        rows.append((None, ["", "input", "", "InputLayer", shape_text(checked.input_shape), "0", "raw 0-255"]))
    for i, layer in enumerate(checked.layers, 1):
        note = "implied" if layer.implied else layer.detail
        rows.append(
            (
                layer,
                [str(i), layer.name, layer.text, layer.kind, shape_text(layer.output_shape), f"{layer.params:,}", note],
            )
        )
    header = ["#", "layer", "item", "kind", "output", "params", ""]
    right = {0, 4, 5}
    widths = [max(text_width(r[c], size, mono=c == 2) for r in [*[r for _, r in rows], header]) for c in range(7)]
    bar_w = 110.0
    xs: list[float] = []
    x = margin
    for c in range(6):
        xs.append(x)
        x += widths[c] + 14
    bar_x = x
    note_x = bar_x + bar_w + 52
    width = max(note_x + widths[6] + margin, _caption_width(checked) + 2 * margin, 360.0)
    groups: list[Group] = []
    y = margin + 12
    head = Group("header")
    for c, text in enumerate(header[:6]):
        anchor: Anchor = "end" if c in right else "start"
        head.items.append(Text(xs[c] + (widths[c] if c in right else 0), y, text, size, anchor, bold=True))
    head.items.append(Text(bar_x, y, "share of params", size, "start", bold=True))
    head.items.append(Line(margin, y + 5, width - margin, y + 5, DIM, 0.8))
    groups.append(head)
    y += 5
    for n, (owner, cells) in enumerate(rows):
        items: list[Item] = []
        top = y
        if n % 2:
            items.append(
                Poly(
                    ((margin, top), (width - margin, top), (width - margin, top + row), (margin, top + row)),
                    COLORS["stripe"],
                    "none",
                    0,
                )
            )
        base = top + row - 5
        implied = owner is not None and owner.implied
        fill = DIM if implied or (owner is not None and owner.kind in ("Dropout", "Rescaling")) else INK
        for c, text in enumerate(cells[:6]):
            anchor = "end" if c in right else "start"
            items.append(
                Text(
                    xs[c] + (widths[c] if c in right else 0),
                    base,
                    text,
                    size,
                    anchor,
                    fill,
                    italic=implied,
                    mono=c == 2,
                )
            )
        if owner is not None and owner.params:
            share = owner.params / total
            items.append(
                _rect(
                    bar_x,
                    top + 4,
                    max(1.0, bar_w * share),
                    row - 8,
                    COLORS["head"] if share > 0.5 else COLORS["dense"],
                    "none",
                    0,
                )
            )
            items.append(Text(bar_x + bar_w + 46, base, f"{share:.1%}", size - 1, "end", DIM))
        items.append(Text(note_x, base, cells[6], size - 1, "start", DIM, italic=implied))
        if owner is None:
            groups.append(Group("input", items, {"data-shape": cells[4]}, f"input: {cells[4]}"))
        else:
            groups.append(Group("layer", items, _layer_attrs(owner), _title(owner)))
        y += row
    caption, y = _caption(checked, margin, y + 22, width - 2 * margin)
    groups.append(caption)
    return Picture(round(width), round(y + margin - 8), groups, checked.spec.name or "network")


# --------------------------------------------------------------------------
# Public API


def _require_drawable(checked: CheckedSpec) -> None:
    if not checked.ok or checked.input_shape is None:
        raise ValueError("an invalid spec draws nothing: check it first (cnnspec check) and fix its errors")


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


# --------------------------------------------------------------------------
# Back end 1: SVG, written directly


def _num(v: float) -> str:
    r = round(v, 1)
    return f"{r:g}" if r != 0 else "0"


def _svg_item(item: Item) -> str:
    if isinstance(item, Poly):
        pts = " ".join(f"{_num(x)},{_num(y)}" for x, y in item.points)
        extra = ' stroke-dasharray="4 3"' if item.dash else ""
        stroke = f' stroke="{item.stroke}" stroke-width="{_num(item.width)}"' if item.width else ' stroke="none"'
        return f'<polygon points="{pts}" fill="{item.fill}"{stroke}{extra} stroke-linejoin="round"/>'
    if isinstance(item, Line):
        extra = ' stroke-dasharray="4 3"' if item.dash else ""
        return (
            f'<line x1="{_num(item.x1)}" y1="{_num(item.y1)}" x2="{_num(item.x2)}" y2="{_num(item.y2)}" '
            f'stroke="{item.stroke}" stroke-width="{_num(item.width)}"{extra}/>'
        )
    attrs = f'x="{_num(item.x)}" y="{_num(item.y)}" font-size="{_num(item.size)}" text-anchor="{item.anchor}"'
    if item.fill != INK:
        attrs += f' fill="{item.fill}"'
    if item.bold:
        attrs += ' font-weight="bold"'
    if item.italic:
        attrs += ' font-style="italic"'
    if item.mono:
        attrs += f' font-family="{MONO}"'
    return f"<text {attrs}>{escape(item.text)}</text>"


def to_svg(picture: Picture) -> str:
    """Paint a :class:`Picture` as standalone SVG text (deterministic)."""
    w, h = _num(picture.width), _num(picture.height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="{SANS}" fill="{INK}">',
        f"<title>{escape(picture.title)}</title>",
        f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
    ]
    for g in picture.groups:
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in g.attrs.items())
        out.append(f'<g class="{g.cls}"{attrs}>')
        if g.title:
            out.append(f"<title>{escape(g.title)}</title>")
        out.extend(_svg_item(item) for item in g.items)
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# Back end 2: PNG through matplotlib (imported here, lazily)


def to_png(picture: Picture, path: Path | str, scale: float = 2.0) -> None:
    """Paint a :class:`Picture` into a PNG file with matplotlib's Agg canvas.

    One picture unit is one point (1/72 inch), so text sizes carry over.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Polygon

    fig = Figure(figsize=(picture.width / 72, picture.height / 72), dpi=72 * scale, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, picture.width)
    ax.set_ylim(picture.height, 0)
    ax.set_axis_off()
    dashes = (0, (4, 3))
    ha = {"start": "left", "middle": "center", "end": "right"}
    for g in picture.groups:
        for item in g.items:
            if isinstance(item, Poly):
                ax.add_patch(
                    Polygon(
                        item.points,
                        closed=True,
                        facecolor=item.fill,
                        edgecolor=item.stroke if item.width else "none",
                        linewidth=item.width,
                        linestyle=dashes if item.dash else "solid",
                        joinstyle="round",
                    )
                )
            elif isinstance(item, Line):
                ax.add_line(
                    Line2D(
                        (item.x1, item.x2),
                        (item.y1, item.y2),
                        color=item.stroke,
                        linewidth=item.width,
                        linestyle=dashes if item.dash else "solid",
                    )
                )
            else:
                ax.text(
                    item.x,
                    item.y,
                    item.text,
                    fontsize=item.size,
                    ha=ha[item.anchor],
                    va="baseline",
                    color=item.fill,
                    fontweight="bold" if item.bold else "normal",
                    fontstyle="italic" if item.italic else "normal",
                    family="DejaVu Sans Mono" if item.mono else "DejaVu Sans",
                )
    fig.savefig(path, format="png", dpi=72 * scale, facecolor="white")
