"""A Pygments lexer for the cnnspec notation (``.cnn`` files, ```` ```cnn ```` blocks).

Registered through the ``pygments.lexers`` entry point, so MkDocs, Sphinx,
Jupyter and anything else that asks Pygments for the language ``cnn`` gets
it once cnnspec is installed::

    >>> from pygments.lexers import get_lexer_by_name
    >>> get_lexer_by_name("cnn").name
    'cnnspec'

Highlighting is lenient, as an editor's must be: it colours what it
recognises (section headers, counts, modifiers, pools, rates, names,
variants in braces) and marks any other word as ``Error``.  The checker,
not the lexer, says what is valid.  This module imports only Pygments.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, default
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, Whitespace

__all__ = ["CnnSpecLexer"]

_FRACTIONS = "½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅐⅛⅜⅝⅞⅑⅒"
_END = r"(?=[\s#{},]|$)"  # a piece of a token ends at a blank, a comment or a brace
_DECIMAL = r"(?:\d+(?:\.\d+)?|\.\d+)"
_RATE = rf"(?:[{_FRACTIONS}]|\d+/\d+|{_DECIMAL}%?)"


class CnnSpecLexer(RegexLexer):
    """Lexer for cnnspec model specs: ``m26 = C: 16n 16n d¼ 32n 32n d¼ D: 16R``."""

    name = "cnnspec"
    aliases = ["cnn", "cnnspec"]  # noqa: RUF012 - Pygments reads class attributes
    filenames = ["*.cnn"]  # noqa: RUF012
    mimetypes = ["text/x-cnnspec"]  # noqa: RUF012
    url = "https://github.com/cnnspec/cnnspec"

    tokens = {  # noqa: RUF012
        "root": [
            (r"#.*?$", Comment.Single),
            (r"\s+", Whitespace),
            # `name =` at the start of a line starts a named spec.
            (
                r"^([ \t]*)([A-Za-z_][A-Za-z0-9_.\-]*)([ \t]*)(=)(?=[ \t]|$|[A-Za-z]\w*:)",
                bygroups(Whitespace, Name.Function, Whitespace, Operator),
            ),
            (r"[IACDO]:", Keyword.Declaration),
            (r"[A-Za-z][A-Za-z0-9_]*:", Error),  # unknown or lowercase section
            (r"[{,]", Punctuation),
            (r"\}", Punctuation, "modifiers"),  # `{16,32}n`: modifiers may follow
            (rf"\d+(?:x\d+)+{_END}", Number.Integer),  # I: 32x32x3
            (rf"(d)({_RATE}){_END}", bygroups(Keyword, Number.Float)),
            (r"d(?=\{)", Keyword),
            (rf"(?:a?p\d*|g[am]p){_END}", Keyword),
            (rf"(?:hvflip|vflip|flip){_END}", Name.Builtin),
            (rf"(rot|zoom|shift|contrast|bright)({_DECIMAL}){_END}", bygroups(Name.Builtin, Number.Float)),
            (r"(?:rot|zoom|shift|contrast|bright)(?=\{)", Name.Builtin),
            (rf"(?:[{_FRACTIONS}]|\d+/\d+|\.\d+|\d+(?:\.\d+)?%){_END}", Number.Float),  # a rate alone, in braces
            (r"\d+", Number.Integer, "modifiers"),
            (r"[^\s#{},]+", Error),
        ],
        # What may be glued to a count: 64k5s2vRnL2=0.01, and braces inside it.
        "modifiers": [
            (r"k\d+(?:x\d+)?|s\d+|L2(?:=\d*\.?\d+(?:e-?\d+)?)?|[vn]", Name.Attribute),
            (r"[RTSEGWI]", Name.Builtin),
            (r"(?:k|s|L2=?)(?=\{)", Name.Attribute),
            (r"[{},]", Punctuation),
            (r"\d+(?:x\d+)?", Number.Integer),
            (r"[^\s#{},]", Error),
            default("#pop"),  # a blank or a comment ends the token
        ],
    }
