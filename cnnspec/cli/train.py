"""``cnnspec train``: a thin wrapper over :func:`cnnspec.run.train.train` and
:func:`cnnspec.run.train.resume`.

Nothing heavy is imported here at module level: ``cnnspec check`` imports
this module too and must stay instant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from cnnspec.cli.common import (
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
    parse_or_exit,
    read_source,
    run_or_exit,
    train_options,
    use_backend,
)

if TYPE_CHECKING:
    from cnnspec.run.options import RunResult
    from cnnspec.run.progress import ProgressMode

Job = Callable[[], "RunResult"]


def _names(names: list[str], most: int = 12) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "") if names else "(none)"


def _pick_spec(text: str, origin: str, name: Optional[str]) -> object:
    """The one spec to train: the only one, or ``--name``'s.  Alternatives in
    braces are expanded first, so ``--name m-4`` picks one variant of
    ``m = C: {4,8}`` (see :mod:`cnnspec.notation.variants`)."""
    from cnnspec.notation.variants import has_variants

    variants = has_variants(text)
    parsed = parse_or_exit(text, origin, expand=variants)
    names = [s.name for s in parsed.specs if s.name]
    if name is not None:
        if name not in names:
            fail(f"no spec named {name!r} in {origin}", hint=f"the names are: {_names(names)}")
        return parsed[name]
    if len(parsed.specs) > 1:
        if variants:
            fail(
                f"{origin} expands to {len(parsed.specs)} specs (alternatives in braces): "
                "say which with --name, or train them all with cnnspec sweep",
                hint=f"one of: {_names(names)}",
            )
        fail(f"{origin} holds {len(parsed.specs)} specs: say which with --name", hint=f"one of: {_names(names)}")
    return parsed.specs[0]


def _resume_job(run_dir: str, epochs: Optional[int], given: Mapping[str, object], progress: ProgressMode) -> Job:
    """``--resume DIR``: the run's own spec, data and settings; only ``--epochs`` may change."""
    clash = [flag for flag, value in given.items() if value is not None]
    if clash:
        fail(f"--resume keeps the run's settings; only --epochs may change, not {', '.join(clash)}")
    if epochs is not None and epochs < 1:
        fail("--epochs: must be at least 1")
    from cnnspec.run.train import resume

    return lambda: resume(run_dir, epochs=epochs, progress=progress)


def _train_job(
    path: Optional[str], spec: Optional[str], data: Optional[str], name: Optional[str], progress: ProgressMode,
    **options: object,
) -> Job:  # fmt: skip
    """A fresh run: the one spec of the source (or ``--name``'s) on ``--data``."""
    text, origin = read_source(path, spec)
    chosen = _pick_spec(text, origin, name)
    if data is None:
        fail("give the image folder with --data DIR")
    checked_options = train_options(**options)
    from cnnspec.run.train import train

    return lambda: train(chosen, data, checked_options, progress=progress)  # type: ignore[arg-type]


def _as_train_error(job: Job) -> Job:
    """A failure that is no refusal (Keras, TensorFlow, the disk) as one line: ``run.json``
    says ``failed``, and the user sees no traceback."""
    from cnnspec.errors import SpecError, UserError
    from cnnspec.run.train import TrainError

    def run() -> RunResult:
        try:
            return job()
        except (UserError, SpecError):
            raise
        except Exception as exc:
            raise TrainError(f"training failed: {type(exc).__name__}: {exc}") from exc

    return run


def train(
    path: PathArg = None,
    spec: SpecOpt = None,
    data: DataOpt = None,
    val: ValOpt = None,
    name: Annotated[
        Optional[str], typer.Option("--name", "-n", help="Which spec of a multi-spec file, or which variant (m-4).")
    ] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs (default: 10; with --resume: the run's).")] = None,
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
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Run directory (default: runs/NAME-TIME).")] = None,
    resume: Annotated[
        Optional[str], typer.Option("--resume", help="Continue the run in this directory.", show_default=False)
    ] = None,
    quiet: QuietOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per event (per epoch).")] = False,
    backend: BackendOpt = None,
) -> None:
    """Train a spec on an image folder; write a run directory (model, history, curves, metrics)."""
    from cnnspec.cli.quiet import quiet_tensorflow

    use_backend(backend, resume, resuming=resume is not None)  # before Keras is imported; --resume: the run's own
    quiet_tensorflow()  # TensorFlow, once imported, without its start-up lines
    progress: ProgressMode = "json" if as_json else "quiet" if quiet else "rich"
    if resume is not None:
        if path is not None or spec is not None or data is not None:
            fail("--resume DIR takes the spec and data from the run: give no PATH, --spec or --data")
        given = {
            "--val": val, "--name": name, "--batch-size": batch_size, "--lr": lr, "--optimizer": optimizer,
            "--seed": seed, "--val-split": val_split, "--patience": patience, "--jit": jit,
            "--distribute": distribute, "--out": out,
            "--mixed-precision": mixed_precision or None, "--skip-bad": skip_bad or None,
        }  # fmt: skip
        job = _resume_job(resume, epochs, given, progress)
    else:
        job = _train_job(
            path, spec, data, name, progress,
            epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, seed=seed, val_split=val_split,
            val_dir=val, patience=patience, mixed_precision=mixed_precision, jit=jit, distribute=distribute,
            skip_bad=skip_bad, out=out,
        )  # fmt: skip
    result = run_or_exit(_as_train_error(job))
    if result.status == "interrupted":
        if progress != "quiet":
            console(stderr=True).print(
                f"[yellow]interrupted after {result.epochs_completed} "
                f"epoch{'' if result.epochs_completed == 1 else 's'};[/] continue with "
                f"cnnspec train --resume {result.run_dir}",
                markup=True,
            )
        raise typer.Exit(128 + (result.signal or 2))


__all__ = ["train"]
