"""Is ``cnnspec train`` as fast as a hand-written Keras script, on every backend?  Prints the figures of issue 11.

    python benchmarks/bench_train.py [--backends tensorflow,jax] [--batches 32,256] [--repeats 3] [--epochs 4]
                                     [--workload small|large|cifar] [--images N] [--quick] [--json]

A workload is generated into a temporary folder (class-coloured blobs on noise:
real image files, learnable):

* **small** (default): 3,000 32x32 RGB PNGs, 10 classes, spec ``I: 32x32x3 C: 16 32 D: 64R``;
* **large**: 400 256x256 JPEG photos resized on load to 128x128, 4 classes, ``I: 128x128x3 C: 8 16 32 D: 32R``;
* **cifar**: 32x32 PNGs, 10 classes, ``examples/cifar10_convnet.cnn`` (631,658 parameters); ``--images``
  sets the count (benchmarks/gpu_check.sh: 20,000 on a GPU).

On each backend (``KERAS_BACKEND``; default: every one of TensorFlow, JAX and
PyTorch that is installed) and each batch size, two contenders train the same
network on the same data, split (0.2), batch size, epochs and optimizer
(Adam), each in a fresh process:

* ``cnnspec``: :func:`cnnspec.run.train.train`, as ``cnnspec train`` runs it
  (scan, run directory, checkpoints, history and metrics after every epoch);
* ``script``: the articles' style: the images loaded into NumPy arrays once
  (``x / 255.0``), the network written out by hand as a ``keras.Sequential``
  (its parameter count is held equal to the checker's), and
  ``model.fit(x, y, batch_size=B, validation_data=(xv, yv))`` with Keras'
  default progress bar.

The figure is training images per second over the training part of the
steady-state epochs (every epoch but the first: tracing, compilation), timed in
both from the start of the epoch to the end of its last training batch; images
per CPU-second beside it (steadier than wall time on a shared machine).  Runs
alternate (A B B A ...) against the noise of a shared machine; medians are
reported with the ratio cnnspec / script (issue 11's targets on the 2-core CPU:
>= 1.15 at batch 32 on TensorFlow, >= 1.0 on JAX).  The compute rate is the
checker's MACs x 6 x images/s (forward multiply-add = 2 FLOPs, backward about
twice the forward), in GFLOP/s.  A third process trains the same model on one
batch repeated from memory (no input cost to speak of): from its rate, the
share of each contender's epoch spent waiting for data (on a GPU: the
accelerator idle).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")
SEED = 42
VAL_SPLIT = 0.2
MARK = "BENCH "
#: Issue 11's targets for cnnspec / script at batch 32 on the 2-core CPU.
TARGETS = {("tensorflow", 32): 1.15, ("jax", 32): 1.0}


def _cifar_spec() -> str:
    return (ROOT / "examples/cifar10_convnet.cnn").read_text()


def _sequential(name: str, classes: int) -> Any:
    """The workloads' networks written out by hand, as the articles write them."""
    import keras
    from keras import layers

    if name == "small":  # I: 32x32x3 C: 16 32 D: 64R
        return keras.Sequential([
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(classes, activation="softmax"),
        ])  # fmt: skip
    if name == "large":  # I: 128x128x3 C: 8 16 32 D: 32R
        return keras.Sequential([
            keras.Input((128, 128, 3)),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(32, activation="relu"),
            layers.Dense(classes, activation="softmax"),
        ])  # fmt: skip
    # cifar: examples/cifar10_convnet.cnn, the article's own model
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(classes, activation="softmax"),
    ])  # fmt: skip


WORKLOADS: dict[str, dict[str, Any]] = {
    # spec, classes, images (default), stored size, file format
    "small": {"spec": "I: 32x32x3 C: 16 32 D: 64R", "classes": 10, "images": 3000, "size": 32, "ext": "png"},
    "large": {"spec": "I: 128x128x3 C: 8 16 32 D: 32R", "classes": 4, "images": 400, "size": 256, "ext": "jpg"},
    "cifar": {"spec": None, "classes": 10, "images": 20000, "size": 32, "ext": "png"},
}


# --- data -----------------------------------------------------------------------------


