"""Spec + image folder -> a trained model in a run directory.

The whole pipeline reads top to bottom in :func:`train`: check the options,
scan and plan the data (:mod:`cnnspec.run.data`), check the spec against it, and
only then create the run directory (see ``docs/architecture.md``), build the
model inside the distribution strategy's scope and fit it.  After every epoch
the checkpoint, the best model, ``history.csv``, ``metrics.json`` and
``state.json`` are written atomically, so an interrupted run (Ctrl-C,
SIGTERM, a crash) keeps every completed epoch and :func:`resume` goes on
from the last one.

Keras, TensorFlow and matplotlib are imported inside the functions that need
them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from cnnspec import atomic
from cnnspec.errors import Diagnostic, SpecError
from cnnspec.network.checker import CheckedSpec, check
from cnnspec.notation.formatter import format_spec
from cnnspec.notation.ir import Spec
from cnnspec.notation.parser import parse
from cnnspec.notation.variants import has_variants
from cnnspec.run.data import DataError, DataPlan, FolderScan, plan, scan
from cnnspec.run.fit import RunRecorder, describe_backend, fit, keras_backend
from cnnspec.run.lock import locked
from cnnspec.run.metrics import plot_curves, summarize
from cnnspec.run.options import RunResult, TrainError, TrainOptions
from cnnspec.run.progress import ProgressMode, Reporter, make_reporter
from cnnspec.run.rundir import (
    CLASS_NAMES_JSON,
    LOCK_JSON,
    RUN_FILES,
    RUN_JSON,
    RUNS_DIR,
    SPEC_CNN,
    RunDirError,
    RunRecord,
    checkpoint_to_resume,
    damaged,
    now,
    read_completed_history,
    read_history,
    read_run,
    read_state,
    versions,
    write_history,
    write_json,
)

#: ``on_epoch(epoch, history row) -> stop?``: asked after each recorded epoch.
OnEpoch = Callable[[int, dict[str, Any]], bool]

# --- preparing: everything here runs before the run directory exists --------


def _as_spec(spec: Spec | str) -> Spec:
    return parse(spec) if isinstance(spec, str) else spec


def spec_text(spec: Spec) -> str:
    """The spec as written: its own lines of a multi-spec file.  A variant of
    a spec with alternatives in braces (``m-4`` of ``m = C: {4,8}``) is
    written as its own canonical line, ``m-4 = C: 4``: ``spec.cnn`` and
    ``--resume`` must hold this network, not the braces it came from."""
    text = spec.own_text.strip() + "\n"
    if has_variants(text):
        return (f"{spec.name} = " if spec.name else "") + format_spec(spec) + "\n"
    return text


def _diag(spec: Spec, code: str, message: str, span: Any, hint: str) -> SpecError:
    return SpecError(
        [Diagnostic(code=code, message=message, span=span, hint=hint, origin=spec.origin, spec=spec.name)],
        spec.source,
    )


_CHANNEL_WORDS = {1: "grayscale (1 channel)", 3: "colour (3 channels)", 4: "colour with alpha (4 channels)"}


def check_against_data(spec: Spec, dplan: DataPlan) -> CheckedSpec:
    """Hold the spec's ``I:`` and ``O:`` against the data, then check the network."""
    n = len(dplan.class_names)
    folder = dplan.train.path
    if spec.head is not None:
        head = spec.head
        if head.classes == 1 and n != 2:
            raise _diag(
                spec, "E404", f"O: {head.text} is one sigmoid unit, for 2 classes; {folder} has {n} classes",
                head.span, f"write O: {n}, or leave O: out and let the data decide",
            )  # fmt: skip
        if head.classes != 1 and head.classes != n:
            raise _diag(
                spec, "E404", f"O: {head.text} has {head.classes} classes, the data in {folder} has {n}",
                head.span, f"write O: {n}, or leave O: out and let the data decide",
            )  # fmt: skip
    checked = check(spec, None if spec.input else dplan.image_shape, None if spec.head else n)
    if checked.errors:
        raise SpecError(list(checked.errors), spec.source)
    return checked


