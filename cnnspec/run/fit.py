"""Fitting a model inside a run: the distribution strategy, optimizer, loss, precision policy,
the per-epoch recorder, reseeding and signals.

:func:`fit` builds (or loads) the model in the strategy's scope and fits it, and a
:class:`RunRecorder` writes the run directory after every epoch.  Keras and TensorFlow are
imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from cnnspec import atomic
from cnnspec.network.checker import CheckedSpec
from cnnspec.notation.ir import Spec
from cnnspec.run.data import DataPlan
from cnnspec.run.metrics import plot_curves, summarize
from cnnspec.run.options import SGD_MOMENTUM, RunResult, Status, TrainError, TrainOptions
from cnnspec.run.pipeline import as_keras_data, open_datasets
from cnnspec.run.progress import COLUMNS, Reporter
from cnnspec.run.rundir import (
    CHECKPOINT_KERAS,
    CURVES_PNG,
    METRICS_JSON,
    MODEL_KERAS,
    RUN_JSON,
    STATE_JSON,
    Metrics,
    RunDirError,
    RunRecord,
    State,
    damaged,
    now,
    read_metrics,
    write_history,
    write_record,
)


class Interrupted(Exception):
    pass


# --- the session: one process's share of a run ---------------------------------


def _spec_of(run: Any) -> str:
    """The spec a picture names: complete (``I:`` and ``O:``) when the run knows it."""
    return str(getattr(run, "canonical_complete", None) or getattr(run, "canonical", None) or run.spec or "")


class RunRecorder:
    """Records a run as it goes: the files of the run directory, the history,
    the best epoch and the stop request of a signal."""

    def __init__(
        self,
        run_dir: Path,
        run: RunRecord,
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
        try:  # only the timings of earlier sessions: a damaged file loses nothing that matters
            self.prior_metrics = read_metrics(run_dir) or Metrics()
        except RunDirError:
            self.prior_metrics = Metrics()
        self.stop_signal: int | None = None
        #: Asked after every recorded epoch (epoch, history row); ``True`` stops the run as
        #: ``stopped`` (a sweep's successive halving).  Set by the caller, after construction.
        self.on_epoch: Callable[[int, dict[str, Any]], bool] | None = None
        self.stopped = False

    # files
    def write_run(self, status: Status) -> None:
        self.run.status = status
        self.run.updated = now()
        write_record(self.run_dir / RUN_JSON, self.run)

    def metrics(self) -> dict[str, Any]:
        m = summarize(self.history, self.train_seconds, self.n_train, self.checked.total_params, self.checked.macs)
        if not self.train_seconds:  # a resumed session that trained no epoch: keep the timings measured before
            for key in ("images_per_second", "gflops"):
                if key in self.prior_metrics.model_fields_set:
                    m[key] = getattr(self.prior_metrics, key)
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
        atomic.write_with(self.run_dir / CHECKPOINT_KERAS, model.save, suffix=".keras")
        if best:
            atomic.write_with(self.run_dir / MODEL_KERAS, model.save, suffix=".keras")
        write_history(self.run_dir, self.history)
        write_record(self.run_dir / METRICS_JSON, Metrics.model_validate(self.metrics()))
        write_record(self.run_dir / STATE_JSON, State(epoch=int(row["epoch"])))
        self.reporter.epoch_end(row, best)

    def early_stop(self) -> bool:
        if not self.patience or not self.history:
            return False
        best_epoch = max(self.history, key=lambda r: r["val_accuracy"])["epoch"]
        return self.history[-1]["epoch"] - best_epoch >= self.patience

    def finish(self, status: Status, model: Any = None) -> RunResult:
        metrics = self.metrics()
        write_record(self.run_dir / METRICS_JSON, Metrics.model_validate(metrics))
        if self.history:
            plot_curves(self.history, self.run_dir / CURVES_PNG, self.run.name or "", _spec_of(self.run))
        self.write_run(status)
        result = RunResult(
            run_dir=self.run_dir,
            status=status,
            epochs_completed=len(self.history),
            history=self.history,
            metrics=metrics,
            class_names=list(self.run.class_names or []),
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
            raise Interrupted


@contextmanager
def stop_on_signals(session: RunRecorder) -> Iterator[None]:
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


def _callback(session: RunRecorder, epochs: int, steps: int, seed: int, train_data: Any, whole: Any) -> Any:
    """The recorder of a fit; ``whole`` is the model saved and reseeded (augmentation included),
    which the fitted model (``self.model``) is the trunk of when augmentation runs in the
    input pipeline (:func:`split_augmentation`)."""
    import keras

    class Recorder(keras.callbacks.Callback):
        """Times each epoch, feeds the reporter and records each finished epoch."""

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            session.check_stop()
            # Before the epoch's data iterator exists: its order and the
            # model's random draws are functions of (seed, epoch) alone.
            train_data.set_epoch(epoch)
            _reseed(whole, seed, epoch)
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
            # Wait for the device: JAX dispatches steps ahead, and the clock read without
            # waiting would stop before the training part has run.
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
            self.t_train = time.perf_counter() - self.t0

        def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
            session.check_stop()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            seconds = time.perf_counter() - self.t0
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            row = {"epoch": epoch + 1, **{c: _float(logs.get(c)) for c in COLUMNS[1:5]}}
            row.update(seconds=round(seconds, 3), lr=lr)
            session.epoch_done(row, self.t_train if self.t_train is not None else seconds, whole)
            if session.early_stop():
                session.reporter.note(f"early stop: no better validation accuracy for {session.patience} epochs")
                self.model.stop_training = True
            if session.on_epoch is not None and session.on_epoch(epoch + 1, row):
                session.stopped = True
                self.model.stop_training = True
            session.check_stop()

    return Recorder()


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


# --- Keras ------------------------------------------------------------------------


def keras_backend() -> str:
    """The backend Keras runs on (imports Keras, and with it that backend)."""
    import keras

    return str(keras.backend.backend())


def describe_backend() -> str:
    """``jax 0.10.2 on cpu``: the backend, its version and the devices it trains on."""
    import sys

    from cnnspec.run.rundir import BACKEND_PACKAGES

    name = keras_backend()
    module = sys.modules.get(BACKEND_PACKAGES.get(name, name))
    version = getattr(module, "__version__", "")
    return f"{name} {version} on {', '.join(_devices(name))}".replace("  ", " ")


def device_counts(backend: str) -> dict[str, int]:
    """The devices ``backend`` sees, by kind (``{"gpu": 2, "cpu": 1}``; ``cuda`` on PyTorch);
    imports that backend only, and TensorFlow's without starting its devices."""
    from collections import Counter

    kinds: Counter[str] = Counter()
    if backend == "jax":
        import jax

        kinds.update(d.platform for d in jax.devices())
    elif backend == "tensorflow":
        import tensorflow as tf

        # Physical: listing logical devices would start them (too early for CNNSPEC_CPU_DEVICES).
        kinds.update(d.device_type.lower() for d in tf.config.list_physical_devices())
    elif backend == "torch":
        import torch

        kinds["cuda" if torch.cuda.is_available() else "cpu"] += max(1, torch.cuda.device_count())
    return dict(kinds)


