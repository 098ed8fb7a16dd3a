"""Spec -> canonical text.

Sections in order, one space between items, modifiers in the order count,
``sep``, ``k``, ``s``, ``v``, ``b`` or ``B``, activation, ``n``, ``L2`` (``dw``
likewise), defaults left out, implied pools spelled out (``p0`` kept where it
was written, left out beside a residual block), pools as size, ``s``, ``z``,
rates as a Unicode fraction where one is exact.  ``b`` with the identity
activation builds what ``n`` does and is written ``n`` (``16Ib`` -> ``16In``,
``D: 64b`` -> ``64n``); ``]+I`` is written ``]+``.  The formatter never merges
or splits items (``16 n`` stays two).  ``parse(format(s))`` is the same network
as ``s``, and formatting is idempotent.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from cnnspec.notation.ir import (
    ActivationItem,
    Augment,
    BatchNorm,
    Block,
    Conv,
    Dense,
    Depthwise,
    Dropout,
    GlobalPool,
    Head,
    Node,
    NoPool,
    Pool,
    PreNorm,
    Spec,
    SpecFile,
)
from cnnspec.notation.vocabulary import (
    BARE_BATCHNORM,
    BLOCK_CLOSE,
    BLOCK_OPEN,
    DEFAULT_L2,
    DEFAULT_POOL_SIZE,
    DEPTHWISE,
    GLOBAL_POOLS,
    POOL_SAME,
    POOLS,
    SEPARABLE,
    UNICODE_FRACTIONS,
)

_FRACTION_CHARS = {v: k for k, v in UNICODE_FRACTIONS.items()}


def _valuation(n: int, p: int) -> int:
    """How many times ``p`` divides ``n`` (n > 0)."""
    if p == 2:
        return (n & -n).bit_length() - 1
    count = 0
    while n % p == 0:
        n //= p
        count += 1
    return count


def _decimal(x: Fraction | float) -> str:
    """Shortest decimal text: ``.25``, ``1.5``, ``0.001`` -> ``.001``."""
    if isinstance(x, Fraction):
        twos, fives = _valuation(x.denominator, 2), _valuation(x.denominator, 5)
        # Not a terminating decimal, or one too long for int -> str (4,300 digits;
        # only a hand-made IR gets there, the parser bounds rates): the float's shortest repr.
        if x.denominator != 2**twos * 5**fives or max(twos, fives) > 4_000:
            x = float(x)
    if isinstance(x, Fraction):
        # Exact terminating decimal: den = 2**a * 5**b needs max(a, b) digits
        # (computed, not searched: the search was quadratic in the digits).
        digits = max(twos, fives)
        # Integer arithmetic, not a float: .99999999999999999999 must not print as 1.0…
        whole, frac = divmod(abs(x.numerator) * 10**digits // x.denominator, 10**digits)
        text = ("-" if x < 0 else "") + (f"{whole}.{frac:0{digits}d}" if digits else str(whole))
    else:
        text = repr(float(x))
        if "e" in text:
            # Positional digits of the shortest repr: 1e-20 is .00000000000000000001.
            text = f"{Decimal(text):f}"
        if text.endswith(".0"):
            text = text[:-2]
    if text.startswith("0."):
        text = text[1:]
    return text


def format_rate(rate: Fraction) -> str:
    """``Fraction(1, 4)`` -> ``¼``; ``Fraction(3, 10)`` -> ``.3``."""
    if rate in _FRACTION_CHARS:
        return _FRACTION_CHARS[rate]
    return _decimal(rate)


def _l2(l2: float | None) -> str:
    if l2 is None:
        return ""
    if l2 == DEFAULT_L2:
        return "L2"
    text = repr(l2)
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant.removesuffix('.0')}e{int(exp)}"
    return f"L2={text.removesuffix('.0')}"


def _norm_and_activation(prenorm: PreNorm | None, activation: str, default: str, batchnorm: bool) -> str:
    """``b``/``B``, the activation letter, ``n``: ``b`` with the identity is ``n``."""
    if prenorm == "b" and activation == "I":  # no activation layer: the same network as n
        prenorm, batchnorm = None, True
    out: str = prenorm or ""
    if activation != default:
        out += activation
    return out + ("n" if batchnorm else "")


def _shape(kernel: tuple[int, int], stride: int, padding: str) -> str:
    kh, kw = kernel
    out = ""
    if (kh, kw) != (3, 3):
        out += f"k{kh}" if kh == kw else f"k{kh}x{kw}"
    if stride != 1:
        out += f"s{stride}"
    return out + ("v" if padding == "valid" else "")


def _conv(c: Conv) -> str:
    out = str(c.filters) + (SEPARABLE if c.separable else "") + _shape(c.kernel, c.stride, c.padding)
    return out + _norm_and_activation(c.prenorm, c.activation, "R", c.batchnorm) + _l2(c.l2)


def _depthwise(c: Depthwise) -> str:
    out = DEPTHWISE + _shape(c.kernel, c.stride, c.padding)
    return out + _norm_and_activation(c.prenorm, c.activation, "R", c.batchnorm) + _l2(c.l2)


def _dense(d: Dense) -> str:
    return str(d.units) + _norm_and_activation(d.prenorm, d.activation, "I", d.batchnorm) + _l2(d.l2)


def _head(h: Head) -> str:
    out = str(h.classes)
    default = "S" if h.classes == 1 else None
    if h.activation is not None and h.activation != default:
        out += h.activation
    return out + _l2(h.l2)


_POOL_PREFIX = {op: prefix for prefix, op in POOLS.items()}
_GLOBAL_POOL_ITEM = {op: item for item, op in GLOBAL_POOLS.items()}


def _pool(p: Pool) -> str:
    """Size, ``s``, ``z``: the size written when a stride or ``z`` follows, a stride equal to it left out."""
    stride = "" if p.strides == p.size else f"s{p.strides}"
    same = POOL_SAME if p.padding == "same" else ""
    size = "" if p.size == DEFAULT_POOL_SIZE and not (stride or same) else str(p.size)
    return _POOL_PREFIX[p.op] + size + stride + same


def _item(item: Node) -> str:
    """One item of C: or D: (a block with its items); ``p0`` is placed by the caller."""
    if isinstance(item, Conv):
        return _conv(item)
    if isinstance(item, Dense):
        return _dense(item)
    if isinstance(item, Depthwise):
        return _depthwise(item)
    if isinstance(item, Pool):
        return _pool(item)
    if isinstance(item, GlobalPool):
        return _GLOBAL_POOL_ITEM[item.op]
    if isinstance(item, Dropout):
        return "d" + format_rate(item.rate)
    if isinstance(item, BatchNorm):
        return BARE_BATCHNORM
    if isinstance(item, ActivationItem):
        return item.activation
    if isinstance(item, Block):
        after = item.activation if item.activation not in (None, "I") else ""
        return BLOCK_OPEN + " ".join(_item(i) for i in item.items) + BLOCK_CLOSE + (after or "")
    raise TypeError(f"not an item of C: or D: {item!r}")


def _augment(a: Augment) -> str:
    return a.name + ("" if a.factor is None else _decimal(a.factor))


def format_spec(spec: Spec) -> str:
    """The canonical one-line form of a spec (without its name).

    >>> from cnnspec import parse
    >>> format_spec(parse("C: 16n 16n d0.25 32RL2=0.01 D: 16R O: 10"))
    'C: 16n 16n p d¼ 32L2 p D: 16R O: 10'
    """
    parts: list[str] = []
    if spec.input:
        parts.append(f"I: {spec.input.height}x{spec.input.width}x{spec.input.channels}")
    if spec.augment:
        parts.append("A: " + " ".join(_augment(a) for a in spec.augment))
    if spec.conv:
        items = [_item(item) for item in spec.conv if not isinstance(item, NoPool)]
        # p0 is kept where there are no pools, last; beside a block it adds nothing and is left out.
        if any(isinstance(item, NoPool) for item in spec.conv) and not spec.has_blocks:
            items.append("p0")
        parts.append("C: " + " ".join(items))
    if spec.dense:
        parts.append("D: " + " ".join(_item(d) for d in spec.dense))
    if spec.head:
        parts.append("O: " + _head(spec.head))
    return " ".join(parts)


def format_file(specs: SpecFile | list[Spec]) -> str:
    """Canonical text of a file: ``name = spec`` lines, or the one unnamed spec."""
    items = specs.specs if isinstance(specs, SpecFile) else specs
    lines = [f"{s.name} = {format_spec(s)}" if s.name is not None else format_spec(s) for s in items]
    return "\n".join(lines) + "\n"


def format(spec: Spec | SpecFile) -> str:  # noqa: A001 - the public name the API promises
    """Canonical text of a spec or a whole file."""
    if isinstance(spec, SpecFile):
        return format_file(spec)
    return format_spec(spec)


def _comment(line: str) -> str | None:
    """The ``# ...`` part of a line, if any (``#`` never occurs inside an item)."""
    i = line.find("#")
    return line[i:].rstrip() if i >= 0 else None


