"""Issue 14: rendering a long network costs what is shown, not what was checked.

A 5,000-layer spec checked in 0.2 s but took seconds to show (rich lays out
every cell, a picture places every shape) and drew pictures no one can read.
Every display now shows at most MAX_ROWS rows or MAX_COLUMNS columns, the
first and the last, with one row or column that counts the rest; the totals
and ``--json`` still count every layer.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

from cnnspec import check, parse
from cnnspec.display import html, picture, terminal
from cnnspec.display.elision import MAX_COLUMNS, MAX_ROWS, PICTURE_MAX_ROWS, elide
from cnnspec.network.checker import CheckedSpec

SVG = "{http://www.w3.org/2000/svg}"


def long_network(n: int) -> CheckedSpec:
    half = n // 2
    checked = check(parse(f"I: 16x16x3 C: {' '.join(['4'] * half)} p0 D: {' '.join(['4R'] * half)} O: 3"))
    assert checked.ok
    return checked


@pytest.fixture(scope="module")
def big() -> CheckedSpec:
    return long_network(5000)


def test_elide_keeps_the_first_and_last_items() -> None:
    items = list(range(10))
    assert elide(items, 4) == ([0, 1], 6, [8, 9])
    assert elide(items, 5) == ([0, 1], 5, [7, 8, 9])
    assert elide(items, 10) == (items, 0, [])


def test_the_check_table_of_a_5000_layer_spec_shows_at_most_max_rows(big: CheckedSpec) -> None:
    console = Console(file=io.StringIO(), width=160, color_system=None, record=True)
    console.print(terminal.check_table(big))
    console.print(terminal.totals(big))
    text = console.export_text()
    numbered = re.findall(r"^│ +(\d+) │", text, re.M)
    hidden = len(big.layers) - MAX_ROWS
    assert len(numbered) == MAX_ROWS
    # the first and the last layers keep their own numbers
    assert numbered[0] == "1" and numbered[-1] == str(len(big.layers))
    assert int(numbered[MAX_ROWS // 2]) - int(numbered[MAX_ROWS // 2 - 1]) == hidden + 1
    assert f"{hidden:,} more layers not shown: cnnspec check --json lists every one" in text
    assert f"Total params: {big.total_params:,}" in text
    assert len(json.loads(json.dumps(big.to_dict()))["layers"]) == len(big.layers)


def test_a_network_that_fits_shows_every_row() -> None:
    checked = long_network(MAX_ROWS - 10)
    console = Console(file=io.StringIO(), width=160, color_system=None, record=True)
    console.print(terminal.check_table(checked))
    text = console.export_text()
    assert len(re.findall(r"^│ +\d+ │", text, re.M)) == len(checked.layers)
    assert "not shown" not in text


def test_the_notebook_table_is_bounded_too(big: CheckedSpec) -> None:
    page = html.checked_html(big)
    assert page.count("<tr") == MAX_ROWS + 3  # the header, the input, the layers shown, the gap
    assert f"{len(big.layers) - MAX_ROWS:,} more layers" in page


@pytest.mark.parametrize(("style", "limit"), [("table", PICTURE_MAX_ROWS), ("blocks", MAX_COLUMNS)])
def test_pictures_of_a_5000_layer_spec_are_bounded(big: CheckedSpec, style: str, limit: int) -> None:
    root = ET.fromstring(picture.draw_svg(big, style))
    groups = root.findall(f"{SVG}g")
    layers = [g for g in groups if g.get("class") == "layer"]
    (gap,) = [g for g in groups if g.get("class") == "elided"]
    hidden = int(gap.get("data-hidden", "0"))
    # every layer is drawn or counted, once
    assert len(layers) + hidden == len(big.layers)
    assert len(layers) <= limit + 2  # blocks: marks (the rescaling) have their own group
    names = [g.get("data-name") for g in layers]
    assert names[0] in ("rescaling", "conv1") and names[-1] == "head"


def test_pictures_of_a_network_that_fits_have_no_gap() -> None:
    checked = long_network(min(MAX_COLUMNS, PICTURE_MAX_ROWS) - 10)
    for style in ("table", "blocks"):
        svg = picture.draw_svg(checked, style)
        assert 'class="elided"' not in svg
        assert svg.count('class="layer"') == len(checked.layers)


def test_the_caption_of_a_5000_layer_spec_shows_its_start_and_end(big: CheckedSpec) -> None:
    # Every item of the spec in the caption made a picture thousands of pixels tall, most
    # of its paint time: the caption elides its middle as the layers are.
    from cnnspec.display.geometry import CAPTION_MAX_LINES

    root = ET.fromstring(picture.draw_svg(big, "table"))
    (caption,) = [g for g in root.findall(f"{SVG}g") if g.get("class") == "caption"]
    lines = ["".join(t.itertext()) for t in caption.iter(f"{SVG}text")]
    spec_lines = lines[:-1]  # the last line is the totals
    assert len(spec_lines) == CAPTION_MAX_LINES
    assert spec_lines[0].startswith("spec: I:") and "more lines of the spec" in spec_lines[3]
    assert spec_lines[-1].rstrip().endswith("O: 3")


def test_a_long_chain_of_residual_blocks_is_bounded_everywhere() -> None:
    """Version 2: 700 residual blocks (4,900 layers, every one with its block number) check,
    keep every layer in --json, and show at most MAX_ROWS rows and a bounded picture."""
    checked = check(parse(f"I: 8x8x8 C: {' '.join(['[8b 8In]+R'] * 700)} gap O: 3"))
    assert checked.ok
    blocks = [la.block for la in checked.layers if la.block is not None]
    assert len(blocks) == 700 * 7 and max(blocks) == 700
    assert [la.shortcut for la in checked.layers if la.kind == "Add"] == ["identity"] * 700
    data = json.loads(json.dumps(checked.to_dict()))
    assert len(data["layers"]) == len(checked.layers) and data["layers"][-3]["block"] == 700
    console = Console(file=io.StringIO(), width=160, color_system=None, record=True)
    console.print(terminal.check_table(checked))
    assert len(re.findall(r"^│ +\d+ │", console.export_text(), re.M)) == MAX_ROWS
    root = ET.fromstring(picture.draw_svg(checked, "table"))
    drawn = [g for g in root.findall(f"{SVG}g") if g.get("class") == "layer"]
    assert len(drawn) <= PICTURE_MAX_ROWS + 2
