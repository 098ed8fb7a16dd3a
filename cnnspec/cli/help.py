"""How every command reads in ``--help`` and in a usage error, the same on each typer we support.

Typer changed its help between the releases that ``typer>=0.12`` allows: 0.12 prints click's
metavars (``--spec TEXT``, nothing after a flag, ``Usage: cnnspec check [OPTIONS] [PATH]``),
while the newest releases print Python annotations (``--json <bool>``, ``<str>``,
``<list[str]>``) and write a required argument as ``{run_dir}``, which reads as if the flag took a
value.  Typer asks each parameter for its metavar first, on every release, so the commands and the
group below set one on every parameter when they are built: flags get none, an option its value's
kind in click's words, an argument its name in capitals.  The usage line is assembled here too,
in click's classic form, so that it does not depend on the release either.

Nothing else changes: the commands, their options, exit codes and output are typer's and click's.
"""

from __future__ import annotations

from typing import Any

import typer.core

#: A value's kind in click 8.1's words, from click's type names and from the Python annotations
#: that the newest typer (which has no click types) describes parameters by.
_KINDS = {
    "text": "TEXT", "integer": "INTEGER", "float": "FLOAT", "boolean": "BOOLEAN", "path": "PATH",
    "str": "TEXT", "int": "INTEGER", "bool": "BOOLEAN", "Path": "PATH",
}  # fmt: skip


def _value_metavar(param: Any) -> str | None:
    """The metavar of an option that takes a value (its kind), or None to keep typer's (choices)."""
    if hasattr(param, "type"):  # a click parameter (typer 0.12 to 0.2x)
        if hasattr(param.type, "choices"):
            return None
        name = str(param.type.name).removesuffix(" range")  # the range is printed apart
    else:  # typer's own parameter, described by its annotation
        desc = param.type_descriptor
        if desc.is_choice:
            return None
        name = desc.ranged_type_name if desc.is_ranged else param.bare_type()
    return _KINDS.get(name, name.upper())


def _argument_metavar(param: Any) -> str:
    name = (param.name or "arg").upper()
    return f"{name}..." if param.nargs != 1 else name


def _no_type_column(ctx: Any) -> None:
    """An argument's type column: empty (its metavar, in the name column, already says it)."""
    return None


def plain_metavars(params: list[Any]) -> None:
    """Give every parameter a metavar, so typer prints it instead of an annotation."""
    for param in params:
        if param.metavar is not None:
            continue
        if param.param_type_name == "argument":
            param.metavar = _argument_metavar(param)
            # The newest typer prints an argument's annotation (``<str>``) beside its metavar and
            # asks nothing else first: this one parameter's answer is replaced, nothing global.
            if hasattr(param, "display_type_rich"):
                param.display_type_rich = _no_type_column
        elif getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        else:
            param.metavar = _value_metavar(param)


def _usage_pieces(command: Any, ctx: Any) -> list[str]:
    """``[OPTIONS] PATH [MODEL] IMAGES...``: click's classic usage line, on every typer."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name != "argument":
            continue
        name = param.metavar or _argument_metavar(param)
        pieces.append(name if param.required else f"[{name}]")
    return pieces


def _quiet_help_option(option: Any) -> Any:
    if option is not None and option.metavar is None:
        option.metavar = ""
    return option


class Command(typer.core.TyperCommand):
    """A typer command whose help reads the same on every supported typer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_metavars(self.params)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)

    def get_help_option(self, ctx: Any) -> Any:
        return _quiet_help_option(super().get_help_option(ctx))


class Group(typer.core.TyperGroup):
    """The ``cnnspec`` group: its commands in the order they were added (typer 0.12 sorts them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_metavars(self.params)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*_usage_pieces(self, ctx), self.subcommand_metavar]

    def get_help_option(self, ctx: Any) -> Any:
        return _quiet_help_option(super().get_help_option(ctx))