def check_channels(spec: Spec, train: FolderScan) -> None:
    """E406 when ``I:`` asks for other channels than every image has.  A folder that mixes kinds
    (grayscale and colour) has no one count to disagree with: ``I:`` decides, and the start line
    says what loading converts."""
    from cnnspec.run.images import kinds

    if spec.input is not None and len(kinds(train.modes)) > 1:
        return
    if spec.input is not None and spec.input.channels != train.channels:
        i = spec.input
        raise _diag(
            spec, "E406",
            f"I: {i.text} asks for {i.channels} channel{'s' if i.channels > 1 else ''}, "
            f"the images in {train.path} are {_CHANNEL_WORDS[train.channels]}",
            i.span, f"write I: {i.height}x{i.width}x{train.channels}",
        )  # fmt: skip


def complete_spec(spec: Spec, dplan: DataPlan) -> Spec:
    """``spec`` with the ``I:`` and ``O:`` that the data decides when it has
    none: the network the run builds, described in full."""
    from cnnspec.notation.ir import Head, InputShape, Span

    at = Span.invented("the data")
    update: dict[str, Any] = {}
    if spec.input is None:
        h, w, c = dplan.image_shape
        update["input"] = InputShape(span=at, text=f"{h}x{w}x{c}", height=h, width=w, channels=c)
    if spec.head is None:
        n = len(dplan.class_names)
        update["head"] = Head(span=at, text=str(n), classes=n)
    return spec.model_copy(update=update)


def _prepare(spec: Spec, data_dir: str | Path, options: TrainOptions) -> tuple[DataPlan, CheckedSpec]:
    """Scan and plan the data and check the spec against it; raise on any problem."""
    if spec.input is not None:  # a spec that is wrong whatever the data: say so before the scan
        static = check(spec)
        if static.errors:
            raise SpecError(list(static.errors), spec.source)
    train_scan = scan(data_dir)
    val_scan = scan(options.val_dir) if options.val_dir else None
    check_channels(spec, train_scan)
    dplan = plan(
        train_scan,
        val=val_scan,
        val_split=options.val_split,
        image_shape=spec.input.shape if spec.input else None,
        skip_bad=options.skip_bad,
    )
    return dplan, check_against_data(spec, dplan)


def _start_event(session: RunRecorder, dplan: DataPlan, options: TrainOptions, initial_epoch: int) -> dict[str, Any]:
    run = session.run
    data = dplan.train.describe()
    if dplan.val is not None:
        data += f"; validation {dplan.val.describe()}"
    return {
        "name": run.name or "run",
        "run_dir": str(session.run_dir),
        "data": f"{dplan.train.path}: {data}",
        "n_train": dplan.n_train,
        "n_val": dplan.n_val,
        "classes": len(dplan.class_names),
        # Image files per class, as scanned (bad ones included; see "data").
        "counts": dict(dplan.train.counts),
        "val_counts": dict(dplan.val.counts) if dplan.val is not None else None,
        "input_shape": list(dplan.image_shape),
        # What loading changes (resizing to the spec's I:, colour conversions): said, not silent.
        "converted": load_conversions(dplan),
        "params": session.checked.total_params,
        "macs": session.checked.macs,
        "epochs": options.epochs,
        "initial_epoch": initial_epoch,
        "steps": math.ceil(dplan.n_train / options.batch_size),
        "settings": run.settings,
        "backend": describe_backend(),
    }


def _gpu_note(reporter: Reporter) -> None:
    """Warn when the NVIDIA driver sees a GPU that the backend does not (training on the CPU by
    mistake): :func:`cnnspec.run.devices.gpu_hint`."""
    from cnnspec.run.devices import gpu_hint

    hint = gpu_hint(keras_backend())
    if hint:
        reporter.note(hint)


def load_conversions(dplan: DataPlan) -> list[str]:
    """What loading changes in the images of a plan (resizing, colour), one phrase each."""
    from collections import Counter

    from cnnspec.run.images import conversions

    scans = [dplan.train] + ([dplan.val] if dplan.val is not None else [])
    sizes = sum((Counter(s.sizes) for s in scans), Counter())
    modes = sum((Counter(s.modes) for s in scans), Counter())
    return conversions(dict(sizes), dict(modes), dplan.image_shape)


