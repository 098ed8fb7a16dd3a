"""``python -m cnnspec``: the same as the ``cnnspec`` command."""

from cnnspec.cli import main

main()
