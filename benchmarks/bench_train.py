"""Is ``cnnspec train`` as fast as a hand-written Keras script?  Prints the figures issue 3 asks for.

    python benchmarks/bench_train.py [--repeats 3] [--epochs 4] [--only small|large] [--quick]

Two workloads, generated into a temporary folder:

* **small**: 32x32 RGB PNGs, 10 classes, spec ``I: 32x32x3 C: 16 32 D: 64R``;
* **large**: 256x256 RGB JPEG photos resized on load to 128x128 by the spec's
  ``I:``, 4 classes, spec ``I: 128x128x3 C: 8 16 32 D: 32R``.

On each, two contenders train the same model (built from the same spec by
:func:`cnnspec.build`) on the same data with the same batch size, epochs,
optimizer (Adam) and split (0.2, seed 42), each in a fresh process:

* ``cnnspec``: :func:`cnnspec.run.train.train`, as ``cnnspec train`` runs it
  (scan, run directory, checkpoints, history and metrics after every epoch);
* ``script``: the articles' style: ``image_dataset_from_directory`` batched,
  no cache, no prefetch, ``model.fit(train_ds, validation_data=val_ds)``.

The figure is training images per second over the *training part* of the
steady-state epochs (every epoch but the first: tracing and cache fill), timed
in both from the start of the epoch to the end of its last training batch
(images per CPU-second are shown beside it: on a shared machine they are
steadier than wall time).
Runs alternate (A B B A ...) against the noise of a shared machine; medians
are reported, with the ratio cnnspec / script (target >= 0.97).  The compute
rate is the checker's MACs x 6 x images/s (forward multiply-add = 2 FLOPs,
backward about twice the forward), in GFLOP/s.  A third process trains the
same model on one batch repeated (no input cost): from its rate, the share of
cnnspec's epoch spent waiting for data (on a GPU, the accelerator idle).  Whole-process wall time is
shown too: it includes cnnspec's folder scan and per-epoch files.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKLOADS = {
    # name: (spec, classes, images per class, stored size, format)
    "small": ("I: 32x32x3 C: 16 32 D: 64R", 10, 300, 32, "png"),
    "large": ("I: 128x128x3 C: 8 16 32 D: 32R", 4, 100, 256, "jpg"),
}
BATCH = 32
SEED = 42
VAL_SPLIT = 0.2
MARK = "BENCH "


# --- data -----------------------------------------------------------------------------


def make_data(root: Path, classes: int, per_class: int, size: int, ext: str) -> Path:
    """Class-coloured blobs on noise: real image files, learnable, and as costly to decode as photos."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for label in range(classes):
        folder = root / f"class{label:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        hue = np.array([(label * 97) % 256, (label * 57 + 80) % 256, (label * 31 + 160) % 256], dtype=float)
        for i in range(per_class):
            cy, cx = rng.random(2) * 0.6 + 0.2
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.03)[..., None]
            noise = rng.normal(110, 45, (size, size, 3))
            img = np.clip(noise * (1 - blob) + hue * blob, 0, 255).astype(np.uint8)
            Image.fromarray(img, "RGB").save(folder / f"{i:04d}.{ext}", quality=90)
    return root


# --- the two contenders, each run in a fresh process ---------------------------------------


def worker_cnnspec(data: str, spec: str, epochs: int, out: str) -> dict[str, object]:
    from cnnspec.run.progress import Reporter
    from cnnspec.run.train import TrainOptions, train

    class Timer(Reporter):
        """Start of each epoch to the end of its last training batch."""

        def __init__(self) -> None:
            self.train: list[float] = []
            self.cpu: list[float] = []

        def epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
            self.steps, self.t0, self.c0 = steps, time.perf_counter(), time.process_time()

        def step(self, step: int, logs: dict[str, float] | None) -> None:
            if step == self.steps:
                self.train.append(time.perf_counter() - self.t0)
                self.cpu.append(time.process_time() - self.c0)

    timer = Timer()
    opts = TrainOptions(epochs=epochs, batch_size=BATCH, seed=SEED, val_split=VAL_SPLIT)
    result = train(spec, data, opts, out_dir=out, progress=timer)
    return {
        "train_seconds": timer.train,
        "cpu_seconds": timer.cpu,
        "val_accuracy": result.metrics["best"]["val_accuracy"],
    }


