"""``cnnspec lsp``: start the language server on standard input and output."""

from __future__ import annotations

from cnnspec.cli.common import EXIT_USAGE, fail


def lsp() -> None:
    """Run the language server over stdio (for editors: diagnostics, hover, formatting, ...)."""
    try:  # pygls is the `lsp` extra: a plain install still runs every other command
        from cnnspec.lsp.server import main
    except ImportError as exc:
        fail(f"the language server needs pygls ({exc.name} is missing)", EXIT_USAGE,
             "install it with: pip install 'cnnspec[lsp]'")  # fmt: skip
    from cnnspec import __version__

    main(__version__)
