"""Images per second of ``cnnspec train`` per backend, and what each choice of issue 11 costs.

Each line trains one configuration in a fresh process (one backend per process) on a generated
folder of 32x32 colour images, and reads ``metrics.json``'s ``images_per_second`` (the training
images over the median time of an epoch's training part).  Configurations run in turn, repeated,
and the best of the repeats is kept (the machine is shared: the best is the least disturbed).

- pipeline: the TensorFlow backend's ``tf.data`` pipeline against the ``PyDataset`` that every
  backend takes (``CNNSPEC_PIPELINE``);
- sync: the logs read by the host after every step (``CNNSPEC_SYNC_EVERY=1``) against every
  ``SYNC_EVERY`` steps (``steps_per_execution``);
- augmentation: ``A: flip rot.1 zoom.1`` inside the fitted model (``CNNSPEC_AUGMENT=model``,
  which makes JAX run the step uncompiled and turns XLA off on TensorFlow) against the input
  pipeline (``CNNSPEC_AUGMENT=pipeline``); the default is what measured faster
  (``cnnspec.run.fit.AUGMENT_WHERE``).

Run: ``PYTHONPATH=. python benchmarks/bench_backends.py [--images 3000] [--epochs 4] [--repeats 2]``.
It prints the load average before and after: figures taken on a loaded machine say so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

PLAIN = "I: 32x32x3 C: 16 32 D: 64R O: 10"
AUGMENTED = "I: 32x32x3 A: flip rot.1 zoom.1 C: 16 32 D: 64R O: 10"

#: name -> (backend, spec, batch, environment)
CONFIGS: dict[str, tuple[str, str, int, dict[str, str]]] = {
    "tf  tf.data    sync/16  b32": ("tensorflow", PLAIN, 32, {}),
    "tf  pydataset  sync/16  b32": ("tensorflow", PLAIN, 32, {"CNNSPEC_PIPELINE": "pydataset"}),
    "tf  tf.data    sync/1   b32": ("tensorflow", PLAIN, 32, {"CNNSPEC_SYNC_EVERY": "1"}),
    "jax pydataset  sync/16  b32": ("jax", PLAIN, 32, {}),
    "jax pydataset  sync/1   b32": ("jax", PLAIN, 32, {"CNNSPEC_SYNC_EVERY": "1"}),
    "tf  aug in pipeline     b32": ("tensorflow", AUGMENTED, 32, {"CNNSPEC_AUGMENT": "pipeline"}),
    "tf  aug in model        b32": ("tensorflow", AUGMENTED, 32, {"CNNSPEC_AUGMENT": "model"}),
    "jax aug in pipeline     b32": ("jax", AUGMENTED, 32, {"CNNSPEC_AUGMENT": "pipeline"}),
    "jax aug in model        b32": ("jax", AUGMENTED, 32, {"CNNSPEC_AUGMENT": "model"}),
}
#: (faster, slower, what the ratio says)
RATIOS = [
    ("tf  tf.data    sync/16  b32", "tf  pydataset  sync/16  b32", "TF: tf.data / PyDataset"),
    ("tf  tf.data    sync/16  b32", "tf  tf.data    sync/1   b32", "TF: sync every 16 / every step"),
    ("jax pydataset  sync/16  b32", "jax pydataset  sync/1   b32", "JAX: sync every 16 / every step"),
    ("tf  aug in pipeline     b32", "tf  aug in model        b32", "TF: augmentation in pipeline / in model"),
    ("jax aug in pipeline     b32", "jax aug in model        b32", "JAX: augmentation in pipeline / in model"),
    ("jax pydataset  sync/16  b32", "tf  tf.data    sync/16  b32", "JAX / TF (plain)"),
]


def make_folder(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        label = i % 10
        folder = root / f"c{label}"
        folder.mkdir(parents=True, exist_ok=True)
        base = np.zeros((32, 32, 3), np.float64)
        base[:, :, label % 3] = 40 + 20 * label
        pixels = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.png")
    return root


def run(name: str, data: Path, out: Path, epochs: int) -> float:
    backend, spec, batch, extra = CONFIGS[name]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    cmd = [sys.executable, "-m", "cnnspec", "train", "--spec", spec, "--data", str(data), "--epochs", str(epochs),
           "--batch-size", str(batch), "--out", str(out), "-q"]  # fmt: skip
    subprocess.run(cmd, env=env, check=True)
    return float(json.loads((out / "metrics.json").read_text())["images_per_second"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--only", default="", help="run the configurations whose name holds this")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs")
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = make_folder(Path(tmp, "data"), args.images)
        for r in range(args.repeats):
            for name in CONFIGS:
                if args.only not in name:
                    continue
                rate = run(name, data, Path(tmp, f"run-{r}-{abs(hash(name))}"), args.epochs)
                best[name] = max(best.get(name, 0.0), rate)
                print(f"  repeat {r + 1}  {name}  {rate:8.0f} images/s", flush=True)
    print(f"load average after: {os.getloadavg()}")
    print("\nbest of the repeats (images/s):")
    for name, rate in best.items():
        print(f"  {name}  {rate:8.0f}")
    print("\nratios:")
    for a, b, what in RATIOS:
        if a in best and b in best:
            print(f"  {what:45s} {best[a] / best[b]:.2f}x")


if __name__ == "__main__":
    main()