def make_data(root: Path, classes: int, per_class: int, size: int, ext: str) -> Path:
    """Class-coloured blobs on noise: real image files, learnable, and as costly to decode as photos."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    chunk = max(1, 2_000_000 // (size * size))  # images drawn at once (20,000 32x32 in seconds)
    for label in range(classes):
        folder = root / f"class{label:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        hue = np.array([(label * 97) % 256, (label * 57 + 80) % 256, (label * 31 + 160) % 256], dtype=float)
        for first in range(0, per_class, chunk):
            k = min(chunk, per_class - first)
            cy, cx = rng.random((2, k, 1, 1)) * 0.6 + 0.2
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.03)[..., None]
            noise = rng.normal(110, 45, (k, size, size, 3))
            imgs = np.clip(noise * (1 - blob) + hue * blob, 0, 255).astype(np.uint8)
            for i, img in enumerate(imgs, start=first):
                Image.fromarray(img, "RGB").save(folder / f"{i:05d}.{ext}", quality=90)
    return root


def load_arrays(data: str, height: int, width: int) -> tuple[Any, Any, int]:
    """The folder as the articles hold it: every image decoded and resized once, uint8 NumPy arrays."""
    import numpy as np
    from PIL import Image

    classes = sorted(d.name for d in Path(data).iterdir() if d.is_dir())
    xs, ys = [], []
    for label, name in enumerate(classes):
        for f in sorted((Path(data) / name).iterdir()):
            img = Image.open(f).convert("RGB")
            if img.size != (width, height):
                img = img.resize((width, height), Image.BILINEAR)
            xs.append(np.asarray(img))
            ys.append(label)
    return np.stack(xs), np.array(ys), len(classes)


# --- the contenders, each run in a fresh process -------------------------------------------


def _epoch_timer(stop: str) -> tuple[Any, list[float], list[float]]:
    """A Keras callback timing each epoch from its start to the hook ``stop``
    (``on_test_begin``: the end of the training part; ``on_epoch_end``), in
    wall and CPU seconds, with the two lists it fills.

    It waits for the device before reading the clock (it reads a weight, which
    the last step wrote): JAX, and PyTorch on a GPU, dispatch steps
    asynchronously, so the last batch's callback can come before the step has
    run, and an epoch timed without waiting looks many times faster than it is.
    """
    import keras

    seconds: list[float] = []
    cpu: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def _stop(self, *args: object, **kwargs: object) -> None:
            keras.ops.convert_to_numpy(self.model.trainable_weights[-1])
            seconds.append(time.perf_counter() - self.t0)
            cpu.append(time.process_time() - self.c0)

    setattr(Timer, stop, Timer._stop)
    return Timer(), seconds, cpu


def worker_cnnspec(args: argparse.Namespace) -> dict[str, object]:
    """``cnnspec train`` as the CLI runs it, timed by the same callback as the script (added to its fit)."""
    import keras

    from cnnspec.run.train import TrainOptions, train

    timer, seconds, cpu = _epoch_timer("on_test_begin")
    fit = keras.Model.fit

    def timed_fit(self: Any, *a: Any, callbacks: Any = None, **kw: Any) -> Any:
        return fit(self, *a, callbacks=[*(callbacks or []), timer], **kw)

    keras.Model.fit = timed_fit  # type: ignore[method-assign]
    opts = TrainOptions(epochs=args.epochs, batch_size=args.batch, seed=SEED, val_split=VAL_SPLIT)
    result = train(args.spec, args.data, opts, out_dir=args.out, progress="quiet")
    return {"train_seconds": seconds, "cpu_seconds": cpu, "val_accuracy": result.metrics["best"]["val_accuracy"]}


def worker_script(args: argparse.Namespace) -> dict[str, object]:
    """The articles' way: arrays in memory, a Sequential written out, ``model.fit`` with its progress bar."""
    import keras
    import numpy as np

    import cnnspec

    keras.utils.set_random_seed(SEED)
    h, w, _ = cnnspec.parse(args.spec).input.shape
    x, y, classes = load_arrays(args.data, h, w)
    x = x.astype("float32") / 255.0
    order = np.random.default_rng(SEED).permutation(len(y))
    n_val = int(VAL_SPLIT * len(y))
    val, tr = order[:n_val], order[n_val:]
    model = _sequential(args.workload, classes)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer, seconds, cpu = _epoch_timer("on_test_begin")
    hist = model.fit(
        x[tr], y[tr], batch_size=args.batch, epochs=args.epochs, validation_data=(x[val], y[val]), callbacks=[timer]
    )
    return {
        "train_seconds": seconds,
        "cpu_seconds": cpu,
        "val_accuracy": max(hist.history["val_accuracy"]),
        "params": model.count_params(),
    }


