"""The grammar stage: ``grammar/cnnspec.lark`` loaded once, its LALR tables cached,
and a rule-named :class:`~lark.Transformer` that turns a spec into sections of tokens.

The transformer runs inside the LALR parser, so :func:`parse_sections` returns
plain :class:`Section` values, never a lark tree.  Only the notation imports lark.

Version 2's brackets are split off here, after lark has lexed whole tokens
(NOTATION.md, "Tokens: brackets"): every ``[`` at the start of a token is an
``LBRACK`` token, and the ``]+R`` at its end (from its first ``]``) an
``RBRACK`` token; what remains is read again with the section's own terminals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

from lark import Lark, Token, Transformer

__all__ = ["Section", "Token", "parse_sections"]


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
class Section:
    letter: str  # I A C D O, or the raw header for unknown sections
    header: Token
    items: list[Token]


class _ToSections(Transformer[Token, Any]):
    """Tree -> list of sections, one method per grammar rule."""

    def start(self, children: list[Any]) -> tuple[list[Token], list[Section]]:
        strays = [c for c in children if isinstance(c, Token)]
        sections = [c for c in children if isinstance(c, Section)]
        return strays, sections

    def stray(self, children: list[Token]) -> Token:
        return children[0]

    def _section(self, letter: str, children: list[Token]) -> Section:
        return Section(letter, children[0], list(children[1:]))

    def input_section(self, c: list[Token]) -> Section:
        return self._section("I", c)

    def aug_section(self, c: list[Token]) -> Section:
        return self._section("A", c)

    def conv_section(self, c: list[Token]) -> Section:
        return self._section("C", c)

    def dense_section(self, c: list[Token]) -> Section:
        return self._section("D", c)

    def head_section(self, c: list[Token]) -> Section:
        return self._section("O", c)

    def unknown_section(self, c: list[Token]) -> Section:
        return self._section("?", c)

    def _item(self, children: list[Token]) -> Token:
        return children[0]

    input_item = aug_item = conv_item = dense_item = head_item = any_item = _item


#: The item terminals lark's contextual lexer tries in each section (the
#: grammar's ``*_item`` rules); ``?`` is an unknown section.
_SECTION_TERMINALS: dict[str, tuple[str, ...]] = {
    "I": ("DIMS", "WORD"),
    "A": ("AUG", "WORD"),
    "C": ("UNIT", "DW", "POOL", "GPOOL", "DROPOUT", "WORD"),
    "D": ("UNIT", "DW", "POOL", "GPOOL", "DROPOUT", "WORD"),
    "O": ("UNIT", "DW", "POOL", "GPOOL", "DROPOUT", "WORD"),
    "?": ("UNIT", "DW", "POOL", "GPOOL", "DROPOUT", "AUG", "DIMS", "WORD"),
}


@lru_cache(maxsize=8)
def _terminals(letter: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The section's item terminals as compiled patterns, highest priority first
    (as lark tries them): the grammar's own regular expressions, read once."""
    wanted = _SECTION_TERMINALS[letter]
    defs = sorted((t for t in _lark().terminals if t.name in wanted), key=lambda t: -t.priority)
    return tuple((t.name, re.compile(t.pattern.to_regexp())) for t in defs)


def _retyped(letter: str, text: str, like: Token, offset: int) -> Token:
    """``text`` (a piece of ``like`` at ``offset``) as the token lark would have lexed alone."""
    kind = next((name for name, rx in _terminals(letter) if rx.fullmatch(text)), "WORD")
    return _piece(kind, text, like, offset)


def _piece(kind: str, text: str, like: Token, offset: int) -> Token:
    start = (like.start_pos or 0) + offset
    return Token(kind, text, start_pos=start, line=like.line, column=(like.column or 1) + offset)


def split_brackets(letter: str, tok: Token) -> list[Token]:
    """``[[64In]+R`` -> ``[``, ``[``, ``64In``, ``]+R``: every ``[`` at the start
    and everything from the first ``]`` after them split off (NOTATION.md,
    "Tokens: brackets").  A token without brackets is returned as it is."""
    text = str(tok)
    if "[" not in text and "]" not in text:
        return [tok]
    out: list[Token] = []
    i = 0
    while i < len(text) and text[i] == "[":
        out.append(_piece("LBRACK", "[", tok, i))
        i += 1
    close = text.find("]", i)
    end = close if close >= 0 else len(text)
    if end > i:
        out.append(tok if i == 0 and end == len(text) else _retyped(letter, text[i:end], tok, i))
    if close >= 0:
        out.append(_piece("RBRACK", text[close:], tok, close))
    return out


def parse_sections(text: str) -> tuple[list[Token], list[Section]]:
    """The stray tokens before any header, and the sections in the order written,
    brackets split off their tokens.

    Raises :class:`lark.exceptions.LarkError` only in theory: the catch-all
    terminals make every text parse.
    """
    # Section runs inside the parser, so parse() returns its result, not a tree.
    strays, sections = cast("tuple[list[Token], list[Section]]", _lark().parse(text))
    for sec in sections:
        if any("[" in t or "]" in t for t in sec.items):
            sec.items = [piece for t in sec.items for piece in split_brackets(sec.letter, t)]
    return strays, sections
