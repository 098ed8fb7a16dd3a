"""The notation's words, one table per concept, read by every stage.

Activation letters, augmentations, pools, Unicode fractions, modifier letters
and the named-line rule are defined here once: the parser and the formatter
read them, and so do the checker, the builder, model -> spec, the Pygments
lexer and the pictures.  Adding a letter is one edit here (plus the ``Literal``
of the IR, which a type checker needs spelled out; an assertion at the end of
this module keeps the two equal).  Pure Python: ``re`` and ``fractions`` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, get_args

# --------------------------------------------------------------------------
# Activations

Activation = Literal["R", "T", "S", "E", "G", "W", "I"]

#: Activation letter -> Keras activation name.  GELU is the exact form,
#: which is Keras 3's default (``approximate=False``).
ACTIVATIONS: dict[str, str] = {
    "R": "relu",
    "T": "tanh",
    "S": "sigmoid",
    "E": "elu",
    "G": "gelu",
    "W": "silu",
    "I": "linear",
}
ACTIVATION_LETTERS = "".join(ACTIVATIONS)
#: Keras activation name -> letter; Keras 3 also calls silu ``swish``.
ACTIVATION_BY_KERAS_NAME: dict[str, str] = {**{v: k for k, v in ACTIVATIONS.items()}, "swish": "W"}


# --------------------------------------------------------------------------
# Augmentations

AugmentName = Literal["flip", "vflip", "hvflip", "rot", "zoom", "shift", "contrast", "bright"]


@dataclass(frozen=True)
class Augmentation:
    """One ``A:`` item: its Keras layer and what its factor may be."""

    name: str
    keras_class: str
    #: Largest factor accepted; None: the item takes no factor (the flips).
    max_factor: float | None = None
    #: ``RandomFlip``'s mode, for the flips.
    flip_mode: str | None = None
    #: The Keras config key that holds the factor (model -> spec reads it back).
    factor_key: str | None = None


AUGMENTATIONS: dict[str, Augmentation] = {
    a.name: a
    for a in (
        Augmentation("flip", "RandomFlip", flip_mode="horizontal"),
        Augmentation("vflip", "RandomFlip", flip_mode="vertical"),
        Augmentation("hvflip", "RandomFlip", flip_mode="horizontal_and_vertical"),
        Augmentation("rot", "RandomRotation", 0.5, factor_key="factor"),
        Augmentation("zoom", "RandomZoom", 1.0, factor_key="height_factor"),
        Augmentation("shift", "RandomTranslation", 1.0, factor_key="height_factor"),
        Augmentation("contrast", "RandomContrast", 1.0, factor_key="factor"),
        Augmentation("bright", "RandomBrightness", 1.0, factor_key="factor"),
    )
}
#: ``RandomFlip`` mode -> augmentation name.
FLIP_BY_MODE: dict[str, str] = {a.flip_mode: a.name for a in AUGMENTATIONS.values() if a.flip_mode}
#: Keras classes of the augmentation layers.
AUGMENT_CLASSES: frozenset[str] = frozenset(a.keras_class for a in AUGMENTATIONS.values())


# --------------------------------------------------------------------------
# Pools

#: Pool item prefix -> op; ``p3`` is a 3x3 max pool, ``ap`` a 2x2 average pool.
POOLS: dict[str, Literal["max", "avg"]] = {"p": "max", "ap": "avg"}
#: Global pool item -> op.
GLOBAL_POOLS: dict[str, Literal["avg", "max"]] = {"gap": "avg", "gmp": "max"}
#: op -> Keras class.
POOL_CLASSES: dict[str, str] = {"max": "MaxPooling2D", "avg": "AveragePooling2D"}
GLOBAL_POOL_CLASSES: dict[str, str] = {"avg": "GlobalAveragePooling2D", "max": "GlobalMaxPooling2D"}
DEFAULT_POOL_SIZE = 2


# --------------------------------------------------------------------------
# Rates

UNICODE_FRACTIONS: dict[str, Fraction] = {
    "½": Fraction(1, 2), "⅓": Fraction(1, 3), "⅔": Fraction(2, 3),
    "¼": Fraction(1, 4), "¾": Fraction(3, 4), "⅕": Fraction(1, 5),
    "⅖": Fraction(2, 5), "⅗": Fraction(3, 5), "⅘": Fraction(4, 5),
    "⅙": Fraction(1, 6), "⅚": Fraction(5, 6), "⅐": Fraction(1, 7),
    "⅛": Fraction(1, 8), "⅜": Fraction(3, 8), "⅝": Fraction(5, 8),
    "⅞": Fraction(7, 8), "⅑": Fraction(1, 9), "⅒": Fraction(1, 10),
}  # fmt: skip
FRACTION_CHARS = "".join(UNICODE_FRACTIONS)
#: A plain decimal: ``25``, ``0.25``, ``.25``.
DECIMAL = r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
#: An L2 factor: a decimal with an optional lowercase exponent.
L2_NUMBER = DECIMAL + r"(?:e-?[0-9]+)?"


# --------------------------------------------------------------------------
# Modifiers glued to a count (``64k5s2vRnL2=0.01``)

#: Modifier key -> how messages name it (activations are the key ``act``).
MODIFIERS: dict[str, str] = {
    "k": "kernel size",
    "s": "stride",
    "v": "valid padding",
    "n": "batch norm",
    "L2": "L2",
    "act": "activation",
    # Version 2.
    "sep": "separable",
    "b": "batch norm before the activation",
    "B": "batch norm before the activation (no bias)",
}
#: Section -> the modifiers its units take; ``dw`` is a depthwise convolution's.
MODIFIERS_ALLOWED: dict[str, frozenset[str]] = {
    "C": frozenset({"k", "s", "L2", "v", "n", "act", "sep", "b", "B"}),
    "D": frozenset({"L2", "n", "act", "b", "B"}),
    "O": frozenset({"L2", "act"}),
    "dw": frozenset({"k", "s", "L2", "v", "n", "act", "b", "B"}),
}
#: The batch-norm modifiers, at most one of them on an item: ``n`` after the
#: activation, ``b`` before it, ``B`` before it and the layer without its bias.
NORM_MODIFIERS = ("n", "b", "B")
#: The separable-convolution modifier (``64sep``) and the depthwise item (``dw``).
SEPARABLE = "sep"
DEPTHWISE = "dw"
#: Bare items (version 2): a batch norm of its own, and the activation letters
#: that may stand alone (a bare ``I`` is an error: it would do nothing).
BARE_BATCHNORM = "n"
BARE_ACTIVATIONS = ACTIVATION_LETTERS.replace("I", "")
#: A residual block: ``[`` opens it, ``]+`` (with an optional activation letter) closes it.
BLOCK_OPEN = "["
BLOCK_CLOSE = "]+"
#: Pool modifiers after the size: a stride ``sK`` and ``z`` (padding "same").
POOL_SAME = "z"
#: L2 factor written as a bare ``L2``.
DEFAULT_L2 = 0.01


# --------------------------------------------------------------------------
# Sections and names

SECTION_ORDER = "IACDO"
SECTION_NAMES = {"I": "input", "A": "augmentation", "C": "convolution", "D": "dense", "O": "head"}
NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_.\-]*"
NAME_RE = re.compile(NAME_PATTERN)
# A line that starts a named spec: `name = ...`.  The `=` must be followed by
# a blank, the end of the line or a section header, so an item such as
# `L2=0.01` at the start of a continuation line is never taken for a name.
NAMED_LINE_LOOKAHEAD = r"(?=[ \t]|$|[A-Za-z][A-Za-z0-9_]*:)"
NAMED_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<name>[^\s=#:]+)[ \t]*=" + NAMED_LINE_LOOKAHEAD)


# --------------------------------------------------------------------------
# Bounds: every number is bounded before it is converted, each with its own
# error code (docs/notation.md, "Errors"), so that no later stage meets a
# number of thousands of digits.

#: Largest filter, unit or class count (E114).
MAX_COUNT = 100_000_000
#: Largest kernel size (E115), stride (E116) and pool size (E124): the largest input dimension.
MAX_KERNEL = MAX_STRIDE = MAX_POOL = 16384
#: Most digits in each number of a dropout rate (E131): ``d.12345678901234567891`` has 20.
MAX_RATE_DIGITS = 40
#: Most words (items and headers) in one spec (E108), and in a whole file, each
#: variant counted (E306, E608); most specs in a file, variants included (E305, E608).
#: They bound the work of one file: ``check`` and ``fmt`` stay well under 2 s.
MAX_ITEMS_PER_SPEC = 10_000
MAX_ITEMS_PER_FILE = 25_000
MAX_SPECS_PER_FILE = 1_000


assert set(get_args(Activation)) == set(ACTIVATIONS), "ACTIVATIONS and the Activation literal differ"
assert set(get_args(AugmentName)) == set(AUGMENTATIONS), "AUGMENTATIONS and the AugmentName literal differ"
