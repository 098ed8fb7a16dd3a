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

import csv
import hashlib
import io
import json
import math
import os
import platform
import re
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from cnnspec import atomic
from cnnspec.errors import Diagnostic, SpecError
from cnnspec.network.checker import CheckedSpec, check
from cnnspec.notation.formatter import format_spec
from cnnspec.notation.ir import Spec
from cnnspec.notation.parser import parse
from cnnspec.notation.variants import has_variants
from cnnspec.run.data import DataError, DataPlan, FolderScan, open_datasets, plan, scan
from cnnspec.run.progress import COLUMNS, ProgressMode, Reporter, make_reporter

#: Keras' default learning rate of each optimizer.
DEFAULT_LR = {"adam": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3}
SGD_MOMENTUM = 0.9
RUNS_DIR = "runs"

Status = Literal["running", "completed", "interrupted", "failed"]


class TrainError(ValueError):
    """A run that cannot start or resume (an occupied ``--out``, a broken run
    directory): a message and a hint, shown without a traceback."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message + (f"\nhint: {hint}" if hint else ""))


class TrainOptions(BaseModel):
    """Every setting of a training run; stored in ``run.json`` as ``settings``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=32, ge=1)
    #: None: the optimizer's Keras default (Adam and RMSprop 0.001, SGD 0.01).
    lr: Optional[float] = Field(default=None, gt=0)
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    #: Fixes the validation split, the weights' initialization and the shuffles.
    seed: int = Field(default=42, ge=0)
    val_split: float = Field(default=0.2, gt=0, lt=1)
    #: A separate validation folder (``--val DIR``); ``val_split`` is then unused.
    val_dir: Optional[str] = None
    #: Stop when validation accuracy has not improved for this many epochs.
    patience: Optional[int] = Field(default=None, ge=1)
    mixed_precision: bool = False
    #: XLA: None leaves Keras' choice (on for GPUs, off on CPU).
    jit: Optional[bool] = None
    #: ``mirrored``: ``tf.distribute.MirroredStrategy`` over every local device.
    distribute: Optional[Literal["mirrored"]] = None
    skip_bad: bool = False
    #: The run directory; default ``runs/<spec name or "run">-<timestamp>``.
    out: Optional[str] = None

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]


class RunResult(BaseModel):
    """What :func:`train` and :func:`resume` return."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_dir: Path
    status: Status
    epochs_completed: int
    history: list[dict[str, float]]
    metrics: dict[str, Any]
    class_names: list[str]
    #: The signal that stopped an interrupted run (2 SIGINT, 15 SIGTERM).
    signal: Optional[int] = None
    #: The in-memory Keras model after the last epoch (not serialized).
    model: Any = Field(default=None, exclude=True, repr=False)


class _Interrupted(Exception):
    pass


# --- preparing: everything here runs before the run directory exists --------


def _as_spec(spec: Spec | str) -> Spec:
    return parse(spec) if isinstance(spec, str) else spec


def spec_text(spec: Spec) -> str:
    """The spec as written: its own lines of a multi-spec file.  A variant of
    a spec with alternatives in braces (``m-4`` of ``m = C: {4,8}``) is
    written as its own canonical line, ``m-4 = C: 4``: ``spec.cnn`` and
    ``--resume`` must hold this network, not the braces it came from."""
    if spec.name is None:
        text = spec.source.strip() + "\n"
    else:
        lines = spec.source.splitlines()
        start = spec.first_line - 1
        end = start + 1
        while end < len(lines) and not re.match(r"\s*[A-Za-z_][A-Za-z0-9_.-]*\s*=", lines[end]):
            end += 1
        text = "\n".join(lines[start:end]).strip() + "\n"
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

    at = Span(line=spec.first_line, column=1)
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


def _run_dir(out: str | Path | None, name: str | None) -> Path:
    """The run directory to create: ``out`` (absent or empty), or a fresh default."""
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            hint = f"resume it with --resume {out}" if (path / "run.json").exists() else "choose another --out"
            raise TrainError(f"{out} already exists and is not an empty folder", hint)
        return path
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(RUNS_DIR) / f"{name or 'run'}-{stamp}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


# --- the run directory ---------------------------------------------------------


def _versions() -> dict[str, str]:
    import keras
    import numpy
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": numpy.__version__,
    }


def _write_json(path: Path, obj: Any) -> None:
    atomic.write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def _history_csv(rows: list[dict[str, float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row["epoch"]] + [("" if row.get(c) is None else f"{row[c]:.8g}") for c in COLUMNS[1:]])
    return buf.getvalue()


def read_history(path: Path) -> list[dict[str, float]]:
    """The rows of a ``history.csv`` (epoch as int, the rest as float)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            {k: (int(v) if k == "epoch" else (float(v) if v != "" else None)) for k, v in row.items()}  # type: ignore[misc]
            for row in csv.DictReader(fh)
        ]


