"""The normative examples of NOTATION.md, parsed and checked.

Each test names the passage of NOTATION.md it holds: the implied-pool table
row by row, every error class of 'Errors' with its code, line and column,
the Unicode fractions, named multi-spec files, comments, headers touching
their first item, and items as whole tokens.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

import cnnspec
from cnnspec.network.sources import check_source
from cnnspec.notation.ir import (
    ActivationItem,
    BatchNorm,
    Block,
    Conv,
    Dense,
    Depthwise,
    Dropout,
    GlobalPool,
    NoPool,
    Pool,
)


def items(spec: cnnspec.Spec) -> list[str]:
    """The C: section in a short written form: conv16n, conv16s2, pool*, d1/4."""
    out = []
    for item in spec.conv or ():
        if isinstance(item, Conv):
            out.append(f"conv{item.filters}" + (f"s{item.stride}" if item.stride != 1 else "") + "n" * item.batchnorm)
        elif isinstance(item, Pool):
            out.append(
                ("ap" if item.op == "avg" else "pool") + (str(item.size) if item.size != 2 else "") + "*" * item.implied
            )
        elif isinstance(item, GlobalPool):
            out.append("gap" if item.op == "avg" else "gmp")
        elif isinstance(item, Dropout):
            out.append(f"d{item.rate}")
        elif isinstance(item, NoPool):
            out.append("p0")
    return out


def errors_of(text: str, **kw) -> list[tuple[str, int | None, int | None]]:
    """(code, line, column) of every error of every spec in ``text``."""
    out = []
    for result in check_source(text, **kw):
        for d in result.errors:
            out.append((d.code, d.span.line if d.span else None, d.span.column if d.span else None))
    return out


# --------------------------------------------------------------------------
# Implied pooling: the table of NOTATION.md, row by row

IMPLIED_TABLE = [
    (
        "C: 16n 16n d¼ 32n 32n d¼",
        ["conv16n", "conv16n", "pool*", "d1/4", "conv32n", "conv32n", "pool*", "d1/4"],
        ["Conv2D", "BatchNormalization", "Conv2D", "BatchNormalization", "MaxPooling2D*", "Dropout"] * 1
        + ["Conv2D", "BatchNormalization", "Conv2D", "BatchNormalization", "MaxPooling2D*", "Dropout"],
    ),
    ("C: 64 32", ["conv64", "pool*", "conv32", "pool*"], ["Conv2D", "MaxPooling2D*", "Conv2D", "MaxPooling2D*"]),
    ("C: 64 32 p0", ["conv64", "conv32", "p0"], ["Conv2D", "Conv2D"]),
    (
        "C: 16 d¼ 16",
        ["conv16", "pool*", "d1/4", "conv16", "pool*"],
        ["Conv2D", "MaxPooling2D*", "Dropout", "Conv2D", "MaxPooling2D*"],
    ),
    ("C: 16s2 16", ["conv16s2", "conv16", "pool*"], ["Conv2D", "Conv2D", "MaxPooling2D*"]),
    ("C: d¼ 16", ["d1/4", "conv16", "pool*"], ["Dropout", "Conv2D", "MaxPooling2D*"]),
    (
        "C: 16 16 32 16",
        ["conv16", "conv16", "pool*", "conv32", "pool*", "conv16", "pool*"],
        ["Conv2D", "Conv2D", "MaxPooling2D*", "Conv2D", "MaxPooling2D*", "Conv2D", "MaxPooling2D*"],
    ),
    (
        "C: 16 16 32 32 gap",
        ["conv16", "conv16", "conv32", "conv32", "gap"],
        ["Conv2D", "Conv2D", "Conv2D", "Conv2D", "GlobalAveragePooling2D"],
    ),
]


@pytest.mark.parametrize("text, expected, kinds", IMPLIED_TABLE, ids=[row[0] for row in IMPLIED_TABLE])
def test_implied_pool_table(text, expected, kinds):
    spec = cnnspec.parse(text)
    assert items(spec) == expected
    checked = cnnspec.check(spec, "32x32x3", 10)
    assert checked.ok
    body = [layer.kind + "*" * layer.implied for layer in checked.layers[1:-1] if layer.kind != "Flatten"]
    assert checked.layers[0].kind == "Rescaling" and checked.layers[-1].name == "head"
    assert body == kinds


@pytest.mark.parametrize(
    "text, expected",
    [
        # Any pooling item turns the rule off.
        ("C: 16 16 32 p", ["conv16", "conv16", "conv32", "pool"]),
        ("C: 16 ap3 32", ["conv16", "ap3", "conv32"]),
        ("C: 16 32 gmp", ["conv16", "conv32", "gmp"]),
        ("C: p0 16 32", ["p0", "conv16", "conv32"]),
        # Kernel sizes, strides and modifiers do not end a group; only the count does.
        ("C: 16k5 16s2vRn 16T", ["conv16", "conv16s2n", "conv16", "pool*"]),
        # The pool goes after the batch norm of the group's last conv and before a dropout.
        ("C: 8n d½ d⅓", ["conv8n", "pool*", "d1/2", "d1/3"]),
        # p2 is p.
        ("C: 8 p2 ap2", ["conv8", "pool", "ap"]),
        # No convolution, no implied pool.
        ("C: d¼", ["d1/4"]),
    ],
)
def test_implied_pool_rule(text, expected):
    assert items(cnnspec.parse(text)) == expected


def test_implied_pools_are_shown_and_spelled_out():
    spec = cnnspec.parse("C: 16n 16n d¼ 32n 32n d¼ D: 16R")
    assert cnnspec.format(spec) == "C: 16n 16n p d¼ 32n 32n p d¼ D: 16R"
    checked = cnnspec.check(spec, "32x32x3", 10)
    assert [layer.name for layer in checked.layers if layer.implied] == ["pool1", "pool2"]
    assert all(entry["implied"] for entry in checked.to_dict()["layers"] if entry["name"].startswith("pool"))
    # p0 is kept where there are no pools.
    assert cnnspec.format(cnnspec.parse("C: 64 32 p0")) == "C: 64 32 p0"


def test_implied_rule_is_purely_written():
    """The same text means the same layers whatever the input; a pool that
    would shrink the map below 1x1 is the shrink error at the group's last conv."""
    spec = cnnspec.parse("C: 16 16 32")
    assert cnnspec.check(spec, "8x8x1", 2).ok
    bad = cnnspec.check(spec, "2x2x1", 2)
    assert [(d.code, d.span.column) for d in bad.errors] == [("E402", 10)]
    assert "p0" in bad.errors[0].hint and "0x0x32" in bad.errors[0].message


