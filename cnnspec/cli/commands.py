"""The ``cnnspec`` command: one ordered list of commands, and the entry point.

Commands register nowhere by themselves (no import side effects): this list is the only place
that names them, and its order is the order of ``cnnspec --help``.  Typer turns every
registered command into a click command on each start (about 40 ms for all of them here), so
the static commands run in an app that holds only them, and ``cnnspec check`` stays quick.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any, NamedTuple

import typer

from cnnspec.cli.common import console
from cnnspec.cli.help import Command as _Command
from cnnspec.cli.help import Group


class Command(NamedTuple):
    name: str
    module: str
    function: str
    #: True for the static commands, which also run in the small fast app.
    static: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("check", "cnnspec.cli.static", "check", static=True),
    Command("fmt", "cnnspec.cli.static", "fmt", static=True),
    Command("schema", "cnnspec.cli.static", "schema", static=True),
    Command("version", "cnnspec.cli.static", "version", static=True),
    Command("train", "cnnspec.cli.train", "train"),
    Command("draw", "cnnspec.cli.draw", "draw"),
    Command("export", "cnnspec.cli.deploy", "export"),
    Command("predict", "cnnspec.cli.deploy", "predict"),
    Command("from-keras", "cnnspec.cli.deploy", "from_keras_command"),
    Command("sweep", "cnnspec.cli.sweep", "sweep"),
    Command("report", "cnnspec.cli.report", "report"),
    Command("evaluate", "cnnspec.cli.evaluate", "evaluate"),
    # static: pure Python, so it starts in the small app (editors start it often)
    Command("lsp", "cnnspec.cli.lsp", "lsp", static=True),
)

_SETTINGS: dict[str, Any] = dict(
    name="cnnspec",
    help="Declarative model specs for small CNNs: check, format, build, train, export, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
    # -h as well: users type it by habit; click passes the names down to every command.
    context_settings={"help_option_names": ["--help", "-h"]},
)


def _print_version(value: bool) -> None:
    if value:
        from cnnspec import __version__

        console().print(__version__)
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the cnnspec version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    # The group's own options (only --version, handled eagerly above); its help is _SETTINGS'.
    pass


def make_app(static_only: bool = False) -> typer.Typer:
    """A typer app with every command of :data:`COMMANDS` (or only the static ones), in order."""
    app = typer.Typer(**_SETTINGS)
    app.callback()(_root)
    for command in COMMANDS:
        if static_only and not command.static:
            continue
        function = getattr(importlib.import_module(command.module), command.function)
        app.command(command.name, cls=_Command)(function)
    return app


STATIC_COMMANDS = frozenset(c.name for c in COMMANDS if c.static)
_every_command: typer.Typer | None = None


def full_app() -> typer.Typer:
    """The app of every command, made on first use: ``cnnspec check`` never imports the
    other command modules (about 20 ms)."""
    global _every_command
    if _every_command is None:
        _every_command = make_app()
    return _every_command


def __getattr__(name: str) -> Any:
    # ``app``, the app of every command (what tests drive with typer's CliRunner).
    if name == "app":
        return full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the ``cnnspec`` command."""
    try:
        (make_app(static_only=True) if sys.argv[1:2] and sys.argv[1] in STATIC_COMMANDS else full_app())()
    except KeyboardInterrupt:
        console(stderr=True).print("[red]interrupted[/]")
        sys.exit(130)
