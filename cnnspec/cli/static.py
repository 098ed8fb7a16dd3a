"""The static commands: ``check``, ``fmt``, ``schema``, ``version``.

They import only the pure-Python stages, so they start fast; the CLI runs them in an app of
their own (see :mod:`cnnspec.cli.commands`).
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from cnnspec.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    ClassesOpt,
    InputOpt,
    PathArg,
    SpecOpt,
    console,
    fail,
    parse_or_exit,
    read_source,
    shape_option,
)
from cnnspec.network.checker import Shape
from cnnspec.network.sources import SpecResult, check_source


class Format(str, enum.Enum):
    """What ``cnnspec check`` prints."""

    text = "text"
    json = "json"
    github = "github"


def check(
    path: PathArg = None,
    spec: SpecOpt = None,
    input_shape: InputOpt = None,
    classes: ClassesOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables (= --format json).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
    output_format: Annotated[
        Optional[Format],
        typer.Option(
            "--format",
            help="text (tables), json, or github (GitHub Actions annotations: one ::error/::warning line each).",
        ),
    ] = None,
) -> None:
    """Check specs: per-layer shapes, params, MACs, memory, errors and advice."""
    if as_json and output_format not in (None, Format.json):
        fail(f"--json and --format {output_format.value} disagree: give one of them")
    chosen = Format.json if as_json else (output_format or Format.text)
    # An exported .onnx file is binary: _check_any reads its spec from the metadata.
    text, origin = ("", path) if path and path.endswith(".onnx") and spec is None else read_source(path, spec)
    results = _check_any(text, origin, shape_option(input_shape), classes)
    if not results:  # a Markdown file without a cnn block: said, since silence reads as "all checked"
        # Exit 0 still: nothing in it is invalid, and hooks run check over every .md file.
        console(stderr=True).print(
            f"note: no cnn blocks found in {origin} (a spec goes in a fenced block that opens with ```cnn)",
            markup=False, highlight=False,
        )  # fmt: skip
    if chosen is Format.github:
        from cnnspec.display.github import workflow_commands

        for command in workflow_commands(results):
            typer.echo(command)
    elif chosen is Format.json:
        dicts = [r.to_dict() for r in results]
        payload: object = dicts[0] if len(dicts) == 1 and results[0].name is None else dicts
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        from cnnspec.display import terminal as render

        out = console()
        for i, res in enumerate(results):
            if i:
                out.print()
            out.print(render.result(res))
    invalid = any(not r.ok for r in results)
    warned = any(r.warnings for r in results)
    raise typer.Exit(EXIT_INVALID if invalid or (strict and warned) else EXIT_OK)


def _check_any(text: str, origin: str, input_shape: Optional[Shape], classes: Optional[int]) -> list[SpecResult]:
    """Dispatch on the kind of source; plain spec text by default."""
    if origin.endswith(".onnx"):  # the spec an export stored in the metadata
        from cnnspec.cli.common import onnx_spec

        text = onnx_spec(origin)
    if origin.endswith((".md", ".markdown")):
        from cnnspec.network.markdown import check_markdown

        return check_markdown(text, origin, input_shape, classes)
    return check_source(text, origin, input_shape, classes)


def fmt(
    path: PathArg = None,
    spec: SpecOpt = None,
    check_only: Annotated[bool, typer.Option("--check", help="Exit 1 if the text is not in canonical form.")] = False,
    write: Annotated[bool, typer.Option("--write", "-w", help="Rewrite the file in place.")] = False,
    expand: Annotated[bool, typer.Option("--expand", help="Expand variants in braces: one named spec each.")] = False,
) -> None:
    """Print the canonical form of a spec or file (implied pools spelled out)."""
    from cnnspec.notation.formatter import format_file, format_source
    from cnnspec.notation.variants import has_variants

    if write and path in (None, "-"):
        fail("--write needs a file PATH")  # before reading: stdin would be consumed for nothing
    text, origin = read_source(path, spec)
    if has_variants(text) and not expand:
        fail(f"{origin} holds variants in braces", EXIT_INVALID, "print them with: cnnspec fmt --expand")
    parsed = parse_or_exit(text, origin, expand=expand)
    # Expanded variants are new specs; otherwise keep the file's comments.
    canonical = format_file(parsed) if expand else format_source(text, parsed)
    if check_only:
        same = canonical.strip() == text.strip()
        if not same:
            typer.echo(f"{origin}: not in canonical form", err=True)
        raise typer.Exit(EXIT_OK if same else EXIT_INVALID)
    if write:
        from cnnspec.atomic import write_text

        assert path is not None  # --write without a PATH failed above
        write_text(Path(path), canonical)
        return
    typer.echo(canonical, nl=False)


def schema() -> None:
    """Print the JSON Schema of the IR (a .cnn file's parsed form)."""
    from cnnspec.notation.ir import SpecFile

    typer.echo(json.dumps(SpecFile.model_json_schema(), indent=2, ensure_ascii=False))


def version() -> None:
    """Print the cnnspec version."""
    from cnnspec import __version__

    typer.echo(__version__)