# --------------------------------------------------------------------------
# Whole tokens, headers, comments, layout


def test_items_are_whole_tokens():
    assert errors_of("C: 16 k5") == [("E200", 1, 7)]
    assert errors_of("C: 16 k5", input_shape="8x8x1")[0] == ("E200", 1, 7)
    spec = cnnspec.parse("C: 16n")
    assert spec.conv[0].batchnorm
    # Version 2: a bare `n` is an item of its own, so `16 n` is conv16 then a batch norm.
    assert [i.kind for i in cnnspec.parse("C: 16 n").conv] == ["conv", "batchnorm", "pool"]


def test_header_may_touch_its_first_item():
    touching = cnnspec.parse("I:32x32x3 A:flip C:16 D:8R O:10")
    spaced = cnnspec.parse("I: 32x32x3 A: flip C: 16 D: 8R O: 10")
    assert cnnspec.format(touching) == cnnspec.format(spaced)


def test_comments_and_lines():
    text = "# the seed\nI: 32x32x3  # input\nC: 16n 16n d¼\n\t32n 32n d¼ # second block d5 16q\nD: 16R O: 10  #"
    spec = cnnspec.parse(text)
    assert cnnspec.format(spec) == "I: 32x32x3 C: 16n 16n p d¼ 32n 32n p d¼ D: 16R O: 10"
    # A comment may touch the token before it.
    assert cnnspec.format(cnnspec.parse("C: 16#x\n32")) == "C: 16 p 32 p"


def test_seed_strings_parse_verbatim():
    for text in ["C: 16n 16n d¼ 32n 32n d¼ D: 16R", "C: 16n 16n d¼ 32n 32n d¼ D: 8R 8R", "C: 64k5n", "C: 16k5v"]:
        cnnspec.parse(text)
    conv = cnnspec.parse("C: 64k5n").conv[0]
    assert (conv.filters, conv.kernel, conv.padding, conv.activation, conv.batchnorm) == (64, (5, 5), "same", "R", True)
    conv = cnnspec.parse("C: 16k5v").conv[0]
    assert (conv.kernel, conv.padding) == ((5, 5), "valid")


def test_modifiers_in_any_order():
    a = cnnspec.parse("C: 64k3x5s2vTnL2=0.001").conv[0]
    b = cnnspec.parse("C: 64L2=1e-3nTvs2k3x5").conv[0]
    assert a.model_dump(exclude={"span", "text"}) == b.model_dump(exclude={"span", "text"})
    assert (a.kernel, a.stride, a.padding, a.activation, a.batchnorm, a.l2) == ((3, 5), 2, "valid", "T", True, 0.001)
    assert cnnspec.parse("C: 16L2").conv[0].l2 == 0.01


def test_dense_and_head_defaults():
    spec = cnnspec.parse("D: 16 16R 64RL2 8n O: 10")
    dense = [d for d in spec.dense if isinstance(d, Dense)]
    assert [(d.activation, d.batchnorm, d.l2) for d in dense] == [
        ("I", False, None),
        ("R", False, None),
        ("R", False, 0.01),
        ("I", True, None),
    ]
    assert spec.head.keras_activation == "softmax"
    assert cnnspec.parse("D: 4 O: 1").head.keras_activation == "sigmoid"
    assert cnnspec.parse("D: 4 O: 1S").head.keras_activation == "sigmoid"
    assert cnnspec.parse("D: 4 O: 10I").head.keras_activation == "linear"
    assert cnnspec.parse("C: 4").conv[0].activation == "R"


def test_dense_dropout_first_is_flatten_then_dropout():
    checked = cnnspec.check(cnnspec.parse("D: d½"), "4x4x2", 3)
    assert [layer.kind for layer in checked.layers] == ["Rescaling", "Flatten", "Dropout", "Dense"]
    # Already flat after gap: no Flatten.
    checked = cnnspec.check(cnnspec.parse("C: 8 gap D: 4"), "4x4x2", 3)
    assert "Flatten" not in [layer.kind for layer in checked.layers]


# --------------------------------------------------------------------------
# Rates

UNICODE = {
    "½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5),
    "⅖": (2, 5), "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅐": (1, 7),
    "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8), "⅞": (7, 8), "⅑": (1, 9), "⅒": (1, 10),
}  # fmt: skip


@pytest.mark.parametrize("char", list(UNICODE))
def test_unicode_fractions(char):
    rate = cnnspec.parse(f"C: 16 d{char} D: d{char}").conv[-1].rate
    assert rate == Fraction(*UNICODE[char])
    assert cnnspec.format(cnnspec.parse(f"D: d{char}")) == f"D: d{char}"


@pytest.mark.parametrize(
    "written, rate",
    [
        ("1/4", Fraction(1, 4)),
        (".25", Fraction(1, 4)),
        ("0.25", Fraction(1, 4)),
        ("25%", Fraction(1, 4)),
        ("12.5%", Fraction(1, 8)),
        ("0", Fraction(0)),
        ("0.0", Fraction(0)),
        ("0/3", Fraction(0)),
        ("2/6", Fraction(1, 3)),
        (".1", Fraction(1, 10)),
        ("99.9%", Fraction(999, 1000)),
    ],
)
def test_rate_syntaxes_are_exact(written, rate):
    assert cnnspec.parse(f"D: d{written}").dense[0].rate == rate


