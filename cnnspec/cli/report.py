"""``cnnspec report``: a thin wrapper over :func:`cnnspec.report.writers.write_report`.

Nothing heavy is imported at module level.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cnnspec.cli.common import console, fail, run_or_exit

if TYPE_CHECKING:
    from cnnspec.report.table import Report


def report(
    paths: Annotated[list[str], typer.Argument(help="Run directories, or sweep folders holding them.")],
    out: Annotated[str, typer.Option("--out", "-o", help="report.md (pictures beside it) or report.html (inline).")],
    margin: Annotated[
        float, typer.Option(help="Accuracy margin: mark the smallest model within it of the best.", min=0)
    ] = 0.01,
    window: Annotated[int, typer.Option(help="Last epochs over which the spread is measured.", min=2)] = 5,
    unstable: Annotated[
        float, typer.Option(help="Flag a run whose val accuracy falls by more than this in the window.", min=0)
    ] = 0.05,
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="Plot accuracy against params, and every run's curves (PNG).")
    ] = True,
    pictures: Annotated[
        bool, typer.Option("--pictures/--no-pictures", help="Draw each run's network beside its row (SVG).")
    ] = True,
) -> None:
    """Write the experiment table of training runs: params, MACs, accuracies, spread, speed.

    A run with a damaged file is left out with a warning; exit 1 when no run
    is usable.
    """
    from rich.markup import escape

    from cnnspec.report.table import NoUsableRunError
    from cnnspec.report.writers import write_report

    if not out.lower().endswith((".md", ".html", ".htm")):
        fail(f"--out {escape(out)}: write the report as .md or .html")
    err = console(stderr=True)

    def job() -> tuple[Report, list[Path]]:
        try:
            return write_report(
                paths, out, margin=margin, window=window, unstable=unstable, plots=plots, pictures=pictures
            )
        except NoUsableRunError as exc:
            for problem in exc.problems:
                err.print(f"warning: {problem}", markup=False)
            raise

    rep, written = run_or_exit(job)
    for problem in rep.problems:
        err.print(f"warning: {problem}", markup=False)
    n = len(rep.rows)
    msg = f"{n} run{'s' * (n != 1)} -> " + ", ".join(str(p) for p in written)
    if rep.best:
        msg += f"; best {rep.best.name}"
    if rep.smallest and rep.smallest is not rep.best:
        msg += f"; smallest within {margin:g}: {rep.smallest.name}"
    err.print(msg, markup=False)
