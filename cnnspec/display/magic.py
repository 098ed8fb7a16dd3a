"""Notebook magics: ``%%cnn`` checks the specs of a cell, ``%cnn SPEC`` one line.

After ``%load_ext cnnspec``::

    %%cnn --input 32x32x3
    m26 = C: 16n 16n d¼ 32n 32n d¼ D: 16R O: 10
    m28 = C: 16n 16n d¼ 32n 32n d¼ D: 8R 8R O: 10

shows, for each spec (variants in braces expanded), the table of ``cnnspec check`` with its
totals, the diagnostics with their carets, and the picture of the network (``--no-picture``
leaves it out).  The cell is checked as a ``.cnn`` text, so positions are the cell's lines.
Options: ``--input HxWxC`` (``-i``), ``--classes N`` (``-c``), ``--no-picture``.  Nothing is
returned: the output is displayed, as a plot is.  IPython, the checker and the pictures are
imported only when a magic runs (registering them costs nothing).
"""

from __future__ import annotations

import argparse
import re
import shlex
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # registering the magics must not load the checker: the body imports it
    from cnnspec.network.sources import SpecResult


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # a usage error in a cell is IPython's, not an exit
        raise _usage(message)


def _options(words: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="%%cnn", add_help=False)
    parser.add_argument("--input", "-i", default=None)
    parser.add_argument("--classes", "-c", type=int, default=None)
    parser.add_argument("--no-picture", dest="picture", action="store_false")
    return parser.parse_args(words)


def result_html(res: SpecResult) -> str:
    """One spec's check as HTML: the table (or the errors that stopped it) and its diagnostics."""
    from cnnspec.errors import render_all

    if res.checked is not None:
        from cnnspec.display.html import checked_html

        return checked_html(res.checked)
    title = f"<div><b>{escape(res.name)}</b></div>" if res.name else ""
    diagnostics = escape(render_all(res.parse_errors, res.source))
    return f'<div class="cnnspec">{title}<pre style="color:#b00">{diagnostics}</pre></div>'


def _picture(res: SpecResult) -> str | None:
    checked = res.checked
    if checked is None or not checked.ok or not checked.layers:
        return None
    from cnnspec.display.picture import draw_svg

    try:
        return draw_svg(checked)
    except ValueError:  # a network the pictures cannot draw: the table says enough
        return None


def _usage(message: str) -> Exception:
    from IPython.core.error import UsageError

    return UsageError(f"%cnn: {message}")


_LINE_OPTION = re.compile(r"\s*(--no-picture|(?:--input|-i|--classes|-c)\s+\S+)(?=\s|$)")


def _split_line(line: str) -> tuple[list[str], str]:
    """``--input 8x8x1 C: 16`` -> (the options' words, the spec as written)."""
    options: list[str] = []
    while m := _LINE_OPTION.match(line):
        options += m[1].split()
        line = line[m.end() :]
    return options, line.strip()


def run(line: str, cell: str | None = None) -> None:
    """The magics' body: check ``cell`` (or the spec on ``line``) and display every result."""
    from IPython.display import HTML, SVG, display

    from cnnspec.network.shapes import parse_shape
    from cnnspec.network.sources import check_source

    if cell is None:  # %cnn [options] SPEC: the spec is the rest of the line, as written
        words, text = _split_line(line)
    else:
        try:
            words, text = shlex.split(line), cell
        except ValueError as exc:
            raise _usage(str(exc)) from None
    opts = _options(words)
    if not text.strip():
        raise _usage("no spec given: write one after %cnn, or in the cell under %%cnn")
    shape = None
    if opts.input is not None:
        try:
            shape = parse_shape(opts.input)
        except ValueError as exc:
            raise _usage(f"--input: {exc}") from None
    origin = "<cell>" if cell is not None else "<line>"
    for res in check_source(text, origin, shape, opts.classes):
        display(HTML(result_html(res)))
        picture = _picture(res) if opts.picture else None
        if picture is not None:
            display(SVG(picture))


def cell_magic(line: str, cell: str) -> None:
    """``%%cnn [--input HxWxC] [--classes N] [--no-picture]``: check the specs of the cell."""
    run(line, cell)


def line_magic(line: str) -> None:
    """``%cnn [--input HxWxC] [--classes N] [--no-picture] SPEC``: check one spec."""
    run(line)


def register(ipython: Any) -> None:
    """Register ``%%cnn`` and ``%cnn`` with an IPython shell."""
    from IPython.core.magic import no_var_expand

    # IPython would read `{16,32}` on a magic's line as a Python expression: variants are ours.
    ipython.register_magic_function(no_var_expand(cell_magic), "cell", "cnn")
    ipython.register_magic_function(no_var_expand(line_magic), "line", "cnn")
