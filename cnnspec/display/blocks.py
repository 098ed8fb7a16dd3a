"""The blocks picture, the articles' own: feature maps as blocks that shrink and
deepen from left to right, then the dense layers as bars.

Batch normalization, activation layers, the rescaling and the augmentation
layers are drawn as small marks (badges) under the layer they belong to, not
as columns of their own; their groups sit right after their owner's and name
it in ``data-on``.  ``sep`` and ``dw`` convolutions are blocks of their own
hues, labelled ``sep`` and ``dw``.  A residual block's addition is a ⊕ column;
its skip connection (``<g class="skip">``) leaves the main line where the
block's input is taken and runs above the blocks to the ⊕, through the 1x1
projection when there is one.
A network of more than :data:`~cnnspec.display.elision.MAX_COLUMNS` columns
shows its first and last ones around a ``<g class="elided">`` that counts the
layers left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cnnspec.display.elision import MAX_COLUMNS, elide, hidden_text
from cnnspec.display.geometry import (
    COLORS,
    DIM,
    INK,
    VECTOR_CAP,
    Group,
    Item,
    Line,
    Picture,
    Poly,
    Text,
    caption_group,
    caption_width,
    layer_attrs,
    layer_title,
    oblique,
    rect,
    require_drawable,
    side,
    text_width,
    thickness,
    vector,
)
from cnnspec.display.residual import block_spans
from cnnspec.network.checker import CheckedSpec, Layer
from cnnspec.network.shapes import shape_text
from cnnspec.notation.ir import Augment
from cnnspec.notation.vocabulary import GLOBAL_POOL_CLASSES, POOL_CLASSES

MARK_KINDS = ("BatchNormalization", "Rescaling", "Activation")
CONV_KINDS = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")
#: Each kind of convolution: its colours and the word its label starts with.
CONV_LOOKS = {"Conv2D": ("conv", ""), "SeparableConv2D": ("sep", "sep"), "DepthwiseConv2D": ("dw", "dw")}
#: Height of the band above the blocks where skip connections run.
SKIP_BAND = 40.0
ADD_RADIUS = 7.0
POOL_KINDS = tuple(POOL_CLASSES.values())
GLOBAL_KINDS = tuple(GLOBAL_POOL_CLASSES.values())


# A mark under a block: text, colour, and the layer it stands for (None: a property of the block itself, L2).
Badge = tuple[str, str, "Layer | None"]


@dataclass
class _Column:
    """One column of the blocks picture: a block or marker, and its marks."""

    layer: Layer | None  # None: the input, or the gap of a long network
    before: tuple[int, ...]  # the shape entering it
    marks: list[Layer] = field(default_factory=list)
    #: Layers left out in this column's place (elision); 0 for every other column.
    hidden: int = 0
    #: An Add column: the 1x1 projection on its skip connection, and the column whose
    #: output is the block's input (where the skip connection leaves the main line).
    projection: Layer | None = None
    source: _Column | None = None
    x: float = 0.0  # left edge, set when placed
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
    where: list[_Column] = []  # the column each layer is drawn in
    projection: Layer | None = None
    for layer in checked.layers:
        if layer.role == "projection":  # drawn on the skip connection of the Add that follows
            projection = layer
            where.append(cols[-1])
            continue
        if _is_mark(layer, cols[-1]):
            cols[-1].marks.append(layer)
        else:
            cols.append(_Column(layer=layer, before=shape))
            if layer.kind == "Add":
                cols[-1].projection, projection = projection, None
        where.append(cols[-1])
        shape = layer.output_shape
    for span in block_spans(checked.layers):
        add = where[span.add]
        add.source = where[span.input_index] if span.input_index >= 0 else cols[0]
    return cols


def _is_mark(layer: Layer, owner: _Column) -> bool:
    """A badge on the column before it; but a layer that opens a residual block (a bare ``R``
    first in ``[R 64 …]+``) is a column of its own, so the skip connection leaves the main
    line before it, as the block's input does."""
    if not (layer.kind in MARK_KINDS or isinstance(layer.item, Augment)):
        return False
    owner_block = owner.marks[-1].block if owner.marks else owner.layer.block if owner.layer else None
    return layer.block is None or layer.block == owner_block