def summarize(
    history: list[dict[str, float]], train_seconds: list[float], n_train: int, total_params: int, macs: int
) -> dict[str, Any]:
    """``metrics.json`` from the history rows.

    ``seconds_per_epoch`` is the median epoch time (validation included) and
    ``images_per_second`` the training images over the median time of the
    training part of an epoch: medians, so the first epoch's tracing and cache
    fill do not count.  ``gflops`` is MACs x 6 (a multiply-add is 2 FLOPs, the
    backward pass about twice the forward) x images/s / 1e9.
    """

    def best(key: str, pick: Any) -> tuple[float, int]:
        rows = [r for r in history if r.get(key) is not None]
        top = pick(rows, key=lambda r: r[key])  # first of equals: max/min keep the earliest
        return top[key], int(top["epoch"])

    last = history[-1] if history else {}
    out: dict[str, Any] = {"epochs_completed": len(history)}
    if history:
        va, vae = best("val_accuracy", max)
        ta, tae = best("accuracy", max)
        vl, vle = best("val_loss", min)
        tl, tle = best("loss", min)
        out["best"] = {
            "val_accuracy": va, "val_accuracy_epoch": vae, "train_accuracy": ta, "train_accuracy_epoch": tae,
            "val_loss": vl, "val_loss_epoch": vle, "train_loss": tl, "train_loss_epoch": tle,
        }  # fmt: skip
        out["final"] = {
            "train_accuracy": last["accuracy"],
            "val_accuracy": last["val_accuracy"],
            "train_loss": last["loss"],
            "val_loss": last["val_loss"],
        }
    else:
        out["best"], out["final"] = {}, {}
    seconds = [r["seconds"] for r in history]
    out["seconds_per_epoch"] = round(statistics.median(seconds), 4) if seconds else None
    ips = n_train / statistics.median(train_seconds) if train_seconds and statistics.median(train_seconds) > 0 else None
    out["images_per_second"] = _sig(ips)
    out["total_params"] = total_params
    out["macs"] = macs
    out["gflops"] = _sig(macs * 6 * ips / 1e9) if ips is not None else None
    return out


def _sig(x: float | None, digits: int = 6) -> float | None:
    """``x`` to ``digits`` significant digits (rounding to decimals would zero a small rate)."""
    return None if x is None else float(f"{x:.{digits}g}")


