"""Pictures of networks: ``cnnspec.display.picture`` and ``cnnspec draw``.

Every drawing is held to the checker: one labelled group per checker layer,
carrying its kind and shape text, in the checker's order.  Golden SVGs of two
seed networks are regenerated with ``CNNSPEC_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import cnnspec
from cnnspec.cli import app
from cnnspec.display.picture import draw_png, draw_svg, layout, shape_text, side, thickness, vector
from cnnspec.network.checker import CheckedSpec
from cnnspec.network.sources import check_source

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "draw"
UPDATE = os.environ.get("CNNSPEC_UPDATE_GOLDEN") == "1"
SVG = "{http://www.w3.org/2000/svg}"

#: Networks from the source articles (shared/seeds), written in the notation.
SEEDS = {
    # 000: the 200x200 colour network of the first article, BN after every conv.
    "seed000": "I: 200x200x3 C: 32n 32n d.2 64k5n 64k5n d.2 D: 128R d.2 64R d.2 O: 10",
    # 001: CIFAR-10, pairs of 64, 32, 16 filters with two pools (the summary's 631,658 params).
    "seed001": "I: 32x32x3 C: 64 64 p 32 32 p 16 16 D: 512R 64R O: 10",
    # 001 as its code listing reads: six convolutions and no pools.
    "seed001_nopool": "I: 32x32x3 C: 64 64 32 32 16 16 p0 D: 512R 64R O: 10",
    # 004: MNIST, explicit pools.
    "seed004": "I: 28x28x1 C: 64 p 32 p D: 32R 32R O: 10",
    # 000's experiment table row #26 with the article's augmentation.
    "m26": "I: 32x32x3 A: hvflip rot.1 zoom.15 contrast.1 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10",
    # A long one: a map that ends at 1x1, L2 and BN on dense layers.
    "long": "I: 96x96x3 C: 16n 16n d¼ 32n 32n d¼ 64n 64n 64n d¼ 128n 128n d⅓ 256n 256n d½ 512s2n "
    "D: 128RL2 d½ 64RnL2 O: 10",
    "gap": "I: 64x64x1 C: 16k5v 32 ap 64s2 gap d.2 D: 8 O: 1",
    "no_head": "I: 2x2x1 C: 8 D: 4R",
}
GOLDEN_SEEDS = ("seed000", "seed001")
MARK_KINDS = ("BatchNormalization", "Rescaling", "Activation")

#: Version-2 networks: residual blocks (identity and projection shortcuts), separable and
#: depthwise convolutions, bare items, a ReLU that opens a block (Xception's middle flow).
V2 = {
    "resnet": "I: 32x32x3 C: 32b [32b 32In]+R [64s2b 64In]+R gap O: 10",
    "first_block": "I: 28x28x1 C: [16 16]+ gap O: 10",
    "sep_dw": "I: 32x32x3 C: 32 64sep dwb 64k1B gap O: 10",
    "xception": "I: 32x32x3 C: 32B [64sepB 64sepBI p3s2z]+ [R 64sepBI R 64sepBI]+R gap O: 10",
    "bare": "I: 32x32x3 C: 32I n R 32I n R D: n 64 R O: 10",
}


def checked(text: str, **kw: object) -> CheckedSpec:
    c = cnnspec.check(cnnspec.parse(text), **kw)  # type: ignore[arg-type]
    assert c.ok, c.errors
    return c


def layer_groups(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "layer"]


def all_text(el: ET.Element) -> str:
    return " ".join(t for t in el.itertext())


def assert_picture(c: CheckedSpec, svg: str, style: str = "blocks") -> None:
    """One labelled group per checker layer, in order, with the checker's shape text."""
    groups = layer_groups(svg)
    assert [g.get("data-name") for g in groups] == [la.name for la in c.layers]
    for g, la in zip(groups, c.layers, strict=True):
        shape = shape_text(la.output_shape)
        assert g.get("data-kind") == la.kind
        assert g.get("data-shape") == shape
        assert shape in all_text(g), (la.name, all_text(g))
        assert (g.get("data-implied") == "true") == la.implied
        visible = [t.text for t in g.findall(f"{SVG}text")]
        marked = la.kind in MARK_KINDS or la.kind.startswith("Random")
        if style == "table" or not (marked or la.kind == "Dropout" or la.role == "projection"):
            assert shape in visible, (la.name, visible)
        if style == "blocks" and la.role == "projection":
            # On the skip connection, labelled as the 1x1 convolution it is.
            assert g.get("data-on") and any(v and v.startswith("1x1 conv") for v in visible), visible
        if style == "blocks" and marked:
            # A mark on its layer, not a block: a small badge after its owner (a batch norm or
            # activation that opens a residual block is a column of its own, still a badge).
            assert g.get("data-on") or la.block is not None
            (poly,) = g.findall(f"{SVG}polygon")
            xs = [float(p.split(",")[0]) for p in poly.get("points", "").split()]
            assert max(xs) - min(xs) < 70