@pytest.mark.parametrize(
    "written",
    ["5", "1", "1.0", "100%", "1/1", "3/2", "1/0", "", ".", "0.", "1e-1", "⅟", "↉", "1\u20444", "½½", "-.1", "x", "¼%"],
)
def test_bad_rates(written):
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse(f"C: 16 d{written}")
    [diag] = exc.value.diagnostics
    # The caret is under the rate; under the `d` when the rate is missing.
    assert (diag.code, diag.span.line, diag.span.column) == ("E130", 1, 8 if written else 7)


def test_rate_hints():
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse("C: d5")
    assert "d.5" in exc.value.diagnostics[0].hint and "d5%" in exc.value.diagnostics[0].hint


# --------------------------------------------------------------------------
# Files

TABLE = """\
# the experiment table
m26 = C: 16n 16n d¼ 32n 32n d¼ D: 16R
m28 = C: 16n 16n d¼ 32n 32n d¼
      D: 8R 8R
"""


def test_named_multi_spec_file():
    parsed = cnnspec.parse_file(TABLE)
    assert [s.name for s in parsed.specs] == ["m26", "m28"]
    assert cnnspec.format(parsed["m28"]) == "C: 16n 16n p d¼ 32n 32n p d¼ D: 8R 8R"
    assert parsed["m28"].dense[0].span.line == 4
    assert cnnspec.format_file(parsed) == (
        "m26 = C: 16n 16n p d¼ 32n 32n p d¼ D: 16R\nm28 = C: 16n 16n p d¼ 32n 32n p d¼ D: 8R 8R\n"
    )
    # Each named spec means what it means alone.
    alone = cnnspec.parse("C: 16n 16n d¼ 32n 32n d¼ D: 8R 8R")

    def rows(spec):
        return [(a.name, a.kind, a.output_shape, a.params) for a in cnnspec.check(spec, "32x32x3", 10).layers]

    assert rows(parsed["m28"]) == rows(alone)


@pytest.mark.parametrize("name", ["m", "M_1", "_x", "net.v2", "a-b", "x9.-_"])
def test_spec_names(name):
    assert cnnspec.parse_file(f"{name} = C: 4\n").specs[0].name == name


def test_unnamed_multi_line_spec():
    spec = cnnspec.parse("I: 8x8x1\nC: 4\n   8\nD: 2")
    assert spec.name is None and items(spec) == ["conv4", "pool*", "conv8", "pool*"]


# --------------------------------------------------------------------------
# Errors: every class listed in NOTATION.md, with its code, line and column

ERRORS = [
    # unknown section, repeated, out of order, empty, neither C: nor D:
    ("X: 16 C: 4", [("E103", 1, 1)]),
    ("C: 16 C: 32", [("E104", 1, 7)]),
    ("D: 16 C: 32", [("E105", 1, 7)]),
    ("C: 16 D:", [("E106", 1, 7)]),
    ("I: 8x8x1 O: 10", [("E107", 1, 1)]),
    # unknown item or modifier, repeated modifier, two activations, not allowed, wrong case
    ("C: 16 q", [("E200", 1, 7)]),
    ("C: 16q", [("E201", 1, 6)]),
    ("C: 16k3k5", [("E202", 1, 8)]),
    ("C: 16nn", [("E202", 1, 7)]),
    ("C: 16RT", [("E203", 1, 7)]),
    ("D: 16k3", [("E204", 1, 6)]),
    ("D: 16s2", [("E204", 1, 6)]),
    ("D: 16v", [("E204", 1, 6)]),
    ("C: 4 O: 10n", [("E204", 1, 11)]),
    ("D: 8 p", [("E205", 1, 6)]),
    ("C: 16r", [("E201", 1, 6)]),
    ("c: 16 D: 4", [("E102", 1, 1)]),
    ("C: 4 P", [("E200", 1, 6)]),
    # counts, kernels, strides of 0
    ("C: 0", [("E110", 1, 4)]),
    ("D: 0", [("E110", 1, 4)]),
    ("C: 4 O: 0", [("E110", 1, 9)]),
    ("C: 16k0", [("E111", 1, 6)]),
    ("C: 16k3x0", [("E111", 1, 6)]),
    ("C: 16s0", [("E112", 1, 6)]),
    # rates; augmentation unknown, repeated, factor missing or out of bounds
    ("C: d5", [("E130", 1, 5)]),
    ("C: d1/0", [("E130", 1, 5)]),
    ("A: foo C: 16", [("E170", 1, 4)]),
    ("A: flip flip C: 16", [("E175", 1, 9)]),
    ("A: rot C: 16", [("E172", 1, 4)]),
    ("A: rot.6 C: 16", [("E174", 1, 4)]),
    ("A: zoom0 C: 16", [("E174", 1, 4)]),
    ("A: zoom1.5 C: 16", [("E174", 1, 4)]),
    ("A: flip.1 C: 16", [("E171", 1, 4)]),
    # map shrinking below 1x1, implied pools included; items after gap/gmp
    ("I: 4x4x1 C: 16k5v p0", [("E401", 1, 13)]),
    ("I: 2x2x1 C: 16 16 32", [("E402", 1, 19)]),
    ("I: 1x1x1 C: 8 8k5s2 d½", [("E402", 1, 15)]),
    ("I: 3x3x1 C: 4 p3 p", [("E402", 1, 18)]),
    ("C: 16 gap 16", [("E123", 1, 11)]),
    ("C: 16 gmp p", [("E123", 1, 11)]),
    # p0 beside another pool or repeated; p1
    ("C: 16 p0 p0", [("E121", 1, 10)]),
    ("C: 16 p0 p", [("E122", 1, 7)]),
    ("C: 16 p1", [("E120", 1, 7)]),
    # I: of the wrong form or too large
    ("I: 28x28 C: 4", [("E161", 1, 4)]),
    ("I: 0x28x1 C: 4", [("E162", 1, 4)]),
    ("I: abc C: 4", [("E160", 1, 4)]),
    ("I: 5000x5000x3 C: 4", [("E163", 1, 4)]),
    # head
    ("C: 4 O: 10S", [("E151", 1, 9)]),
    ("C: 4 O: 10 2", [("E150", 1, 12)]),
    # L2 factor
    ("C: 16L2=0", [("E113", 1, 6)]),
    ("C: 16L2=1e999", [("E113", 1, 6)]),
    # items before any header
    ("16 C: 16", [("E100", 1, 1)]),
    # whitespace other than space, tab, newline separates nothing; the rest is still checked
    ("C: 16\u00a0D: 8", [("E002", 1, 6)]),
    ("C:\u300016 16q", [("E002", 1, 3), ("E201", 1, 9)]),
    ("C: 16\x0b32", [("E002", 1, 6)]),
    # errors on later lines, after tabs and Unicode
    ("I: 8x8x1\nC: 16 d¼\n\t32q", [("E201", 3, 4)]),
    ("C: d¼ d¼ 16RT", [("E203", 1, 13)]),
]