def _elided(cols: list[_Column]) -> list[_Column]:
    """At most MAX_COLUMNS columns: the first and the last, and one that counts the layers between."""
    first, hidden, last = elide(cols, MAX_COLUMNS)
    if not hidden:
        return cols
    gap = cols[len(first) : len(cols) - len(last)]
    n_layers = sum(1 + len(c.marks) + (c.projection is not None) for c in gap)
    return [*first, _Column(layer=None, before=gap[0].before, hidden=n_layers), *last]


def _height(shape: tuple[int, ...]) -> float:
    return side(shape[0]) if len(shape) == 3 else vector(shape[0]) if shape else 0.0


def _conv_detail(layer: Layer) -> str:
    """``3x3 relu`` (``sep 3x3 relu``, ``dw 3x3 relu``), with the stride and padding only where
    they are not the defaults; ``3x3 no bias`` for ``B``, whose activation is a badge of its own."""
    assert layer.kernel is not None
    word = CONV_LOOKS[layer.kind][1]
    words = [word] if word else []
    words.append(f"{layer.kernel[0]}x{layer.kernel[1]}")
    if layer.stride != 1:
        words.append(f"s{layer.stride}")
    if layer.padding != "same":
        words.append(f"{layer.padding}")
    if getattr(layer.item, "prenorm", None) is None:
        words.append(f"{layer.activation}")
    # else `b`/`B`: linear, and its BN and activation badges follow, in their order
    if not layer.use_bias:  # `B`: the batch norm's offset stands in for the bias
        words.append("no bias")
    return " ".join(words)


def _measure(col: _Column) -> None:
    layer = col.layer
    mono_top = True
    if col.hidden:
        col.top, col.top_italic = "…", True
        col.labels = (f"{col.hidden:,} more", "layers")
        vw = 24.0
        col.up = col.down = 8.0
    elif layer is None:
        shape = col.before
        col.top = "input"
        col.labels = (shape_text(shape), "raw 0-255")
        vw = thickness(shape[2]) + oblique(shape[1])
        col.up, col.down = side(shape[0]) / 2 + 0.6 * oblique(shape[1]), side(shape[0]) / 2
        mono_top = False
        for m in col.marks:
            if m.kind in ("BatchNormalization", "Activation"):  # a bare `n` or `R` first in C:
                col.badges.append((_mark_text(m), _mark_color(m), m))
            else:
                col.badges.append(("/255" if m.kind == "Rescaling" else m.text, COLORS["aug"], m))
    else:
        vw, mono_top = _measure_layer(col, layer)
    # Marks wrap into rows no wider than the block (four augmentations must
    # not stretch the input's column).
    col.badge_rows = _pack(col.badges, max(vw, 58.0))
    badge_w = max((_row_width(r) for r in col.badge_rows), default=0.0)
    widths = [vw, badge_w, text_width(col.top, 11, mono_top)]
    widths += [text_width(t, 10) for t in col.labels]
    col.width = max(widths) + 12.0
    col.visual = vw


def _measure_layer(col: _Column, layer: Layer) -> tuple[float, bool]:
    """Texts, marks and extent of a layer's column; returns the block's width and whether its top text is mono."""
    mono_top = True
    out = layer.output_shape
    kind = layer.kind
    col.top = layer.text
    if kind in CONV_KINDS:
        vw = thickness(out[2]) + oblique(out[1])
        col.up, col.down = side(out[0]) / 2 + 0.6 * oblique(out[1]), side(out[0]) / 2
        col.labels = (shape_text(out), _conv_detail(layer))
    elif kind == "Add":
        # The ⊕; the item text (`]+R`) is written beside the skip connection coming down.
        vw = 2 * ADD_RADIUS
        col.up = col.down = ADD_RADIUS
        col.top = ""
        col.labels = (shape_text(out), f"add {layer.shortcut or ''}".strip())
    elif kind in MARK_KINDS:  # a batch norm or activation that opens a block: a column of its own
        text = _mark_text(layer)
        vw = _badge_width(text)
        col.up = col.down = 6.0
        col.labels = (shape_text(out),)
    elif kind in POOL_KINDS:
        vw = 12.0
        h = max(side(col.before[0]), side(out[0]))
        col.up = col.down = h / 2
        op = "max" if kind == "MaxPooling2D" else "avg"
        k = layer.pool_size
        stride = f" s{layer.pool_stride}" if layer.pool_stride not in (None, k) else ""
        same = " same" if layer.pool_padding == "same" else ""
        col.labels = (shape_text(out), f"{op} {k}x{k}{stride}{same}")
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
        col.badges.append((_mark_text(m), _mark_color(m), m))
    return vw, mono_top