def plot_curves(history: list[dict[str, float]], path: Path, title: str = "") -> None:
    """``curves.png``: loss and accuracy per epoch, training against validation."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(9, 3.6), dpi=100)
    for ax, key, label in (
        (fig.add_subplot(1, 2, 1), "loss", "loss"),
        (fig.add_subplot(1, 2, 2), "accuracy", "accuracy"),
    ):
        ax.plot(epochs, [r[key] for r in history], "o-", label=f"training {label}")
        ax.plot(epochs, [r[f"val_{key}"] for r in history], "o-", label=f"validation {label}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    atomic.write_with(path, lambda p: fig.savefig(p, format="png"), suffix=".png")


# --- the session: one process's share of a run ---------------------------------


class _Session:
    """Records a run as it goes: the files of the run directory, the history,
    the best epoch and the stop request of a signal."""

    def __init__(
        self,
        run_dir: Path,
        run: dict[str, Any],
        history: list[dict[str, float]],
        checked: CheckedSpec,
        n_train: int,
        patience: int | None,
        reporter: Reporter,
    ) -> None:
        self.run_dir = run_dir
        self.run = run
        self.history = history
        self.checked = checked
        self.n_train = n_train
        self.patience = patience
        self.reporter = reporter
        self.train_seconds: list[float] = []
        prior = run_dir / "metrics.json"
        try:  # only the timings of earlier sessions: a damaged file loses nothing that matters
            self.prior_metrics: dict[str, Any] = json.loads(prior.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.prior_metrics = {}
        if not isinstance(self.prior_metrics, dict):
            self.prior_metrics = {}
        self.stop_signal: int | None = None

    # files
    def write_run(self, status: Status) -> None:
        self.run["status"] = status
        self.run["updated"] = _now()
        _write_json(self.run_dir / "run.json", self.run)

    def metrics(self) -> dict[str, Any]:
        m = summarize(self.history, self.train_seconds, self.n_train, self.checked.total_params, self.checked.macs)
        if not self.train_seconds:  # a resumed session that trained no epoch: keep the timings measured before
            for key in ("images_per_second", "gflops"):
                m[key] = self.prior_metrics.get(key, m[key])
        return m

    def best_val_accuracy(self) -> float | None:
        vals = [r["val_accuracy"] for r in self.history if r.get("val_accuracy") is not None]
        return max(vals) if vals else None

    def epoch_done(self, row: dict[str, Any], train_seconds: float, model: Any) -> None:
        previous = self.best_val_accuracy()
        best = previous is None or row["val_accuracy"] > previous
        self.history.append(row)
        self.train_seconds.append(train_seconds)
        # state.json last: it is the commit point that --resume trusts.
        atomic.write_with(self.run_dir / "checkpoint.keras", model.save, suffix=".keras")
        if best:
            atomic.write_with(self.run_dir / "model.keras", model.save, suffix=".keras")
        atomic.write_text(self.run_dir / "history.csv", _history_csv(self.history))
        _write_json(self.run_dir / "metrics.json", self.metrics())
        _write_json(self.run_dir / "state.json", {"epoch": int(row["epoch"])})
        self.reporter.epoch_end(row, best)

    def early_stop(self) -> bool:
        if not self.patience or not self.history:
            return False
        best_epoch = max(self.history, key=lambda r: r["val_accuracy"])["epoch"]
        return self.history[-1]["epoch"] - best_epoch >= self.patience

    def finish(self, status: Status, model: Any = None) -> RunResult:
        metrics = self.metrics()
        _write_json(self.run_dir / "metrics.json", metrics)
        if self.history:
            plot_curves(self.history, self.run_dir / "curves.png", self.run.get("name") or "")
        self.write_run(status)
        result = RunResult(
            run_dir=self.run_dir,
            status=status,
            epochs_completed=len(self.history),
            history=self.history,
            metrics=metrics,
            class_names=list(self.run["class_names"]),
            signal=self.stop_signal,
            model=model,
        )
        self.reporter.finish(
            {"status": status, "run_dir": str(self.run_dir), "metrics": metrics, "history": self.history}
        )
        return result

    # signals
    def check_stop(self) -> None:
        if self.stop_signal is not None:
            raise _Interrupted


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def _stop_on_signals(session: _Session) -> Iterator[None]:
    """SIGINT / SIGTERM ask the session to stop after what is completed; a
    second signal stops at once.  Only the main thread can take signals: from
    another thread (a sweep's worker) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signums = [signal.SIGINT, signal.SIGTERM]
    previous = {s: signal.getsignal(s) for s in signums}

    def handler(signum: int, frame: Any) -> None:
        if session.stop_signal is not None:
            for s, h in previous.items():
                signal.signal(s, h)
            raise KeyboardInterrupt
        session.stop_signal = signum
        session.reporter.note(
            f"{signal.Signals(signum).name}: stopping after saving the last completed epoch "
            "(send it again to stop at once)"
        )

    for s in signums:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _reseed(model: Any, seed: int, epoch: int) -> None:
    """Set every random-number state of ``model`` (dropout, augmentation: one
    Keras ``SeedGenerator`` each) to a value of ``(seed, epoch, its place)``.

    Done at the start of every epoch, fresh or resumed, so that an epoch's
    masks and flips never depend on what ran before in the process: a
    resumed run draws what the uninterrupted run drew.  (The states are
    variables of the model, in the order of its layers, the same in a model
    built from the spec and one loaded from ``checkpoint.keras``.)
    """
    import numpy as np

    states = [v for v in model.variables if v.path.endswith("seed_generator_state")]
    for i, v in enumerate(states):
        digest = hashlib.sha256(f"{seed}:{epoch}:{i}".encode()).digest()
        v.assign(np.array([int.from_bytes(digest[:4], "little") >> 1, 0], dtype=v.dtype))


def _callback(session: _Session, epochs: int, steps: int, seed: int, epoch_var: Any) -> Any:
    import keras

    class Recorder(keras.callbacks.Callback):
        """Times each epoch, feeds the reporter and records each finished epoch."""

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            session.check_stop()
            # Before the epoch's data iterator exists: its order and the
            # model's random draws are functions of (seed, epoch) alone.
            epoch_var.assign(epoch)
            _reseed(self.model, seed, epoch)
            self.t0 = time.perf_counter()
            self.t_train: float | None = None
            session.reporter.epoch_start(epoch + 1, epochs, steps)

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            session.check_stop()
            reporter = session.reporter
            shown = None
            if logs and reporter.wants_logs():
                shown = {k: float(v) for k, v in logs.items() if k in ("loss", "accuracy")}
            reporter.step(batch + 1, shown)

        def on_test_begin(self, logs: Any = None) -> None:
            self.t_train = time.perf_counter() - self.t0

        def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
            session.check_stop()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            seconds = time.perf_counter() - self.t0
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            row = {"epoch": epoch + 1, **{c: _float(logs.get(c)) for c in COLUMNS[1:5]}}
            row.update(seconds=round(seconds, 3), lr=lr)
            session.epoch_done(row, self.t_train if self.t_train is not None else seconds, self.model)
            if session.early_stop():
                session.reporter.note(f"early stop: no better validation accuracy for {session.patience} epochs")
                self.model.stop_training = True
            session.check_stop()

    return Recorder()


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


# --- Keras ------------------------------------------------------------------------


#: For testing ``--distribute mirrored`` without GPUs: split the CPU into this
#: many logical devices (only works before TensorFlow has started its devices).
CPU_DEVICES_ENV = "CNNSPEC_CPU_DEVICES"


def _strategy(name: str | None) -> Any:
    import tensorflow as tf

    if name == "mirrored":
        _split_cpu(tf)
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _split_cpu(tf: Any) -> None:
    value = os.environ.get(CPU_DEVICES_ENV, "").strip()
    if not value:
        return
    if not value.isdigit() or int(value) < 1:
        raise TrainError(f"{CPU_DEVICES_ENV}={value!r} is not a device count", "give a whole number such as 2")
    count = int(value)
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:  # TensorFlow has started already: fine if it was split alike
        done = tf.config.get_logical_device_configuration(cpu)
        if len(done or [None]) != count:
            raise TrainError(
                f"{CPU_DEVICES_ENV}={count} came too late: TensorFlow has started its devices already",
                "set it before anything runs TensorFlow (a fresh process)",
            ) from None


def _loss_and_metric(spec: Spec) -> tuple[Any, Any]:
    """Loss and accuracy from the head: softmax -> sparse categorical CE, one
    sigmoid unit -> binary CE, an ``I`` head -> the ``from_logits`` form."""
    import keras

    head = spec.head
    logits = head is not None and head.activation == "I"
    if head is not None and head.classes == 1:
        return (
            keras.losses.BinaryCrossentropy(from_logits=logits),
            keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if logits else 0.5),
        )
    return keras.losses.SparseCategoricalCrossentropy(from_logits=logits), keras.metrics.SparseCategoricalAccuracy(
        name="accuracy"
    )


