"""Text -> :class:`~cnnspec.notation.ir.Spec`: the lark grammar plus item scanning.

The grammar (``grammar/cnnspec.lark``) splits a spec into sections and whole
tokens; this module turns each token into an IR node, checks everything that
can be checked without an input shape, resolves the implied-pooling rule, and
collects every error with the exact span of the token at fault.  No lark
object leaves this module.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError

from cnnspec.errors import Diagnostic, SpecError
from cnnspec.notation.ir import (
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
    Span,
    Spec,
    SpecFile,
    input_too_large,
)
from cnnspec.notation.vocabulary import (
    ACTIVATION_LETTERS,
    AUGMENTATIONS,
    DECIMAL,
    DEFAULT_L2,
    GLOBAL_POOLS,
    L2_NUMBER,
    MODIFIERS,
    MODIFIERS_ALLOWED,
    NAME_RE,
    NAMED_LINE,
    POOLS,
    SECTION_NAMES,
    SECTION_ORDER,
    UNICODE_FRACTIONS,
)

_DECIMAL = DECIMAL
_L2_NUMBER = L2_NUMBER
#: Whitespace that separates nothing in the grammar: a no-break space pasted
#: from a document, U+2028, a vertical tab...
_ODD_SPACE = re.compile(r"[^\S \t\n\r\f]")

# --------------------------------------------------------------------------
# Grammar


def _grammar_text() -> str:
    # Installed wheels carry the grammar inside the package; a source checkout
    # (editable install, tests) reads the one true copy in grammar/.
    packaged = resources.files("cnnspec").joinpath("cnnspec.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "cnnspec.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # The transformer runs inside the LALR parser (no tree is built, then
    # walked).  Building the LALR tables is a third of a cold `cnnspec check`,
    # so lark caches them in a per-user file keyed by the hash of the grammar
    # and options (lark checks it on load and rebuilds when stale).
    text = _grammar_text()
    return Lark(
        text,
        parser="lalr",
        lexer="contextual",
        propagate_positions=False,
        transformer=_ToSections(),
        cache=_cache_file(text),
    )


def _cache_file(grammar: str) -> str | bool:
    """A private, per-user cache path for the parser tables, or False (no cache)."""
    import hashlib
    import os

    import lark

    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnnspec"
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
    except (OSError, RuntimeError):  # no home, read-only file system: build every time
        return False
    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:16]
    return str(base / f"grammar-{digest}-lark{lark.__version__}.cache")


@dataclass
class _Section:
    letter: str  # I A C D O, or the raw header for unknown sections
    header: Token
    items: list[Token]


class _ToSections(Transformer[Token, Any]):
    """Tree -> list of sections, one method per grammar rule."""

    def start(self, children: list[Any]) -> tuple[list[Token], list[_Section]]:
        strays = [c for c in children if isinstance(c, Token)]
        sections = [c for c in children if isinstance(c, _Section)]
        return strays, sections

    def stray(self, children: list[Token]) -> Token:
        return children[0]

    def _section(self, letter: str, children: list[Token]) -> _Section:
        return _Section(letter, children[0], list(children[1:]))

    def input_section(self, c: list[Token]) -> _Section:
        return self._section("I", c)

    def aug_section(self, c: list[Token]) -> _Section:
        return self._section("A", c)

    def conv_section(self, c: list[Token]) -> _Section:
        return self._section("C", c)

    def dense_section(self, c: list[Token]) -> _Section:
        return self._section("D", c)

    def head_section(self, c: list[Token]) -> _Section:
        return self._section("O", c)

    def unknown_section(self, c: list[Token]) -> _Section:
        return self._section("?", c)

    def _item(self, children: list[Token]) -> Token:
        return children[0]

    input_item = aug_item = conv_item = dense_item = head_item = any_item = _item


# --------------------------------------------------------------------------
# Helpers


def _span(tok: Token, offset: int = 0, length: int | None = None) -> Span:
    text = str(tok)
    return Span(
        line=tok.line or 1,
        column=(tok.column or 1) + offset,
        length=length if length is not None else max(1, len(text) - offset),
    )


@dataclass
class _Ctx:
    origin: str
    spec_name: str | None
    errors: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.errors.append(
            Diagnostic(code=code, message=message, span=span, hint=hint, origin=self.origin, spec=self.spec_name)
        )


def parse_rate(text: str) -> tuple[Fraction | None, str | None, str | None]:
    """Parse a dropout rate written after ``d``: (rate, error, hint)."""
    if text == "":
        return None, "dropout needs a rate, received none", "write a rate such as d¼, d.25 or d25%"
    if text in UNICODE_FRACTIONS:
        rate = UNICODE_FRACTIONS[text]
    elif m := re.fullmatch(r"([0-9]+)/([0-9]+)", text):
        num, den = int(m[1]), int(m[2])
        if den == 0:
            return None, f"rate '{text}' divides by zero", "write a fraction such as 1/4"
        rate = Fraction(num, den)
    elif m := re.fullmatch(rf"({_DECIMAL})%", text):
        rate = Fraction(m[1]) / 100
    elif re.fullmatch(_DECIMAL, text):
        rate = Fraction(text)
        if rate >= 1 and "." not in text:
            return (
                None,
                f"rate must lie in [0, 1), received {text}",
                f"did you mean d.{text} or d{text}%?",
            )
    else:
        return None, f"malformed rate '{text}': expected ½, 1/4, .25, 0.25 or 25%", None
    if not 0 <= rate < 1:
        value = f"{float(rate):g}"
        shown = text if text == value else f"{text} = {value}"
        return None, f"rate must lie in [0, 1), received {shown}", None
    if float(rate) >= 1:  # Keras takes a float: .99999999999999999999 would drop everything
        return None, f"rate {text} is 1.0 as a float, which drops every value", "write a rate below 1, such as d.99"
    return rate, None, None


def _suggest(word: str, options: list[str]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


# --------------------------------------------------------------------------
# Items


_MODIFIERS = [
    ("k", re.compile(r"k([0-9]+)(?:x([0-9]+))?")),
    ("s", re.compile(r"s([0-9]+)")),
    ("L2", re.compile(rf"L2(?:=({_L2_NUMBER}))?")),
    ("v", re.compile(r"v")),
    ("n", re.compile(r"n")),
    ("act", re.compile(rf"[{ACTIVATION_LETTERS}]")),
]
_MODIFIER_BY_FIRST: dict[str, tuple[str, re.Pattern[str]]] = {
    **{key[0]: (key, rx) for key, rx in _MODIFIERS if key != "act"},
    **{letter: ("act", _MODIFIERS[-1][1]) for letter in ACTIVATION_LETTERS},
}
_NO_MATCH = re.compile(r"(?!)")


def _exponent_hint(text: str) -> str | None:
    """`16L2=1E-3` reads the E as ELU; say that the exponent is lowercase."""
    m = re.search(r"L2=[0-9.]+E-?[0-9]", text)
    if m is None:
        return None
    fixed = text[: m.start()] + m.group().replace("E", "e") + text[m.end() :]
    return f"an L2 exponent is a lowercase e: {fixed}"


def _unknown_modifier_hint(rest: str, count: str) -> str | None:
    ch = rest[0]
    if ch.upper() in ACTIVATION_LETTERS and ch.islower() and ch != "s":
        return f"activation letters are uppercase: {count}{ch.upper()}"
    if ch == "s":
        return f"a stride needs its number, as in {count}s2 (sigmoid is uppercase S)"
    if ch == "k":
        return f"a kernel size needs its number, as in {count}k5 or {count}k3x5"
    if ch in "NKV":
        return f"modifiers other than activations are lowercase: {count}{ch.lower()}"
    if rest.lower().startswith("l2"):
        return f"the regularizer is written L2 or L2=0.001: {count}L2"
    if ch == "L":
        return f"the regularizer is written L2 or L2=0.001, as in {count}L2"
    if ch == "=":
        return "only L2 takes a value: L2=0.001"
    return None


def _scan_unit(tok: Token, section: str, ctx: _Ctx) -> dict[str, Any] | None:
    """Split ``64k5s2vRnL2=0.01`` into its count and modifiers."""
    text = str(tok)
    m = re.match(r"[0-9]+", text)
    assert m  # the UNIT terminal starts with a digit
    count_text = m.group()
    count = int(count_text)
    what = {"C": "filter count", "D": "unit count", "O": "class count"}[section]
    ok = True
    if count == 0:
        ctx.error("E110", f"{what} must be at least 1, received 0", _span(tok, 0, len(count_text)))
        ok = False
    out: dict[str, Any] = {"count": count}
    seen: dict[str, str] = {}
    pos = len(count_text)
    while pos < len(text):
        rest = text[pos:]
        # Each modifier starts with its own letter: one regex to try, not six.
        key, rx = _MODIFIER_BY_FIRST.get(rest[0], ("", _NO_MATCH))
        mm = rx.match(rest)
        if mm is None:
            ctx.error(
                "E201",
                f"unknown modifier '{rest[0]}' in '{text}': expected k, s, v, n, L2 or one of {ACTIVATION_LETTERS}",
                _span(tok, pos, 1),
                _exponent_hint(text) or _unknown_modifier_hint(rest, count_text),
            )
            return None
        mtext = mm.group()
        if key in seen:
            if key == "act":
                ctx.error(
                    "E203",
                    f"two activation letters in '{text}': '{seen[key]}' and '{mtext}'",
                    _span(tok, pos, len(mtext)),
                    f"keep one: {count_text}{seen[key]}",
                )
            else:
                ctx.error(
                    "E202",
                    f"modifier '{key}' repeated in '{text}'",
                    _span(tok, pos, len(mtext)),
                    "write each modifier at most once",
                )
            ok = False
        seen[key] = mtext
        if key not in MODIFIERS_ALLOWED[section]:
            label = MODIFIERS[key]
            # k, s and v shape a convolution; n (batch norm) also suits a dense layer.
            where = "convolutions" if key in ("k", "s", "v") else "convolutions and dense layers"
            ctx.error(
                "E204",
                f"{label} '{mtext}' is not allowed in {section}:, only in {where}",
                _span(tok, pos, len(mtext)),
                f"remove '{mtext}' from '{text}'",
            )
            ok = False
        elif key == "k":
            kh = int(mm[1])
            kw = int(mm[2]) if mm[2] else kh
            if kh == 0 or kw == 0:
                ctx.error(
                    "E111",
                    f"kernel size must be at least 1, received {mtext}",
                    _span(tok, pos, len(mtext)),
                    "write k3 or k5",
                )
                ok = False
            out["kernel"] = (kh, kw)
        elif key == "s":
            stride = int(mm[1])
            if stride == 0:
                ctx.error(
                    "E112",
                    "stride must be at least 1, received s0",
                    _span(tok, pos, len(mtext)),
                    "leave the stride out for s1",
                )
                ok = False
            out["stride"] = stride
        elif key == "L2":
            factor = float(mm[1]) if mm[1] else DEFAULT_L2
            if not mm[1] and rest[len(mtext) : len(mtext) + 1] == "=":
                # `L2=` followed by no number: `L2=-1`, `L2=x`.
                bad = re.match(r"=[^" + ACTIVATION_LETTERS + r"nvks]*", rest[len(mtext) :])
                shown = bad.group() if bad else "="
                ctx.error(
                    "E113",
                    f"L2 factor must be a number > 0, received '{shown[1:]}'",
                    _span(tok, pos + len(mtext), len(shown)),
                    "write L2 for 0.01, or L2=0.001",
                )
                return None
            if factor <= 0:
                ctx.error(
                    "E113", f"L2 factor must be > 0, received {mm[1]}", _span(tok, pos, len(mtext)), "write L2 for 0.01"
                )
                ok = False
            elif factor == float("inf"):  # 1e999: would not survive JSON or fmt either
                ctx.error(
                    "E113",
                    f"L2 factor must be finite, received {mm[1]}",
                    _span(tok, pos, len(mtext)),
                    "write L2 for 0.01",
                )
                ok = False
            out["l2"] = factor
        elif key == "v":
            out["padding"] = "valid"
        elif key == "n":
            out["batchnorm"] = True
        elif key == "act":
            out["activation"] = mtext
        pos += len(mtext)
    return out if ok else None


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


def _parse_conv(items: list[Token], ctx: _Ctx) -> list[ConvItem]:
    out: list[ConvItem] = []
    previous: Token | None = None
    for tok in items:
        text = str(tok)
        span = _span(tok)
        kind = tok.type
        if kind == "UNIT":
            mods = _scan_unit(tok, "C", ctx)
            if mods is not None:
                count = mods.pop("count")
                out.append(Conv(span=span, text=text, filters=count, **mods))
        elif kind == "POOL":
            m = re.fullmatch(r"(a?)p([0-9]*)", text)
            assert m
            size = int(m[2]) if m[2] else 2
            if m[2] and size == 0 and not m[1]:
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
                f"unknown item '{text}' in C: expected a convolution (16, 64k5n), a pool (p, ap3, gap) "
                "or a dropout (d¼)",
                span,
                _word_hint(text, "C", previous),
            )
        previous = tok
    return out


def _add_dropout(tok: Token, ctx: _Ctx, out: list[Any]) -> None:
    rate, err, hint = parse_rate(str(tok)[1:])
    if err:
        ctx.error("E130", err, _span(tok, 1) if len(str(tok)) > 1 else _span(tok), hint)
    else:
        assert rate is not None
        out.append(Dropout(span=_span(tok), text=str(tok), rate=rate))


def _parse_dense(items: list[Token], ctx: _Ctx) -> list[DenseItem]:
    out: list[DenseItem] = []
    previous: Token | None = None
    for tok in items:
        text, span = str(tok), _span(tok)
        if tok.type == "UNIT":
            mods = _scan_unit(tok, "D", ctx)
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
                f"unknown item '{text}' in D: expected a dense layer (128R, 64RL2) or a dropout (d½)",
                span,
                _word_hint(text, "D", previous),
            )
        previous = tok
    return out


def _parse_head(section: _Section, ctx: _Ctx) -> Head | None:
    items = section.items
    if len(items) > 1:
        ctx.error(
            "E150",
            f"O: holds exactly one item, the class count; received {len(items)} items",
            _span(items[1]),
            "put dropouts and dense layers in D:",
        )
    tok = items[0]
    if tok.type != "UNIT":
        ctx.error("E150", f"O: expects a class count such as 10 or 10I, received '{tok}'", _span(tok), None)
        return None
    mods = _scan_unit(tok, "O", ctx)
    if mods is None:
        return None
    classes = mods.pop("count")
    if mods.get("activation") == "S" and classes > 1:
        ctx.error(
            "E151",
            f"a sigmoid head of {classes} units (multi-label) is not supported in this version",
            _span(tok),
            f"write O: {classes} for softmax, or O: 1 for a binary sigmoid head",
        )
        return None
    return Head(span=_span(tok), text=str(tok), classes=classes, **mods)


def _parse_input(section: _Section, ctx: _Ctx) -> InputShape | None:
    items = section.items
    if len(items) > 1:
        ctx.error("E160", f"I: holds one item HxWxC, received {len(items)} items", _span(items[1]), None)
    tok = items[0]
    text, span = str(tok), _span(tok)
    if tok.type != "DIMS":
        ctx.error("E160", f"I: expects HxWxC such as 32x32x3, received '{text}'", span, None)
        return None
    dims = [int(d) for d in text.split("x")]
    if len(dims) != 3:
        hint = f"write {text}x1 (grayscale) or {text}x3 (RGB)" if len(dims) == 2 else "write HxWxC, e.g. 32x32x3"
        ctx.error("E161", f"I: expects 3 dimensions HxWxC, received {len(dims)} in '{text}'", span, hint)
        return None
    if 0 in dims:
        ctx.error("E162", f"every input dimension must be at least 1, received '{text}'", span, None)
        return None
    h, w, c = dims
    too_large = input_too_large((h, w, c))
    if too_large:
        ctx.error("E163", too_large, span, "resize the images: the model resizes them on load")
        return None
    return InputShape(span=span, text=text, height=h, width=w, channels=c)


def _parse_augment(section: _Section, ctx: _Ctx) -> list[Augment]:
    out: list[Augment] = []
    seen: set[str] = set()
    for tok in section.items:
        text, span = str(tok), _span(tok)
        m = re.fullmatch(r"([a-z]+)(.*)", text)
        name = m[1] if m else ""
        if name not in AUGMENTATIONS:
            guess = _suggest(name or text.lower(), list(AUGMENTATIONS))
            ctx.error(
                "E170",
                f"unknown augmentation '{text}': expected one of {', '.join(AUGMENTATIONS)}",
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
                ctx.error("E171", f"'{name}' takes no factor, received '{text}'", span, f"write {name}")
                continue
        else:
            if not factor_text:
                ctx.error("E172", f"'{name}' needs its factor, received none", span, f"write {name}.1")
                continue
            if not re.fullmatch(_DECIMAL, factor_text):
                ctx.error("E173", f"malformed factor '{factor_text}' in '{text}'", span, f"write {name}.1")
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


def _check_pooling(items: list[ConvItem], ctx: _Ctx) -> list[ConvItem]:
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


# --------------------------------------------------------------------------
# Specs and files


def _parse_one(text: str, origin: str, name: str | None) -> tuple[Spec | None, list[Diagnostic]]:
    ctx = _Ctx(origin, name)
    # Name each odd space, then read it as a space so that every other error
    # of the spec is still found (lark alone stops at the first one).
    for m in _ODD_SPACE.finditer(text):
        char = m.group()
        ctx.error(
            "E002",
            f"unexpected character U+{ord(char):04X} ({unicodedata.name(char, 'control character').lower()}): "
            "items are separated by spaces, tabs or newlines",
            Span(line=text.count("\n", 0, m.start()) + 1, column=m.start() - text.rfind("\n", 0, m.start())),
            "replace it with a plain space",
        )
    try:
        # _ToSections runs inside the parser, so parse() returns its result, not a tree.
        parsed = cast("tuple[list[Token], list[_Section]]", _lark().parse(_ODD_SPACE.sub(" ", text)))
        strays, sections = parsed
    except LarkError as exc:  # the catch-all terminal makes this unreachable in practice
        line = getattr(exc, "line", 1) or 1
        column = getattr(exc, "column", 1) or 1
        ctx.error("E001", f"cannot parse spec: {exc}", Span(line=line, column=column))
        return None, ctx.errors

    for tok in strays:
        ctx.error(
            "E100",
            f"item '{tok}' comes before any section header",
            _span(tok),
            f"start the section with its header, e.g. C: {tok}",
        )
    if not sections and not strays:
        # Every error names a line and column: the spec's first line (a named
        # spec's chunk starts with one newline per line before it).
        first = Span(line=len(text) - len(text.lstrip("\n")) + 1, column=1)
        ctx.error("E101", "empty spec: expected sections such as 'C: 16 32 D: 64R'", first, None)
        return None, ctx.errors

    fields: dict[str, Any] = {}
    seen: dict[str, _Section] = {}
    last_index = -1
    for sec in sections:
        header = str(sec.header)
        hspan = _span(sec.header)
        if sec.letter == "?":
            letter = header[:-1]
            if letter.upper() in SECTION_NAMES and len(letter) == 1:
                ctx.error(
                    "E102", f"section headers are uppercase: received '{header}'", hspan, f"write {letter.upper()}:"
                )
            else:
                ctx.error(
                    "E103",
                    f"unknown section '{header}': expected one of I: A: C: D: O:",
                    hspan,
                    None,
                )
            continue
        if sec.letter in seen:
            earlier = seen[sec.letter].header
            ctx.error(
                "E104",
                f"section {header} repeated (first at line {earlier.line}, column {earlier.column})",
                hspan,
                f"merge the items into the first {header}",
            )
            continue
        index = SECTION_ORDER.index(sec.letter)
        if index < last_index:
            ctx.error(
                "E105",
                f"section {header} out of order: sections come in the order I: A: C: D: O:",
                hspan,
                f"move {header} before the sections that follow it in that order",
            )
        last_index = max(last_index, index)
        seen[sec.letter] = sec
        if not sec.items:
            ctx.error("E106", f"section {header} is empty: a written section holds at least one item", hspan, None)
            continue
        if sec.letter == "I":
            fields["input"] = _parse_input(sec, ctx)
        elif sec.letter == "A":
            fields["augment"] = tuple(_parse_augment(sec, ctx))
        elif sec.letter == "C":
            fields["conv"] = tuple(_check_pooling(_parse_conv(sec.items, ctx), ctx))
        elif sec.letter == "D":
            fields["dense"] = tuple(_parse_dense(sec.items, ctx))
        elif sec.letter == "O":
            fields["head"] = _parse_head(sec, ctx)
    # A miscased `c:` or `d:` already has its own error (E102); saying that
    # the spec has no C: or D: as well would only repeat it.
    miscased = any(sec.letter == "?" and str(sec.header)[:-1] in ("c", "d") for sec in sections)
    if sections and "C" not in seen and "D" not in seen and not miscased:
        ctx.error(
            "E107",
            "a spec needs a C: or a D: section, received neither",
            _span(sections[0].header),
            "add the layers, e.g. C: 16 32 D: 64R",
        )
    if ctx.errors:
        return None, ctx.errors
    return Spec(name=name, origin=origin, source=text, **fields), []


@dataclass(frozen=True)
class ParsedSpec:
    """One spec of a file with its diagnostics (``spec`` is None when invalid)."""

    name: str | None
    spec: Spec | None
    errors: list[Diagnostic]
    line: int


@dataclass(frozen=True)
class ParsedFile:
    origin: str
    source: str
    specs: list[ParsedSpec]
    #: Errors that belong to the file rather than one spec (names).
    errors: list[Diagnostic]

    @property
    def all_errors(self) -> list[Diagnostic]:
        return self.errors + [d for s in self.specs for d in s.errors]


def parse_file_results(text: str, origin: str = "<string>") -> ParsedFile:
    """Parse a ``.cnn`` file without raising: every spec with its own errors.

    Named specs keep their file positions, so every caret points into the
    file as written.
    """
    lines = text.splitlines()
    starts: list[tuple[int, str, int]] = []  # (line index, name, column of name)
    file_errors: list[Diagnostic] = []
    for i, line in enumerate(lines):
        m = NAMED_LINE.match(line)
        if m:
            starts.append((i, m["name"], len(m["indent"]) + 1))
    if not starts:
        spec, errs = _parse_one(text, origin, None)
        return ParsedFile(origin, text, [ParsedSpec(None, spec, errs, 1)], [])

    def err(code: str, msg: str, line: int, col: int, length: int, hint: str | None = None) -> None:
        file_errors.append(
            Diagnostic(
                code=code, message=msg, span=Span(line=line, column=col, length=length), hint=hint, origin=origin
            )
        )

    # Text before the first name: comments and blanks only.
    before = "\n".join(lines[: starts[0][0]])
    stripped = re.sub(r"#[^\n]*", "", before)
    if stripped.strip():
        for j, line in enumerate(lines[: starts[0][0]]):
            body = line.split("#", 1)[0]
            if body.strip():
                col = len(body) - len(body.lstrip()) + 1
                err(
                    "E301",
                    "named and unnamed specs in one file: this text belongs to no name",
                    j + 1,
                    col,
                    len(body.strip()),
                    "give every spec a name, as in 'm1 = C: 16 32'",
                )
                break
    results: list[ParsedSpec] = []
    seen: dict[str, int] = {}
    for k, (i, name, col) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        first = lines[i]
        eq = first.index("=", col - 1 + len(name))
        # Blank out the name so lark sees the spec at its true columns.
        chunk_lines = [" " * (eq + 1) + first[eq + 1 :], *lines[i + 1 : end]]
        chunk = "\n" * i + "\n".join(chunk_lines)
        if not NAME_RE.fullmatch(name):
            err("E302", f"malformed spec name '{name}': expected letters, digits, _ . -, not starting with a digit",
                i + 1, col, len(name))  # fmt: skip
            continue
        if name in seen:
            err("E303", f"spec name '{name}' repeated (first at line {seen[name]})", i + 1, col, len(name),
                "names are unique within a file")  # fmt: skip
            continue
        seen[name] = i + 1
        spec, errs = _parse_one(chunk, origin, name)
        if spec is not None:
            spec = spec.model_copy(update={"source": text, "first_line": i + 1})
        results.append(ParsedSpec(name, spec, errs, i + 1))
    return ParsedFile(origin, text, results, file_errors)


def parse_file(text: str, origin: str = "<string>") -> SpecFile:
    """Parse a whole ``.cnn`` file; raise :class:`SpecError` with every error."""
    parsed = parse_file_results(text, origin)
    if parsed.all_errors:
        raise SpecError(parsed.all_errors, text)
    return SpecFile(origin=origin, specs=tuple(s.spec for s in parsed.specs if s.spec is not None))


def parse(text: str, origin: str = "<string>") -> Spec:
    """Parse one spec; raise :class:`SpecError` listing every error.

    >>> spec = parse("C: 16n 16n d¼ 32n 32n d¼ D: 16R")
    >>> [i.kind for i in spec.conv][:4]
    ['conv', 'conv', 'pool', 'dropout']
    """
    parsed = parse_file(text, origin)
    if len(parsed.specs) != 1:
        names = ", ".join(s.name or "?" for s in parsed.specs)
        raise SpecError(
            [
                Diagnostic(
                    code="E304",
                    message=f"expected one spec, the text holds {len(parsed.specs)}: {names}",
                    origin=origin,
                    hint="use parse_file() or name one spec",
                )
            ],
            text,
        )
    return parsed.specs[0]


def load(path: str | Path) -> SpecFile:
    """Read and parse a ``.cnn`` file (all its specs)."""
    p = Path(path)
    return parse_file(p.read_text(encoding="utf-8"), str(p))
