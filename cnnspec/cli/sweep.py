"""``cnnspec sweep``: a thin wrapper over :func:`cnnspec.run.sweep.sweep`.

Nothing heavy is imported at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from cnnspec.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    BackendOpt,
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
    use_backend,
)

if TYPE_CHECKING:
    from cnnspec.run.sweep import SweepResult


def _summary(result: SweepResult, out: str) -> None:
    """The last line of a sweep in the terminal: runs done, specs skipped, how to tabulate."""
    n_done = result.count("completed") + result.count("finished")
    n_runs = len(result.entries) - len(result.invalid) - len(result.over_budget)
    stopped = result.count("stopped")
    console(stderr=True).print(
        f"{result.status}: {n_done} of {n_runs} runs done, "
        + (f"{stopped} stopped early (--halving), " if stopped else "")
        + f"{len(result.invalid)} invalid spec(s) skipped"
        + (f", {len(result.over_budget)} over budget" if result.over_budget else "")
        + f"; the table: cnnspec report {out} -o report.html",
        markup=False,
    )


def _engine(name: str, address: str | None, cpus: float, gpus: float) -> Any:
    """``"local"`` or a :class:`cnnspec.run.ray_engine.RayEngine`; a bad combination is a usage error."""
    if name not in ("local", "ray"):
        fail(f"--engine {name}: choose local or ray")
    if name == "local":
        if address is not None:
            fail("--address joins a Ray cluster: give --engine ray too")
        return "local"
    if cpus <= 0 or gpus < 0:
        fail("--cpus-per-run must be above 0 and --gpus-per-run at least 0")
    from cnnspec.run.ray_engine import RayEngine

    return RayEngine(address=address, cpus_per_run=cpus, gpus_per_run=gpus)


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
    engine: Annotated[
        str, typer.Option(help="local: one run after another here; ray: runs side by side as Ray tasks.")
    ] = "local",
    address: Annotated[
        Optional[str],
        typer.Option(help="With --engine ray: join this Ray cluster (default: Ray on this host).", show_default=False),
    ] = None,
    cpus_per_run: Annotated[float, typer.Option(help="With --engine ray: CPUs of each run.")] = 1.0,
    gpus_per_run: Annotated[float, typer.Option(help="With --engine ray: GPUs of each run (0.5: two per GPU).")] = 0.0,
    halving: Annotated[bool, typer.Option(help="Stop losing runs early (successive halving, Optuna's).")] = False,
    halving_min_epochs: Annotated[int, typer.Option(help="With --halving: epochs before any stop.")] = 2,
    halving_factor: Annotated[int, typer.Option(help="With --halving: keep the top 1/factor at each rung.")] = 3,
    backend: BackendOpt = None,
) -> None:
    """Train every spec of a file (variants expanded), one run directory each under --out.

    Every spec is checked first, against the data too; invalid ones, and those over
    --max-params or --max-macs, are listed and skipped.  Started again, a sweep skips finished runs and resumes an
    interrupted one.  Exit 0 when every spec trained, 1 when one was invalid
    or failed, 128+N after signal N.
    """
    from cnnspec.cli.quiet import quiet_tensorflow

    use_backend(backend)  # before Keras is imported (Ray's workers get the driver's KERAS_BACKEND)
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
    run_engine = _engine(engine, address, cpus_per_run, gpus_per_run)
    if halving and (halving_min_epochs < 1 or halving_factor < 2):
        fail("--halving needs --halving-min-epochs of at least 1 and --halving-factor of at least 2")
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
                max_params=budgets["--max-params"], max_macs=budgets["--max-macs"], engine=run_engine,
                halving=(halving_min_epochs, halving_factor) if halving else None,
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