def _optimizer(options: TrainOptions) -> Any:
    import keras

    lr = options.learning_rate
    if options.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=SGD_MOMENTUM)
    if options.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr)
    return keras.optimizers.Adam(learning_rate=lr)


@contextmanager
def _precision(mixed: bool) -> Iterator[None]:
    """``mixed_float16`` while the model is built, then the caller's policy back."""
    if not mixed:
        yield
        return
    import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def _fit(
    session: _Session,
    spec: Spec,
    dplan: DataPlan,
    options: TrainOptions,
    initial_epoch: int,
    checkpoint: Path | None,
) -> RunResult:
    """Build (or load) the model in the strategy's scope and fit it; record it all."""
    import keras
    import tensorflow as tf

    reporter = session.reporter
    model = None
    with _stop_on_signals(session):
        try:
            # The same global seed in a fresh and a resumed run: tf.data
            # combines it with every shuffle's own seed.
            keras.utils.set_random_seed(options.seed)
            strategy = _strategy(options.distribute)
            session.run["replicas"] = int(strategy.num_replicas_in_sync)
            if options.distribute:
                devices = list(strategy.extended.worker_devices)
                reporter.note(f"{options.distribute}: {len(devices)} replicas on {', '.join(devices)}")
            with strategy.scope():
                if checkpoint is not None:
                    try:
                        model = keras.saving.load_model(checkpoint)
                    except Exception as exc:  # zip, h5, json and deserialization errors alike
                        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                        raise _damaged(checkpoint, f"not a readable Keras model ({first})") from None
                    optimizer = model.optimizer  # with its state: moments, iterations
                else:
                    from cnnspec.model.builder import build

                    with _precision(options.mixed_precision):
                        model = build(
                            spec,
                            None if spec.input else dplan.image_shape,
                            None if spec.head else len(dplan.class_names),
                            seed=options.seed,
                        )
                    optimizer = _optimizer(options)
                loss, metric = _loss_and_metric(spec)
                model.compile(
                    optimizer=optimizer,
                    loss=loss,
                    metrics=[metric],
                    jit_compile="auto" if options.jit is None else options.jit,
                )
            steps = math.ceil(dplan.n_train / options.batch_size)
            binary = spec.head is not None and spec.head.classes == 1
            # Outside the strategy's scope: the input pipeline reads it, not the replicas.
            epoch_var = tf.Variable(initial_epoch, dtype=tf.int64, trainable=False)
            with open_datasets(
                dplan,
                batch_size=options.batch_size,
                seed=options.seed,
                binary=binary,
                epoch=epoch_var,
            ) as (train_ds, val_ds):
                session.check_stop()
                if initial_epoch < options.epochs and not session.early_stop():
                    model.fit(
                        train_ds,
                        validation_data=val_ds,
                        epochs=options.epochs,
                        initial_epoch=initial_epoch,
                        callbacks=[_callback(session, options.epochs, steps, options.seed, epoch_var)],
                        shuffle=False,  # the pipeline shuffles, after its cache
                        verbose=0,
                    )
        except (_Interrupted, KeyboardInterrupt):
            reporter.close()
            if session.stop_signal is None:
                session.stop_signal = int(signal.SIGINT)
            return session.finish("interrupted", model)
        except BaseException:
            reporter.close()
            session.write_run("failed")
            if session.history:
                plot_curves(session.history, session.run_dir / "curves.png", session.run.get("name") or "")
            raise
    return session.finish("completed", model)