def _mark_text(layer: Layer) -> str:
    """A badge's text: ``BN`` for a batch norm, the activation's name (``relu``) for an activation layer."""
    return "BN" if layer.kind == "BatchNormalization" else (layer.activation or layer.detail or layer.kind)


def _mark_color(layer: Layer) -> str:
    return COLORS["bn"] if layer.kind == "BatchNormalization" else COLORS["act"]


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


def _conv_items(x: float, mid: float, shape: tuple[int, ...], kind: str) -> list[Item]:
    """A convolution's cuboid, in its kind's hue.  A ``sep`` convolution's front is split in two
    (a depthwise step, then a pointwise one); a ``dw`` convolution's front is sliced (one filter
    per channel)."""
    items = _cuboid(x, mid, shape, COLORS[CONV_LOOKS[kind][0]])  # type: ignore[literal-required]
    h, t = side(shape[0]), thickness(shape[2])
    top, bottom = mid - h / 2, mid + h / 2
    if kind == "SeparableConv2D":
        items.append(Line(x + t * 0.4, top, x + t * 0.4, bottom, INK, 0.8))
    elif kind == "DepthwiseConv2D":
        n = max(2, min(6, int(t // 5)))
        items += [Line(x + t * i / n, top, x + t * i / n, bottom, "#ffffff", 0.8) for i in range(1, n)]
    return items


def _plus_circle(cx: float, cy: float, r: float = ADD_RADIUS) -> list[Item]:
    """⊕: the addition of a residual block."""
    ring = tuple((cx + r * math.cos(2 * math.pi * i / 24), cy + r * math.sin(2 * math.pi * i / 24)) for i in range(24))
    return [
        Poly(ring, "#ffffff", COLORS["skip"], 1.4),
        Line(cx - r + 2.5, cy, cx + r - 2.5, cy, COLORS["skip"], 1.4),
        Line(cx, cy - r + 2.5, cx, cy + r - 2.5, COLORS["skip"], 1.4),
    ]


def _shape_items(col: _Column, x: float, mid: float) -> list[Item]:
    """The block or marker of one column, its left edge at ``x``."""
    layer = col.layer
    if col.hidden:
        return [Text(x + 12, mid + 5, "⋯", 16, fill=DIM)]
    if layer is None:
        return _cuboid(x, mid, col.before, COLORS["input"])
    out, kind = layer.output_shape, layer.kind
    if kind in CONV_KINDS:
        return _conv_items(x, mid, out, kind)
    if kind == "Add":
        return _plus_circle(x + ADD_RADIUS, mid)
    if kind in MARK_KINDS:
        text = _mark_text(layer)
        w = _badge_width(text)
        return [rect(x, mid - 6, w, 12, _mark_color(layer), DIM, 0.6), Text(x + w / 2, mid + 3, text, 8.5)]
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
    items: list[Item] = [rect(x, mid - h / 2, w, h, fill)]
    if h >= VECTOR_CAP:  # a capped bar: show the break
        for dy in (10.0, 15.0):
            y = mid - h / 2 + dy
            items.append(Line(x - 2, y + 3, x + w + 2, y - 3, "#ffffff", 2.5))
    return items


@dataclass(frozen=True)
class _Rows:
    """The rows every column is placed on: the item texts, the middle line, the labels."""

    top: float  # baseline of the item texts
    mid: float  # the blocks' middle line
    labels: float  # baseline of the first label
    skip: float = 0.0  # where skip connections run, above the item texts (0: no blocks)


def layout_blocks(checked: CheckedSpec) -> Picture:
    """The articles' picture: blocks that shrink and deepen, then bars."""
    require_drawable(checked)
    cols = _elided(_columns(checked))
    for col in cols:
        _measure(col)
    margin = 16.0
    skips = any(c.layer is not None and c.layer.kind == "Add" for c in cols)
    top_row = margin + 12.0 + (SKIP_BAND if skips else 0.0)
    mid = top_row + 10.0 + max(c.up for c in cols)
    badge_row = max(len(c.badge_rows) for c in cols) * 14.0 + 2.0
    labels = mid + max(c.down for c in cols) + badge_row + 16.0
    rows = _Rows(top=top_row, mid=mid, labels=labels, skip=margin + 24.0 if skips else 0.0)
    n_labels = max(len(c.labels) for c in cols)
    x = margin
    groups: list[Group] = []
    for col in cols:
        groups += _place_column(col, x, rows)
        x += col.width
    width = max(x + margin, caption_width(checked) + 2 * margin, 360.0)
    caption, y = caption_group(checked, margin, rows.labels + 13 * (n_labels - 1) + 26, width - 2 * margin)
    groups.append(caption)
    legend, y = _legend(checked, margin, y + 6, width - margin)
    groups.append(legend)
    return Picture(round(width), round(y + margin - 8), groups, checked.spec.name or "network")


def _place_column(col: _Column, x: float, rows: _Rows) -> list[Group]:
    """The groups of one column, its left edge at ``x``: the block, then one group per mark
    (an Add column: its skip connection and projection first, as the checker lists them)."""
    col.x = x
    centre = x + col.width / 2
    items: list[Item] = _shape_items(col, centre - col.visual / 2, rows.mid)
    if col.top:
        mono = col.layer is not None and col.layer.kind != "Flatten"
        fill = DIM if col.top_italic else INK
        items.append(Text(centre, rows.top, col.top, 11, fill=fill, italic=col.top_italic, mono=mono))
    for i, label in enumerate(col.labels):
        size, fill = (10, INK) if i == 0 else (9, DIM)
        items.append(Text(centre, rows.labels + 13 * i, label, size, fill=fill, italic=label == "implied"))
    badge_items = _place_badges(col, centre, rows.mid + col.down)
    for owner, badge in badge_items:
        if owner is None:  # a property of the block itself (L2): drawn in its group
            items.extend(badge)
    groups: list[Group] = []
    if col.hidden:
        return [Group("elided", items, {"data-hidden": str(col.hidden)}, f"{hidden_text(col.hidden)} not drawn")]
    if col.layer is None:
        shape = shape_text(col.before)
        groups.append(Group("input", items, {"data-shape": shape}, f"input: {shape}"))
        on = "input"
    else:
        if col.layer.kind == "Add":
            groups += _skip_groups(col, centre, rows)
            items.append(Text(centre + 5, rows.top, col.layer.text, 11, "start", mono=True))
        groups.append(Group("layer", items, layer_attrs(col.layer), layer_title(col.layer)))
        on = col.layer.name
    for owner, badge in badge_items:
        if owner is not None:
            groups.append(Group("layer", list(badge), layer_attrs(owner, on), layer_title(owner)))
    return groups


def _skip_groups(add: _Column, centre: float, rows: _Rows) -> list[Group]:
    """A block's skip connection, from where its input leaves the main line up to the band,
    along it and down into the ⊕; the projection's group (a 1x1 convolution) on the band."""
    assert add.layer is not None
    block = str(add.layer.block)
    # Where the input is taken: right after the column that made it; a source left out of a
    # long network's picture starts the line just before the ⊕'s column.
    start = add.source.x + add.source.width if add.source is not None and add.source.width else add.x - 12.0
    band, top = rows.skip, rows.mid - ADD_RADIUS - 1.0
    color = COLORS["skip"]
    dot = tuple((start + 2.5 * math.cos(a * math.pi / 4), rows.mid + 2.5 * math.sin(a * math.pi / 4)) for a in range(8))
    items: list[Item] = [
        Poly(dot, color, color, 0.5),
        Line(start, rows.mid, start, band, color, 1.6),
        Line(start, band, centre, band, color, 1.6),
        Line(centre, band, centre, top - 5, color, 1.6),
        Poly(((centre - 4, top - 6), (centre + 4, top - 6), (centre, top)), color, color, 0.5),
    ]
    shortcut = add.layer.shortcut or "identity"
    attrs = {"data-block": block, "data-shortcut": shortcut, "data-add": add.layer.name}
    title = f"block {block}: skip connection ({shortcut}) to {add.layer.name}"
    groups = [Group("skip", items, attrs, title)]
    proj = add.projection
    if proj is not None:
        assert proj.kernel is not None
        px = (start + centre) / 2
        label = f"{proj.kernel[0]}x{proj.kernel[1]} conv" + (f" s{proj.stride}" if proj.stride != 1 else "")
        box: list[Item] = [
            rect(px - 8, band - 6, 16, 12, COLORS["conv"][0], INK, 0.8),
            Text(px, band - 10, label, 9, fill=INK),
        ]
        groups.append(Group("layer", box, {**layer_attrs(proj), "data-on": add.layer.name}, layer_title(proj)))
    return groups


def _place_badges(col: _Column, centre: float, bottom: float) -> list[tuple[Layer | None, list[Item]]]:
    """The marks under a block, row by row, each with the layer it stands for."""
    placed: list[tuple[Layer | None, list[Item]]] = []
    for r, row in enumerate(col.badge_rows):
        bx = centre - _row_width(row) / 2
        by = bottom + 3 + 14 * r
        for text, color, owner in row:
            bw = _badge_width(text)
            placed.append((owner, [rect(bx, by, bw, 12, color, DIM, 0.6), Text(bx + bw / 2, by + 9, text, 8.5)]))
            bx += bw + 2
    return placed


def _legend(checked: CheckedSpec, x: float, y: float, right: float) -> tuple[Group, float]:
    """A key to the colours, naming only what this picture shows."""
    g = Group("legend")
    kinds = {layer.kind for layer in checked.layers}
    shown = {
        "conv": any(la.kind == "Conv2D" and la.role is None for la in checked.layers),
        "pool": any(la.kind in POOL_KINDS + GLOBAL_KINDS and not la.implied for la in checked.layers),
        "implied pool": any(la.implied for la in checked.layers),
        "dropout": "Dropout" in kinds,
        "dense": any(la.kind == "Dense" and la.name != "head" for la in checked.layers),
        "head": any(la.name == "head" for la in checked.layers),
        "BN batch norm": "BatchNormalization" in kinds,
        "activation": "Activation" in kinds,
        "L2 regularizer": any(la.l2 for la in checked.layers),
        "sep conv": "SeparableConv2D" in kinds,
        "dw conv": "DepthwiseConv2D" in kinds,
        "skip connection, add": "Add" in kinds,
        "1x1 projection": any(la.role == "projection" for la in checked.layers),
    }
    entries: list[tuple[str, Item]] = [
        ("conv", rect(0, 0, 10, 10, COLORS["conv"][0])),
        ("pool", rect(0, 0, 10, 10, COLORS["pool"])),
        ("implied pool", Poly(((0, 0), (10, 0), (10, 10), (0, 10)), "#fff4ea", COLORS["pool"], 1.3, dash=True)),
        ("dropout", Line(5, -1, 5, 11, COLORS["dropout"], 2.0, dash=True)),
        ("dense", rect(0, 0, 10, 10, COLORS["dense"])),
        ("head", rect(0, 0, 10, 10, COLORS["head"])),
        ("BN batch norm", rect(0, 0, 10, 10, COLORS["bn"], DIM, 0.6)),
        ("activation", rect(0, 0, 10, 10, COLORS["act"], DIM, 0.6)),
        ("L2 regularizer", rect(0, 0, 10, 10, COLORS["l2"], DIM, 0.6)),
        ("sep conv", rect(0, 0, 10, 10, COLORS["sep"][0])),
        ("dw conv", rect(0, 0, 10, 10, COLORS["dw"][0])),
        ("skip connection, add", Line(0, 5, 10, 5, COLORS["skip"], 1.6)),
        ("1x1 projection", rect(1, 2, 8, 6, COLORS["conv"][0], INK, 0.8)),
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
