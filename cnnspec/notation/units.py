"""A unit, ``64k5s2vRnL2=0.01``: its count and glued modifiers, one rule per modifier.

A convolution in ``C:``, a dense layer in ``D:``, the class count in ``O:``, and
(version 2) a depthwise convolution ``dws2B``, which has ``dw`` in place of a
count.  Each modifier starts with its own letter (``sep`` and ``s2`` share one,
and ``sep`` is tried first), so the scanner tries one rule at each position,
and an error points at the very modifier (``16RT``, ``16k0``, ``16r``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cnnspec.notation.grammar import Token
from cnnspec.notation.tokens import ErrorSink, bounded_int, shorten, span_of
from cnnspec.notation.vocabulary import (
    ACTIVATION_LETTERS,
    DEFAULT_L2,
    DEPTHWISE,
    L2_NUMBER,
    MAX_COUNT,
    MAX_KERNEL,
    MAX_STRIDE,
    MODIFIERS,
    MODIFIERS_ALLOWED,
    NORM_MODIFIERS,
    SEPARABLE,
)

_NO_MATCH = re.compile(r"(?!)")


@dataclass
class _Unit:
    """A unit being scanned: ``64k5s2vRnL2=0.01`` in section C:, D: or O:."""

    tok: Token
    section: str
    sink: ErrorSink
    count_text: str
    out: dict[str, Any] = field(default_factory=dict)
    ok: bool = True

    @property
    def text(self) -> str:
        return str(self.tok)

    def error(self, code: str, message: str, pos: int, length: int, hint: str | None = None) -> None:
        self.sink.error(code, message, span_of(self.tok, pos, length), hint)
        self.ok = False


def _bounded(u: _Unit, digits: str, what: str, code: str, limit: int, pos: int, length: int) -> int | None:
    """``int(digits)``, or None after error ``code`` when it is over ``limit``."""
    value = bounded_int(digits, limit)
    if value is None:
        u.error(code, f"{what} must be at most {limit:,}, received {shorten(digits)}", pos, length)
    return value


def _kernel(u: _Unit, m: re.Match[str], pos: int) -> None:
    kh = _bounded(u, m[1], "kernel size", "E115", MAX_KERNEL, pos, len(m.group()))
    kw = _bounded(u, m[2], "kernel size", "E115", MAX_KERNEL, pos, len(m.group())) if m[2] else kh
    if kh is None or kw is None:
        return
    if kh == 0 or kw == 0:
        u.error("E111", f"kernel size must be at least 1, received {m.group()}", pos, len(m.group()), "write k3 or k5")
    u.out["kernel"] = (kh, kw)


def _stride(u: _Unit, m: re.Match[str], pos: int) -> None:
    stride = _bounded(u, m[1], "stride", "E116", MAX_STRIDE, pos, len(m.group()))
    if stride == 0:
        u.error("E112", "stride must be at least 1, received s0", pos, len(m.group()), "leave the stride out for s1")
    u.out["stride"] = stride


def _l2(u: _Unit, m: re.Match[str], pos: int) -> bool:
    """The L2 modifier; False when the rest of the unit cannot be read (``L2=x``)."""
    mtext = m.group()
    after = u.text[pos + len(mtext) :]
    if not m[1] and after[:1] == "=":
        # `L2=` followed by no number: `L2=-1`, `L2=x`.
        bad = re.match(r"=[^" + ACTIVATION_LETTERS + r"nvks]*", after)
        shown = bad.group() if bad else "="
        u.error(
            "E113",
            f"L2 factor must be a number > 0, received '{shorten(shown[1:])}'",
            pos + len(mtext),
            len(shown),
            "write L2 for 0.01, or L2=0.001",
        )
        return False
    factor = float(m[1]) if m[1] else DEFAULT_L2  # float() reads any number of digits
    if factor <= 0:
        u.error("E113", f"L2 factor must be > 0, received {shorten(m[1])}", pos, len(mtext), "write L2 for 0.01")
    elif factor == float("inf"):  # 1e999: would not survive JSON or fmt either
        u.error("E113", f"L2 factor must be finite, received {shorten(m[1])}", pos, len(mtext), "write L2 for 0.01")
    u.out["l2"] = factor
    return True


def _set(key: str, value: Any) -> Callable[[_Unit, re.Match[str], int], None]:
    def rule(u: _Unit, m: re.Match[str], pos: int) -> None:
        u.out[key] = m.group() if value is None else value

    return rule


#: Modifier key -> (its pattern, what it sets).  Each modifier starts with its
#: own letter (activations: any activation letter), so one pattern is tried.
_MODIFIER_RULES: dict[str, tuple[re.Pattern[str], Callable[[_Unit, re.Match[str], int], bool | None]]] = {
    "k": (re.compile(r"k([0-9]+)(?:x([0-9]+))?"), _kernel),
    "s": (re.compile(r"s([0-9]+)"), _stride),
    "L2": (re.compile(rf"L2(?:=({L2_NUMBER}))?"), _l2),
    "v": (re.compile(r"v"), _set("padding", "valid")),
    "n": (re.compile(r"n"), _set("batchnorm", True)),
    "act": (re.compile(rf"[{ACTIVATION_LETTERS}]"), _set("activation", None)),
    # Version 2: `sep` (tried before `s2`), `b` and `B`.
    "sep": (re.compile(SEPARABLE), _set("separable", True)),
    "b": (re.compile(r"b"), _set("prenorm", "b")),
    "B": (re.compile(r"B"), _set("prenorm", "B")),
}
_MODIFIER_BY_FIRST: dict[str, str] = {
    **{key[0]: key for key in _MODIFIER_RULES if key not in ("act", "sep")},
    **dict.fromkeys(ACTIVATION_LETTERS, "act"),
}


def _key_at(rest: str) -> str:
    """The modifier that ``rest`` starts with ('' when none)."""
    if rest.startswith(SEPARABLE):
        return "sep"
    return _MODIFIER_BY_FIRST.get(rest[0], "")


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


def _seen_twice(u: _Unit, key: str, earlier: str, mtext: str, pos: int) -> None:
    if key == "norm" and earlier != mtext:
        u.error("E202", f"two batch norms in '{u.text}': '{earlier}' and '{mtext}' (at most one of n, b, B)", pos,
                len(mtext), "n for after the activation, b for before")  # fmt: skip
    elif key == "act":
        u.error("E203", f"two activation letters in '{u.text}': '{earlier}' and '{mtext}'", pos, len(mtext),
                f"keep one: {u.count_text}{earlier}")  # fmt: skip
    else:
        shown = mtext if key == "norm" else key
        u.error(
            "E202", f"modifier '{shown}' repeated in '{u.text}'", pos, len(mtext), "write each modifier at most once"
        )


def _not_allowed(u: _Unit, key: str, mtext: str, pos: int) -> None:
    # k, s, v and sep shape a convolution; n, b, B (batch norm) also suit a dense layer.
    if u.section == "dw":  # only sep: a depthwise convolution is never separable
        takes = f"k, s, v, b, B, n, L2 or one of {ACTIVATION_LETTERS}"
        message = f"unknown modifier '{mtext}' in '{u.text}': dw takes {takes}"
        u.error("E201", message, pos, len(mtext), "a separable convolution is a count with sep: 64sep")
        return
    where = "convolutions" if key in ("k", "s", "v", "sep") else "convolutions and dense layers"
    u.error("E204", f"{MODIFIERS[key]} '{mtext}' is not allowed in {u.section}:, only in {where}", pos, len(mtext),
            f"remove '{mtext}' from '{u.text}'")  # fmt: skip


def _special_unknown(u: _Unit, rest: str, pos: int) -> bool:
    """The E201s of version 2 that get a message of their own; True when one was reported."""
    prefix = u.count_text
    if rest[:3].lower() == SEPARABLE and not rest.startswith(SEPARABLE):
        u.error("E201", f"unknown modifier '{rest[:3]}' in '{shorten(u.text)}'", pos, 3,
                f"modifiers other than activations are lowercase: {prefix}{SEPARABLE}")  # fmt: skip
    elif u.section == "C" and rest.startswith(DEPTHWISE):
        u.error("E201", f"unknown modifier 'dw' in '{shorten(u.text)}': a depthwise convolution has no count", pos, 2,
                f"dw keeps the channel count — write dw, or {prefix}k1 for a pointwise convolution")  # fmt: skip
    elif u.section == "dw" and pos == len(DEPTHWISE) and rest[0].isdigit():
        digits = re.match(r"[0-9]+", rest)
        assert digits is not None
        u.error("E201", f"'{shorten(u.text)}': dw takes no count, its depth multiplier is 1", pos, len(digits.group()),
                "write dw: it keeps the channel count")  # fmt: skip
    elif rest[0] == "z" and u.section in ("C", "dw"):
        u.error("E201", f"unknown modifier 'z' in '{shorten(u.text)}': z pads pools", pos, 1,
                'convolutions are "same" unless written with v')  # fmt: skip
    else:
        return False
    return True


def scan_unit(tok: Token, section: str, ctx: ErrorSink) -> dict[str, Any] | None:
    """Split ``64k5s2vRnL2=0.01`` into its count and modifiers.

    ``section`` is ``C``, ``D`` or ``O``, or ``dw`` for a depthwise convolution
    (``dws2B``), whose result has no ``count``.
    """
    text = str(tok)
    if section == "dw":
        u = _Unit(tok, section, ctx, DEPTHWISE)
    else:
        m = re.match(r"[0-9]+", text)
        assert m  # the UNIT terminal starts with a digit
        u = _Unit(tok, section, ctx, m.group())
        what = {"C": "filter count", "D": "unit count", "O": "class count"}[section]
        count = _bounded(u, u.count_text, what, "E114", MAX_COUNT, 0, len(u.count_text))
        if count == 0:
            u.error("E110", f"{what} must be at least 1, received 0", 0, len(u.count_text))
        u.out["count"] = count
    seen: dict[str, str] = {}
    pos = len(u.count_text)
    while pos < len(text):
        rest = text[pos:]
        key = _key_at(rest)
        rx, rule = _MODIFIER_RULES.get(key, (_NO_MATCH, None))
        mm = rx.match(rest)
        if (key == "act" and rest[:3].lower() == SEPARABLE) or mm is None or rule is None:
            if not _special_unknown(u, rest, pos):
                expected = "k, s, v, b, B, n, L2" if section == "dw" else "k, s, v, n, L2"
                ctx.error(
                    "E201",
                    f"unknown modifier '{rest[0]}' in '{shorten(text)}': expected {expected} or one of "
                    f"{ACTIVATION_LETTERS}",
                    span_of(tok, pos, 1),
                    _exponent_hint(text) or _unknown_modifier_hint(rest, u.count_text),
                )
            return None
        mtext = mm.group()
        group = "norm" if key in NORM_MODIFIERS else key
        if group in seen:
            _seen_twice(u, group, seen[group], mtext, pos)
        seen[group] = mtext
        if key not in MODIFIERS_ALLOWED[section]:
            _not_allowed(u, key, mtext, pos)
        elif rule(u, mm, pos) is False:
            return None
        pos += len(mtext)
    return u.out if u.ok else None
