"""Jupyter rich display: parsed and checked specs render their table as HTML."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from IPython.core.interactiveshell import InteractiveShell

import cnnspec


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ipython = InteractiveShell.instance()
    cnnspec.load_ipython_extension(ipython)
    return ipython


def html_of(shell: InteractiveShell, obj: object) -> str:
    """What Jupyter shows for ``obj``: IPython's own display formatter, as a notebook calls it."""
    data, _ = shell.display_formatter.format(obj)
    return data["text/html"]


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_td = tag == "td"

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_td = False

    def handle_data(self, data):
        if self._in_td:
            self.cells.append(data)


def test_checked_spec_shows_its_table_with_the_checkers_numbers(shell):
    checked = cnnspec.check(cnnspec.parse("I: 32x32x3 C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10"))
    page = Collect()
    page.feed(html_of(shell, checked))
    assert "table" in page.tags
    for layer in checked.layers:
        assert layer.name in page.cells
        assert f"{layer.params:,}" in page.cells
    assert f"Total params: {checked.total_params:,}" in html_of(shell, checked)


def test_a_parsed_spec_displays_its_check_and_escapes_what_it_shows(shell):
    spec = cnnspec.parse("I: 2x2x1 C: 16 16 32  # <script>alert(1)</script>")
    html = html_of(shell, spec)
    page = Collect()
    page.feed(html)
    assert "script" not in page.tags
    assert "&lt;script&gt;" in html and "invalid" in html
