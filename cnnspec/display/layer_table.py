"""The table picture: the compact variant for long networks, one row per layer
with a small bar for its share of the parameters; a bracket in the left margin
(``<g class="skip">``) spans the rows of each residual block.

At most :data:`~cnnspec.display.elision.PICTURE_MAX_ROWS` layer rows: a longer network
shows its first and last layers around a ``<g class="elided">`` row.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnspec.display.elision import PICTURE_MAX_ROWS, elide, hidden_text
from cnnspec.display.geometry import (
    COLORS,
    DIM,
    INK,
    Anchor,
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
    rect,
    require_drawable,
    text_width,
)
from cnnspec.display.residual import block_spans, has_blocks
from cnnspec.network.checker import CheckedSpec, Layer
from cnnspec.network.shapes import shape_text

MARGIN, ROW, SIZE = 16.0, 18.0, 10.5
HEADER = ("#", "layer", "item", "kind", "output", "params", "")
#: Columns set flush right: the index, the output shape, the parameters.
RIGHT = frozenset({0, 4, 5})
BAR_WIDTH = 110.0
#: Room in the left margin for the brackets of residual blocks.
BLOCK_COLUMN = 18.0

#: One row: the layer (None: the input) and its seven cells.
Row = tuple["Layer | None", tuple[str, ...]]


@dataclass(frozen=True)
class _Columns:
    """Where each column starts, how wide it is, and the picture's width."""

    xs: tuple[float, ...]  # left edge of the six text columns
    widths: tuple[float, ...]  # widths of all seven (the note is the last)
    bar_x: float
    note_x: float
    width: float

    def text_x(self, c: int) -> float:
        return self.xs[c] + (self.widths[c] if c in RIGHT else 0)


def layout_table(checked: CheckedSpec) -> Picture:
    """One row per layer, with a small bar for its share of the parameters."""
    require_drawable(checked)
    rows, gap_at, hidden = _table_rows(checked)
    blocks = has_blocks(checked.layers)
    cols = _table_columns(checked, rows, MARGIN + (BLOCK_COLUMN if blocks else 0.0))
    groups: list[Group] = [_header(cols, MARGIN + 12)]
    y = MARGIN + 12 + 5
    total = checked.total_params or 1
    tops: dict[int, float] = {}  # id of a layer -> the top of its row
    for n, (owner, cells) in enumerate(rows):
        if n == gap_at:
            groups.append(_gap_group(hidden, cols, y))
            y += ROW
        groups.append(_row_group(owner, cells, cols, y, striped=n % 2 == 1, total=total))
        if owner is not None:
            tops[id(owner)] = y
        y += ROW
    if blocks:
        groups += _block_brackets(checked, tops)
    caption, y = caption_group(checked, MARGIN, y + 22, cols.width - 2 * MARGIN)
    groups.append(caption)
    return Picture(round(cols.width), round(y + MARGIN - 8), groups, checked.spec.name or "network")


def _table_rows(checked: CheckedSpec) -> tuple[list[Row], int, int]:
    """The same rows as ``cnnspec check``: the input, then the checked layers, at most
    PICTURE_MAX_ROWS of them; with the index of the row before which the gap goes, and the count it hides."""
    rows: list[Row] = []
    if checked.input_shape:
        rows.append((None, ("", "input", "", "InputLayer", shape_text(checked.input_shape), "0", "raw 0-255")))
    first, hidden, last = elide(checked.layers, PICTURE_MAX_ROWS)
    numbered = [*enumerate(first, 1), *enumerate(last, len(first) + hidden + 1)]
    for i, layer in numbered:
        note = "implied" if layer.implied else layer.detail
        cells = (str(i), layer.name, layer.text, layer.kind, shape_text(layer.output_shape), f"{layer.params:,}", note)
        rows.append((layer, cells))
    gap_at = len(rows) - len(last) if hidden else -1
    return rows, gap_at, hidden


def _gap_group(hidden: int, cols: _Columns, top: float) -> Group:
    base = top + ROW - 5
    items: list[Item] = [
        Text(cols.text_x(0), base, "…", SIZE, "end", DIM, italic=True),
        Text(cols.xs[1], base, f"{hidden_text(hidden)} not drawn", SIZE, "start", DIM, italic=True),
    ]
    return Group("elided", items, {"data-hidden": str(hidden)}, f"{hidden_text(hidden)} not drawn")