def gpu_count(backend: str) -> int:
    """How many GPUs ``backend`` sees."""
    counts = device_counts(backend)
    return counts.get("gpu", 0) + counts.get("cuda", 0)


def _devices(backend: str) -> list[str]:
    """The kinds of device the backend sees, GPUs first (``gpu ×2``, ``cpu``)."""
    try:
        kinds = device_counts(backend)
    except Exception:  # a device query that fails says nothing worth stopping for
        return ["?"]
    return [k if n == 1 else f"{k} ×{n}" for k, n in sorted(kinds.items(), key=lambda kv: kv[0] == "cpu")] or ["?"]


#: For testing ``--distribute mirrored`` without GPUs: split the CPU into this
#: many logical devices (only works before TensorFlow has started its devices).
CPU_DEVICES_ENV = "CNNSPEC_CPU_DEVICES"


def _strategy(name: str | None) -> Any:
    """``tf.distribute.MirroredStrategy`` for ``mirrored`` (TensorFlow only), else None: one device,
    nothing imported."""
    if name != "mirrored":
        return None
    import keras

    if keras.backend.backend() != "tensorflow":
        raise TrainError(
            f"--distribute mirrored needs the TensorFlow backend; Keras runs on {keras.backend.backend()}",
            "train with --backend tensorflow, or without --distribute",
        )
    import tensorflow as tf

    _split_cpu(tf)
    return tf.distribute.MirroredStrategy()


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