def format_source(text: str, parsed: SpecFile) -> str:
    """Canonical text of a whole file, keeping its comments and blank lines.

    Each spec becomes one canonical line.  Comment lines before or inside a
    spec go just before that line; a comment at the end of its one item line
    stays at the end (``  # ...``), several such comments go before it, one
    line each; comment or blank lines after a spec's last item stay after
    it.  So ``fmt --write`` never loses a note.
    """
    lines = text.splitlines()
    named = any(s.name is not None for s in parsed.specs)
    starts = [s.first_line for s in parsed.specs] if named else [1]
    out: list[str] = [line.rstrip() for line in lines[: starts[0] - 1]]  # comments before the first name
    for k, spec in enumerate(parsed.specs):
        begin = starts[k] - 1
        end = starts[k + 1] - 1 if k + 1 < len(starts) else len(lines)
        region = lines[begin:end]
        content = [i for i, line in enumerate(region) if line.split("#", 1)[0].strip()]
        last = content[-1] if content else 0
        canonical = f"{spec.name} = {format_spec(spec)}" if spec.name is not None else format_spec(spec)
        notes = [(i in content, note) for i, line in enumerate(region[: last + 1]) if (note := _comment(line))]
        inline = [note for on_item_line, note in notes if on_item_line]
        if len(inline) == 1:
            out.extend(note for on_item_line, note in notes if not on_item_line)
            out.append(f"{canonical}  {inline[0]}")
        else:  # several item-line comments: all notes before the spec, in order, one line each
            out.extend(note for _, note in notes)
            out.append(canonical)
        out.extend(line.rstrip() for line in region[last + 1 :])
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"