def _info(session: _Session, dplan: DataPlan, options: TrainOptions, initial_epoch: int) -> dict[str, Any]:
    run = session.run
    data = dplan.train.describe()
    if dplan.val is not None:
        data += f"; validation {dplan.val.describe()}"
    return {
        "name": run["name"] or "run",
        "run_dir": str(session.run_dir),
        "data": f"{dplan.train.path}: {data}",
        "n_train": dplan.n_train,
        "n_val": dplan.n_val,
        "classes": len(dplan.class_names),
        # Image files per class, as scanned (bad ones included; see "data").
        "counts": dict(dplan.train.counts),
        "val_counts": dict(dplan.val.counts) if dplan.val is not None else None,
        "input_shape": list(dplan.image_shape),
        "params": session.checked.total_params,
        "macs": session.checked.macs,
        "epochs": options.epochs,
        "initial_epoch": initial_epoch,
        "steps": math.ceil(dplan.n_train / options.batch_size),
        "settings": run["settings"],
    }


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
) -> RunResult:
    """Train ``spec`` on the image folder ``data_dir`` (one subfolder per class).

    Everything that can be refused is refused before the run directory is
    created: a bad spec (:class:`~cnnspec.errors.SpecError`), a bad folder
    (:class:`~cnnspec.run.data.DataError`), an occupied ``out_dir``
    (:class:`TrainError`).  Returns a :class:`RunResult` whose ``status`` is
    ``completed`` or ``interrupted`` (a signal: every completed epoch is
    saved); other failures are raised, with ``run.json`` marked ``failed``.

    >>> result = train("C: 16 32 D: 32R", "examples/data/digits", TrainOptions(epochs=2))  # doctest: +SKIP
    >>> result.metrics["best"]["val_accuracy"]  # doctest: +SKIP
    0.93
    """
    spec = _as_spec(spec)
    options = options or TrainOptions()
    run_dir = _run_dir(out_dir if out_dir is not None else options.out, spec.name)
    dplan, checked = _prepare(spec, data_dir, options)

    from cnnspec import __version__

    run_dir.mkdir(parents=True, exist_ok=True)
    written = spec_text(spec)
    data_record = dplan.train.data_record()
    if dplan.val is not None:
        data_record["val"] = dplan.val.data_record()
    run: dict[str, Any] = {
        "cnnspec_version": __version__,
        "name": spec.name,
        "spec": written,
        "canonical": format_spec(spec),
        # The network in full: I: and O: from the data where the spec leaves them out.
        "canonical_complete": format_spec(complete_spec(spec, dplan)),
        "input_shape": list(dplan.image_shape),
        "class_names": list(dplan.class_names),
        "settings": _settings(options, run_dir),
        "versions": _versions(),
        "data": data_record,
        "status": "running",
        "created": _now(),
    }
    atomic.write_text(run_dir / "spec.cnn", written)
    _write_json(run_dir / "class_names.json", list(dplan.class_names))
    reporter = make_reporter(progress)
    session = _Session(run_dir, run, [], checked, dplan.n_train, options.patience, reporter)
    session.write_run("running")
    reporter.start(_info(session, dplan, options, 0))
    return _fit(session, spec, dplan, options, 0, None)