def open_model(checked: CheckedSpec, options: TrainOptions, checkpoint: Path | None) -> tuple[Any, Any]:
    """The model and its optimizer: loaded from ``checkpoint`` (the optimizer with its state:
    moments, iterations), or built from the checked spec (checked against the data already,
    so it is not checked again) with a fresh optimizer.  Call it inside the strategy's scope."""
    import keras

    if checkpoint is not None:
        try:
            model = keras.saving.load_model(checkpoint)
        except Exception as exc:  # zip, h5, json and deserialization errors alike
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise damaged(checkpoint, f"not a readable Keras model ({first})") from None
        return model, model.optimizer
    from cnnspec.model.builder import build_checked

    with _precision(options.mixed_precision):
        model = build_checked(checked, seed=options.seed)
    return model, _optimizer(options)


#: Steps that run on the device between two reads of the logs by the host (``steps_per_execution``):
#: reading them after every step waits for it, which cost 17 % of an epoch at batch 32 on a CPU.
SYNC_EVERY = 16
#: Overrides :data:`SYNC_EVERY` (benchmarks measure 1 against it).
SYNC_EVERY_ENV = "CNNSPEC_SYNC_EVERY"
#: Where ``A:`` runs while training: ``pipeline`` or ``model`` (default: by backend, below).
AUGMENT_ENV = "CNNSPEC_AUGMENT"
#: Measured (benchmarks/bench_backends.py, 2-core CPU, batch 32): on TensorFlow the layers in the
#: model (XLA off, tf.data kept) beat eager layers in a PyDataset about 4x; on JAX the pipeline
#: beats the model's uncompiled step.
AUGMENT_WHERE = {"tensorflow": "model"}


def sync_every(steps: int, distribute: str | None = None, backend: str | None = None) -> int:
    """The ``steps_per_execution`` of a fit of ``steps`` batches an epoch (1 under
    ``--distribute``: Keras 3.15's multi-step function fails under MirroredStrategy; 1 on
    PyTorch, whose Keras trainer refuses more and runs each step eagerly, so the host waits
    for it anyway)."""
    if distribute or backend == "torch":
        return 1
    value = os.environ.get(SYNC_EVERY_ENV, "")
    every = int(value) if value.isdigit() and int(value) >= 1 else SYNC_EVERY
    return max(1, min(every, steps))


def compile_model(model: Any, optimizer: Any, spec: Spec, options: TrainOptions, steps: int = 1) -> None:
    """Compile with the head's loss and accuracy, the XLA setting and :func:`sync_every`."""
    loss, metric = _loss_and_metric(spec)
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=[metric],
        jit_compile="auto" if options.jit is None else options.jit,
        steps_per_execution=sync_every(steps, options.distribute, keras_backend()),
    )


def split_augmentation(model: Any) -> tuple[list[Any], Any]:
    """``(augmentation layers, trunk)``: the ``A:`` layers that lead the model, and the model
    after them (sharing every weight), which is what trains.

    Why: RandomRotation, RandomZoom and RandomTranslation are not jit-compilable, so inside the
    model they make the whole training step run uncompiled (JAX) or turn XLA off (TensorFlow).
    Run on each batch in the input pipeline instead (the same layers, the same seeds), they cost
    the step nothing, and the saved model keeps them, as the spec says.  ``([], model)`` when the
    spec has no ``A:``, on TensorFlow (:data:`AUGMENT_WHERE`: measured slower there) and with
    ``CNNSPEC_AUGMENT=model``.
    """
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    augment = []
    for layer in layers:
        if not layer.name.startswith("aug_"):
            break
        augment.append(layer)
    where = os.environ.get(AUGMENT_ENV) or AUGMENT_WHERE.get(keras.backend.backend(), "pipeline")
    if not augment or where == "model":
        return [], model
    first = layers[len(augment)]
    return augment, keras.Model(first.input, model.output, name=model.name)


