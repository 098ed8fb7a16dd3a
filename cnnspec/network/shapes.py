"""Shape math and the text of shapes and sizes, written once.

Keras' rules for the output length of a convolution and of a pool, the
``HxWxC`` text of a shape (read by :func:`parse_shape`, written by
:func:`shape_text`), and the short forms of large counts (:func:`human`,
:func:`human_bytes`, :func:`gib`).  The checker, the terminal and HTML
tables, the pictures and the builder all read these, so a shape is written
the same way everywhere.

Every function takes Python integers of any size: a spec whose numbers pass
the parser's bounds can still have totals beyond a float's range, and the
messages that print them must not raise.
"""

from __future__ import annotations

import math

Shape = tuple[int, ...]


def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output length of a convolution along one axis (Keras' rule).

    ``same`` pads so that the output is ``ceil(size / stride)``; ``valid``
    slides the kernel only where it fits, ``floor((size - kernel) / stride) + 1``.
    A result below 1 means the kernel does not fit: the checker reports it.

    >>> conv_output_size(32, 3, 1, "same"), conv_output_size(32, 5, 2, "valid")
    (32, 14)
    """
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


def pool_output_size(size: int, pool: int, stride: int | None = None, padding: str = "valid") -> int:
    """Output length of a ``pool`` x ``pool`` pool along one axis (Keras' rule).

    The stride defaults to the size (version 1's pools).  ``valid`` gives
    ``floor((size - pool) / stride) + 1``, ``same`` gives ``ceil(size / stride)``
    (``pz``: 15 -> 8).  A result below 1 means the pool does not fit.

    >>> pool_output_size(7, 2), pool_output_size(1, 2), pool_output_size(7, 3, 2), pool_output_size(15, 2, 2, "same")
    (3, 0, 3, 8)
    """
    step = pool if stride is None else stride
    if padding == "same":
        return -(-size // step)
    return (size - pool) // step + 1


def parse_shape(text: str) -> Shape:
    """``"32x32x3"`` -> ``(32, 32, 3)``; raise ValueError on anything else.

    >>> parse_shape("28X28x1")
    (28, 28, 1)
    """
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"expected HxWxC with positive integers, such as 32x32x3; received {text[:80]!r}")
    # int() refuses numbers of thousands of digits; no image side has 19.
    long = next((p for p in parts if len(p) > 18), None)
    if long is not None:
        raise ValueError(f"expected HxWxC with sides of at most 18 digits; received one of {len(long)} digits")
    if not all(int(p) > 0 for p in parts):
        raise ValueError(f"expected HxWxC with positive integers, such as 32x32x3; received {text[:80]!r}")
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def shape_text(shape: Shape) -> str:
    """The shape as every table and picture writes it: ``(100, 100, 32)`` -> ``100x100x32``."""
    return "x".join(str(d) for d in shape)


def _scientific(n: int) -> str:
    """``n`` as ``1.23e400``, for integers beyond a float's range (log10 takes any int)."""
    exponent = math.floor(math.log10(abs(n)))
    mantissa = 10 ** (math.log10(abs(n)) - exponent)
    return f"{'-' if n < 0 else ''}{mantissa:.2f}e{exponent}"


def human(n: float, unit: str = "") -> str:
    """``1234567`` -> ``1.23M``; integers too large for a float print as ``1.00e400``.

    >>> human(1234567), human(999), human(2 * 10**15, "B")
    ('1.23M', '999', '2000.00TB')
    """
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            try:
                return f"{n / factor:.2f}{suffix}{unit}"
            except OverflowError:
                assert isinstance(n, int)
                return f"{_scientific(n)}{unit}"
    return f"{n:g}{unit}"


def human_bytes(n: int) -> str:
    """``1536`` -> ``1.50 KiB``; above a GiB the count of GiB, which may be huge.

    >>> human_bytes(1536), human_bytes(100)
    ('1.50 KiB', '100 B')
    """
    for factor, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= factor:
            try:
                return f"{n / factor:.2f} {suffix}"
            except OverflowError:
                return f"{_scientific(n // factor)} {suffix}"
    return f"{n} B"


def gib(n: int, decimals: int = 1) -> str:
    """``n`` bytes in GiB with thousands separators: ``gib(3 * 2**29)`` -> ``'1.5'``.

    Integer arithmetic, rounded half to even as ``f"{n / 2**30:,.1f}"`` rounds
    (exactly so while the quotient fits a float's 53 bits), so a total of any
    size prints instead of overflowing a float.

    >>> gib(17 * 2**30), gib(2**30 // 20), gib(10**400 * 2**30)[:6]
    ('17.0', '0.0', '10,000')
    """
    scale = 10**decimals
    q, r = divmod(n * scale, 2**30)
    if 2 * r > 2**30 or (2 * r == 2**30 and q % 2):
        q += 1
    whole, frac = divmod(q, scale)
    return f"{whole:,}.{frac:0{decimals}d}" if decimals else f"{whole:,}"