_RESTART = "start the run again with cnnspec train (a new --out)"


def _damaged(path: Path, what: str, hint: str = _RESTART) -> TrainError:
    return TrainError(f"{path} is damaged: {what}", hint)


def _read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _damaged(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _damaged(path, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except OSError as exc:
        raise TrainError(f"cannot read {path}: {exc.strerror}") from None


def _read_run(run_dir: Path, epochs: int | None) -> tuple[dict[str, Any], Spec, TrainOptions]:
    """``run.json``, its spec and its settings (``epochs`` replaced when given)."""
    path = run_dir / "run.json"
    if not path.is_file():
        raise TrainError(f"{run_dir} is not a run directory (no run.json)", "give a folder that cnnspec train wrote")
    run = _read_json_file(path)
    if not isinstance(run, dict):
        raise _damaged(path, f"not what cnnspec train writes (a JSON {type(run).__name__}, not an object)")
    try:
        settings = dict(run["settings"])
        spec = parse(run["spec"], str(run_dir / "spec.cnn"))
        if epochs is not None:
            settings["epochs"] = epochs
        settings["out"] = str(run_dir)
        options = TrainOptions(**settings)
        for key in ("path", "fingerprint"):
            str(run["data"][key])
        list(run["class_names"])
    except SpecError as exc:
        raise _damaged(path, f"its spec does not parse ({exc.diagnostics[0].message})") from None
    except KeyError as exc:
        raise _damaged(path, f"it has no {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _damaged(path, f"not what cnnspec train writes ({first})") from None
    return run, spec, options


def _read_state(run_dir: Path) -> int:
    """The epochs completed, from ``state.json`` (0 when absent: no epoch was)."""
    path = run_dir / "state.json"
    if not path.exists():
        return 0
    state = _read_json_file(path)
    epoch = state.get("epoch") if isinstance(state, dict) else None
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise _damaged(path, f'expected {{"epoch": N}} with N the epochs completed, found {json.dumps(state)[:80]}')
    return epoch


def _read_run_history(run_dir: Path, done: int) -> list[dict[str, float]]:
    path = run_dir / "history.csv"
    try:
        history = read_history(path)[:done]
    except (ValueError, KeyError, TypeError, csv.Error, UnicodeDecodeError) as exc:
        raise _damaged(path, f"not the table cnnspec train writes ({type(exc).__name__}: {exc})") from None
    if len(history) < done or [int(r["epoch"]) for r in history] != list(range(1, done + 1)):
        raise _damaged(path, f"it does not hold epochs 1 to {done}, which state.json says were completed")
    return history


#: What every ``.keras`` file holds (a zip archive).
_KERAS_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}


def _checkpoint(run_dir: Path, done: int) -> Path | None:
    """``checkpoint.keras`` when epochs were completed, checked before anything
    is written: present, and a whole Keras archive."""
    if done == 0:
        return None
    import zipfile

    path = run_dir / "checkpoint.keras"
    if not path.is_file():
        raise TrainError(f"{path} is missing: state.json says {done} epochs were completed", _RESTART)
    try:
        with zipfile.ZipFile(path) as archive:
            missing = _KERAS_MEMBERS - set(archive.namelist())
            broken = archive.testzip()  # reads every member: a truncated or altered file fails here
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _damaged(path, f"not a readable Keras model ({exc})") from None
    if missing or broken:
        what = f"{', '.join(sorted(missing))} missing" if missing else f"{broken} corrupt"
        raise _damaged(path, f"not a whole Keras model ({what})")
    return path


def resume(
    run_dir: str | Path,
    epochs: int | None = None,
    progress: ProgressMode | Reporter = "rich",
) -> RunResult:
    """Continue the run in ``run_dir`` from its last completed epoch to
    ``epochs`` (default: the run's own target), with the same settings and
    data; the history so far is kept."""
    run_dir = Path(run_dir)
    run, spec, options = _read_run(run_dir, epochs)
    done = _read_state(run_dir)
    history = _read_run_history(run_dir, done)
    checkpoint = _checkpoint(run_dir, done)
    dplan, checked = _prepare(spec, run["data"]["path"], options)
    if list(dplan.class_names) != run["class_names"]:
        raise DataError(
            f"the classes in {run['data']['path']} ({', '.join(dplan.class_names)}) are not the run's "
            f"({', '.join(run['class_names'])})",
            "resume with the data the run started with",
        )
    reporter = make_reporter(progress)
    if dplan.train.fingerprint != run["data"]["fingerprint"]:
        reporter.note(f"the data in {dplan.train.path} changed since the run started (its fingerprint differs)")
    run["settings"] = {**run["settings"], "epochs": options.epochs}
    run.setdefault("canonical_complete", format_spec(complete_spec(spec, dplan)))  # runs from before it was kept
    session = _Session(run_dir, run, history, checked, dplan.n_train, options.patience, reporter)
    if done > 0:
        atomic.write_text(run_dir / "history.csv", _history_csv(history))
    session.write_run("running")
    reporter.start(_info(session, dplan, options, done))
    return _fit(session, spec, dplan, options, done, checkpoint)


__all__ = [
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