def augmenter(layers: list[Any]) -> Any:
    """The pipeline's function of a float32 batch: ``layers`` in training mode, as numpy."""
    if not layers:
        return None
    import keras

    def augment(x: Any) -> Any:
        for layer in layers:
            x = layer(x, training=True)
        return keras.ops.convert_to_numpy(x)

    return augment


def run_epochs(
    recorder: RunRecorder, model: Any, spec: Spec, dplan: DataPlan, options: TrainOptions, initial_epoch: int
) -> None:
    """Fit from ``initial_epoch`` to ``options.epochs`` (unless early stopping says the run is
    done); the recorder writes the run directory after every epoch."""
    steps = math.ceil(dplan.n_train / options.batch_size)
    binary = spec.head is not None and spec.head.classes == 1
    augment, trunk = split_augmentation(model)
    if trunk is not model:  # the same optimizer: the saved model holds the state the trunk trains
        compile_model(trunk, model.optimizer, spec, options, steps)
    with open_datasets(
        dplan, batch_size=options.batch_size, seed=options.seed, binary=binary, augment=augmenter(augment),
        note=recorder.reporter.note,
    ) as (train_ds, val_ds):  # fmt: skip
        recorder.check_stop()
        if initial_epoch < options.epochs and not recorder.early_stop():
            trunk.fit(
                as_keras_data(train_ds),
                validation_data=as_keras_data(val_ds),
                epochs=options.epochs,
                initial_epoch=initial_epoch,
                callbacks=[_callback(recorder, options.epochs, steps, options.seed, train_ds, model)],
                shuffle=False,  # the pipeline shuffles, after its cache
                verbose=0,
            )


def fit(
    recorder: RunRecorder,
    spec: Spec,
    dplan: DataPlan,
    options: TrainOptions,
    initial_epoch: int,
    checkpoint: Path | None,
) -> RunResult:
    """Open the model in the strategy's scope, compile it and fit it; record it all.

    A signal ends the run as ``interrupted`` (every completed epoch saved); any other
    failure marks ``run.json`` ``failed`` and is raised.
    """
    import keras

    reporter = recorder.reporter
    model = None
    with stop_on_signals(recorder):
        try:
            # The same global seed in a fresh and a resumed run (the backend's own draws).
            keras.utils.set_random_seed(options.seed)
            strategy = _strategy(options.distribute)
            recorder.run.replicas = 1 if strategy is None else int(strategy.num_replicas_in_sync)
            if strategy is not None:
                devices = list(strategy.extended.worker_devices)
                reporter.note(f"{options.distribute}: {len(devices)} replicas on {', '.join(devices)}")
            with nullcontext() if strategy is None else strategy.scope():
                model, optimizer = open_model(recorder.checked, options, checkpoint)
                compile_model(model, optimizer, spec, options, math.ceil(dplan.n_train / options.batch_size))
            run_epochs(recorder, model, spec, dplan, options, initial_epoch)
        except (Interrupted, KeyboardInterrupt):
            reporter.close()
            if recorder.stop_signal is None:
                recorder.stop_signal = int(signal.SIGINT)
            return recorder.finish("interrupted", model)
        except BaseException:
            reporter.close()
            recorder.write_run("failed")
            if recorder.history:
                plot_curves(
                    recorder.history, recorder.run_dir / CURVES_PNG, recorder.run.name or "", _spec_of(recorder.run)
                )
            raise
    return recorder.finish("stopped" if recorder.stopped else "completed", model)
