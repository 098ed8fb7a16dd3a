"""Residual blocks in every display: which rows belong to which block, and how to mark them.

The checker gives each layer of block k (its items' layers and the rows of its
``]+``: the projection, the ``Add``, the activation after it) ``block == k``;
the first such layer is where the block's input is taken (the tensor before
it).  The terminal table, the notebook table and both pictures read the same
spans from here, so they never disagree about where a block starts and ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cnnspec.network.checker import Layer

#: The marks of the block column: the block's first row, its rows between, its last row.
OPEN, INSIDE, CLOSE = "┌", "│", "└"


@dataclass(frozen=True)
class BlockSpan:
    """Where residual block ``number`` lies in a list of layers (indices into it)."""

    number: int
    first: int  # the block's first layer: its input is the output of the layer before it
    last: int  # the block's last row (the activation after ``]+``, or the Add)
    add: int  # the Add row
    projection: int | None  # the 1x1 projection of the input, when the shortcut needs one

    @property
    def input_index(self) -> int:
        """Index of the layer whose output is the block's input; -1: the model's input."""
        return self.first - 1


def block_spans(layers: Sequence[Layer]) -> list[BlockSpan]:
    """Every residual block of the layers, in order."""
    rows: dict[int, list[int]] = {}
    for i, layer in enumerate(layers):
        if layer.block is not None:
            rows.setdefault(layer.block, []).append(i)
    spans = []
    for number, idx in rows.items():
        add = next((i for i in idx if layers[i].role == "add"), idx[-1])
        projection = next((i for i in idx if layers[i].role == "projection"), None)
        spans.append(BlockSpan(number, idx[0], idx[-1], add, projection))
    return spans


def block_mark(layers: Sequence[Layer], i: int) -> str:
    """The block column's cell of row ``i``: ``┌ 1`` opens block 1, ``│ 1`` is inside it,
    ``└ 1`` closes it (its ``]+`` rows end there); ``""`` outside blocks."""
    number = layers[i].block
    if number is None:
        return ""
    opens = i == 0 or layers[i - 1].block != number
    closes = i == len(layers) - 1 or layers[i + 1].block != number
    mark = OPEN if opens else CLOSE if closes else INSIDE
    return f"{mark} {number}"


def has_blocks(layers: Sequence[Layer]) -> bool:
    return any(layer.block is not None for layer in layers)
