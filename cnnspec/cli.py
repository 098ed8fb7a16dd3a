"""The ``cnnspec`` command: a thin typer wrapper over the library.

Exit codes: 0 success (warnings allowed), 1 an invalid spec or a failed job,
2 a usage error (a bad option, a missing input file, an output path that
cannot be written).  No command prints a traceback
for bad input.  Heavy libraries are imported inside the commands that need
them, so ``cnnspec check`` stays instant.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from rich.console import Console

from cnnspec.checker import Shape, parse_shape
from cnnspec.source import SpecResult, check_source, read_text

_APP_SETTINGS: dict[str, Any] = dict(
    name="cnnspec",
    help="Declarative model specs for small CNNs: check, format, build, train, export, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
#: Every command (the command modules below add theirs).
app = typer.Typer(**_APP_SETTINGS)
#: The static commands alone.  Typer turns every registered command into a
#: click command on each start (about 40 ms for all of them here), so
#: `cnnspec check` runs this small app and stays quick.
_core_app = typer.Typer(**_APP_SETTINGS)


#: Names of the commands that `_core_app` holds too.
_CORE_COMMANDS: set[str] = set()


def _core_command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command, under ``name``, on both apps."""

    def register(func: Callable[..., None]) -> Callable[..., None]:
        _CORE_COMMANDS.add(name)
        _core_app.command(name)(func)
        return app.command(name)(func)

    return register


EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def console(stderr: bool = False) -> Console:
    # Wide enough for a table when piped (CI logs, golden files).
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "120"))
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_USAGE, hint: str | None = None) -> NoReturn:
    """Print a one-line error (and hint) to stderr and exit with ``code``."""
    err = console(stderr=True)
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    if hint:
        err.print(f"  [cyan]hint:[/] {hint}", markup=True, highlight=False)
    raise typer.Exit(code)


def writable(path: str | Path) -> Path:
    """``path``, or a usage error (exit 2) when it cannot be written; checked
    before the work, so a bad ``-o`` costs nothing and creates nothing."""
    from rich.markup import escape

    from cnnspec.atomic import WriteError, check_writable

    try:
        check_writable(path)
    except WriteError as exc:
        fail(escape(str(exc)))
    return Path(path)


def shape_option(value: Optional[str]) -> Optional[Shape]:
    if value is None:
        return None
    try:
        return parse_shape(value)
    except ValueError as exc:
        fail(f"--input: {exc}")


def read_source(path: Optional[str], spec: Optional[str]) -> tuple[str, str]:
    """The text to work on: ``--spec TEXT``, a file, or ``-`` for stdin."""
    if spec is not None and path is not None:
        fail("give either a PATH or --spec, not both")
    if spec is not None:
        return spec, "<string>"
    if path is None:
        fail("give a PATH (a .cnn file, or - for standard input) or --spec TEXT")
    if path != "-" and Path(path).is_dir():
        fail(f"{path} is a directory: give a .cnn file")
    if path != "-" and not Path(path).is_file():
        fail(f"no such file: {path}")
    try:
        return read_text(path)
    except UnicodeDecodeError:
        name = "standard input" if path == "-" else path
        if Path(path).suffix in (".keras", ".h5"):
            fail(f"{path} is a Keras model, not a spec", hint=f"print its spec with: cnnspec from-keras {path}")
        fail(f"{name} is not UTF-8 text")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


PathArg = Annotated[Optional[str], typer.Argument(help="A .cnn file, or - for standard input.", show_default=False)]
SpecOpt = Annotated[Optional[str], typer.Option("--spec", "-s", help="The spec text itself.", show_default=False)]
InputOpt = Annotated[
    Optional[str], typer.Option("--input", "-i", help="Input shape HxWxC when the spec has no I:.", show_default=False)
]
ClassesOpt = Annotated[
    Optional[int],
    typer.Option("--classes", "-c", min=1, help="Class count when the spec has no O:.", show_default=False),
]


@_core_command("check")
def check(
    path: PathArg = None,
    spec: SpecOpt = None,
    input_shape: InputOpt = None,
    classes: ClassesOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
) -> None:
    """Check specs: per-layer shapes, params, MACs, memory, errors and advice."""
    # An exported .onnx file is binary: _check_any reads its spec from the metadata.
    text, origin = ("", path) if path and path.endswith(".onnx") and spec is None else read_source(path, spec)
    results = _check_any(text, origin, shape_option(input_shape), classes)
    if as_json:
        dicts = [r.to_dict() for r in results]
        payload: object = dicts[0] if len(dicts) == 1 and results[0].name is None else dicts
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        from cnnspec import render

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
        from cnnspec.cli_export import onnx_spec

        text = onnx_spec(origin)
    if origin.endswith((".md", ".markdown")):
        from cnnspec.markdown import check_markdown

        return check_markdown(text, origin, input_shape, classes)
    return check_source(text, origin, input_shape, classes)


@_core_command("fmt")
def fmt(
    path: PathArg = None,
    spec: SpecOpt = None,
    check_only: Annotated[bool, typer.Option("--check", help="Exit 1 if the text is not in canonical form.")] = False,
    write: Annotated[bool, typer.Option("--write", "-w", help="Rewrite the file in place.")] = False,
    expand: Annotated[bool, typer.Option("--expand", help="Expand variants in braces: one named spec each.")] = False,
) -> None:
    """Print the canonical form of a spec or file (implied pools spelled out)."""
    from cnnspec.errors import SpecError, render_all
    from cnnspec.formatter import format_file, format_source
    from cnnspec.parser import parse_file
    from cnnspec.variants import expand_file, has_variants

    if write and path in (None, "-"):
        fail("--write needs a file PATH")  # before reading: stdin would be consumed for nothing
    text, origin = read_source(path, spec)
    if has_variants(text) and not expand:
        fail(f"{origin} holds variants in braces", EXIT_INVALID, "print them with: cnnspec fmt --expand")
    try:
        parsed = expand_file(text, origin) if expand else parse_file(text, origin)
    except SpecError as exc:
        typer.echo(render_all(exc.diagnostics, text), err=True)
        raise typer.Exit(EXIT_INVALID) from None
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


@_core_command("schema")
def schema() -> None:
    """Print the JSON Schema of the IR (a .cnn file's parsed form)."""
    from cnnspec.ir import SpecFile

    typer.echo(json.dumps(SpecFile.model_json_schema(), indent=2, ensure_ascii=False))


@_core_command("version")
def version() -> None:
    """Print the cnnspec version."""
    from cnnspec import __version__

    typer.echo(__version__)


# --- command modules: each registers its commands on `app` when imported.
# Keep these modules light at import time (no tensorflow/keras/matplotlib).
# One line per module, added by the module's author.  Imported for that side
# effect, and not sorted: the import order is the order of the commands in
# --help.  (Ruff reports only the last line as an unused import.)
# isort: off
import cnnspec.cli_train  # noqa: E402
import cnnspec.cli_draw  # noqa: E402
import cnnspec.cli_export  # noqa: E402
import cnnspec.cli_report  # noqa: E402
import cnnspec.cli_evaluate  # noqa: E402, F401
# isort: on
# (end of command modules)


def main() -> None:
    """Entry point of the ``cnnspec`` command."""
    try:
        _core_app() if sys.argv[1:2] and sys.argv[1] in _CORE_COMMANDS else app()
    except KeyboardInterrupt:
        console(stderr=True).print("[red]interrupted[/]")
        sys.exit(130)
