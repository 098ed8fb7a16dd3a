"""One token -> one IR node: units (scanned in :mod:`~cnnspec.notation.units`),
rates, pools, the input shape, augmentations, version 2's ``dw`` and bare
items; residual blocks folded from their ``[`` and ``]+`` tokens; then the
implied-pooling rule.

Each function checks everything that can be checked without an input shape and
reports into an :class:`ErrorSink` with the exact span of the token (or the very
modifier) at fault, so that every error of a spec is found, not only the first.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from cnnspec.notation.formatter import format_rate
from cnnspec.notation.grammar import Section, Token
from cnnspec.notation.ir import (
    MAX_INPUT_DIM,
    ActivationItem,
    Augment,
    BatchNorm,
    Block,
    BlockItem,
    Conv,
    ConvItem,
    Dense,
    DenseItem,
    Depthwise,
    Dropout,
    GlobalPool,
    Head,
    InputShape,
    NoPool,
    Pool,
    input_too_large,
)
from cnnspec.notation.tokens import ErrorSink, bounded_int, shorten, span_of
from cnnspec.notation.units import scan_unit
from cnnspec.notation.vocabulary import (
    ACTIVATION_LETTERS,
    AUGMENTATIONS,
    BARE_ACTIVATIONS,
    BARE_BATCHNORM,
    BLOCK_CLOSE,
    DECIMAL,
    DEFAULT_POOL_SIZE,
    GLOBAL_POOLS,
    MAX_POOL,
    MAX_RATE_DIGITS,
    MAX_STRIDE,
    POOL_SAME,
    POOLS,
    UNICODE_FRACTIONS,
)


def _longest_digits(text: str) -> int:
    return max((len(run) for run in re.findall(r"[0-9]+", text)), default=0)


def parse_rate(text: str) -> tuple[Fraction | None, str | None, str | None]:
    """Parse a dropout rate written after ``d``: (rate, error, hint)."""
    rate, _, error, hint = _rate(text)
    return rate, error, hint


def _rate(text: str) -> tuple[Fraction | None, str, str | None, str | None]:
    """(rate, code, error, hint): E131 for too many digits, E130 for every other fault."""
    if text == "":
        return None, "E130", "dropout needs a rate, received none", "write a rate such as d¼, d.25 or d25%"
    if _longest_digits(text) > MAX_RATE_DIGITS:  # Fraction() and int() would refuse or crawl
        return None, "E131", f"rate '{shorten(text)}' has a number of more than {MAX_RATE_DIGITS} digits", None
    if text in UNICODE_FRACTIONS:
        rate = UNICODE_FRACTIONS[text]
    elif m := re.fullmatch(r"([0-9]+)/([0-9]+)", text):
        num, den = int(m[1]), int(m[2])
        if den == 0:
            return None, "E130", f"rate '{text}' divides by zero", "write a fraction such as 1/4"
        rate = Fraction(num, den)
    elif m := re.fullmatch(rf"({DECIMAL})%", text):
        rate = Fraction(m[1]) / 100
    elif re.fullmatch(DECIMAL, text):
        rate = Fraction(text)
        if rate >= 1 and "." not in text:
            return None, "E130", f"rate must lie in [0, 1), received {text}", f"did you mean d.{text} or d{text}%?"
    else:
        return None, "E130", f"malformed rate '{shorten(text)}': expected ½, 1/4, .25, 0.25 or 25%", None
    if not 0 <= rate < 1:
        # At most MAX_RATE_DIGITS digits a number: the float of the rate cannot overflow.
        value = f"{float(rate):g}"
        shown = text if text == value else f"{text} = {value}"
        return None, "E130", f"rate must lie in [0, 1), received {shown}", None
    if float(rate) >= 1:  # Keras takes a float: .99999999999999999999 would drop everything
        return (
            None,
            "E130",
            f"rate {text} is 1.0 as a float, which drops every value",
            "write a rate below 1, such as d.99",
        )
    # The canonical form must parse again: 1/2**70 is exact only with 70 decimals.
    canonical = format_rate(rate)
    if _longest_digits(canonical) > MAX_RATE_DIGITS:
        return None, "E131", f"rate {shorten(text)} is {shorten(canonical)}, more than {MAX_RATE_DIGITS} digits", None
    return rate, "", None, None


def _suggest(word: str, options: list[str]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


# --------------------------------------------------------------------------
# Items


def _word_hint(word: str, section: str, previous: Token | None) -> str | None:
    """A hint for a token that is no item of its section."""
    glued = previous is not None and re.match(r"[0-9]", str(previous))
    modifiers = rf"(?:k[0-9]+(?:x[0-9]+)?|sep|s[0-9]+|v|n|b|B|L2(?:=\S+)?|[{ACTIVATION_LETTERS}])+"
    if glued and re.fullmatch(modifiers, word):
        return f"modifiers are glued to their count, with no space: {previous}{word}"
    if word in UNICODE_FRACTIONS or re.fullmatch(r"[0-9]*\.[0-9]+|[0-9.]+%", word):
        return f"a dropout is written d{word}"
    if word.lower() in {*POOLS, *GLOBAL_POOLS} or re.fullmatch(r"[Aa]?P[0-9]*", word):
        return f"items are lowercase: {word.lower()}"
    if word[:1] == "D" and len(word) > 1 and section in "CD":
        return f"dropout is a lowercase d: d{word[1:]}"
    if section in "CD" and word.split(".")[0].rstrip("0123456789") in AUGMENTATIONS:
        return "augmentation items go in the A: section"
    return None


@dataclass(frozen=True)
class _Bracket:
    """A ``[`` or ``]+`` token of ``C:``, until :func:`_fold_blocks` makes the blocks."""

    tok: Token
    #: A ``]…`` already reported as E142: it closes an open block (so that the
    #: ``[`` is not E140 too), which then is no block, and is nothing otherwise.
    bad: bool = False

    @property
    def opens(self) -> bool:
        return self.tok.type == "LBRACK"


def parse_conv(items: list[Token], ctx: ErrorSink) -> list[ConvItem]:
    """The items of ``C:``, residual blocks folded (no implied pools yet)."""
    flat: list[ConvItem | _Bracket] = []
    previous: Token | None = None
    for tok in items:
        text = str(tok)
        span = span_of(tok)
        kind = tok.type
        if kind == "UNIT":
            mods = scan_unit(tok, "C", ctx)
            if mods is not None:
                count = mods.pop("count")
                flat.append(Conv(span=span, text=text, filters=count, **mods))
        elif kind == "DW":
            mods = scan_unit(tok, "dw", ctx)
            if mods is not None:
                flat.append(Depthwise(span=span, text=text, **mods))
        elif kind == "POOL":
            pool = _pool(tok, ctx)
            if pool is not None:
                flat.append(pool)
        elif kind == "GPOOL":
            name = text[:3]
            if len(text) > 3:
                ctx.error("E201", f"'{name}' takes no modifiers, received '{shorten(text)}'", span_of(tok, 3),
                          f"write {name}")  # fmt: skip
            else:
                flat.append(GlobalPool(span=span, text=text, op=GLOBAL_POOLS[text]))
        elif kind == "DROPOUT":
            _add_dropout(tok, ctx, flat)
        elif kind in ("LBRACK", "RBRACK"):
            flat.append(_Bracket(tok, bad=kind == "RBRACK" and not _close_ok(tok, ctx)))
        elif (bare := _bare(tok, ctx)) is not None:
            flat.append(bare)
        elif not _bare_error(tok, ctx):
            ctx.error(
                "E200",
                f"unknown item '{shorten(text)}' in C: expected a convolution (16, 64k5n), a pool (p, ap3, gap) "
                "or a dropout (d¼)",
                span,
                _word_hint(text, "C", previous),
            )
        previous = tok
    return _fold_blocks(flat, ctx)


def _bare(tok: Token, ctx: ErrorSink) -> BatchNorm | ActivationItem | None:
    """A bare ``n`` or activation letter (an item of ``C:`` and ``D:``), else None."""
    text = str(tok)
    if text == BARE_BATCHNORM:
        return BatchNorm(span=span_of(tok), text=text)
    if len(text) == 1 and text in BARE_ACTIVATIONS:
        return ActivationItem(span=span_of(tok), text=text, activation=text)  # type: ignore[arg-type]
    return None


def _bare_error(tok: Token, ctx: ErrorSink) -> bool:
    """E200 for a bare ``I``, ``b`` or ``B``, with its hint; False for any other word."""
    text = str(tok)
    if text == "I":
        ctx.error("E200", "a bare 'I' builds nothing: it is the identity activation", span_of(tok),
                  "I is the identity: leave it out")  # fmt: skip
    elif text in ("b", "B"):
        ctx.error("E200", f"a bare '{text}' is no item: {text} is a modifier (batch norm before the activation)",
                  span_of(tok), f"{text} is a modifier, 16{text}; a batch norm of its own is n")  # fmt: skip
    else:
        return False
    return True


def _close_ok(tok: Token, ctx: ErrorSink) -> bool:
    """Whether a ``]…`` token is ``]+`` with at most one activation letter (else E142)."""
    text = str(tok)
    if not text.startswith(BLOCK_CLOSE):
        ctx.error("E142", "a ']' without '+': a residual block closes with ']+'", span_of(tok, 0, 1),
                  "close the block with ]+ (or ]+R for a ReLU after the addition)")  # fmt: skip
        return False
    rest = text[2:]
    if rest == "" or (len(rest) == 1 and rest in ACTIVATION_LETTERS):
        return True
    where = span_of(tok, 2, len(rest))
    if len(rest) > 1 and rest[0] in ACTIVATION_LETTERS and rest[1] in ACTIVATION_LETTERS:
        ctx.error("E142", f"after ']+' comes at most one activation letter, received '{shorten(rest)}'", where,
                  f"keep one: ]+{rest[0]}")  # fmt: skip
    elif len(rest) == 1 and rest.upper() in ACTIVATION_LETTERS:
        ctx.error("E142", f"after ']+' comes one activation letter, received '{rest}'", where,
                  f"activation letters are uppercase: ]+{rest.upper()}")  # fmt: skip
    else:
        head = BLOCK_CLOSE + (rest[0] if rest[0] in ACTIVATION_LETTERS else "")
        after = text[len(head) :]
        ctx.error("E142", f"'{shorten(after)}' is glued to '{head}': ']+' ends its token", where,
                  f"put a blank after {head}: {head} {shorten(after)}")  # fmt: skip
    return False


def _fold_blocks(flat: list[ConvItem | _Bracket], ctx: ErrorSink) -> list[ConvItem]:
    """Make each ``[`` … ``]+`` a :class:`Block` (E140, E141, E143, E144, E145)."""
    out: list[ConvItem] = []
    opened: Token | None = None
    inner: list[ConvItem] = []
    nested = 0
    for x in flat:
        if not isinstance(x, _Bracket):
            (inner if opened is not None else out).append(x)
        elif x.opens and opened is None:
            opened, inner = x.tok, []
        elif x.opens:
            ctx.error("E143", "a block inside a block: residual blocks do not nest", span_of(x.tok),
                      "close the first block with ]+ before opening the next")  # fmt: skip
            nested += 1
        elif opened is None and x.bad:
            continue
        elif opened is None:
            ctx.error("E141", f"'{shorten(str(x.tok))}' without its '[': no residual block is open", span_of(x.tok),
                      "open the block with [ before its first item, as in [64b 64In]+R")  # fmt: skip
        elif nested:
            nested -= 1
        else:
            block = _block(opened, inner, x.tok, ctx, x.bad)
            if block is not None:
                out.append(block)
            opened = None
    if opened is not None:
        ctx.error("E140", "'[' without its ']+': the residual block is not closed", span_of(opened),
                  "close the block with ]+ (a block cannot cross a section header)")  # fmt: skip
        out.extend(inner)
    return out


def _block(opened: Token, inner: list[ConvItem], close: Token, ctx: ErrorSink, bad: bool) -> Block | None:
    """The block of ``inner`` (E144, E145); None after any error (``bad``: its ``]+`` was E142)."""
    items: list[BlockItem] = []
    ok = True
    for item in inner:
        if isinstance(item, (GlobalPool, NoPool)):
            hint = (
                "p0 goes outside the block, or nowhere: a block already turns the implied pools off"
                if isinstance(item, NoPool)
                else f"write {item.text} after the block's ]+"
            )
            ctx.error("E145", f"'{item.text}' inside a residual block", item.span, hint)
            ok = False
        else:
            assert not isinstance(item, Block)  # blocks do not nest: _fold_blocks never makes one inside
            items.append(item)
    if not inner:
        ctx.error("E144", "an empty residual block", span_of(opened), "put the block's layers between [ and ]+")
        return None
    if not any(isinstance(i, (Conv, Depthwise)) for i in items) and ok:
        ctx.error("E144", "a residual block with no convolution: it holds at least one", span_of(opened),
                  "put a convolution in the block, as in [64b 64In]+R")  # fmt: skip
        return None
    if not ok or bad:
        return None
    letter = str(close)[2:]
    return Block(
        span=span_of(opened),
        text=str(opened),
        items=tuple(items),
        activation=letter if letter and letter != "I" else None,  # type: ignore[arg-type]
        close=span_of(close),
        close_text=str(close),
    )


_POOL_HEAD = re.compile(r"(a?)p([0-9]*)")


def _pool(tok: Token, ctx: ErrorSink) -> Pool | NoPool | None:
    """``p``, ``p3s2z``, ``ap3``, ``p0``: the size, then a stride and ``z`` in either order."""
    text, span = str(tok), span_of(tok)
    head = _POOL_HEAD.match(text)
    assert head  # the POOL terminal starts so
    prefix, digits = head[1] + "p", head[2]
    rest = text[head.end() :]
    size = bounded_int(digits, MAX_POOL) if digits else DEFAULT_POOL_SIZE
    if size is None:
        ctx.error("E124", f"pool size must be at most {MAX_POOL:,}, received '{shorten(text)}'", span, None)
        return None
    if digits and size == 0 and prefix == "p":
        if rest:
            ctx.error("E201", f"'p0' takes no modifiers, received '{shorten(text)}'", span_of(tok, head.end()),
                      "write p0: it only turns the implied pools off")  # fmt: skip
            return None
        return NoPool(span=span, text=text)
    if size <= 1:
        if size == 0:
            hint = "write p0 for no pooling at all"
        elif rest:
            hint = "subsample with a strided convolution instead, such as 16s2"
        else:
            hint = "leave the item out: a 1x1 pool does nothing"
        ctx.error("E120", f"pool size must be at least 2, received '{shorten(text)}'", span, hint)
        return None
    fields: dict[str, Any] = {}
    ok = True
    pos = head.end()
    while pos < len(text):
        at = text[pos:]
        if m := re.match(r"s([0-9]+)", at):
            stride = bounded_int(m[1], MAX_STRIDE)
            ok = ok and "stride" not in fields and bool(stride)
            if "stride" in fields:
                ctx.error("E202", f"modifier 's' repeated in '{shorten(text)}'", span_of(tok, pos, len(m.group())),
                          "write each modifier at most once")  # fmt: skip
            elif stride is None:
                ctx.error("E116", f"stride must be at most {MAX_STRIDE:,}, received {shorten(m[1])}",
                          span_of(tok, pos, len(m.group())))  # fmt: skip
            elif stride == 0:
                ctx.error("E112", "pool stride must be at least 1, received s0", span_of(tok, pos, len(m.group())),
                          "leave the stride out for a stride equal to the size")  # fmt: skip
            fields["stride"] = stride
            pos += len(m.group())
        elif at[0] == POOL_SAME:
            ok = ok and "padding" not in fields
            if "padding" in fields:
                ctx.error("E202", f"modifier 'z' repeated in '{shorten(text)}'", span_of(tok, pos, 1),
                          "write each modifier at most once")  # fmt: skip
            fields["padding"] = "same"
            pos += 1
        else:
            _pool_unknown(tok, prefix, digits, pos, ctx)
            return None
    if not ok:  # an E202, E112 or E116 above
        return None
    stride = fields.get("stride")
    return Pool(span=span, text=text, op=POOLS[prefix], size=size, stride=None if stride == size else stride,
                padding=fields.get("padding", "valid"))  # fmt: skip


def _pool_unknown(tok: Token, prefix: str, digits: str, pos: int, ctx: ErrorSink) -> None:
    """E201 for what no pool takes, with the hints of NOTATION.md (``p3v``, ``pz3``)."""
    text = str(tok)
    at = text[pos:]
    late = re.match(r"[0-9]+", at)
    if at[0] == "v":
        hint = f'pools are "valid" unless written with z: {text[:pos]}z{at[1:]}'
    elif late is not None:
        moved = text[len(prefix) + len(digits) : pos] + at[len(late.group()) :]
        hint = f"the size comes first: {prefix}{digits or ''}{late.group()}{moved}"
    elif at[0] == "s":
        hint = f"a stride needs its number, as in {prefix}{digits or 3}s2"
    else:
        hint = None
    length = len(late.group()) if late is not None else 1
    ctx.error("E201", f"unknown pool modifier '{at[:length]}' in '{shorten(text)}': a pool takes a stride (s2) and "
              'z (padding "same")', span_of(tok, pos, length), hint)  # fmt: skip


def _add_dropout(tok: Token, ctx: ErrorSink, out: list[Any]) -> None:
    rate, code, err, hint = _rate(str(tok)[1:])
    if err:
        ctx.error(code, err, span_of(tok, 1) if len(str(tok)) > 1 else span_of(tok), hint)
    else:
        assert rate is not None
        out.append(Dropout(span=span_of(tok), text=str(tok), rate=rate))


def parse_dense(items: list[Token], ctx: ErrorSink) -> list[DenseItem]:
    out: list[DenseItem] = []
    previous: Token | None = None
    for tok in items:
        text, span = str(tok), span_of(tok)
        if tok.type == "UNIT":
            mods = scan_unit(tok, "D", ctx)
            if mods is not None:
                count = mods.pop("count")
                out.append(Dense(span=span, text=text, units=count, **mods))
        elif tok.type == "DROPOUT":
            _add_dropout(tok, ctx, out)
        elif tok.type in ("POOL", "GPOOL"):
            ctx.error("E205", f"pooling '{text}' is not allowed in D:, only in C:", span, "move it to the C: section")
        elif tok.type == "DW":
            ctx.error("E205", f"depthwise convolution '{shorten(text)}' is not allowed in D:, only in C:", span,
                      "move it to the C: section")  # fmt: skip
        elif (bare := _bare(tok, ctx)) is not None:
            out.append(bare)
        elif not _bare_error(tok, ctx):
            ctx.error(
                "E200",
                f"unknown item '{shorten(text)}' in D: expected a dense layer (128R, 64RL2) or a dropout (d½)",
                span,
                _word_hint(text, "D", previous),
            )
        previous = tok
    return out


def parse_head(section: Section, ctx: ErrorSink) -> Head | None:
    items = section.items
    if len(items) > 1:
        ctx.error(
            "E150",
            f"O: holds exactly one item, the class count; received {len(items)} items",
            span_of(items[1]),
            "put dropouts and dense layers in D:",
        )
    tok = items[0]
    if tok.type != "UNIT":
        ctx.error("E150", f"O: expects a class count such as 10 or 10I, received '{tok}'", span_of(tok), None)
        return None
    mods = scan_unit(tok, "O", ctx)
    if mods is None:
        return None
    classes = mods.pop("count")
    if mods.get("activation") == "S" and classes > 1:
        ctx.error(
            "E151",
            f"a sigmoid head of {classes} units (multi-label) is not supported in this version",
            span_of(tok),
            f"write O: {classes} for softmax, or O: 1 for a binary sigmoid head",
        )
        return None
    return Head(span=span_of(tok), text=str(tok), classes=classes, **mods)


def parse_input(section: Section, ctx: ErrorSink) -> InputShape | None:
    items = section.items
    if len(items) > 1:
        ctx.error("E160", f"I: holds one item HxWxC, received {len(items)} items", span_of(items[1]), None)
    tok = items[0]
    text, span = str(tok), span_of(tok)
    if tok.type != "DIMS":
        ctx.error("E160", f"I: expects HxWxC such as 32x32x3, received '{shorten(text)}'", span, None)
        return None
    parts = [d.lstrip("0") or "0" for d in text.split("x")]
    if len(parts) == 3 and any(len(d) > 9 for d in parts):  # int() of thousands of digits would raise
        ctx.error("E163", f"input '{shorten(text)}' has a dimension over {MAX_INPUT_DIM:,}, the largest accepted", span,
                  "resize the images: the model resizes them on load")  # fmt: skip
        return None
    dims = [int(d) if len(d) <= 9 else MAX_INPUT_DIM + 1 for d in parts]
    if len(dims) != 3:
        hint = (
            f"write {shorten(text)}x1 (grayscale) or {shorten(text)}x3 (RGB)"
            if len(dims) == 2
            else "write HxWxC, e.g. 32x32x3"
        )
        ctx.error("E161", f"I: expects 3 dimensions HxWxC, received {len(dims)} in '{shorten(text)}'", span, hint)
        return None
    if 0 in dims:
        ctx.error("E162", f"every input dimension must be at least 1, received '{shorten(text)}'", span, None)
        return None
    h, w, c = dims
    too_large = input_too_large((h, w, c))
    if too_large:
        ctx.error("E163", too_large, span, "resize the images: the model resizes them on load")
        return None
    return InputShape(span=span, text=text, height=h, width=w, channels=c)


def parse_augment(section: Section, ctx: ErrorSink) -> list[Augment]:
    out: list[Augment] = []
    seen: set[str] = set()
    for tok in section.items:
        text, span = str(tok), span_of(tok)
        m = re.fullmatch(r"([a-z]+)(.*)", text)
        name = m[1] if m else ""
        if name not in AUGMENTATIONS:
            guess = _suggest(name or text.lower(), list(AUGMENTATIONS))
            ctx.error(
                "E170",
                f"unknown augmentation '{shorten(text)}': expected one of {', '.join(AUGMENTATIONS)}",
                span,
                f"did you mean {guess}?" if guess else None,
            )
            continue
        assert m
        factor_text = m[2]
        limit = AUGMENTATIONS[name].max_factor
        factor: float | None = None
        if limit is None:
            if factor_text:
                ctx.error("E171", f"'{name}' takes no factor, received '{shorten(text)}'", span, f"write {name}")
                continue
        else:
            if not factor_text:
                ctx.error("E172", f"'{name}' needs its factor, received none", span, f"write {name}.1")
                continue
            if not re.fullmatch(DECIMAL, factor_text):
                ctx.error(
                    "E173", f"malformed factor '{shorten(factor_text)}' in '{shorten(text)}'", span, f"write {name}.1"
                )
                continue
            factor = float(factor_text)
            if not 0 < factor <= limit:
                ctx.error(
                    "E174",
                    f"factor of '{name}' must lie in (0, {limit:g}], received {factor_text}",
                    span,
                    None,
                )
                continue
        if name in seen:
            ctx.error("E175", f"augmentation '{name}' repeated", span, "write each augmentation at most once")
            continue
        seen.add(name)
        out.append(Augment(span=span, text=text, name=name, factor=factor))  # type: ignore[arg-type]
    return out


def brackets_outside_c(section: Section, ctx: ErrorSink) -> list[Token]:
    """E146 for each ``[`` and ``]+`` of a section other than ``C:``; its other tokens."""
    kept: list[Token] = []
    for tok in section.items:
        if tok.type in ("LBRACK", "RBRACK"):
            ctx.error("E146", f"a residual block ('{shorten(str(tok))}') outside C:, in {section.header}",
                      span_of(tok), "residual blocks are written in C:")  # fmt: skip
        else:
            kept.append(tok)
    return kept


def check_pooling(items: list[ConvItem], ctx: ErrorSink) -> list[ConvItem]:
    """Validate p0 and gap/gmp placement, then apply the implied-pooling rule.

    The items inside a block are items of the section: a pool inside a block
    is a pooling item (E122 beside ``p0``); a block turns the rule off too.
    """
    nopools = [i for i in items if isinstance(i, NoPool)]
    inside = [i for b in items if isinstance(b, Block) for i in b.items]
    pools = [i for i in (*items, *inside) if isinstance(i, (Pool, GlobalPool))]
    for extra in nopools[1:]:
        ctx.error("E121", "'p0' repeated", extra.span, "write p0 once")
    if nopools and pools:
        ctx.error(
            "E122",
            f"'p0' (no pooling) beside the pooling item '{pools[0].text}'",
            nopools[0].span,
            "remove p0: any pooling item already turns implied pooling off",
        )
    seen_global: GlobalPool | None = None
    for item in items:
        if seen_global is not None and not isinstance(item, (Dropout, NoPool)):
            g = seen_global.text
            hint = (
                f"start D: with it, as in C: 32 {g} D: {item.text} d½"
                if isinstance(item, (BatchNorm, ActivationItem))
                else f"{g} must be the last item of C: apart from dropouts"
            )
            ctx.error("E123", f"'{item.text}' after '{g}': the map is already flat", item.span, hint)
        if isinstance(item, GlobalPool):
            seen_global = seen_global or item
    if nopools or pools or inside:
        return items
    return implied_pools(items)


def implied_pools(items: list[ConvItem]) -> list[ConvItem]:
    """Close every group of same-width convolutions with an implied 2x2 max-pool.

    A convolution's own layers are the layers it builds and the bare ``n`` and
    bare activations right after it (NOTATION.md, "Groups, amended").  A group
    is a run of convolutions with the same filter count, each with its own
    layers; any other item (a dropout, ``dw``, a bare item no convolution owns,
    a pool) or a change of filter count ends it.  The pool goes right after the
    own layers of the group's last convolution, before any dropout that follows.
    ``dw`` is in no group, and no pool follows it.
    """
    out: list[ConvItem] = []
    i, n = 0, len(items)
    while i < n:
        item = items[i]
        out.append(item)
        i += 1
        if not isinstance(item, Conv):
            continue
        while i < n and isinstance(items[i], (BatchNorm, ActivationItem)):
            out.append(items[i])
            i += 1
        nxt = items[i] if i < n else None
        if not (isinstance(nxt, Conv) and nxt.filters == item.filters):
            out.append(Pool(span=item.span, text="p", implied=True))
    return out