def _epoch_timer(stop: str) -> tuple[object, list[float], list[float]]:
    """A Keras callback timing each epoch from its start to the hook ``stop``
    (``on_test_begin``: the end of the training part; ``on_epoch_end``), in
    wall and CPU seconds, with the two lists it fills."""
    import keras

    seconds: list[float] = []
    cpu: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def _stop(self, *args: object, **kwargs: object) -> None:
            seconds.append(time.perf_counter() - self.t0)
            cpu.append(time.process_time() - self.c0)

    setattr(Timer, stop, Timer._stop)
    return Timer(), seconds, cpu


def worker_script(data: str, spec: str, epochs: int, out: str) -> dict[str, object]:
    import keras

    import cnnspec

    keras.utils.set_random_seed(SEED)
    parsed = cnnspec.parse(spec)
    h, w, _ = parsed.input.shape
    train_ds = keras.utils.image_dataset_from_directory(
        data, validation_split=VAL_SPLIT, subset="training", seed=SEED, image_size=(h, w), batch_size=BATCH
    )
    val_ds = keras.utils.image_dataset_from_directory(
        data, validation_split=VAL_SPLIT, subset="validation", seed=SEED, image_size=(h, w), batch_size=BATCH
    )
    model = cnnspec.build(parsed, classes=len(train_ds.class_names), seed=SEED)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer, seconds, cpu = _epoch_timer("on_test_begin")
    hist = model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=[timer], verbose=0)
    return {"train_seconds": seconds, "cpu_seconds": cpu, "val_accuracy": max(hist.history["val_accuracy"])}


