"""``cnnspec draw``: a picture of each checked spec, as SVG or PNG.

A thin wrapper over :mod:`cnnspec.display.picture`.  Nothing heavy is imported here at
import time: :mod:`cnnspec.display.picture` is pure Python, and matplotlib is imported
only when a PNG is written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from cnnspec.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    ClassesOpt,
    InputOpt,
    SpecOpt,
    console,
    fail,
    read_source,
    shape_option,
)
from cnnspec.network.sources import SpecResult, check_source

FORMATS = (".svg", ".png")


def _source(spec_or_file: Optional[str], spec: Optional[str]) -> tuple[str, str]:
    """A file, ``-``, or (when no such file exists and it reads like a spec) the spec text itself."""
    if spec_or_file is not None and spec is None and spec_or_file != "-" and not Path(spec_or_file).exists():
        if re.search(r"\b[IACDO]:", spec_or_file):
            return spec_or_file, "<string>"
    return read_source(spec_or_file, spec)


def _targets(results: list[SpecResult], out: str, fmt: str, origin: str) -> list[Path]:
    """Where each spec's picture goes: ``-o`` itself for a single spec,
    ``NET-<name>.EXT`` beside it, or ``DIR/<name>.EXT`` in a folder."""
    out_path = Path(out)
    is_dir = out.endswith(("/", "\\")) or out_path.is_dir()
    if not is_dir and out_path.suffix.lower() not in FORMATS:
        fail(f"-o {out}: expected a .svg or .png file, or a folder (ending in /)")
    stem = Path(origin).stem if origin not in ("<string>", "<stdin>") else "network"
    names = [r.name or stem for r in results]
    if is_dir:
        return [out_path / f"{name}.{fmt}" for name in names]
    if len(results) == 1:
        return [out_path]
    return [out_path.with_name(f"{out_path.stem}-{name}{out_path.suffix}") for name in names]


def _draw_one(res: SpecResult, target: Path, style: str, scale: float) -> bool:
    """Draw one checked spec to ``target`` (False, and its errors printed, when it is invalid)."""
    from cnnspec.atomic import write_text
    from cnnspec.display import picture as drawing
    from cnnspec.display import terminal as render
    from cnnspec.errors import more_text, shown_and_rest

    checked = res.checked
    if not res.ok or checked is None or checked.input_shape is None:
        err = console(stderr=True)
        shown, rest = shown_and_rest(res.errors)
        for d in shown:
            err.print(render.diagnostic(d, res.source))
        for spec, count in rest.items():
            err.print(more_text(count, spec), highlight=False)
        n = len(res.errors)
        label = f"{res.name}: " if res.name else ""
        err.print(f"[bold red]{label}invalid: {n} error{'s' * (n != 1)}[/], nothing drawn", highlight=False)
        return False
    try:
        if target.suffix.lower() == ".png":
            drawing.draw_png(checked, target, style=style, scale=scale)  # type: ignore[arg-type]
        else:
            write_text(target, drawing.draw_svg(checked, style=style))  # type: ignore[arg-type]
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    console().print(f"wrote {target}", highlight=False, markup=False)
    return True


def draw(
    spec_or_file: Annotated[
        Optional[str],
        typer.Argument(help="A .cnn file, - for standard input, or the spec text itself.", show_default=False),
    ] = None,
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="net.svg or net.png; several specs become net-<name>.svg; a folder (out/) gets <name>.svg each.",
        ),
    ] = "network.svg",
    spec: SpecOpt = None,
    input_shape: InputOpt = None,
    classes: ClassesOpt = None,
    style: Annotated[
        str, typer.Option("--style", help="blocks (the articles' picture) or table (long networks).")
    ] = "blocks",
    fmt: Annotated[str, typer.Option("--format", help="svg or png, when -o is a folder.")] = "svg",
    scale: Annotated[float, typer.Option("--scale", min=0.25, max=8.0, help="PNG pixels per SVG pixel.")] = 2.0,
) -> None:
    """Draw each spec: feature maps as blocks that shrink and deepen, then the dense layers."""
    from cnnspec.display.picture import STYLES

    if style not in STYLES:
        fail(f"--style {style}: expected one of {', '.join(STYLES)}")
    if fmt not in ("svg", "png"):
        fail(f"--format {fmt}: expected svg or png")
    text, origin = _source(spec_or_file, spec)
    results = check_source(text, origin, shape_option(input_shape), classes)
    targets = _targets(results, out, fmt, origin)
    if any(t.suffix.lower() == ".png" for t in targets):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            fail("PNG pictures need matplotlib", hint="pip install 'cnnspec[draw]', or write .svg")

    invalid = False
    for res, target in zip(results, targets, strict=True):
        invalid |= not _draw_one(res, target, style, scale)
    raise typer.Exit(EXIT_INVALID if invalid else EXIT_OK)
