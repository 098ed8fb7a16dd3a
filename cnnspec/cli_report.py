"""``cnnspec sweep`` and ``cnnspec report``: thin wrappers over
:func:`cnnspec.sweep.sweep` and :func:`cnnspec.report.write_report`.

Nothing heavy is imported at module level (``cnnspec check`` imports this
module too).
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from cnnspec.cli import EXIT_INVALID, EXIT_OK, PathArg, SpecOpt, app, console, fail, read_source
from cnnspec.cli_options import (
    BatchSizeOpt,
    DataOpt,
    DistributeOpt,
    JitOpt,
    LrOpt,
    MixedPrecisionOpt,
    OptimizerOpt,
    PatienceOpt,
    QuietOpt,
    SeedOpt,
    SkipBadOpt,
    ValOpt,
    ValSplitOpt,
)


@app.command()
def sweep(
    path: PathArg = None,
    spec: SpecOpt = None,
    data: DataOpt = None,
    out: Annotated[str, typer.Option("--out", "-o", help="Sweep folder: one run directory per spec.")] = "sweep",
    val: ValOpt = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs of every run (default: 10).")] = None,
    batch_size: BatchSizeOpt = None,
    lr: LrOpt = None,
    optimizer: OptimizerOpt = None,
    seed: SeedOpt = None,
    val_split: ValSplitOpt = None,
    patience: PatienceOpt = None,
    mixed_precision: MixedPrecisionOpt = False,
    jit: JitOpt = None,
    distribute: DistributeOpt = None,
    skip_bad: SkipBadOpt = False,
    quiet: QuietOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per event (per run).")] = False,
) -> None:
    """Train every spec of a file (variants expanded), one run directory each under --out.

    Every spec is checked first, against the data too; invalid ones are listed
    and skipped.  Started again, a sweep skips finished runs and resumes an
    interrupted one.  Exit 0 when every spec trained, 1 when one was invalid
    or failed, 128+N after signal N.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from cnnspec.cli_train import _options
    from cnnspec.data import DataError
    from cnnspec.sweep import NoValidSpecError
    from cnnspec.sweep import sweep as run_sweep
    from cnnspec.train import TrainError

    text, origin = read_source(path, spec)
    if data is None:
        fail("give the image folder with --data DIR")
    options = _options(
        epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, seed=seed, val_split=val_split,
        val_dir=val, patience=patience, mixed_precision=mixed_precision, jit=jit, distribute=distribute,
        skip_bad=skip_bad,
    )  # fmt: skip
    progress = "json" if as_json else "quiet" if quiet else "rich"
    try:
        result = run_sweep(text, data, options, out, origin=origin, progress=progress)
    except NoValidSpecError as exc:
        err = console(stderr=True)
        for e in exc.entries:  # errors reach stderr in every mode, as when a sweep skips them
            err.print(f"skipped {e.name}: invalid spec\n{e.errors}", markup=False, highlight=False)
        from rich.markup import escape

        fail(escape(exc.message), EXIT_INVALID, exc.hint)
    except (DataError, TrainError) as exc:
        fail(exc.message, EXIT_INVALID, exc.hint)
    if progress == "rich":
        err = console(stderr=True)
        n_done = result.count("completed") + result.count("finished")
        err.print(
            f"{result.status}: {n_done} of {len(result.entries) - len(result.invalid)} runs done, "
            f"{len(result.invalid)} invalid spec(s) skipped; the table: cnnspec report {out} -o report.html",
            markup=False,
        )
    if result.status == "interrupted":
        raise typer.Exit(128 + (result.signal or 2))
    raise typer.Exit(EXIT_INVALID if result.invalid or result.status == "failed" else EXIT_OK)


@app.command()
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

    from cnnspec.atomic import WriteError
    from cnnspec.report import NoUsableRunError, ReportError, write_report

    if not out.lower().endswith((".md", ".html", ".htm")):
        fail(f"--out {escape(out)}: write the report as .md or .html")
    err = console(stderr=True)
    try:
        rep, written = write_report(
            paths, out, margin=margin, window=window, unstable=unstable, plots=plots, pictures=pictures
        )
    except NoUsableRunError as exc:
        for problem in exc.problems:
            err.print(f"warning: {problem}", markup=False)
        fail(escape(str(exc)), EXIT_INVALID)
    except ReportError as exc:
        fail(escape(str(exc)))
    except WriteError as exc:  # a bad --out: checked before any run is read
        fail(escape(str(exc)))
    for problem in rep.problems:
        err.print(f"warning: {problem}", markup=False)
    n = len(rep.rows)
    msg = f"{n} run{'s' * (n != 1)} -> " + ", ".join(str(p) for p in written)
    if rep.best:
        msg += f"; best {rep.best.name}"
    if rep.smallest and rep.smallest is not rep.best:
        msg += f"; smallest within {margin:g}: {rep.smallest.name}"
    err.print(msg, markup=False)


__all__ = ["report", "sweep"]