def worker_compute(data: str, spec: str, epochs: int, out: str) -> dict[str, object]:
    """The same model and steps with no input pipeline to speak of: one batch, repeated.

    Its epoch time is the compute alone; ``1 - compute / cnnspec`` is the share
    of an epoch spent waiting for data (on a GPU: the accelerator idle).
    """
    import keras
    import numpy as np
    import tensorflow as tf

    import cnnspec

    keras.utils.set_random_seed(SEED)
    parsed = cnnspec.parse(spec)
    classes = sum(1 for d in Path(data).iterdir() if d.is_dir())
    files = sum(1 for _ in Path(data).rglob("*.*"))
    steps = -(-(files - int(VAL_SPLIT * files)) // BATCH)
    rng = np.random.default_rng(SEED)
    x = rng.integers(0, 256, size=(BATCH, *parsed.input.shape)).astype("float32")
    y = rng.integers(0, classes, size=(BATCH,))
    batches = tf.data.Dataset.from_tensors((x, y)).repeat(steps).cache()
    model = cnnspec.build(parsed, classes=classes, seed=SEED)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer, seconds, cpu = _epoch_timer("on_epoch_end")
    model.fit(batches, epochs=epochs, callbacks=[timer], verbose=0)
    return {"train_seconds": seconds, "cpu_seconds": cpu, "val_accuracy": float("nan")}


def run_worker(kind: str, data: Path, spec: str, epochs: int, tmp: Path) -> dict[str, object]:
    out = tempfile.mkdtemp(prefix=f"{kind}-", dir=tmp)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    cmd = [sys.executable, __file__, "--worker", kind, "--data", str(data), "--spec", spec, "--epochs", str(epochs)]
    proc = subprocess.run([*cmd, "--out", f"{out}/run"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{kind} worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1][len(MARK) :])
    result["wall"] = wall
    return result


# --- the report ------------------------------------------------------------------------------


def bench(name: str, repeats: int, epochs: int, tmp: Path) -> dict[str, float]:
    from cnnspec import check, parse

    spec, classes, per_class, size, ext = WORKLOADS[name]
    data = make_data(tmp / name, classes, per_class, size, ext)
    n = classes * per_class
    n_train = n - int(VAL_SPLIT * n)
    macs = check(parse(spec), None, classes).macs
    print(f"\n{name}: {n} {size}x{size} {ext.upper()} images ({n_train} for training), {classes} classes, "
          f"spec {spec!r}, {macs:,} MACs/image,", flush=True)  # fmt: skip
    print(f"  batch {BATCH}, {epochs} epochs, {repeats} repeats", flush=True)
    ips: dict[str, list[float]] = {"cnnspec": [], "script": []}
    walls: dict[str, list[float]] = {"cnnspec": [], "script": []}
    per_cpu: dict[str, list[float]] = {"cnnspec": [], "script": []}
    for r in range(repeats):
        for kind in ("cnnspec", "script") if r % 2 == 0 else ("script", "cnnspec"):
            res = run_worker(kind, data, spec, epochs, tmp)
            steady = res["train_seconds"][1:] or res["train_seconds"]  # type: ignore[index]
            rate = n_train / statistics.median(steady)
            ips[kind].append(rate)
            per_cpu[kind].append(n_train / statistics.median(res["cpu_seconds"][1:] or res["cpu_seconds"]))  # type: ignore[index]
            walls[kind].append(float(res["wall"]))  # type: ignore[arg-type]
            epochs_text = " ".join(f"{s:.2f}" for s in res["train_seconds"])  # type: ignore[union-attr]
            print(f"  {kind:8s} run {r + 1}: {rate:8.1f} images/s (train seconds per epoch: {epochs_text}; "
                  f"val acc {res['val_accuracy']:.3f}; process {res['wall']:.1f} s)", flush=True)  # fmt: skip
    med = {k: statistics.median(v) for k, v in ips.items()}
    ratio = med["cnnspec"] / med["script"]
    for kind in ("cnnspec", "script"):
        gflops = macs * 6 * med[kind] / 1e9
        print(f"  {kind:8s} median {med[kind]:8.1f} images/s = {gflops:6.2f} GFLOP/s; "
              f"{statistics.median(per_cpu[kind]):7.1f} images per CPU-second; "
              f"median process wall {statistics.median(walls[kind]):.1f} s")  # fmt: skip
    verdict = "ok" if ratio >= 0.97 else "BELOW TARGET"
    print(f"  ratio cnnspec / script: {ratio:.3f} (target >= 0.97: {verdict})")
    compute = run_worker("compute", data, spec, epochs, tmp)
    compute_ips = n_train / statistics.median(compute["train_seconds"][1:] or compute["train_seconds"])  # type: ignore[index]
    wait = max(0.0, 1 - med["cnnspec"] / compute_ips)
    device = "GPU" if _has_gpu() else "CPU"
    print(f"  compute alone (one batch repeated): {compute_ips:8.1f} images/s; cnnspec's epoch waits for data "
          f"{wait:.1%} of its time on this {device}")  # fmt: skip
    return {"ratio": ratio, "data_wait_share": wait, **{f"{k}_images_per_second": v for k, v in med.items()}}


def _has_gpu() -> bool:
    """Whether TensorFlow sees a GPU here (asked in a subprocess: this process stays TF-free)."""
    probe = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env).stdout.strip()
    return out not in ("", "0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each contender per workload (default 3)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first is not timed (default 4)")
    parser.add_argument("--only", choices=sorted(WORKLOADS), help="one workload only")
    parser.add_argument("--quick", action="store_true", help="one repeat of 2 epochs (a smoke test)")
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
    parser.add_argument("--worker", choices=["cnnspec", "script", "compute"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        fn = {"cnnspec": worker_cnnspec, "script": worker_script, "compute": worker_compute}[args.worker]
        print(MARK + json.dumps(fn(args.data, args.spec, args.epochs, args.out)), flush=True)
        return
    if args.quick:
        args.repeats, args.epochs = 1, 2
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; each run is a fresh process")
    summary = {}
    with tempfile.TemporaryDirectory(prefix="cnnspec-bench-") as tmp:
        for name in [args.only] if args.only else list(WORKLOADS):
            summary[name] = bench(name, args.repeats, args.epochs, Path(tmp))
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
