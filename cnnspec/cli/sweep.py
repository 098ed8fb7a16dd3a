"""``cnnspec sweep``: a thin wrapper over :func:`cnnspec.run.sweep.sweep`.

Nothing heavy is imported at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from cnnspec.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    BatchSizeOpt,
    DataOpt,
    DistributeOpt,
    JitOpt,
    LrOpt,
    MixedPrecisionOpt,
    OptimizerOpt,
    PathArg,
    PatienceOpt,
    QuietOpt,
    SeedOpt,
    SkipBadOpt,
    SpecOpt,
    ValOpt,
    ValSplitOpt,
    console,
    fail,
    read_source,
    run_or_exit,
)

if TYPE_CHECKING:
    from cnnspec.run.sweep import SweepResult


def _summary(result: SweepResult, out: str) -> None:
    """The last line of a sweep in the terminal: runs done, specs skipped, how to tabulate."""
    n_done = result.count("completed") + result.count("finished")
    console(stderr=True).print(
        f"{result.status}: {n_done} of {len(result.entries) - len(result.invalid)} runs done, "
        f"{len(result.invalid)} invalid spec(s) skipped; the table: cnnspec report {out} -o report.html",
        markup=False,
    )


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
    from cnnspec.cli.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow, once imported, without its start-up lines
    from cnnspec.cli.common import train_options
    from cnnspec.run.sweep import NoValidSpecError
    from cnnspec.run.sweep import sweep as run_sweep

    text, origin = read_source(path, spec)
    if data is None:
        fail("give the image folder with --data DIR")
    options = train_options(
        epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, seed=seed, val_split=val_split,
        val_dir=val, patience=patience, mixed_precision=mixed_precision, jit=jit, distribute=distribute,
        skip_bad=skip_bad,
    )  # fmt: skip
    progress = "json" if as_json else "quiet" if quiet else "rich"

    def job() -> SweepResult:
        try:
            return run_sweep(text, data, options, out, origin=origin, progress=progress)
        except NoValidSpecError as exc:
            err = console(stderr=True)
            for e in exc.entries:  # errors reach stderr in every mode, as when a sweep skips them
                err.print(f"skipped {e.name}: invalid spec\n{e.errors}", markup=False, highlight=False)
            raise

    result = run_or_exit(job)
    if progress == "rich":
        _summary(result, out)
    if result.status == "interrupted":
        raise typer.Exit(128 + (result.signal or 2))
    raise typer.Exit(EXIT_INVALID if result.invalid or result.status == "failed" else EXIT_OK)
