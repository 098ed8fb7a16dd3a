"""The ``cnnspec`` command line: thin typer wrappers over the library.

The entry point is ``cnnspec.cli:main``; ``app`` is the typer app of every command.  Loaded on
first use, so that ``import cnnspec.cli.common`` (what each command imports) loads no command.
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    """Entry point of the ``cnnspec`` command."""
    from cnnspec.cli.commands import main as _main

    _main()


def __getattr__(name: str) -> Any:
    if name == "app":
        from cnnspec.cli.commands import app

        return app
    raise AttributeError(f"module 'cnnspec.cli' has no attribute {name!r}")