def _settings(options: TrainOptions, run_dir: Path) -> dict[str, Any]:
    settings = options.model_dump(mode="json")
    settings["lr"] = options.learning_rate
    settings["out"] = str(run_dir)
    if options.val_dir:
        settings["val_dir"] = str(Path(options.val_dir).resolve())
    return settings


# --- the public entry points ----------------------------------------------------------


def train(
    spec: Spec | str,
    data_dir: str | Path,
    options: TrainOptions | None = None,
    out_dir: str | Path | None = None,
    progress: ProgressMode | Reporter = "rich",
    on_epoch: OnEpoch | None = None,
) -> RunResult:
    """Train ``spec`` on the image folder ``data_dir`` (one subfolder per class).

    Everything that can be refused is refused before the run directory is
    created: a bad spec (:class:`~cnnspec.errors.SpecError`), a bad folder
    (:class:`~cnnspec.run.data.DataError`), an occupied ``out_dir``
    (:class:`TrainError`).  Returns a :class:`RunResult` whose ``status`` is
    ``completed`` or ``interrupted`` (a signal: every completed epoch is
    saved); other failures are raised, with ``run.json`` marked ``failed``.
    ``on_epoch(epoch, row)``, asked after each recorded epoch, stops the run as
    ``stopped`` when it returns ``True`` (a sweep's successive halving).

    >>> result = train("C: 16 32 D: 32R", "examples/data/digits", TrainOptions(epochs=2))  # doctest: +SKIP
    >>> result.metrics["best"]["val_accuracy"]  # doctest: +SKIP
    0.93
    """
    spec = _as_spec(spec)
    options = options or TrainOptions()
    run_dir = _new_run_dir(out_dir if out_dir is not None else options.out, spec.name)
    if options.distribute and keras_backend() != "tensorflow":  # refused before anything is created
        raise TrainError(
            f"--distribute {options.distribute} needs the TensorFlow backend; Keras runs on {keras_backend()}",
            "train with --backend tensorflow, or without --distribute",
        )
    dplan, checked = _prepare(spec, data_dir, options)

    run_dir.mkdir(parents=True, exist_ok=True)
    reporter = make_reporter(progress)
    with locked(run_dir, reporter.note):  # one writer: released however the run ends
        _refuse_occupied(run_dir)  # another writer may have filled it since the check above
        return _start(spec, run_dir, dplan, checked, options, reporter, on_epoch)


def _refuse_occupied(path: Path, shown: str | Path | None = None) -> None:
    """A ``--out`` that holds anything but a lock is refused (``shown``: the path as given)."""
    out = path if shown is None else shown
    if path.exists() and (not path.is_dir() or any(p.name != LOCK_JSON for p in path.iterdir())):
        hint = f"resume it with --resume {out}" if (path / RUN_JSON).exists() else "choose another --out"
        raise TrainError(f"{out} already exists and is not an empty folder", hint)


def _start(
    spec: Spec,
    run_dir: Path,
    dplan: DataPlan,
    checked: CheckedSpec,
    options: TrainOptions,
    reporter: Reporter,
    on_epoch: OnEpoch | None = None,
) -> RunResult:
    """Write a fresh run's records, then fit (the lock is held)."""
    from cnnspec import __version__

    written = spec_text(spec)
    data_record = dplan.train.data_record()
    if dplan.val is not None:
        data_record["val"] = dplan.val.data_record()
    run = RunRecord.model_validate(
        {
            "cnnspec_version": __version__,
            "name": spec.name,
            "spec": written,
            "canonical": format_spec(spec),
            # The network in full: I: and O: from the data where the spec leaves them out.
            "canonical_complete": format_spec(complete_spec(spec, dplan)),
            "input_shape": list(dplan.image_shape),
            "class_names": list(dplan.class_names),
            "settings": _settings(options, run_dir),
            "versions": versions(),
            "backend": keras_backend(),
            "data": data_record,
            "status": "running",
            "created": now(),
        }
    )
    atomic.write_text(run_dir / SPEC_CNN, written)
    write_json(run_dir / CLASS_NAMES_JSON, list(dplan.class_names))
    recorder = RunRecorder(run_dir, run, [], checked, dplan.n_train, options.patience, reporter)
    recorder.on_epoch = on_epoch
    recorder.write_run("running")
    reporter.start(_start_event(recorder, dplan, options, 0))
    _gpu_note(reporter)
    return fit(recorder, spec, dplan, options, 0, None)