def assert_png(path: Path) -> None:
    with Image.open(path) as im:
        im.load()
        assert im.format == "PNG"
        assert im.width > 100 and im.height > 50
        lo, hi = im.convert("L").getextrema()
        assert lo < 100 and hi == 255  # ink on a white page


# --------------------------------------------------------------------------
# Seeds, examples, random specs


@pytest.mark.parametrize("name", sorted(SEEDS))
@pytest.mark.parametrize("style", ["blocks", "table"])
def test_seed_svg(name: str, style: str) -> None:
    c = checked(SEEDS[name])
    assert_picture(c, draw_svg(c, style=style), style)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_png(name: str, tmp_path: Path) -> None:
    c = checked(SEEDS[name])
    for style in ("blocks", "table"):
        out = draw_png(c, tmp_path / f"{name}-{style}.png", style=style)  # type: ignore[arg-type]
        assert_png(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples(path: Path, tmp_path: Path) -> None:
    results = check_source(path.read_text(encoding="utf-8"), str(path))
    drawn = 0
    for res in results:
        c = res.checked
        if not res.ok or c is None:
            if c is not None:
                with pytest.raises(ValueError):
                    draw_svg(c)
            continue
        for style in ("blocks", "table"):
            assert_picture(c, draw_svg(c, style=style), style)  # type: ignore[arg-type]
        assert_png(draw_png(c, tmp_path / f"{res.name or 'spec'}.png"))
        drawn += 1
    # Every shipped example is a valid network, so every one of its specs draws.
    assert drawn == len(results) > 0, [d.message for r in results for d in r.errors]


def random_spec(rng: random.Random) -> str:
    """A spec from a small grammar of plausible networks (may be invalid)."""
    size = rng.choice([4, 8, 16, 28, 32, 64, 200])
    parts = [f"I: {size}x{rng.choice([8, 16, 28, 32, 64, 200]) if rng.random() < 0.2 else size}x{rng.choice([1, 3])}"]
    if rng.random() < 0.25:
        parts.append("A: " + " ".join(rng.sample(["flip", "rot.1", "zoom.15", "contrast.1", "bright.2"], 2)))
    pools = rng.random() < 0.3
    conv: list[str] = []
    for _ in range(rng.randint(0, 7)):
        r = rng.random()
        if r < 0.7:
            item = str(rng.choice([4, 8, 16, 32, 64, 128]))
            item += rng.choice(["", "", "k5", "k1", "k3x5"])
            item += "s2" if rng.random() < 0.1 else ""
            item += "v" if rng.random() < 0.1 else ""
            item += rng.choice(["", "", "", "T", "E", "G", "W"])
            item += "n" if rng.random() < 0.4 else ""
            item += "L2" if rng.random() < 0.15 else ""
            conv.append(item)
        elif r < 0.85:
            conv.append(rng.choice(["d¼", "d.2", "d10%", "d1/3"]))
        elif pools:
            conv.append(rng.choice(["p", "ap", "p3"]))
    if conv and rng.random() < 0.15:
        conv.append(rng.choice(["gap", "gmp"]))
    if conv:
        parts.append("C: " + " ".join(conv))
    dense = [rng.choice(["8", "16R", "32Rn", "64RL2", "d½", "128T"]) for _ in range(rng.randint(0 if conv else 1, 3))]
    if dense:
        parts.append("D: " + " ".join(dense))
    parts.append(rng.choice(["O: 10", "O: 1", "O: 3I", ""]))
    return " ".join(p for p in parts if p)


def random_valid_specs(n: int, seed: int = 6) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        text = random_spec(rng)
        if cnnspec.check(cnnspec.parse(text)).ok:
            out.append(text)
    return out


RANDOM = random_valid_specs(40)


@pytest.mark.parametrize("text", RANDOM)
def test_random_svg(text: str) -> None:
    c = checked(text)
    for style in ("blocks", "table"):
        svg = draw_svg(c, style=style)  # type: ignore[arg-type]
        assert_picture(c, svg, style)
        assert svg == draw_svg(c, style=style)  # type: ignore[arg-type]  # deterministic


@pytest.mark.parametrize("text", RANDOM[:10])
def test_random_png(text: str, tmp_path: Path) -> None:
    assert_png(draw_png(checked(text), tmp_path / "net.png", scale=1.0))


@pytest.mark.parametrize("name", sorted(V2))
@pytest.mark.parametrize("style", ["blocks", "table"])
def test_v2_svg(name: str, style: str) -> None:
    c = checked(V2[name])
    assert_picture(c, draw_svg(c, style=style), style)  # type: ignore[arg-type]


def test_random_v2_specs_draw() -> None:
    """The oracle's random spec generator (every version-2 item) draws in both styles."""
    from specgen import random_specs

    specs = random_specs(60, seed=11)
    drawn = {f for gen in specs for f in gen.features}
    assert {"v2_block_identity", "v2_block_projection", "v2_block_first", "v2_block_bare"} <= drawn
    assert {"v2_conv_sep", "v2_dw", "v2_conv_B", "v2_pool_stride_z"} <= drawn
    for gen in specs:
        c = cnnspec.check(cnnspec.parse(gen.text), input_shape=gen.input_shape, classes=gen.classes)
        assert c.ok, (gen.text, c.errors)
        adds = sum(la.kind == "Add" for la in c.layers)
        for style in ("blocks", "table"):
            svg = draw_svg(c, style=style)  # type: ignore[arg-type]
            assert_picture(c, svg, style)
            assert len(skip_groups(svg)) == adds, gen.text  # one skip connection per block


# --------------------------------------------------------------------------
# What the picture shows


def skip_groups(svg: str) -> list[ET.Element]:
    return [g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "skip"]


def _xs(el: ET.Element) -> list[float]:
    """Every x coordinate of an element's lines, polygons and texts."""
    out: list[float] = []
    for child in el:
        if child.tag == f"{SVG}line":
            out += [float(child.get("x1", 0)), float(child.get("x2", 0))]
        elif child.tag == f"{SVG}polygon":
            out += [float(p.split(",")[0]) for p in child.get("points", "").split()]
    return out


@pytest.mark.parametrize("style", ["blocks", "table"])
def test_a_block_draws_its_skip_connection_and_a_plain_spec_none(style: str) -> None:
    c = checked(V2["resnet"])
    skips = skip_groups(draw_svg(c, style=style))  # type: ignore[arg-type]
    assert [(g.get("data-block"), g.get("data-shortcut"), g.get("data-add")) for g in skips] == [
        ("1", "identity", "block1_add"),
        ("2", "projection", "block2_add"),
    ]
    for plain in (SEEDS["seed001"], V2["sep_dw"], V2["bare"]):
        assert skip_groups(draw_svg(checked(plain), style=style)) == []  # type: ignore[arg-type]


def test_the_skip_connection_runs_from_the_blocks_input_to_its_add() -> None:
    c = checked(V2["resnet"])
    svg = draw_svg(c)
    groups = {g.get("data-name"): g for g in layer_groups(svg)}
    for skip in skip_groups(svg):
        number = int(skip.get("data-block", 0))
        members = [la.name for la in c.layers if la.block == number]
        first, add = groups[members[0]], groups[skip.get("data-add")]
        before = groups[c.layers[[la.name for la in c.layers].index(members[0]) - 1].name]
        start, end = min(_xs(skip)), max(_xs(skip))
        # It leaves the main line between the column that makes the input and the block's first
        # layer, and comes down into the ⊕ of its Add, over the block's layers.
        assert max(_xs(before)) <= start + 3 < min(_xs(first)) + 3, (start, _xs(before), _xs(first))
        assert min(_xs(add)) < end < max(_xs(add))
        assert "⊕" not in all_text(add)  # drawn, not a glyph: a ring and a cross
        assert len(add.findall(f"{SVG}line")) >= 2
    # The projection is drawn on block 2's skip connection, labelled as a 1x1 stride-2 conv.
    proj = groups["block2_proj"]
    assert proj.get("data-on") == "block2_add" and proj.get("data-kind") == "Conv2D"
    assert "1x1 conv s2" in [t.text for t in proj.findall(f"{SVG}text")]
    (skip2,) = [g for g in skip_groups(svg) if g.get("data-block") == "2"]
    assert min(_xs(skip2)) < min(_xs(proj)) < max(_xs(proj)) < max(_xs(skip2))
    assert "block1_proj" not in groups  # an identity shortcut has no projection


def test_a_block_first_in_c_takes_the_rescaled_image() -> None:
    c = checked(V2["first_block"])
    svg = draw_svg(c)
    (skip,) = skip_groups(svg)
    assert skip.get("data-shortcut") == "projection"
    inputs = [g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "input"]
    assert max(_xs(inputs[0])) <= min(_xs(skip)) + 3


def test_a_relu_that_opens_a_block_is_a_column_of_its_own() -> None:
    """Xception's middle flow: the shortcut is the input before the ReLU, so the ReLU is drawn
    after the point where the skip connection leaves the main line."""
    c = checked(V2["xception"])
    svg = draw_svg(c)
    groups = {g.get("data-name"): g for g in layer_groups(svg)}
    opener = next(la for la in c.layers if la.block == 2)
    assert opener.kind == "Activation"
    assert groups[opener.name].get("data-on") is None
    (skip,) = [g for g in skip_groups(svg) if g.get("data-block") == "2"]
    assert min(_xs(skip)) < min(_xs(groups[opener.name]))
    inner = next(la for la in c.layers if la.kind == "Activation" and la.block == 1)
    assert groups[inner.name].get("data-on")  # the ReLU of a `B` inside a block is a badge


def _front_fill(g: ET.Element) -> str:
    return g.findall(f"{SVG}polygon")[2].get("fill", "")


def test_sep_and_dw_are_kinds_of_convolution() -> None:
    c = checked(V2["sep_dw"])
    svg = draw_svg(c)
    groups = {g.get("data-kind"): g for g in layer_groups(svg)}
    conv, sep, dw = groups["Conv2D"], groups["SeparableConv2D"], groups["DepthwiseConv2D"]
    assert len({_front_fill(conv), _front_fill(sep), _front_fill(dw)}) == 3  # three hues
    texts = {kind: [t.text or "" for t in g.findall(f"{SVG}text")] for kind, g in groups.items()}
    assert any(t.startswith("sep 3x3") for t in texts["SeparableConv2D"])
    assert any(t.startswith("dw 3x3") for t in texts["DepthwiseConv2D"])
    assert not any(t.startswith(("sep", "dw")) for t in texts["Conv2D"])
    # Each is a cuboid with its mark: sep's front split in two, dw's front sliced.
    assert len(sep.findall(f"{SVG}line")) == 1 and len(dw.findall(f"{SVG}line")) >= 2
    legend = next(g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "legend")
    assert {"sep conv", "dw conv", "activation"} <= {t.text for t in legend.iter(f"{SVG}text")}


def test_b_draws_batch_norm_then_activation_as_badges_in_order() -> None:
    svg = draw_svg(checked("I: 32x32x3 C: 32b 32n gap O: 10"))
    groups = [g for g in layer_groups(svg) if g.get("data-on") == "conv1"]
    assert [all_text(g).split()[0] for g in groups] == ["conv1_bn", "conv1_act"]
    assert [g.findall(f"{SVG}text")[0].text for g in groups] == ["BN", "relu"]


def test_marks_sit_on_their_layer() -> None:
    svg = draw_svg(checked(SEEDS["m26"]))
    groups = {g.get("data-name"): g for g in layer_groups(svg)}
    assert groups["conv1_bn"].get("data-on") == "conv1"
    assert groups["rescaling"].get("data-on") == "input"
    assert groups["aug_hvflip"].get("data-on") == "input"
    assert "BN" in all_text(groups["conv1_bn"])
    l2 = draw_svg(checked("I: 32x32x3 C: 16L2 D: 8RL2 O: 2"))
    conv = next(g for g in layer_groups(l2) if g.get("data-name") == "conv1")
    assert "L2" in [t.text for t in conv.findall(f"{SVG}text")]


def test_implied_pools_look_implied() -> None:
    c = checked("I: 32x32x3 C: 16 32 64 D: 8R O: 2")
    groups = layer_groups(draw_svg(c))
    implied = [g for g in groups if g.get("data-implied") == "true"]
    assert [g.get("data-name") for g in implied] == ["pool1", "pool2", "pool3"]
    for g in implied:
        (poly,) = g.findall(f"{SVG}polygon")
        assert poly.get("stroke-dasharray")
        assert "implied" in [t.text for t in g.findall(f"{SVG}text")]
    written = checked("I: 32x32x3 C: 16 p 32 D: 8R O: 2")
    pool = next(g for g in layer_groups(draw_svg(written)) if g.get("data-name") == "pool1")
    assert pool.find(f"{SVG}polygon").get("stroke-dasharray") is None  # type: ignore[union-attr]


def test_scale_keeps_big_and_small_maps_readable() -> None:
    assert side(1) >= 20 and side(200) <= 180
    assert side(1) < side(2) < side(28) < side(200)
    assert thickness(1) >= 6 and thickness(64) > thickness(32) + 6  # doubling the filters shows
    assert vector(160000) == vector(10**9)  # capped: a flatten does not swamp the page
    big = layout(checked(SEEDS["seed000"]))
    assert big.width < 1400 and big.height < 700


def test_caption_holds_spec_params_and_macs() -> None:
    c = checked(SEEDS["seed001"])
    caption = next(g for g in ET.fromstring(draw_svg(c)).iter(f"{SVG}g") if g.get("class") == "caption")
    text = all_text(caption)
    assert "I: 32x32x3 C: 64 64 p 32 32 p 16 16 D: 512R 64R O: 10" in text
    assert "631,658" in text and f"{c.macs:,}" in text
    named = cnnspec.check(cnnspec.parse_file("m = I: 8x8x1 C: 4 D: 2").specs[0])
    assert "m = I: 8x8x1 C: 4 D: 2" in draw_svg(named)
    assert "head will come from the data" in draw_svg(named)
    # A named spec of a file shows its own lines only, comments dropped.
    file = "# sweep\na = I: 8x8x1 C: 4\n  D: 2 # two\nb = I: 8x8x1 C: 8 D: 2\n"
    a, b = (cnnspec.check(s) for s in cnnspec.parse_file(file).specs)
    assert "a = I: 8x8x1 C: 4 D: 2<" in draw_svg(a)
    assert "b = I: 8x8x1 C: 8 D: 2<" in draw_svg(b)
    assert "C: 8" not in draw_svg(a) and "sweep" not in draw_svg(a)
    # One variant of a template: its canonical form, not the braces.
    variants = check_source("m = I: 8x8x1 C: {4,8} D: 2\n")
    assert [r.name for r in variants] == ["m-4", "m-8"]
    assert "m-8 = I: 8x8x1 C: 8 p D: 2<" in draw_svg(variants[1].checked)  # type: ignore[arg-type]


def test_invalid_spec_draws_nothing(tmp_path: Path) -> None:
    bad = cnnspec.check(cnnspec.parse("I: 2x2x1 C: 8 16"))
    assert not bad.ok
    with pytest.raises(ValueError):
        draw_svg(bad)
    with pytest.raises(ValueError):
        draw_png(bad, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        draw_svg(checked(SEEDS["seed004"]), style="pie")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", GOLDEN_SEEDS)
def test_golden_svg(name: str) -> None:
    path = GOLDEN / f"{name}.svg"
    svg = draw_svg(checked(SEEDS[name]))
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(svg, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == svg, "regenerate with CNNSPEC_UPDATE_GOLDEN=1 and look at the diff"


@pytest.mark.parametrize("name", ["resnet", "xception"])
def test_golden_v2_svg(name: str) -> None:
    """A residual network's picture (skip connections, projections, ⊕, sep), held as text."""
    path = GOLDEN / f"v2_{name}.svg"
    svg = draw_svg(checked(V2[name]))
    if UPDATE:
        path.write_text(svg, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == svg, "regenerate with CNNSPEC_UPDATE_GOLDEN=1 and look at the diff"


def test_nothing_imports_tensorflow_or_matplotlib_too_early(tmp_path: Path) -> None:
    code = f"""
import sys
import cnnspec, cnnspec.cli, cnnspec.cli.draw, cnnspec.display.picture
assert "matplotlib" not in sys.modules, "matplotlib imported at import time"
c = cnnspec.check(cnnspec.parse({SEEDS["seed000"]!r}))
cnnspec.display.picture.draw_svg(c)
assert "matplotlib" not in sys.modules, "draw_svg imported matplotlib"
cnnspec.display.picture.draw_png(c, {str(tmp_path / "x.png")!r})
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "pydot", "graphviz"))
assert not heavy, heavy
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------
# The command


runner = CliRunner()


def invoke(*args: str) -> object:
    result = runner.invoke(app, ["draw", *args])
    # Never a traceback: the only exception typer may leave is SystemExit.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_cli_svg_and_png(tmp_path: Path) -> None:
    svg, png = tmp_path / "net.svg", tmp_path / "net.png"
    r = invoke(SEEDS["seed004"], "-o", str(svg))
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    assert_picture(checked(SEEDS["seed004"]), svg.read_text(encoding="utf-8"))
    r = invoke("--spec", "C: 16 D: 8R", "--input", "28x28x1", "--classes", "3", "-o", str(png), "--style", "table")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    assert_png(png)


def test_cli_multi_spec_file(tmp_path: Path) -> None:
    src = tmp_path / "sweep.cnn"
    src.write_text("# a sweep\nm26 = C: 16n 16n d¼ 32n 32n d¼ D: 16R\nm28 = C: 16n 16n d¼ 32n 32n d¼\n  D: 8R 8R\n")
    r = invoke(str(src), "--input", "32x32x3", "--classes", "10", "-o", str(tmp_path / "out") + "/")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m26.svg", "m28.svg"]
    r = invoke(str(src), "-i", "32x32x3", "-o", str(tmp_path / "net.png"))
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    for name in ("m26", "m28"):
        assert_png(tmp_path / f"net-{name}.png")


def test_cli_invalid_draws_nothing(tmp_path: Path) -> None:
    out = tmp_path / "net.svg"
    r = invoke("I: 2x2x1 C: 8 16", "-o", str(out))
    assert r.exit_code == 1  # type: ignore[attr-defined]
    assert "E402" in r.output and "nothing drawn" in r.output  # type: ignore[attr-defined]
    assert not out.exists()
    src = tmp_path / "two.cnn"
    src.write_text("good = I: 8x8x1 C: 4 D: 2\nbad = I: 8x8x1 C: 4q D: 2\n")
    r = invoke(str(src), "-o", str(tmp_path / "o") + "/")
    assert r.exit_code == 1  # type: ignore[attr-defined]
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["good.svg"]


@pytest.mark.parametrize(
    "args",
    [
        ["C: 16", "-i", "8x8x1", "-o", "net.pdf"],
        ["no-such-file.cnn", "-o", "net.svg"],
        ["C: 16", "-i", "8x8", "-o", "net.svg"],
        ["C: 16", "-i", "8x8x1", "-o", "net.svg", "--style", "pie"],
        ["C: 16", "--spec", "C: 16", "-o", "net.svg"],
        ["C: 16", "-i", "8x8x1", "-o", "blocker/net.svg"],
    ],
)
def test_cli_usage_errors(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    r = invoke(*[str(tmp_path / a) if a.startswith(("net.", "blocker/")) else a for a in args])
    assert r.exit_code == 2, r.output  # type: ignore[attr-defined]
    assert [p.name for p in tmp_path.iterdir()] == ["blocker"]


def test_counts_beyond_a_floats_range_draw_in_both_styles() -> None:
    """Issue 14: a block's thickness took the square root of the filter count as a float and overflowed."""
    from cnnspec.notation.ir import Conv, Dense, Head, InputShape, Span, Spec

    at = Span(line=1, column=1)
    spec = Spec(
        input=InputShape(span=at, text="8x8x3", height=8, width=8, channels=3),
        conv=(Conv(span=at, text="big", filters=10**400),),
        dense=(Dense(span=at, text="wide", units=10**400),),
        head=Head(span=at, text="10", classes=10),
    )
    checked = cnnspec.check(spec)
    for style in ("blocks", "table"):
        svg = draw_svg(checked, style)
        assert svg.count('class="layer"') == len(checked.layers)
        assert re.search(r"MACs [\d,]+ \(\d\.\d\de\d+\)", svg)  # the MACs, printed without a float
