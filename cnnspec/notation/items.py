"""One token -> one IR node: units (scanned in :mod:`~cnnspec.notation.units`),
rates, pools, the input shape, augmentations; then the implied-pooling rule.

Each function checks everything that can be checked without an input shape and
reports into an :class:`ErrorSink` with the exact span of the token (or the very
modifier) at fault, so that every error of a spec is found, not only the first.
"""

from __future__ import annotations

import difflib
import re
from fractions import Fraction
from typing import Any

from cnnspec.notation.formatter import format_rate
from cnnspec.notation.grammar import Section, Token
from cnnspec.notation.ir import (
    MAX_INPUT_DIM,
    Augment,
    Conv,
    ConvItem,
    Dense,
    DenseItem,
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
    DECIMAL,
    DEFAULT_POOL_SIZE,
    GLOBAL_POOLS,
    MAX_POOL,
    MAX_RATE_DIGITS,
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
    if glued and re.fullmatch(rf"(?:k[0-9]+(?:x[0-9]+)?|s[0-9]+|v|n|L2(?:=\S+)?|[{ACTIVATION_LETTERS}])+", word):
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


def parse_conv(items: list[Token], ctx: ErrorSink) -> list[ConvItem]:
    out: list[ConvItem] = []
    previous: Token | None = None
    for tok in items:
        text = str(tok)
        span = span_of(tok)
        kind = tok.type
        if kind == "UNIT":
            mods = scan_unit(tok, "C", ctx)
            if mods is not None:
                count = mods.pop("count")
                out.append(Conv(span=span, text=text, filters=count, **mods))
        elif kind == "POOL":
            m = re.fullmatch(r"(a?)p([0-9]*)", text)
            assert m
            size = bounded_int(m[2], MAX_POOL) if m[2] else DEFAULT_POOL_SIZE
            if size is None:
                ctx.error("E124", f"pool size must be at most {MAX_POOL:,}, received '{shorten(text)}'", span, None)
            elif m[2] and size == 0 and not m[1]:
                out.append(NoPool(span=span, text=text))
            elif size <= 1:
                ctx.error(
                    "E120",
                    f"pool size must be at least 2, received '{text}'",
                    span,
                    "write p0 for no pooling at all" if size == 0 else "leave the item out: a 1x1 pool does nothing",
                )
            else:
                out.append(Pool(span=span, text=text, op=POOLS[m[1] + "p"], size=size))
        elif kind == "GPOOL":
            out.append(GlobalPool(span=span, text=text, op=GLOBAL_POOLS[text]))
        elif kind == "DROPOUT":
            _add_dropout(tok, ctx, out)
        else:
            ctx.error(
                "E200",
                f"unknown item '{shorten(text)}' in C: expected a convolution (16, 64k5n), a pool (p, ap3, gap) "
                "or a dropout (d¼)",
                span,
                _word_hint(text, "C", previous),
            )
        previous = tok
    return out


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
        else:
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


def check_pooling(items: list[ConvItem], ctx: ErrorSink) -> list[ConvItem]:
    """Validate p0 and gap/gmp placement, then apply the implied-pooling rule."""
    nopools = [i for i in items if isinstance(i, NoPool)]
    pools = [i for i in items if isinstance(i, (Pool, GlobalPool))]
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
            ctx.error(
                "E123",
                f"'{item.text}' after '{seen_global.text}': the map is already flat",
                item.span,
                f"{seen_global.text} must be the last item of C: apart from dropouts",
            )
        if isinstance(item, GlobalPool):
            seen_global = seen_global or item
    if nopools or pools:
        return items
    return implied_pools(items)


def implied_pools(items: list[ConvItem]) -> list[ConvItem]:
    """Close every group of same-width convolutions with an implied 2x2 max-pool.

    A group is a run of consecutive convolutions with the same filter count;
    any other item or a change of filter count ends it.  The pool goes right
    after the group's last convolution, before any dropout that follows.
    """
    out: list[ConvItem] = []
    for i, item in enumerate(items):
        out.append(item)
        if not isinstance(item, Conv):
            continue
        nxt = items[i + 1] if i + 1 < len(items) else None
        if not (isinstance(nxt, Conv) and nxt.filters == item.filters):
            out.append(Pool(span=item.span, text="p", implied=True))
    return out
