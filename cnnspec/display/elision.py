"""How much of a long network a display shows: its first and last layers, and a count between.

Rendering a row or a block costs far more than checking a layer (rich lays
out every cell; a picture places every shape), so a display of a network of
thousands of layers would take seconds and draw something no one can read.
Each display shows at most a fixed number of rows or columns, the first half
and the last half, with one row or column in between that says how many are
left out; ``cnnspec check --json`` still lists every layer, and the totals
always count them all.  The cost is then bounded by what is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

#: Rows of the ``cnnspec check`` table and the notebook table.
MAX_ROWS = 200
#: Rows of the table picture and columns (blocks and bars) of the blocks picture: fewer than
#: a terminal shows, since a picture is for a page (60 rows are already 3,500 px tall) and
#: matplotlib places each text item one by one (200 rows took 4.5 s as a PNG, 60 take 1.5 s).
PICTURE_MAX_ROWS = 60
MAX_COLUMNS = 60


def elide(items: Sequence[T], limit: int) -> tuple[Sequence[T], int, Sequence[T]]:
    """``(first, hidden, last)``: all of ``items`` as ``first`` when they fit in ``limit``,
    else the first ``limit // 2``, the count left out, and the last ``limit - limit // 2``.

    >>> elide("abcdef", 4)
    ('ab', 2, 'ef')
    >>> elide("abc", 4)
    ('abc', 0, '')
    """
    if len(items) <= limit:
        return items, 0, items[len(items) :]
    head = limit // 2
    return items[:head], len(items) - limit, items[len(items) - (limit - head) :]


def hidden_text(hidden: int) -> str:
    """What the row or column in the gap says."""
    return f"{hidden:,} more layer{'s' * (hidden != 1)}"
