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
    n_runs = len(result.entries) - len(result.invalid) - len(result.over_budget)
    console(stderr=True).print(
        f"{result.status}: {n_done} of {n_runs} runs done, "
        f"{len(result.invalid)} invalid spec(s) skipped"
        + (f", {len(result.over_budget)} over budget" if result.over_budget else "")
        + f"; the table: cnnspec report {out} -o report.html",
        markup=False,
    )


# Over 60 lines only by its signature: typer reads the options from it, one parameter each
# (shared with train, defined once in cli/common.py); the body is about 45 lines.
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
    max_params: Annotated[
        Optional[str], typer.Option(help="Skip the specs with more parameters (50k, 1.5M, 2G).", show_default=False)
    ] = None,
    max_macs: Annotated[
        Optional[str], typer.Option(help="Skip the specs with more MACs per image (50k, 1.5M, 2G).", show_default=False)
    ] = None,
) -> None:
    """Train every spec of a file (variants expanded), one run directory each under --out.

    Every spec is checked first, against the data too; invalid ones, and those over
    --max-params or --max-macs, are listed and skipped.  Started again, a sweep skips finished runs and resumes an
    interrupted one.  Exit 0 when every spec trained, 1 when one was invalid
    or failed, 128+N after signal N.
    """
    from cnnspec.cli.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow, once imported, without its start-up lines
    from cnnspec.cli.common import train_options
    from cnnspec.run.budget import BudgetError, parse_count
    from cnnspec.run.sweep import NoValidSpecError
    from cnnspec.run.sweep import sweep as run_sweep

    try:  # a malformed budget is a usage error, found before anything is read
        budgets = {flag: None if v is None else parse_count(v, flag) for flag, v in
                   (("--max-params", max_params), ("--max-macs", max_macs))}  # fmt: skip
    except BudgetError as exc:
        fail(exc.message, hint=exc.hint)
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
            return run_sweep(
                text, data, options, out, origin=origin, progress=progress,
                max_params=budgets["--max-params"], max_macs=budgets["--max-macs"],
            )  # fmt: skip
        except NoValidSpecError as exc:
            err = console(stderr=True)
            for e in exc.entries:  # errors reach stderr in every mode, as when a sweep skips them
                err.print(e.skip_line(), markup=False, highlight=False)
            raise

    result = run_or_exit(job)
    if progress == "rich":
        _summary(result, out)
    if result.status == "interrupted":
        raise typer.Exit(128 + (result.signal or 2))
    raise typer.Exit(EXIT_INVALID if result.invalid or result.status == "failed" else EXIT_OK)