def _new_run_dir(out: str | Path | None, name: str | None) -> Path:
    """The run directory to create: ``out`` (absent or empty), or a fresh default."""
    if out is not None:
        path = Path(out)
        _refuse_occupied(path, out)  # a lock alone (a sweep clearing it for this run) is no occupant
        return path
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(RUNS_DIR) / f"{name or 'run'}-{stamp}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def resume(
    run_dir: str | Path,
    epochs: int | None = None,
    progress: ProgressMode | Reporter = "rich",
    on_epoch: OnEpoch | None = None,
) -> RunResult:
    """Continue the run in ``run_dir`` from its last completed epoch to
    ``epochs`` (default: the run's own target), with the same settings and
    data; the history so far is kept.  ``on_epoch`` as in :func:`train`.

    Every file the resume needs is read and checked (:mod:`cnnspec.run.rundir`) before
    anything is written: a damaged one raises :class:`~cnnspec.run.rundir.RunDirError`.
    """
    run_dir = Path(run_dir)
    read_run(run_dir)  # a run directory, before a lock file is made in it
    reporter = make_reporter(progress)
    with locked(run_dir, reporter.note):  # before anything is read for good: one writer at a time
        return _resume(run_dir, read_run(run_dir), epochs, reporter, on_epoch)


def _resume(
    run_dir: Path, run: RunRecord, epochs: int | None, reporter: Reporter, on_epoch: OnEpoch | None = None
) -> RunResult:
    """:func:`resume` once the lock is held."""
    run.require(run_dir, "spec", "settings", "data", "data.path", "data.fingerprint", "class_names")
    assert run.spec is not None and run.data is not None and run.data.path and run.class_names is not None
    if run.trained_on != keras_backend():
        raise TrainError(
            f"{run_dir} was trained on the {run.trained_on} backend; Keras runs on {keras_backend()} here, "
            "and a run resumes on the backend that started it (its optimizer state and random draws are that "
            "backend's)",
            f"resume with --backend {run.trained_on} (or KERAS_BACKEND={run.trained_on})",
        )
    options = run.options(run_dir, epochs)
    try:
        spec = parse(run.spec, str(run_dir / SPEC_CNN))
    except SpecError as exc:
        raise damaged(run_dir / RUN_JSON, f"its spec does not parse ({exc.diagnostics[0].message})") from None
    # A run killed outright (SIGKILL) mid-write leaves a hidden temporary beside the checkpoint.
    atomic.remove_leftovers(run_dir, RUN_FILES)
    done = read_state(run_dir).epoch
    history = read_completed_history(run_dir, done)
    checkpoint = checkpoint_to_resume(run_dir, done)
    dplan, checked = _prepare(spec, run.data.path, options)
    if list(dplan.class_names) != run.class_names:
        raise DataError(
            f"the classes in {run.data.path} ({', '.join(dplan.class_names)}) are not the run's "
            f"({', '.join(run.class_names)})",
            "resume with the data the run started with",
        )
    if dplan.train.fingerprint != run.data.fingerprint:
        reporter.note(f"the data in {dplan.train.path} changed since the run started (its fingerprint differs)")
    run.settings = {**(run.settings or {}), "epochs": options.epochs}
    if run.canonical_complete is None:  # runs from before it was kept
        run.canonical_complete = format_spec(complete_spec(spec, dplan))
    recorder = RunRecorder(run_dir, run, history, checked, dplan.n_train, options.patience, reporter)
    recorder.on_epoch = on_epoch
    if done > 0:
        write_history(run_dir, history)
    recorder.write_run("running")
    reporter.start(_start_event(recorder, dplan, options, done))
    _gpu_note(reporter)
    return fit(recorder, spec, dplan, options, done, checkpoint)


__all__ = [
    "RunDirError",
    "RunResult",
    "TrainError",
    "TrainOptions",
    "complete_spec",
    "plot_curves",
    "read_history",
    "resume",
    "summarize",
    "train",
]