def worker_compute(args: argparse.Namespace) -> dict[str, object]:
    """The same model and steps with no input pipeline to speak of: one batch, repeated from memory.

    Its epoch time is the compute alone; ``1 - contender / compute`` is the
    share of the contender's epoch spent waiting for data.
    """
    import keras
    import numpy as np

    import cnnspec

    try:  # the steps per host sync that cnnspec train uses, where it has the setting
        from cnnspec.run.fit import sync_every  # type: ignore[attr-defined]
    except ImportError:

        def sync_every(steps: int) -> int:
            return 1

    keras.utils.set_random_seed(SEED)
    parsed = cnnspec.parse(args.spec)
    classes = sum(1 for d in Path(args.data).iterdir() if d.is_dir())
    files = sum(1 for f in Path(args.data).rglob("*") if f.is_file())
    steps = -(-(files - int(VAL_SPLIT * files)) // args.batch)
    rng = np.random.default_rng(SEED)
    one = rng.integers(0, 256, size=(args.batch, *parsed.input.shape)).astype("float32")
    x = np.broadcast_to(one[None], (steps, *one.shape)).reshape(-1, *one.shape[1:])
    y = np.tile(rng.integers(0, classes, size=(args.batch,)), steps)
    model = cnnspec.build(parsed, classes=classes, seed=SEED)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=sync_every(steps))  # fmt: skip
    timer, seconds, cpu = _epoch_timer("on_epoch_end")
    model.fit(x, y, batch_size=args.batch, epochs=args.epochs, shuffle=False, callbacks=[timer], verbose=0)
    return {"train_seconds": seconds, "cpu_seconds": cpu, "val_accuracy": float("nan")}


class WorkerFailed(Exception):
    """A contender's process failed; the message holds the end of its standard error."""


WORKERS = {"cnnspec": worker_cnnspec, "script": worker_script, "compute": worker_compute}