@pytest.mark.parametrize("text, expected", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_classes(text, expected):
    assert errors_of(text, input_shape=None if "I:" in text else "32x32x3") == expected
    with pytest.raises(cnnspec.SpecError):
        spec = cnnspec.parse(text)
        checked = cnnspec.check(spec, None if "I:" in text else "32x32x3")
        if checked.errors:
            raise cnnspec.SpecError(list(checked.errors), text)


FILE_ERRORS = [
    ("1abc = C: 16\n", [("E302", 1, 1)]),
    ("m = C: 16\nm = C: 32\n", [("E303", 2, 1)]),
    ("C: 16\nm = C: 32\n", [("E301", 1, 1)]),
    ("m = C: 16\n  16q\nn = D: 0\n", [("E201", 2, 5), ("E110", 3, 8)]),
]


@pytest.mark.parametrize("text, expected", FILE_ERRORS, ids=[e[0] for e in FILE_ERRORS])
def test_file_errors(text, expected):
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse_file(text)
    assert [(d.code, d.span.line, d.span.column) for d in exc.value.diagnostics] == expected


def test_all_errors_are_reported():
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse("A: rot C: 16q 0 d5 D: 8k3 O: 10S")
    assert [d.code for d in exc.value.diagnostics] == ["E172", "E201", "E110", "E130", "E204", "E151"]


def test_error_rendering_has_location_caret_and_hint():
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse("C: 16n 16r", origin="model.cnn")
    assert str(exc.value).splitlines() == [
        "model.cnn:1:10: error[E201]: unknown modifier 'r' in '16r': expected k, s, v, n, L2 or one of RTSEGWI",
        "  C: 16n 16r",
        "           ^",
        "  hint: activation letters are uppercase: 16R",
    ]


def test_error_hints():
    def hint(text: str, **kw) -> str:
        [result] = check_source(text, **kw)
        return result.errors[0].hint or ""

    assert "28x28x1" in hint("I: 28x28 C: 4") and "28x28x3" in hint("I: 28x28 C: 4")
    assert "p0" in hint("I: 1x1x1 C: 4")
    assert "16k5" in hint("C: 16 k5")
    assert "C:" in hint("c: 16 D: 4")


def test_shrink_error_names_layer_and_size():
    [result] = check_source("I: 4x4x1 C: 16k5v p0")
    message = result.errors[0].message
    assert "16k5v" in message and "0x0x16" in message and "4x4x1" in message


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_spec(text):
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse(text)
    [diag] = exc.value.diagnostics
    assert (diag.code, diag.span.line, diag.span.column) == ("E101", 1, 1)


def test_empty_named_spec_points_at_its_line():
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse_file("m = C: 4\nn = \n")
    [diag] = exc.value.diagnostics
    assert (diag.code, diag.span.line, diag.spec) == ("E101", 2, "n")


def codes_of(text: str) -> list[str]:
    """The error codes of a spec that must not parse."""
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse(text)
    return [d.code for d in exc.value.diagnostics]


def test_a_rate_that_is_one_as_a_float_is_refused():
    # Exactly below 1 as a fraction, but Keras receives float(rate) == 1.0.
    assert float(Fraction(".99999999999999999999")) == 1.0
    assert codes_of("C: 4 d.99999999999999999999") == ["E130"]


def test_l2_with_a_value_that_is_not_a_number():
    assert codes_of("C: 16L2=-1") == ["E113"]
    assert codes_of("C: 16L2=xR") == ["E113"]


def test_convolution_only_modifiers_in_the_head_say_so():
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse("D: 8 O: 10k3")
    (diag,) = exc.value.diagnostics
    assert diag.code == "E204" and diag.message.endswith("only in convolutions")


def test_an_uppercase_l2_exponent_gets_a_hint():
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse("C: 16L2=1E-3")
    (diag,) = exc.value.diagnostics
    assert diag.code == "E201" and diag.hint is not None and "16L2=1e-3" in diag.hint
    assert cnnspec.parse("C: 16L2=1e-3").conv[0].l2 == 1e-3


# --------------------------------------------------------------------------
# One vocabulary (LAYOUT.md §4 #4): every stage reads the same tables


def test_every_vocabulary_word_is_read_the_same_by_parser_checker_formatter_and_lexer():
    from pygments.token import Error

    from cnnspec.display.lexer import CnnSpecLexer
    from cnnspec.notation.vocabulary import ACTIVATIONS, AUGMENTATIONS, GLOBAL_POOLS, POOLS, UNICODE_FRACTIONS

    lexer = CnnSpecLexer()
    for name, aug in AUGMENTATIONS.items():
        item = name if aug.max_factor is None else f"{name}.1"
        text = f"I: 8x8x3 A: {item} C: 4"
        checked = cnnspec.check(cnnspec.parse(text))
        assert checked.layers[0].kind == aug.keras_class
        assert cnnspec.format(cnnspec.parse(text)).startswith(f"I: 8x8x3 A: {item} ")
        assert Error not in [t for t, _ in lexer.get_tokens(text)], text
    for letter, keras_name in ACTIVATIONS.items():
        text = f"C: 4{letter} D: 3{letter}"
        spec = cnnspec.parse(text)
        assert spec.conv[0].activation == letter and spec.dense[0].activation == letter
        assert cnnspec.parse(f"C: 4 O: 1{letter}").head.keras_activation == keras_name
        assert Error not in [t for t, _ in lexer.get_tokens(text)], text
    for prefix, op in POOLS.items():
        pool = cnnspec.parse(f"C: 4 {prefix}3").conv[1]
        assert isinstance(pool, Pool) and (pool.op, pool.size) == (op, 3)
    for word, op in GLOBAL_POOLS.items():
        assert cnnspec.parse(f"C: 4 {word}").conv[1] == GlobalPool(span=cnnspec.parse(f"C: 4 {word}").conv[1].span,
                                                                  text=word, op=op)  # fmt: skip
    for char, rate in UNICODE_FRACTIONS.items():
        assert cnnspec.parse(f"C: 4 d{char}").conv[-1].rate == rate
        assert cnnspec.format(cnnspec.parse(f"C: 4 p d{char}")) == f"C: 4 p d{char}"


def test_own_text_is_a_named_specs_own_lines():
    """LAYOUT.md §4 #9: the spec as written was worked out twice (train, pictures)."""
    text = "# two\na = C: 4\n  D: 8R  # dense\nb = C: 8\n"
    a, b = cnnspec.parse_file(text).specs
    assert a.own_text == "a = C: 4\n  D: 8R  # dense" and b.own_text == "b = C: 8"
    assert cnnspec.parse("C: 4 D: 8R").own_text == "C: 4 D: 8R"


def test_parse_file_and_expand_file_raise_alike():
    from cnnspec.notation.parser import parse_file_results
    from cnnspec.notation.variants import expand_file, expand_results

    text = "a = C: 4q\nb = C: {4,8}r\n"
    with pytest.raises(cnnspec.SpecError) as plain:
        cnnspec.parse_file(text)
    assert plain.value.diagnostics == parse_file_results(text).all_errors
    with pytest.raises(cnnspec.SpecError) as expanded:
        expand_file(text)
    assert expanded.value.diagnostics == expand_results(text).all_errors and expanded.value.source == text


# ==========================================================================
# Version 2 (NOTATION.md, "Version 2"): one test per rule the parser holds,
# each named after its passage.


def kinds(text: str) -> list[str]:
    """The C: (or D:) items of a spec as short words: conv16, dw, pool*, n, R, [ … ]+R."""

    def word(item) -> str:
        if isinstance(item, Block):
            return "[" + " ".join(word(i) for i in item.items) + "]+" + (item.activation or "")
        if isinstance(item, Conv):
            return f"conv{item.filters}"
        if isinstance(item, Depthwise):
            return "dw"
        if isinstance(item, Pool):
            return "pool" + "*" * item.implied
        if isinstance(item, BatchNorm):
            return "n"
        if isinstance(item, ActivationItem):
            return item.activation
        if isinstance(item, Dense):
            return f"dense{item.units}"
        return {Dropout: "d", GlobalPool: "gap", NoPool: "p0"}[type(item)]

    spec = cnnspec.parse(text)
    return [word(i) for i in (spec.conv or spec.dense or ())]


def canonical(text: str) -> str:
    return cnnspec.format(cnnspec.parse(text))


def v2_errors(text: str) -> list[tuple[str, int, int]]:
    """(code, line, column) of the parse errors of ``text``."""
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse(text)
    return [(d.code, d.span.line, d.span.column) for d in exc.value.diagnostics]


def hint_of(text: str) -> str:
    with pytest.raises(cnnspec.SpecError) as exc:
        cnnspec.parse(text)
    return exc.value.diagnostics[0].hint or ""


# --------------------------------------------------------------------------
# Tokens: brackets


@pytest.mark.parametrize("text", ["C: [64 64]+", "C: [ 64 64]+", "C:[64 64]+", "C: [64 64 ]+", "C: [\n64\n64]+"])
def test_v2_tokens_brackets_a_leading_bracket_opens_a_block_before_its_item(text):
    assert kinds(text) == ["[conv64 conv64]+"]


def test_v2_tokens_brackets_the_close_and_one_letter_are_split_off_the_end():
    [block] = cnnspec.parse("C: [64b 64In]+R").conv
    assert block.items[1].text == "64In" and block.items[1].batchnorm and block.items[1].activation == "I"
    assert (block.activation, block.close_text, block.close.column, block.close.length) == ("R", "]+R", 13, 3)
    assert kinds("C: [64]+") == ["[conv64]+"]  # a block of one convolution


def test_v2_tokens_brackets_empty_nested_and_glued_blocks_are_errors():
    assert v2_errors("C: []+") == [("E144", 1, 4)]
    assert v2_errors("C: [[64 64]+ 32]+") == [("E143", 1, 5)]
    assert v2_errors("C: 16]") == [("E142", 1, 6)]
    for text in ("C: [64]+[64]+", "C: [64]+64"):
        assert v2_errors(text) == [("E142", 1, 9)]
        assert "put a blank after ]+" in hint_of(text)


def test_v2_tokens_brackets_a_comment_ends_a_token_and_blocks_span_lines():
    assert kinds("C: [64# the first\n  64]+R# the second\n  16") == ["[conv64 conv64]+R", "conv16"]


def test_v2_tokens_brackets_a_block_cannot_cross_a_section_header():
    assert v2_errors("C: [64 D: 8]+") == [("E140", 1, 4), ("E146", 1, 12)]


def test_v2_tokens_brackets_braces_expand_before_parsing():
    from cnnspec.notation.variants import expand_file

    forms = [cnnspec.format(s) for s in expand_file("C: [{16,32} 64]+").specs]
    assert forms == ["C: [16 64]+", "C: [32 64]+"]


# --------------------------------------------------------------------------
# What each item builds (the IR; the checker and the builder make the layers)


def test_v2_what_each_item_builds_the_ir_of_each_row():
    c = cnnspec.parse("C: 16 16n 16b 16B 16In 16Ib 16I R 64sep dwb n R p0").conv
    assert [(x.activation, x.batchnorm, x.prenorm, x.use_bias) for x in c[:6]] == [
        ("R", False, None, True),
        ("R", True, None, True),
        ("R", False, "b", True),
        ("R", False, "B", False),
        ("I", True, None, True),
        ("I", False, "b", True),
    ]
    assert isinstance(c[6], Conv) and c[6].activation == "I" and c[7] == ActivationItem(span=c[7].span, text="R",
                                                                                       activation="R")  # fmt: skip
    assert c[8].separable and isinstance(c[9], Depthwise) and c[9].prenorm == "b" and c[9].activation == "R"
    assert isinstance(c[10], BatchNorm) and isinstance(c[11], ActivationItem)


def test_v2_what_each_item_builds_the_layers_in_order():
    def layers(text):
        checked = cnnspec.check(cnnspec.parse(text), "8x8x3", 2)
        return [x.kind for x in checked.layers[1:] if x.kind not in ("MaxPooling2D", "Flatten", "Dense")]

    assert layers("C: 16b") == ["Conv2D", "BatchNormalization", "Activation"]
    assert layers("C: 16In") == layers("C: 16Ib") == ["Conv2D", "BatchNormalization"]
    assert layers("C: 16I R") == ["Conv2D", "Activation"]
    assert layers("C: 64sep") == ["SeparableConv2D"]
    assert layers("C: dwb p0") == ["DepthwiseConv2D", "BatchNormalization", "Activation"]


# --------------------------------------------------------------------------
# Pools with a stride and padding


def _pool(text: str) -> tuple[str, int, int, str]:
    p = cnnspec.parse(f"C: 4 {text}").conv[1]
    assert isinstance(p, Pool)
    return p.op, p.size, p.strides, p.padding


@pytest.mark.parametrize(
    "written, layer",
    [
        ("p3s2", ("max", 3, 2, "valid")),
        ("p2s1", ("max", 2, 1, "valid")),
        ("p3s2z", ("max", 3, 2, "same")),
        ("pz", ("max", 2, 2, "same")),
        ("ap3s2", ("avg", 3, 2, "valid")),
        # The size defaults to 2, the stride to the size; s and z in either order.
        ("ps1", ("max", 2, 1, "valid")),
        ("p3zs2", ("max", 3, 2, "same")),
        ("p3", ("max", 3, 3, "valid")),
        ("p2s3", ("max", 2, 3, "valid")),  # a stride larger than the size is allowed
    ],
)
def test_v2_pools_with_a_stride_and_padding_the_table(written, layer):
    assert _pool(written) == layer


def test_v2_pools_with_a_stride_and_padding_errors_and_hints():
    assert v2_errors("C: p1s2") == [("E120", 1, 4)] and "strided convolution" in hint_of("C: p1s2")
    assert v2_errors("C: p3s0") == [("E112", 1, 6)]
    assert v2_errors("C: p3v") == [("E201", 1, 6)] and "z" in hint_of("C: p3v") and "valid" in hint_of("C: p3v")
    assert v2_errors("C: pz3") == [("E201", 1, 6)] and "p3z" in hint_of("C: pz3")
    assert v2_errors("C: p3s2s2") == [("E202", 1, 8)]
    assert v2_errors("C: p3zz") == [("E202", 1, 7)]
    assert v2_errors("C: p0s2") == [("E201", 1, 6)]
    assert v2_errors("C: 4 gapz") == [("E201", 1, 9)]
    assert v2_errors("C: 4 gmps2") == [("E201", 1, 9)]
    assert v2_errors("C: 16z") == [("E201", 1, 6)] and "same" in hint_of("C: 16z") and "v" in hint_of("C: 16z")


@pytest.mark.parametrize(
    "written, form",
    [("p3s2", "p3s2"), ("ps1", "p2s1"), ("pz", "p2z"), ("p3zs2", "p3s2z"), ("p3s3", "p3"), ("p2s2z", "p2z"),
     ("p2s2", "p"), ("ap2", "ap"), ("ap3s3z", "ap3z")],
)  # fmt: skip
def test_v2_pools_with_a_stride_and_padding_canonical_form(written, form):
    assert canonical(f"C: 4 {written}") == f"C: 4 {form}"


# --------------------------------------------------------------------------
# Batch normalization before the activation: b and B


def test_v2_b_and_B_on_a_convolution_sep_dw_and_dense():
    assert [i.prenorm for i in cnnspec.parse("C: 16b 16B 64sepb dwB p0").conv[:4]] == ["b", "B", "b", "B"]
    dense = cnnspec.parse("D: 64bR").dense[0]
    assert (dense.prenorm, dense.activation, dense.use_bias) == ("b", "R", True)


def test_v2_b_and_B_at_most_one_of_n_b_B():
    for text in ("C: 16nb", "C: 16bB", "C: 16Bn", "D: 8bn"):
        assert v2_errors(text)[0][0] == "E202"
        assert hint_of(text) == "n for after the activation, b for before"


def test_v2_b_and_B_in_the_head_and_bare():
    assert v2_errors("C: 4 O: 10b") == [("E204", 1, 11)]
    assert v2_errors("C: 4 O: 10B") == [("E204", 1, 11)]
    assert v2_errors("C: 4 b") == [("E200", 1, 6)]
    assert hint_of("C: 4 B") == "B is a modifier, 16B; a batch norm of its own is n"


def test_v2_b_and_B_with_the_identity():
    assert canonical("C: 16Ib p0") == "C: 16In p0"
    assert canonical("C: 16IB p0") == "C: 16BI p0"  # no bias: stays B, in the canonical order
    assert canonical("D: 64b") == "D: 64n"
    assert cnnspec.parse("D: 64b").dense[0].prenorm == "b"  # the IR keeps what was written (W508)


def test_v2_b_and_B_canonical_order():
    assert canonical("D: 64Rb 64nR 8L2b") == "D: 64bR 64Rn 8nL2"  # b without an activation is n
    assert canonical("C: 64bk5sepvs2 p0") == "C: 64sepk5s2vb p0"
    assert canonical("C: dwL2Tbvs2k5 p0") == "C: dwk5s2vbTL2 p0"


# --------------------------------------------------------------------------
# Bare items


def test_v2_bare_items_in_c_d_and_blocks():
    assert kinds("C: 16 n R T S E G W p0") == ["conv16", "n", "R", "T", "S", "E", "G", "W", "p0"]
    assert kinds("D: n 300R") == ["n", "dense300"]
    assert kinds("C: [16 n R]+") == ["[conv16 n R]+"]


def test_v2_bare_items_in_a_i_and_o_get_those_sections_errors():
    assert v2_errors("A: n C: 4") == [("E170", 1, 4)]
    assert v2_errors("I: R C: 4") == [("E160", 1, 4)]
    assert v2_errors("C: 4 O: n") == [("E150", 1, 9)]


def test_v2_bare_items_a_bare_identity_is_an_error():
    assert v2_errors("C: 4 I") == [("E200", 1, 6)]
    assert hint_of("D: 4 I") == "I is the identity: leave it out"


def test_v2_bare_items_only_dropouts_follow_gap():
    assert v2_errors("C: 32 gap n") == [("E123", 1, 11)]
    assert "C: 32 gap D: n d½" in hint_of("C: 32 gap n")


def test_v2_groups_amended():
    # A convolution's own layers: the bare n and activations right after it.
    assert kinds("C: 16I n R 16") == ["conv16", "n", "R", "conv16", "pool*"]
    assert kinds("C: 16I n R") == ["conv16", "n", "R", "pool*"]  # the pool after b's activation too
    # Any other item ends the group: a dropout, dw, a bare item no convolution owns.
    assert kinds("C: 16 d¼ n 16") == ["conv16", "pool*", "d", "n", "conv16", "pool*"]
    assert kinds("C: 16 dw n 16") == ["conv16", "pool*", "dw", "n", "conv16", "pool*"]
    assert kinds("C: n 16") == ["n", "conv16", "pool*"]


def test_v2_the_formatter_never_merges_or_splits_items():
    assert canonical("C: 16 n") == "C: 16 n p" and canonical("C: 16n") == "C: 16n p"
    assert canonical("C: 32I n R") == "C: 32I n R p" and canonical("C: 32b") == "C: 32b p"


# --------------------------------------------------------------------------
# Separable and depthwise convolutions


def test_v2_sep_modifiers_in_any_order():
    a, b = cnnspec.parse("C: 64k5sep 64sepk5 p0").conv[:2]
    assert a.model_dump(exclude={"span", "text"}) == b.model_dump(exclude={"span", "text"})
    c = cnnspec.parse("C: 64sepk5s2b p0").conv[0]
    assert (c.separable, c.kernel, c.stride, c.prenorm) == (True, (5, 5), 2, "b")
    assert v2_errors("C: 64Sep") == [("E201", 1, 6)] and "64sep" in hint_of("C: 64Sep")


def test_v2_dw_keeps_the_channel_count_and_has_no_count():
    ir = cnnspec.parse("C: dw dwk5 dws2b dwvI p0").conv
    assert all(isinstance(x, Depthwise) for x in ir[:4])
    assert [(x.kernel, x.stride, x.padding, x.activation, x.prenorm) for x in ir[:4]] == [
        ((3, 3), 1, "same", "R", None),
        ((5, 5), 1, "same", "R", None),
        ((3, 3), 2, "same", "R", "b"),
        ((3, 3), 1, "valid", "I", None),
    ]
    assert kinds("C: dwnL2 p0") == ["dw", "p0"]  # one token, never a dropout
    assert v2_errors("C: 32dw") == [("E201", 1, 6)] and "32k1" in hint_of("C: 32dw")
    assert v2_errors("C: dw2") == [("E201", 1, 6)]


def test_v2_sep_and_dw_implied_pools():
    assert kinds("C: 32 dw 64k1") == ["conv32", "pool*", "dw", "conv64", "pool*"]
    assert kinds("C: 64 64sep") == ["conv64", "conv64", "pool*"]  # a sep convolution is a convolution
    assert kinds("C: dw n R") == ["dw", "n", "R"]  # no pool follows dw


def test_v2_sep_and_dw_outside_c():
    assert v2_errors("D: 64sep") == [("E204", 1, 6)]
    assert v2_errors("C: 4 O: 10sep") == [("E204", 1, 11)]
    assert v2_errors("D: dw") == [("E205", 1, 4)]
    assert v2_errors("C: 4 O: dw") == [("E150", 1, 9)]
    assert v2_errors("D: [8]+") == [("E146", 1, 4), ("E146", 1, 6)]


# --------------------------------------------------------------------------
# Residual blocks


def test_v2_residual_blocks_the_activation_after_the_addition():
    assert [b.activation for b in cnnspec.parse("C: [16]+ [16]+R [16]+I [16]+T").conv] == [None, "R", None, "T"]
    assert canonical("C: [16]+I") == "C: [16]+"


def test_v2_residual_blocks_hold_a_convolution_and_otherwise_pools_dropouts_bare_items():
    assert kinds("C: [16 p d½ n R]+") == ["[conv16 pool d n R]+"]
    assert kinds("C: [dw]+ [16sep]+") == ["[dw]+", "[conv16]+"]
    assert v2_errors("C: [d½ n]+") == [("E144", 1, 4)]
    assert v2_errors("C: [16 gap]+") == [("E145", 1, 8)]
    assert v2_errors("C: [16 gmp]+") == [("E145", 1, 8)]
    assert v2_errors("C: [16 p0]+") == [("E145", 1, 8)]


def test_v2_residual_blocks_structural_errors_point_at_their_brackets():
    assert v2_errors("C: 16 [16 16") == [("E140", 1, 7)]
    assert v2_errors("C: 16 16]+") == [("E141", 1, 9)]
    assert v2_errors("C: [16]x") == [("E142", 1, 7)]
    assert v2_errors("C: [16]+RT") == [("E142", 1, 9)]
    assert v2_errors("C: [16]+r") == [("E142", 1, 9)]


def test_v2_residual_blocks_the_items_inside_are_items_of_the_section():
    assert v2_errors("C: [16 p]+ p0") == [("E122", 1, 12)]  # a pool inside a block is a pooling item
    assert kinds("C: 16 [16 16]+ 32") == ["conv16", "[conv16 conv16]+", "conv32"]  # no implied pools
    assert kinds("C: [16]+ p0") == ["[conv16]+", "p0"] and canonical("C: [16]+ p0") == "C: [16]+"


def test_v2_the_ir_of_a_block_and_the_json_schema():
    spec = cnnspec.parse("C: [16 16In]+R gap")
    assert spec.has_blocks and not spec.has_implied_pools
    assert cnnspec.Spec.model_validate_json(spec.model_dump_json()) == spec
    from cnnspec.notation.ir import SpecFile

    schema = json.dumps(SpecFile.model_json_schema())
    for node in ("Block", "Depthwise", "BatchNorm", "ActivationItem", "prenorm", "separable", "padding"):
        assert node in schema
    from golden_util import run_cli

    run = run_cli(["schema"])
    assert run.exit_code == 0 and json.loads(run.output) == SpecFile.model_json_schema()


# --------------------------------------------------------------------------
# Examples (normative)


V2_EXAMPLES = [
    ("C: 32b [32b 32In]+R [64s2b 64In]+R gap", ["conv32", "[conv32 conv32]+R", "[conv64 conv64]+R", "gap"]),
    ("C: 32s2B dwB 64k1B dws2B 128k1B p0", ["conv32", "dw", "conv64", "dw", "conv128", "p0"]),
    ("C: 64 p3s2 128 p3s2z", ["conv64", "pool", "conv128", "pool"]),
    ("D: n 300Rn 100Rn", ["n", "dense300", "dense100"]),
    ("C: 32I n R 32I n R", ["conv32", "n", "R", "conv32", "n", "R", "pool*"]),
    ("C: 16 d¼ n 16", ["conv16", "pool*", "d", "n", "conv16", "pool*"]),
]


@pytest.mark.parametrize("text, expected", V2_EXAMPLES, ids=[t for t, _ in V2_EXAMPLES])
def test_v2_examples_normative(text, expected):
    assert kinds(text) == expected
    assert canonical(canonical(text)) == canonical(text)


def test_v2_examples_normative_the_resnet_totals():
    checked = cnnspec.check(cnnspec.parse("I: 32x32x3 C: 32b [32b 32In]+R [64s2b 64In]+R gap O: 10"))
    data = checked.to_dict()
    assert checked.ok and (data["total_params"], data["non_trainable_params"]) == (78_474, 448)


def test_v2_examples_normative_the_same_layers_as_32b_32b():
    def rows(text):
        return [(x.kind, x.output_shape, x.params) for x in cnnspec.check(cnnspec.parse(text), "16x16x3", 2).layers]

    assert rows("C: 32I n R 32I n R") == rows("C: 32b 32b")


# --------------------------------------------------------------------------
# Errors of version 2: the table, row by row (E406 is the checker's)

V2_ERRORS = [
    ("C: p3s0", "E112"),
    ("C: p1s2", "E120"),
    ("C: p3q", "E201"),
    ("C: gapz", "E201"),
    ("C: 16z", "E201"),
    ("C: 32dw", "E201"),
    ("C: dw2", "E201"),
    ("C: 64Sep", "E201"),
    ("C: pss", "E201"),
    ("C: p3zz", "E202"),
    ("C: 16nB", "E202"),
    ("C: 4 I", "E200"),
    ("C: 4 b", "E200"),
    ("C: 4 O: 2b", "E204"),
    ("D: 4sep", "E204"),
    ("D: p3s2", "E205"),
    ("D: dw", "E205"),
    ("C: [4", "E140"),
    ("C: 4]+", "E141"),
    ("C: [4]", "E142"),
    ("C: [4]+RR", "E142"),
    ("C: [4]+4", "E142"),
    ("C: [4 [4]+ 4]+", "E143"),
    ("C: []+", "E144"),
    ("C: [n]+", "E144"),
    ("C: [4 gap]+", "E145"),
    ("D: [4]+", "E146"),
]


@pytest.mark.parametrize("text, code", V2_ERRORS, ids=[t for t, _ in V2_ERRORS])
def test_v2_errors_of_version_2(text, code):
    assert code in [c for c, _, _ in v2_errors(text)]
