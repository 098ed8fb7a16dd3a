"""A Pygments lexer for the cnnspec notation (``.cnn`` files, ```` ```cnn ```` blocks).

Registered through the ``pygments.lexers`` entry point, so MkDocs, Sphinx,
Jupyter and anything else that asks Pygments for the language ``cnn`` gets
it once cnnspec is installed::

    >>> from pygments.lexers import get_lexer_by_name
    >>> get_lexer_by_name("cnn").name
    'cnnspec'

Highlighting is lenient, as an editor's must be: it colours what it
recognises (section headers, counts, modifiers, pools, rates, names,
variants in braces; version 2's strided and padded pools, ``b``/``B``,
``sep``, ``dw``, bare ``n`` and activation letters, and the ``[`` and ``]+R``
of residual blocks) and marks any other word as ``Error``.  The checker,
not the lexer, says what is valid.  Its word lists come from the
notation's vocabulary (pure Python); otherwise it imports only Pygments.
"""

from __future__ import annotations

from collections.abc import Iterable

from pygments.lexer import RegexLexer, bygroups, default
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, Whitespace

from cnnspec.notation.vocabulary import (
    ACTIVATION_LETTERS,
    AUGMENTATIONS,
    BARE_ACTIVATIONS,
    BARE_BATCHNORM,
    DEPTHWISE,
    FRACTION_CHARS,
    GLOBAL_POOLS,
    NAME_PATTERN,
    NAMED_LINE_LOOKAHEAD,
    POOL_SAME,
    POOLS,
    SECTION_ORDER,
    SEPARABLE,
)

__all__ = ["CnnSpecLexer"]


def _alternatives(words: Iterable[str]) -> str:
    # Longest first, so that `hvflip` is never read as `hv` + `flip`.
    return "|".join(sorted(words, key=lambda w: (-len(w), w)))


_FRACTIONS = FRACTION_CHARS
_FLIPS = _alternatives(a.name for a in AUGMENTATIONS.values() if a.max_factor is None)
_FACTOR_AUGMENTS = _alternatives(a.name for a in AUGMENTATIONS.values() if a.max_factor is not None)
_POOL_ITEMS = rf"(?:(?:{_alternatives(POOLS)})\d*(?:s\d+|{POOL_SAME})*|{_alternatives(GLOBAL_POOLS)})"
# A piece of a token ends at a blank, a comment, a brace or a block's `]`.
_END = r"(?=[\s#{},\]]|$)"
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
                rf"^([ \t]*)({NAME_PATTERN})([ \t]*)(=){NAMED_LINE_LOOKAHEAD}",
                bygroups(Whitespace, Name.Function, Whitespace, Operator),
            ),
            (rf"[{SECTION_ORDER}]:", Keyword.Declaration),
            (r"[A-Za-z][A-Za-z0-9_]*:", Error),  # unknown or lowercase section
            (r"[{,]", Punctuation),
            (r"\}", Punctuation, "modifiers"),  # `{16,32}n`: modifiers may follow
            # Residual blocks: `[` opens one, `]+` (and one activation letter) closes it.
            (r"\[", Punctuation),
            (rf"(\]\+)([{ACTIVATION_LETTERS}]?){_END}", bygroups(Punctuation, Name.Builtin)),
            (rf"{DEPTHWISE}", Keyword, "modifiers"),  # dws2B: a depthwise convolution
            # Bare items: a batch norm and activations as layers of their own.
            (rf"{BARE_BATCHNORM}{_END}", Name.Attribute),
            (rf"[{BARE_ACTIVATIONS}]{_END}", Name.Builtin),
            (rf"\d+(?:x\d+)+{_END}", Number.Integer),  # I: 32x32x3
            (rf"(d)({_RATE}){_END}", bygroups(Keyword, Number.Float)),
            (r"d(?=\{)", Keyword),
            (rf"{_POOL_ITEMS}{_END}", Keyword),
            (rf"(?:{_FLIPS}){_END}", Name.Builtin),
            (rf"({_FACTOR_AUGMENTS})({_DECIMAL}){_END}", bygroups(Name.Builtin, Number.Float)),
            (rf"(?:{_FACTOR_AUGMENTS})(?=\{{)", Name.Builtin),
            (rf"(?:[{_FRACTIONS}]|\d+/\d+|\.\d+|\d+(?:\.\d+)?%){_END}", Number.Float),  # a rate alone, in braces
            (r"\d+", Number.Integer, "modifiers"),
            (r"[^\s#{},\[\]]+|[\[\]]", Error),
        ],
        # What may be glued to a count: 64k5s2vRnL2=0.01, and braces inside it.
        "modifiers": [
            (rf"{SEPARABLE}|k\d+(?:x\d+)?|s\d+|L2(?:=\d*\.?\d+(?:e-?\d+)?)?|[vnbB]", Name.Attribute),
            (rf"[{ACTIVATION_LETTERS}]", Name.Builtin),
            (r"(?:k|s|L2=?)(?=\{)", Name.Attribute),
            (r"[{},]", Punctuation),
            (r"\d+(?:x\d+)?", Number.Integer),
            (r"[^\s#{},\]]", Error),
            default("#pop"),  # a blank, a comment or a block's `]` ends the token
        ],
    }