def run_worker(kind: str, backend: str, batch: int, args: argparse.Namespace, data: Path, tmp: Path) -> dict[str, Any]:
    out = tempfile.mkdtemp(prefix=f"{kind}-", dir=tmp)
    # cnnspec comes from where this process has it: PYTHONPATH, or the installed package.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": backend}
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--data",
        str(data),
        "--spec",
        args.spec,
        "--workload",
        args.workload,
        "--epochs",
        str(args.epochs),
        "--batch",
        str(batch),
        "--out",
        f"{out}/run",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        raise WorkerFailed(f"{kind} worker on {backend} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    result["wall"] = wall
    return result


# --- the report ------------------------------------------------------------------------------


def _steady(values: list[float]) -> float:
    return statistics.median(values[1:] or values)


def bench(backend: str, batch: int, args: argparse.Namespace, data: Path, tmp: Path, n: int) -> dict[str, Any]:
    from cnnspec import check, parse

    checked = check(parse(args.spec), None, WORKLOADS[args.workload]["classes"])
    n_train = n - int(VAL_SPLIT * n)
    print(f"\n{backend}, batch {batch}:", flush=True)
    ips: dict[str, list[float]] = {"cnnspec": [], "script": []}
    per_cpu: dict[str, list[float]] = {"cnnspec": [], "script": []}
    for r in range(args.repeats):
        for kind in ("cnnspec", "script") if r % 2 == 0 else ("script", "cnnspec"):
            try:
                res = run_worker(kind, backend, batch, args, data, tmp)
            except WorkerFailed as failed:  # the other contender's figure is still worth having
                print(f"  {kind:8s} run {r + 1}: FAILED\n{failed}", flush=True)
                continue
            if kind == "script" and res["params"] != checked.total_params:
                raise SystemExit(f"the hand-written {args.workload} network has {res['params']:,} parameters, "
                                 f"the spec {checked.total_params:,}")  # fmt: skip
            rate = n_train / _steady(res["train_seconds"])
            ips[kind].append(rate)
            per_cpu[kind].append(n_train / _steady(res["cpu_seconds"]))
            epochs_text = " ".join(f"{s:.2f}" for s in res["train_seconds"])
            print(f"  {kind:8s} run {r + 1}: {rate:9.1f} images/s (train seconds per epoch: {epochs_text}; "
                  f"val acc {res['val_accuracy']:.3f}; process {res['wall']:.1f} s)", flush=True)  # fmt: skip
    compute = run_worker("compute", backend, batch, args, data, tmp)
    row: dict[str, Any] = {"backend": backend, "batch": batch, "compute": n_train / _steady(compute["train_seconds"])}
    for kind in ("cnnspec", "script"):
        row[kind] = statistics.median(ips[kind]) if ips[kind] else float("nan")
        row[f"{kind}_cpu"] = statistics.median(per_cpu[kind]) if per_cpu[kind] else float("nan")
        row[f"{kind}_gflops"] = checked.macs * 6 * row[kind] / 1e9
        row[f"{kind}_wait"] = max(0.0, 1 - row[kind] / row["compute"]) if row[kind] == row[kind] else row[kind]
    row["ratio"] = row["cnnspec"] / row["script"]
    print(f"  compute alone (one batch repeated): {row['compute']:9.1f} images/s", flush=True)
    return row


def _installed(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None


def _device() -> str:
    from cnnspec.run.devices import driver_sees_gpu

    return "a GPU (the NVIDIA driver sees one)" if driver_sees_gpu() else "CPU only (no GPU at the driver)"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--backends", help="comma list (default: every installed one of tensorflow, jax, torch)")
    parser.add_argument("--batches", default="32,256", help="comma list of batch sizes (default 32,256)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each contender (default 3)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first is not timed (default 4)")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="small", help="the data and network")
    parser.add_argument("--images", type=int, help="images in the folder (default: the workload's)")
    parser.add_argument("--data", help="an existing image folder of the workload's kind (else one is generated)")
    parser.add_argument("--quick", action="store_true", help="one repeat of 2 epochs (a smoke test)")
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("\n" + MARK + json.dumps(WORKERS[args.worker](args)), flush=True)
        return
    if args.quick:
        args.repeats, args.epochs = 1, 2
    work = WORKLOADS[args.workload]
    args.spec = work["spec"] or _cifar_spec()
    backends = args.backends.split(",") if args.backends else [b for b in BACKENDS if _installed(b)]
    batches = [int(b) for b in args.batches.split(",")]
    n = args.images or work["images"]
    per_class = n // work["classes"]
    n = per_class * work["classes"]

    from cnnspec import check, parse

    checked = check(parse(args.spec), None, work["classes"])
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {_device()}; load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; each run is a fresh process")  # fmt: skip
    print(f"{args.workload}: {n:,} {work['size']}x{work['size']} {work['ext'].upper()} images "
          f"({n - int(VAL_SPLIT * n):,} for training), {work['classes']} classes, {checked.total_params:,} parameters, "
          f"{checked.macs:,} MACs/image; {args.epochs} epochs, {args.repeats} repeats; "
          f"backends {', '.join(backends)}; batches {', '.join(map(str, batches))}", flush=True)  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="cnnspec-bench-") as tmp:
        t0 = time.perf_counter()
        if args.data:
            data = Path(args.data)
        else:
            data = make_data(Path(tmp) / args.workload, work["classes"], per_class, work["size"], work["ext"])
            print(f"generated the folder in {time.perf_counter() - t0:.1f} s", flush=True)
        for backend in backends:
            for batch in batches:
                rows.append(bench(backend, batch, args, data, Path(tmp), n))
    print("\nimages/s (median of steady epochs, training part); ratio = cnnspec / script; "
          "GFLOP/s = MACs x 6 x images/s; wait = share of the epoch waiting for data\n")  # fmt: skip
    print(
        f"{'backend':10s} {'batch':>5s} {'cnnspec':>9s} {'script':>9s} {'ratio':>6s} {'target':>7s} "
        f"{'cnnspec GF/s':>12s} {'script GF/s':>11s} {'per CPU-s':>16s} {'compute':>9s} {'wait c/s':>11s}"
    )
    for row in rows:
        target = TARGETS.get((row["backend"], row["batch"]))
        verdict = "" if target is None else f">={target:.2f}" + (" ok" if row["ratio"] >= target else " NO")
        print(f"{row['backend']:10s} {row['batch']:5d} {row['cnnspec']:9.1f} {row['script']:9.1f} "
              f"{row['ratio']:6.3f} {verdict:>7s} {row['cnnspec_gflops']:12.2f} {row['script_gflops']:11.2f} "
              f"{row['cnnspec_cpu']:7.1f}/{row['script_cpu']:<8.1f} {row['compute']:9.1f} "
              f"{row['cnnspec_wait']:5.1%}/{row['script_wait']:5.1%}")  # fmt: skip
    print(f"\nload average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
