"""``cnnspec lsp``: start the language server on standard input and output."""

from __future__ import annotations

from typing import Annotated

import typer

from cnnspec.cli.common import EXIT_USAGE, fail


def lsp(
    stdio: Annotated[
        bool, typer.Option("--stdio", help="Accepted for clients that pass it: stdio is the only transport.")
    ] = False,
) -> None:
    """Run the language server over stdio (for editors: diagnostics, hover, formatting, ...)."""
    try:  # pygls is the `lsp` extra: a plain install still runs every other command
        from cnnspec.lsp.server import main
    except ImportError as exc:
        from rich.markup import escape

        missing = (exc.name or "pygls").split(".")[0]
        fail(f"the language server needs {missing}, which is not installed", EXIT_USAGE,
             escape("install it with: pip install 'cnnspec[lsp]'"))  # fmt: skip
    from cnnspec import __version__

    main(__version__)