def _block_brackets(checked: CheckedSpec, tops: dict[int, float]) -> list[Group]:
    """A bracket in the left margin over the rows of each residual block, with its number;
    drawn only over the rows the picture shows."""
    groups = []
    layers = checked.layers
    for span in block_spans(layers):
        shown = [tops[id(layers[i])] for i in range(span.first, span.last + 1) if id(layers[i]) in tops]
        if not shown:
            continue
        top, bottom = min(shown) + 3, max(shown) + ROW - 3
        x = MARGIN + 6
        color = COLORS["skip"]
        items: list[Item] = [
            Line(x, top, x, bottom, color, 1.6),
            Line(x, top, x + 6, top, color, 1.6),
            Line(x, bottom, x + 6, bottom, color, 1.6),
            Text(x - 3, (top + bottom) / 2 + 3, str(span.number), SIZE - 1, "end", color, bold=True),
        ]
        add = layers[span.add]
        attrs = {"data-block": str(span.number), "data-shortcut": add.shortcut or "identity", "data-add": add.name}
        groups.append(Group("skip", items, attrs, f"block {span.number}: {add.shortcut or 'identity'} shortcut"))
    return groups


def _table_columns(checked: CheckedSpec, rows: list[Row], left: float = MARGIN) -> _Columns:
    widths = [text_width(h, SIZE, mono=c == 2) for c, h in enumerate(HEADER)]
    for _, cells in rows:
        for c, text in enumerate(cells):
            widths[c] = max(widths[c], text_width(text, SIZE, mono=c == 2))
    xs: list[float] = []
    x = left
    for c in range(6):
        xs.append(x)
        x += widths[c] + 14
    note_x = x + BAR_WIDTH + 52
    width = max(note_x + widths[6] + MARGIN, caption_width(checked) + 2 * MARGIN, 360.0)
    return _Columns(tuple(xs), tuple(widths), x, note_x, width)


def _header(cols: _Columns, y: float) -> Group:
    head = Group("header")
    for c, text in enumerate(HEADER[:6]):
        anchor: Anchor = "end" if c in RIGHT else "start"
        head.items.append(Text(cols.text_x(c), y, text, SIZE, anchor, bold=True))
    head.items.append(Text(cols.bar_x, y, "share of params", SIZE, "start", bold=True))
    head.items.append(Line(MARGIN, y + 5, cols.width - MARGIN, y + 5, DIM, 0.8))
    return head


def _row_group(
    owner: Layer | None, cells: tuple[str, ...], cols: _Columns, top: float, striped: bool, total: int
) -> Group:
    items: list[Item] = []
    right = cols.width - MARGIN
    if striped:
        stripe = ((MARGIN, top), (right, top), (right, top + ROW), (MARGIN, top + ROW))
        items.append(Poly(stripe, COLORS["stripe"], "none", 0))
    base = top + ROW - 5
    implied = owner is not None and owner.implied
    fill = DIM if implied or (owner is not None and owner.kind in ("Dropout", "Rescaling")) else INK
    for c, text in enumerate(cells[:6]):
        anchor: Anchor = "end" if c in RIGHT else "start"
        items.append(Text(cols.text_x(c), base, text, SIZE, anchor, fill, italic=implied, mono=c == 2))
    if owner is not None and owner.params:
        share = owner.params / total
        color = COLORS["head"] if share > 0.5 else COLORS["dense"]
        items.append(rect(cols.bar_x, top + 4, max(1.0, BAR_WIDTH * share), ROW - 8, color, "none", 0))
        items.append(Text(cols.bar_x + BAR_WIDTH + 46, base, f"{share:.1%}", SIZE - 1, "end", DIM))
    items.append(Text(cols.note_x, base, cells[6], SIZE - 1, "start", DIM, italic=implied))
    if owner is None:
        return Group("input", items, {"data-shape": cells[4]}, f"input: {cells[4]}")
    return Group("layer", items, layer_attrs(owner), layer_title(owner))
