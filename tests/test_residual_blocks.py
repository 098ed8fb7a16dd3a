"""The residual-block rules of NOTATION.md's "Version 2", as the checker applies them.

The shortcut (identity when the block's output shape is its input's, else a
1x1 projection of the block's stride), E406 when neither fits, where errors
inside a block point, the note about implied pools, and the rows a block adds
(with their block numbers, in ``--json`` too).  Every number here is also held
against Keras by tests/test_oracle.py.
"""

from __future__ import annotations

import json

from cnnspec import check, parse
from cnnspec.network.checker import NO_IMPLIED_POOLS


def _rows(text: str) -> list[tuple[str, str, tuple[int, ...], int | None]]:
    checked = check(parse(text))
    assert checked.ok, checked.errors
    return [(la.name, la.kind, la.output_shape, la.block) for la in checked.layers]


def test_an_identity_shortcut_when_the_shapes_agree() -> None:
    rows = _rows("I: 8x8x16 C: [16b 16In]+R gap O: 2")
    assert [r[0] for r in rows if r[3] == 1] == [
        "conv1", "conv1_bn", "conv1_act", "conv2", "conv2_bn", "block1_add", "block1_act",
    ]  # fmt: skip
    add = check(parse("I: 8x8x16 C: [16b 16In]+R gap O: 2")).layers[-4]
    assert (add.kind, add.shortcut, add.detail, add.text) == ("Add", "identity", "identity", "]+R")


def test_a_projection_of_the_block_stride_when_they_do_not() -> None:
    """The block's stride is the product of its convolutions' and pools' strides (a pool's is its
    size unless written): s2 conv x p3s2z = 4."""
    checked = check(parse("I: 32x32x8 C: [16s2 16 p3s2z]+ gap O: 2"))
    proj = next(la for la in checked.layers if la.role == "projection")
    assert (proj.kind, proj.kernel, proj.stride, proj.padding, proj.activation) == (
        "Conv2D",
        (1, 1),
        4,
        "same",
        "linear",
    )
    assert proj.output_shape == (8, 8, 16) and proj.params == 8 * 16 + 16 and proj.macs == 8 * 8 * 8 * 16
    assert proj.l2 is None and proj.use_bias and proj.detail == "1x1 s4 same linear projection"
    assert [la.role for la in checked.layers if la.block == 1][-2:] == ["projection", "add"]  # no activation: ]+
    # a block that changes only the channels has a stride-1 projection (NOTATION.md: 32 parameters)
    only_channels = check(parse("I: 28x28x1 C: [16 16]+ D: 10"))
    proj = next(la for la in only_channels.layers if la.role == "projection")
    assert (proj.stride, proj.params) == (1, 32)


def test_e406_when_no_shortcut_fits() -> None:
    """A "valid" reduction inside the block: its output is not ceil(H/s); the caret under ]+."""
    source = "I: 32x32x3 C: [16s2 16v]+R gap O: 10"
    (err,) = check(parse(source)).errors
    assert err.code == "E406"
    assert "receives 32x32x3 and outputs 14x14x16" in err.message and "gives 16x16x16" in err.message
    assert (err.span.line, err.span.column, err.span.length) == (1, 24, 3)
    assert err.hint is not None and "p3s2z" in err.hint
    assert not check(parse("I: 32x32x3 C: [16s2 16k1v]+R gap O: 10")).errors  # a 1x1 valid kernel is 'same'


def test_a_shrink_inside_a_block_points_at_the_item() -> None:
    (err,) = check(parse("I: 2x2x3 C: [4 p3]+ O: 2")).errors
    assert err.code == "E402" and (err.span.line, err.span.column) == (1, 16)
    (err,) = check(parse("I: 2x2x3 C: 4 [dwk3v]+ O: 2")).errors
    assert err.code == "E401" and err.span.column == 16 and "depthwise conv 'dwk3v'" in err.message


def test_the_note_when_a_block_turns_implied_pools_off() -> None:
    assert check(parse("I: 8x8x3 C: 16 [16 16]+R D: 10")).notes == (NO_IMPLIED_POOLS,)
    assert NO_IMPLIED_POOLS == "no implied pools: the section holds a residual block"
    for pooled in ("16 [16 16]+R gap", "16 [16 p]+R", "16 p [16 16]+R", "16 [16 16]+R p0"):
        assert check(parse(f"I: 8x8x3 C: {pooled} O: 2")).notes == (), pooled
    assert check(parse("I: 8x8x3 C: 16 16 O: 2")).notes == ()


def test_json_gives_block_numbers_only_to_a_blocks_layers() -> None:
    data = json.loads(json.dumps(check(parse("I: 8x8x3 C: 8 [8 8]+R [16s2]+ gap O: 2")).to_dict()))
    blocks = [(la["name"], la.get("block"), la.get("role"), la.get("shortcut")) for la in data["layers"]]
    assert ("conv1", None, None, None) in blocks
    assert ("block1_add", 1, "add", "identity") in blocks
    assert ("block2_proj", 2, "projection", None) in blocks
    assert ("block2_add", 2, "add", "projection") in blocks
    assert [b for b in blocks if b[0] == "conv4"] == [("conv4", 2, None, None)]
    assert "block" not in json.dumps(check(parse("I: 8x8x3 C: 8 O: 2")).to_dict()["layers"])
